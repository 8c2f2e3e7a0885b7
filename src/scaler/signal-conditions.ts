// A ClusterScaler's SignalsAvailable and ScaleDownHeld conditions, both from one answer to "are the usage signals
// fresh": the Prometheus source first (configured, polled, answering, recent), then every governed workload's own
// series as the decision engine judged them. Computing the two apart let SignalsAvailable say "fresh" while
// ScaleDownHeld said "cpu usage missing".
import type { ConditionInput } from "../api/conditions.js";

export interface SignalSource {
  lastSuccessAt?: number;
  lastError?: string;
}

export interface SignalState {
  /** The Prometheus signal source, or undefined when none is configured. */
  prometheus: SignalSource | undefined;
  /** Workloads of this ClusterScaler whose scale-down the engine held for missing or stale data, with why. */
  held: ReadonlyMap<string, string>;
  now: number;
  /** How old a measurement may be and still count as fresh (the engine's staleAfterMs). */
  staleAfterMs: number;
}

type Verdict = { fresh: true } | { fresh: false; unknown?: boolean; reason: string; message: string };

/** The one verdict both conditions are built from. */
export function signalFreshness(s: SignalState): Verdict {
  const p = s.prometheus;
  if (!p)
    return {
      fresh: false,
      reason: "NoPrometheus",
      message: "no Prometheus configured: only OOM kills are acted on, nothing is scaled down",
    };
  if (p.lastError)
    return {
      fresh: false,
      reason: "PrometheusUnavailable",
      message: `${p.lastError}; scale-downs are held until fresh data returns`,
    };
  if (p.lastSuccessAt === undefined)
    return { fresh: false, unknown: true, reason: "NotPolledYet", message: "waiting for the first poll" };
  if (s.now - p.lastSuccessAt > s.staleAfterMs)
    return {
      fresh: false,
      reason: "Stale",
      message:
        `the last successful poll was at ${new Date(p.lastSuccessAt).toISOString()}, ` +
        `more than ${Math.round(s.staleAfterMs / 1000)}s ago; scale-downs are held until fresh data returns`,
    };
  if (s.held.size > 0) {
    const [first] = [...s.held].sort(([a], [b]) => a.localeCompare(b));
    const [workload, why] = first ?? ["", ""];
    const more = s.held.size > 1 ? ` (and ${s.held.size - 1} more workloads)` : "";
    return { fresh: false, reason: "SignalsMissing", message: `${workload}: ${why}${more}` };
  }
  return { fresh: true };
}

/** SignalsAvailable and ScaleDownHeld, which cannot contradict each other: both come from signalFreshness. */
export function signalConditions(s: SignalState): [ConditionInput, ConditionInput] {
  const v = signalFreshness(s);
  if (v.fresh)
    return [
      {
        type: "SignalsAvailable",
        status: "True",
        reason: "Fresh",
        message: "usage signals are fresh for every governed workload",
      },
      {
        type: "ScaleDownHeld",
        status: "False",
        reason: "SignalsFresh",
        message: "no scale-down is held for missing or stale data",
      },
    ];
  return [
    { type: "SignalsAvailable", status: v.unknown ? "Unknown" : "False", reason: v.reason, message: v.message },
    { type: "ScaleDownHeld", status: "True", reason: v.reason, message: v.message },
  ];
}
