// Failed black-box /readyz probes of the tenant apiserver: more capacity, a replica first.
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, cpuBump } from "./common.js";
import type { Scaler } from "./types.js";

export const probeScaler: Scaler = {
  name: "probe",
  quietBelow(input) {
    return { below: { probeFailures: input.policy.scalers.probe.threshold } };
  },
  overThreshold(input, options) {
    const probe = fresh(input.signals.probeFailures, input.now, options);
    return !!probe && probe.value >= input.policy.scalers.probe.threshold;
  },
  propose(input, options) {
    const settings = input.policy.scalers.probe;
    const probe = fresh(input.signals.probeFailures, input.now, options);
    if (!settings.enabled || !probe || probe.value < settings.threshold) return undefined;
    const replica = canAddReplica(input);
    return {
      scaler: "probe",
      category: "ProbeFailure",
      size: replica ? { replicas: input.current.replicas + 1 } : cpuBump(input.current, 1.5),
      note: replica ? "one more replica" : "50% more CPU",
      oomIds: [],
      evidence: [evidenceOf("apiserver_readyz_failures", probe, String(probe.value), String(settings.threshold))],
    };
  },
};
