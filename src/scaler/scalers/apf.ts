// API Priority and Fairness saturation of the tenant apiserver, sustained over the window: the seats executing
// (exempt level left out) at `threshold` of the server's seats (the sum of its priority levels' nominal seats,
// --max-requests-inflight + --max-mutating-requests-inflight), or APF rejecting requests at the throttling scaler's
// rate (APF answers them 429). More seats: one more replica, which brings seats of its own, or 50% more CPU at
// replicas.max.
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, cpuBump, sustained } from "./common.js";
import type { Scaler, ScalerInput } from "./types.js";

/** The APF signals over their thresholds now, as evidence; empty when none is (or none is fresh). */
function saturation(input: ScalerInput, options: EngineOptions): Evidence[] {
  const seatsThreshold = input.policy.scalers.apf.threshold;
  const rejectedThreshold = input.policy.scalers.throttling.threshold;
  const seats = fresh(input.signals.apfSeatsRatio, input.now, options);
  const rejected = fresh(input.signals.apfRejectedRate, input.now, options);
  const out: Evidence[] = [];
  if (seats && seats.value >= seatsThreshold)
    out.push(
      evidenceOf("apiserver_flowcontrol_seats_in_use_ratio", seats, seats.value.toFixed(2), String(seatsThreshold)),
    );
  // A threshold of 0 would read an idle apiserver as rejecting: some rejection is needed.
  if (rejected && rejected.value > 0 && rejected.value >= rejectedThreshold)
    out.push(
      evidenceOf(
        "apiserver_flowcontrol_rejected_requests_rate",
        rejected,
        rejected.value.toFixed(2),
        String(rejectedThreshold),
      ),
    );
  return out;
}

export const apfScaler: Scaler = {
  name: "apf",
  overThreshold(input, options) {
    return saturation(input, options).length > 0;
  },
  propose(input, options) {
    if (!input.policy.scalers.apf.enabled || !sustained(input, "apf")) return undefined;
    const evidence = saturation(input, options);
    if (!evidence.length) return undefined;
    const replica = canAddReplica(input);
    return {
      scaler: "apf",
      category: "APFSaturation",
      size: replica ? { replicas: input.current.replicas + 1 } : cpuBump(input.current, 1.5),
      note: replica ? "one more apiserver replica, with seats of its own" : "50% more CPU at replicas.max",
      oomIds: [],
      evidence,
    };
  },
};
