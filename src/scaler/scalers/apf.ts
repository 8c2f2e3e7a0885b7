// API Priority and Fairness saturation of the tenant apiserver, sustained over the window: the seats executing
// (exempt level left out) at `threshold` of the server's seats (the sum of its priority levels' nominal seats,
// --max-requests-inflight + --max-mutating-requests-inflight), or APF rejecting requests at the throttling scaler's
// rate (APF answers them 429). More seats: one more replica, which brings seats of its own, or 50% more CPU at
// replicas.max.
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, cpuBump, sustained } from "./common.js";
import type { Measurement } from "../types.js";
import type { Scaler, ScalerInput } from "./types.js";

/** The seats in use, when fresh and at the threshold. */
function seatsOver(input: ScalerInput, options: EngineOptions): Measurement | undefined {
  const seats = fresh(input.signals.apfSeatsRatio, input.now, options);
  return seats && seats.value >= input.policy.scalers.apf.threshold ? seats : undefined;
}

/** The rate of rejected requests, when fresh and at the throttling scaler's threshold. */
function rejectedOver(input: ScalerInput, options: EngineOptions): Measurement | undefined {
  const rejected = fresh(input.signals.apfRejectedRate, input.now, options);
  // A threshold of 0 would read an idle apiserver as rejecting: some rejection is needed.
  return rejected && rejected.value > 0 && rejected.value >= input.policy.scalers.throttling.threshold
    ? rejected
    : undefined;
}

/** The APF signals over their thresholds now, as evidence; empty when none is (or none is fresh). */
function saturation(input: ScalerInput, options: EngineOptions): Evidence[] {
  const seatsThreshold = input.policy.scalers.apf.threshold;
  const rejectedThreshold = input.policy.scalers.throttling.threshold;
  const seats = seatsOver(input, options);
  const rejected = rejectedOver(input, options);
  const out: Evidence[] = [];
  if (seats)
    out.push(
      evidenceOf("apiserver_flowcontrol_seats_in_use_ratio", seats, seats.value.toFixed(2), String(seatsThreshold)),
    );
  if (rejected)
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
  quietBelow(input) {
    const rejected = input.policy.scalers.throttling.threshold;
    return {
      below: {
        apfSeatsRatio: input.policy.scalers.apf.threshold,
        // Some rejection is needed (rejectedOver): with a threshold of 0 or less, any positive rate is over.
        apfRejectedRate: rejected > 0 ? rejected : Number.MIN_VALUE,
      },
    };
  },
  overThreshold(input, options) {
    // Without the evidence saturation() builds: this is asked every round.
    return seatsOver(input, options) !== undefined || rejectedOver(input, options) !== undefined;
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
