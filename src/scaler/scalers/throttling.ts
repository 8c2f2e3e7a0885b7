// Throttling: the tenant apiserver answering 429, or the kernel throttling the container's CPU, sustained over the
// window. 429s on a Deployment that may grow get one more replica; otherwise 50% more CPU.
import type { Evidence } from "../../api/index.js";
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, cpuBump, sustained } from "./common.js";
import type { Scaler } from "./types.js";

/** The share of CFS periods throttled from which the container counts as throttled. */
export const cfsThrottledThreshold = 0.25;

export const throttlingScaler: Scaler = {
  name: "throttling",
  quietBelow(input) {
    return {
      below: { apiserver429Rate: input.policy.scalers.throttling.threshold, cpuThrottledRatio: cfsThrottledThreshold },
    };
  },
  overThreshold(input, options) {
    const rate429 = fresh(input.signals.apiserver429Rate, input.now, options);
    const cfs = fresh(input.signals.cpuThrottledRatio, input.now, options);
    return (
      (!!rate429 && rate429.value >= input.policy.scalers.throttling.threshold) ||
      (!!cfs && cfs.value >= cfsThrottledThreshold)
    );
  },
  propose(input, options) {
    const { current, now } = input;
    const settings = input.policy.scalers.throttling;
    if (!settings.enabled || !sustained(input, "throttling")) return undefined;
    const rate429 = fresh(input.signals.apiserver429Rate, now, options);
    const cfs = fresh(input.signals.cpuThrottledRatio, now, options);
    const evidence: Evidence[] = [];
    if (rate429 && rate429.value >= settings.threshold)
      evidence.push(evidenceOf("apiserver_429_rate", rate429, rate429.value.toFixed(2), String(settings.threshold)));
    if (cfs && cfs.value >= cfsThrottledThreshold)
      evidence.push(
        evidenceOf("container_cpu_cfs_throttled_ratio", cfs, cfs.value.toFixed(2), String(cfsThrottledThreshold)),
      );
    if (!evidence.length) return undefined;
    const addReplica = canAddReplica(input) && rate429 !== undefined && rate429.value >= settings.threshold;
    return {
      scaler: "throttling",
      category: "Throttling",
      size: addReplica
        ? { replicas: current.replicas + 1 }
        : {
            ...cpuBump(current, 1.5),
            cpuLimit: current.cpuLimit !== undefined ? current.cpuLimit * 1.5 : undefined,
          },
      note: addReplica ? "one more apiserver replica" : "50% more CPU",
      oomIds: [],
      evidence,
    };
  },
};
