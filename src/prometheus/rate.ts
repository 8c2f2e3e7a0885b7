// PromQL's rate() of one series at a run of evaluation steps, from its raw samples (the remote read API's, stale
// markers included), with the arithmetic of the Prometheus release that would evaluate it (Lookback.rateRule): the
// same float operations in the same order as promql/functions.go extrapolatedRate, so that a step's value is the
// one a range query answers, to the last bit. The range selector's window is PromQL's: [t − w, t] before
// Prometheus 3, (t − w, t] from 3 on, stale markers left out, at least two samples or no value.
import type { RateRule } from "./client.js";

/** What rateAtSteps needs to know of the query and of the Prometheus. */
export interface RateWindow {
  /** The range selector's duration, ms (`[1m]` is 60,000). */
  windowMs: number;
  /** (t − w, t] (Prometheus 3 and later), else [t − w, t]. */
  leftOpen: boolean;
  rule: RateRule;
}

/** Go's time.Duration.Seconds() of a whole number of ms: whole seconds plus the nanoseconds left over / 1e9. */
export function durationSeconds(ms: number): number {
  const whole = Math.trunc(ms / 1000);
  return whole + ((ms - whole * 1000) * 1e6) / 1e9;
}

/**
 * rate(series[w]) at steps `first`..`last` of `steps`, calling `put` for each step that has one. `times` ascend;
 * `stale` marks stale markers (1), which a range selector drops. The per-second increase over the window, counter
 * resets added back, extrapolated to the window's edges where the first and last samples are close to them (within
 * 1.1 times the average spacing), else by half the spacing, and never to before the counter's zero point.
 */
export function rateAtSteps(
  times: Float64Array,
  values: Float64Array,
  steps: readonly number[],
  first: number,
  last: number,
  w: RateWindow,
  put: (i: number, value: number) => void,
  stale?: Uint8Array,
): void {
  const rangeSeconds = durationSeconds(w.windowMs);
  const n = times.length;
  // [lo, hi]: the samples within the step's window, stale markers included (skipped below).
  let lo = 0;
  let hi = -1;
  for (let i = first; i <= last; i++) {
    const rangeEnd = steps[i] as number;
    const rangeStart = rangeEnd - w.windowMs;
    while (hi + 1 < n && (times[hi + 1] as number) <= rangeEnd) hi++;
    while (lo < n && (w.leftOpen ? (times[lo] as number) <= rangeStart : (times[lo] as number) < rangeStart)) lo++;
    let firstAt = -1;
    let lastAt = -1;
    let count = 0;
    for (let p = lo; p <= hi; p++) {
      if (stale?.[p] === 1) continue;
      if (firstAt < 0) firstAt = p;
      lastAt = p;
      count++;
    }
    if (count < 2) continue;
    const firstValue = values[firstAt] as number;
    let result = (values[lastAt] as number) - firstValue;
    // Counter resets, in order: each drop adds back the value before it.
    let prev = firstValue;
    for (let p = firstAt + 1; p <= lastAt; p++) {
      if (stale?.[p] === 1) continue;
      const v = values[p] as number;
      if (v < prev) result += prev;
      prev = v;
    }
    const firstT = times[firstAt] as number;
    const lastT = times[lastAt] as number;
    let durationToStart = (firstT - rangeStart) / 1000;
    let durationToEnd = (rangeEnd - lastT) / 1000;
    const sampledInterval = (lastT - firstT) / 1000;
    const averageDurationBetweenSamples = sampledInterval / (count - 1);
    const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
    let extrapolateToInterval = sampledInterval;
    if (w.rule === "v2.40") {
      if (result > 0 && firstValue >= 0) {
        const durationToZero = sampledInterval * (firstValue / result);
        if (durationToZero < durationToStart) durationToStart = durationToZero;
      }
      extrapolateToInterval +=
        durationToStart < extrapolationThreshold ? durationToStart : averageDurationBetweenSamples / 2;
      extrapolateToInterval +=
        durationToEnd < extrapolationThreshold ? durationToEnd : averageDurationBetweenSamples / 2;
    } else {
      if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
      if (result > 0 && firstValue >= 0) {
        const durationToZero = sampledInterval * (firstValue / result);
        if (durationToZero < durationToStart) durationToStart = durationToZero;
      }
      extrapolateToInterval += durationToStart;
      if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
      extrapolateToInterval += durationToEnd;
    }
    let factor = extrapolateToInterval / sampledInterval;
    factor /= rangeSeconds;
    put(i, result * factor);
  }
}
