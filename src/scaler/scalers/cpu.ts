// CPU saturation, sustained over the window: a request for the target utilisation (at least 20% more), or one
// more replica once the request is at maxAllowed.
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, sustained } from "./common.js";
import { ratioBound, type Scaler } from "./types.js";

export const cpuScaler: Scaler = {
  name: "cpu",
  quietBelow(input) {
    const request = input.current.cpuRequest;
    return { below: request ? { cpuUsage: ratioBound(input.policy.scalers.cpu.threshold, request) } : {} };
  },
  overThreshold(input, options) {
    const cpu = fresh(input.signals.cpuUsage, input.now, options);
    const request = input.current.cpuRequest;
    return !!cpu && !!request && cpu.value / request >= input.policy.scalers.cpu.threshold;
  },
  propose(input, options) {
    const { current, policy } = input;
    const cpu = fresh(input.signals.cpuUsage, input.now, options);
    if (!policy.scalers.cpu.enabled || !cpu || !current.cpuRequest || !sustained(input, "cpu")) return undefined;
    const ratio = cpu.value / current.cpuRequest;
    const wanted = cpu.value / options.cpuTargetUtilization;
    const atMax = policy.maxAllowed.cpu !== undefined && current.cpuRequest >= policy.maxAllowed.cpu - 1e-9;
    const replica = atMax && canAddReplica(input);
    return {
      scaler: "cpu",
      category: "CPUSaturation",
      size: replica ? { replicas: current.replicas + 1 } : { cpuRequest: Math.max(wanted, current.cpuRequest * 1.2) },
      note: replica
        ? "CPU at maxAllowed: one more replica"
        : `CPU request for ${Math.round(options.cpuTargetUtilization * 100)}% utilisation`,
      oomIds: [],
      evidence: [evidenceOf("cpu_usage_ratio", cpu, ratio.toFixed(2), String(policy.scalers.cpu.threshold))],
    };
  },
};
