// Small rules that several scalers share.
import type { ScalerName } from "../../api/index.js";
import type { DecisionInput, Size } from "../types.js";

/** Whether a sustained scaler has been over its threshold for its whole window. */
export function sustained(input: DecisionInput, scaler: ScalerName): boolean {
  const since = input.history.overThresholdSince[scaler];
  return since !== undefined && input.now - since >= input.policy.scalers[scaler].windowMs;
}

/** A Deployment below its replicas.max can take one more replica (a StatefulSet's members are not the scaler's). */
export function canAddReplica(input: Pick<DecisionInput, "workload" | "current" | "policy">): boolean {
  const { workload, current, policy } = input;
  return workload.kind === "Deployment" && current.replicas < (policy.replicas.max ?? current.replicas);
}

/** The CPU request times `factor` (from 100m when the workload has none). */
export function cpuBump(current: Size, factor: number): Partial<Size> {
  return { cpuRequest: (current.cpuRequest ?? 0.1) * factor };
}
