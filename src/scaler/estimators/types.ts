// What every estimator is: a pure function from one workload's DecisionInput to a size, in a registry by name
// (src/scaler/estimators/index.ts). One file per estimator; this file holds the shapes they share.
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput, Size } from "../types.js";

export interface EstimatorResult {
  size: Partial<Size>;
  note: string;
  /** What the estimate rests on, for the decision's evidence. */
  evidence?: Evidence[];
}

/** The headroom an estimate of usage is sized with: the engine's own (src/scaler/engine.ts). */
export interface Headroom {
  /** CPU utilisation of the request aimed for. */
  cpuTargetUtilization: number;
  /** Memory over the expected working set. */
  memoryHeadroom: number;
}

export const defaultHeadroom: Headroom = { cpuTargetUtilization: 0.6, memoryHeadroom: 1.3 };

/** The least a workload needs by one estimator, for scale-downs (cores, bytes); a field it says nothing of is absent. */
export interface Floor {
  cpu?: number;
  memory?: number;
}

export interface Estimator {
  name: string;
  estimate(input: DecisionInput, headroom?: Headroom): EstimatorResult | undefined;
  /**
   * Sizes a tenant by its size (nodes, objects): the cluster-size scaler tries every listed estimator that does, in
   * list order, and the first answer wins (sizeByTenant). `whyNone` says why `estimate` gave nothing. Such an
   * `estimate` reads only the tenant's size (clusterNodes, storedObjects, apiserverWatchers), the policy, the
   * workload's component, the fleet and the headroom: the scaler gives a round that reads the same as one whose
   * size covered the estimate the same answer without asking again (src/scaler/scalers/cluster-size.ts).
   */
  bySize?: { whyNone(input: DecisionInput): string };
  /**
   * The floor it puts under every scale-down recommendation, or "unknown" when a signal it needs is not fresh (no
   * recommendation at all then, so no scale-down).
   */
  floor?(input: DecisionInput, options: EngineOptions): Floor | "unknown" | undefined;
}
