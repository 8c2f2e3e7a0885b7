// cluster-size: a tenant sized by its node count (or its stored objects or watchers, where a step sets them), from
// the ClusterScaler's ladder, or addon-resizer's linear form for a component without one. It sizes by tenant size
// (the cluster-size scaler) and puts a floor under scale-downs.
import type { EngineOptions } from "../engine-options.js";
import { fresh } from "../freshness.js";
import { describeReached, loadKeysOf, loadOf, reachedStep, type TenantLoad } from "../ladder.js";
import type { ClusterSizeStep, DecisionInput, Measurement } from "../types.js";
import { MiB } from "../quantity.js";
import type { Estimator, EstimatorResult, Floor } from "./types.js";

/** The ladder step that applies at `nodes`: the one with the most nodes not above it. */
export function ladderStep(ladder: readonly ClusterSizeStep[], nodes: number): ClusterSizeStep | undefined {
  let best: ClusterSizeStep | undefined;
  for (const step of ladder) if (step.nodes <= nodes && (!best || step.nodes > best.nodes)) best = step;
  return best;
}

/** addon-resizer's linear form: base + perNode × nodes, for components that have no ladder. */
export interface LinearSize {
  cpuBase: number;
  cpuPerNode: number;
  memoryBase: number;
  memoryPerNode: number;
}

export const defaultLinear: Record<string, LinearSize> = {
  "kube-apiserver": { cpuBase: 0.25, cpuPerNode: 0.002, memoryBase: 512 * MiB, memoryPerNode: 4 * MiB },
  etcd: { cpuBase: 0.2, cpuPerNode: 0.001, memoryBase: 512 * MiB, memoryPerNode: 2 * MiB },
  "kube-controller-manager": { cpuBase: 0.1, cpuPerNode: 0.001, memoryBase: 256 * MiB, memoryPerNode: 1 * MiB },
  "kube-scheduler": { cpuBase: 0.05, cpuPerNode: 0.0005, memoryBase: 128 * MiB, memoryPerNode: 0.5 * MiB },
};

export function linearSize(l: LinearSize, nodes: number): { cpu: number; memory: number } {
  return { cpu: l.cpuBase + l.cpuPerNode * nodes, memory: l.memoryBase + l.memoryPerNode * nodes };
}

export function clusterSizeEstimate(input: DecisionInput): EstimatorResult | undefined {
  const { clusterNodes, storedObjects, apiserverWatchers } = input.signals;
  if (clusterNodes === undefined) return undefined;
  return estimateAt(input.policy.ladder, input.workload.component, clusterNodes, storedObjects, apiserverWatchers);
}

/** The last estimate per ladder (one array per resolved policy): a workload's rounds mostly see the same load. */
const lastEstimate = new WeakMap<
  readonly ClusterSizeStep[],
  { component: string; nodes: number; objects?: number; watchers?: number; result: EstimatorResult | undefined }
>();

/**
 * clusterSizeEstimate of these measurements: a pure function of the ladder, the component and the three values, so
 * the last answer for the same ones is given again (callers never change a result).
 */
function estimateAt(
  ladder: readonly ClusterSizeStep[],
  component: string,
  clusterNodes: Measurement,
  storedObjects: Measurement | undefined,
  apiserverWatchers: Measurement | undefined,
): EstimatorResult | undefined {
  const nodes = clusterNodes.value;
  const objects = storedObjects?.value;
  const watchers = apiserverWatchers?.value;
  const last = lastEstimate.get(ladder);
  if (
    last &&
    last.component === component &&
    last.nodes === nodes &&
    last.objects === objects &&
    last.watchers === watchers
  )
    return last.result;
  const result = estimate(ladder, component, {
    nodes: clusterNodes,
    objects: storedObjects,
    watchers: apiserverWatchers,
  });
  lastEstimate.set(ladder, { component, nodes, objects, watchers, result });
  return result;
}

function estimate(
  ladder: readonly ClusterSizeStep[],
  component: string,
  load: TenantLoad,
): EstimatorResult | undefined {
  const nodes = (load.nodes as Measurement).value;
  // Reached by nodes, or by stored objects or watchers where a step sets them (src/scaler/ladder.ts).
  const reached = reachedStep(ladder, load);
  if (reached) {
    const { step } = reached;
    return {
      size: { cpuRequest: step.cpu, memoryRequest: step.memory, replicas: step.replicas },
      note:
        reached.by === "nodes"
          ? `cluster-size ladder step from ${step.nodes} nodes (tenant has ${nodes})`
          : `${describeReached(reached)}; tenant has ${nodes} nodes`,
    };
  }
  if (ladder.length > 0) return undefined;
  const linear = defaultLinear[component];
  if (!linear) return undefined;
  const s = linearSize(linear, nodes);
  return { size: { cpuRequest: s.cpu, memoryRequest: s.memory }, note: `linear size for ${nodes} nodes` };
}

/** The keys other than nodes each ladder needs fresh (loadKeysOf), once per ladder. */
const ladderKeys = new WeakMap<readonly ClusterSizeStep[], ReturnType<typeof loadKeysOf>>();

/**
 * What the estimate says at the tenant's fresh size: the ladder step reached, or, for a component without a
 * ladder, the linear size. The floor is the estimate itself, so a scale-down never goes below what the cluster-size
 * scaler would raise it back to on its next round (without the linear floor, a quiet kube-scheduler of a 3-node
 * tenant went down to 128Mi, and was raised to the linear 129.5Mi 30 s later, every stabilization window). With a
 * ladder and no fresh count, nothing is known.
 */
export function clusterSizeFloor(input: DecisionInput, options: EngineOptions): Floor | "unknown" {
  const { ladder } = input.policy;
  // The fresh node count, as loadOf would give it: the whole load is read only for a ladder keyed on more.
  const nodes = fresh(input.signals.clusterNodes, input.now, options);
  if (!nodes && ladder.length > 0) return "unknown";
  // A ladder keyed on objects or watchers needs them fresh too: a stale count never lets a scale-down below its step.
  let keys = ladderKeys.get(ladder);
  if (!keys) ladderKeys.set(ladder, (keys = loadKeysOf(ladder)));
  if (keys.length > 0) {
    const load = loadOf(input.signals, input.now, options);
    if (keys.some((k) => !load[k])) return "unknown";
  }
  if (!nodes) return {};
  const { storedObjects, apiserverWatchers } = input.signals;
  const estimate = estimateAt(ladder, input.workload.component, nodes, storedObjects, apiserverWatchers);
  return { cpu: estimate?.size.cpuRequest, memory: estimate?.size.memoryRequest };
}

export const clusterSizeEstimator: Estimator = {
  name: "cluster-size",
  estimate: clusterSizeEstimate,
  bySize: { whyNone: () => "no ladder step or linear size for this component" },
  floor: clusterSizeFloor,
};
