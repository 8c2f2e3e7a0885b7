// What every scaler shares: the scale-up it proposes and the Scaler interface of the registry (index.ts).
import type { Evidence, RootCauseCategory, ScalerName } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput, Signals, Size } from "../types.js";

/** A scale-up one scaler asks for; the engine takes the largest of them all, named after the strongest cause. */
export interface UpCandidate {
  scaler: ScalerName;
  category: RootCauseCategory;
  size: Partial<Size>;
  evidence: Evidence[];
  note: string;
  oomIds: string[];
  estimator?: string;
}

/** A round's input without the history: what the history model is fed with. */
export type ScalerInput = Omit<DecisionInput, "history">;

export interface Scaler {
  name: ScalerName;
  /**
   * Whether the scaler's signal is over its threshold now, for its sustained window (the history model tracks since
   * when). Absent for a scaler that acts on each event at once.
   */
  overThreshold?(input: ScalerInput, options: EngineOptions): boolean;
  /**
   * For a round whose every measurement is fresh or missing: per signal overThreshold reads, a value under which
   * (with every other listed signal under its own) it is not over its threshold, whatever the unlisted signals are
   * (QuietBounds). Conservative: a bound may be lower than the threshold's exact edge, never higher. It reads the
   * round's size, policy, options and workload, never the signals. A sustained scaler without it leaves the
   * backtest's column replay (OfflineReplay.quietRun, quietAt) to the per-round engine.
   */
  quietBelow?(input: Omit<ScalerInput, "signals">, options: EngineOptions): QuietBounds;
  /** The scale-up it asks for now, if any; `notes` collects what it saw and did not act on. Pure. */
  propose(input: DecisionInput, options: EngineOptions, notes: string[]): UpCandidate | undefined;
}

/** The measured signals a QuietBounds may bound (a number each; the latency signal has its own, per verb and scope). */
export type MeasuredSignal = Exclude<keyof Signals, "oom" | "unavailableReason" | "requestLatencyP99">;

/** Every MeasuredSignal, in the order Signals lists them. */
export const measuredSignals = [
  "cpuUsage",
  "memoryWorkingSet",
  "cpuThrottledRatio",
  "apiserver429Rate",
  "clusterNodes",
  "storedObjects",
  "apiserverWatchers",
  "apfSeatsRatio",
  "apfRejectedRate",
  "etcdDatabaseBytes",
  "probeFailures",
] as const satisfies readonly MeasuredSignal[];

/**
 * Under what a scaler stays under its threshold (Scaler.quietBelow): a fresh value of a listed signal must be below
 * (<) its bound; a missing one always is. An unlisted signal is not read. `latency`: the bound of the p99 of a verb
 * and scope, keyed "VERB/scope".
 */
export interface QuietBounds {
  below: Partial<Record<MeasuredSignal, number>>;
  latency?: (key: string) => number;
}

/**
 * A bound under which `value / base >= threshold` cannot hold: the edge (threshold × base), lowered by far more than
 * the rounding of the product and the quotient, so that a value just under the edge whose quotient rounds up to the
 * threshold is never counted quiet. Near 0, where rounding is not relative, 0 for a positive threshold (a negative
 * value gives a negative quotient). -Infinity (nothing is quiet) where it cannot be said: a base that is not
 * positive, a threshold that is not a number, an edge that is not finite, or a tiny edge of a threshold of 0 or less
 * (a quotient that underflows to -0 is >= 0).
 */
export function ratioBound(threshold: number, base: number): number {
  if (!(base > 0) || Number.isNaN(threshold)) return Number.NEGATIVE_INFINITY;
  const edge = threshold * base;
  if (!Number.isFinite(edge)) return Number.NEGATIVE_INFINITY;
  if (Math.abs(edge) < 1e-290) return threshold > 0 ? 0 : Number.NEGATIVE_INFINITY;
  return edge - Math.abs(edge) * 1e-9;
}
