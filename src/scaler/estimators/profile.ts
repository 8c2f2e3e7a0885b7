// profile: the WorkloadProfile's recommendation (src/recommender) as a size, and as the floor under scale-downs.
import type { DecisionInput } from "../types.js";
import type { Estimator, EstimatorResult, Floor } from "./types.js";

/** The WorkloadProfile recommendation: target as the request, upper bound as the memory limit. */
export function profileEstimate(input: DecisionInput): EstimatorResult | undefined {
  const p = input.profile;
  if (!p?.target) return undefined;
  return {
    size: {
      cpuRequest: p.target.cpu,
      memoryRequest: p.target.memory,
      memoryLimit: input.current.memoryLimit !== undefined ? (p.upperBound?.memory ?? p.target.memory) : undefined,
    },
    note: "WorkloadProfile target and upper bound",
  };
}

/** The WorkloadProfile's target (CPU) and upper bound (memory) are the least a scale-down goes to. */
export function profileFloor(input: DecisionInput): Floor | undefined {
  const target = input.profile?.target;
  if (!target) return undefined;
  return { cpu: target.cpu, memory: input.profile?.upperBound?.memory ?? target.memory };
}

export const profileEstimator: Estimator = { name: "profile", estimate: profileEstimate, floor: profileFloor };
