// rate() from raw samples, step by step, by the arithmetic of promql/functions.go extrapolatedRate of each release:
// the expected values below are written out as Go computes them, operation by operation. test/backtest/
// remote-read.test.ts checks the "v2.40" rule against a real Prometheus 2.42 at every step.
import { describe, expect, it } from "vitest";
import { durationSeconds, rateAtSteps, type RateWindow } from "./rate.js";

/** rate at each of `steps` (NaN where there is none). */
function rates(samples: Array<[number, number] | [number, "stale"]>, steps: number[], w: RateWindow): number[] {
  const times = Float64Array.from(samples.map(([t]) => t));
  const values = Float64Array.from(samples.map(([, v]) => (v === "stale" ? Number.NaN : v)));
  const stale = Uint8Array.from(samples.map(([, v]) => (v === "stale" ? 1 : 0)));
  const out = steps.map(() => Number.NaN);
  rateAtSteps(times, values, steps, 0, steps.length - 1, w, (i, v) => (out[i] = v), stale);
  return out;
}

const closed = (rule: RateWindow["rule"], windowMs: number): RateWindow => ({ windowMs, leftOpen: false, rule });

/** A counter going up by 10 every 10 s, sampled from 0 to 30 s. */
const steady: Array<[number, number]> = [
  [0, 100],
  [10_000, 110],
  [20_000, 120],
  [30_000, 130],
];

describe("rateAtSteps", () => {
  it("extrapolates to both edges of a closed window when the samples reach them", () => {
    for (const rule of ["v2.40", "v2.52"] as const)
      // All four samples in [0, 30 s]: 30 over 30 s sampled, extrapolated by 0 at each edge.
      expect(rates(steady, [30_000], closed(rule, 30_000))).toEqual([30 * (30 / 30 / 30)]);
  });

  it("leaves out the sample at the window's start when it is left-open (Prometheus 3)", () => {
    // (0, 30 s]: 20 over 20 s sampled; 10 s to the start is within 1.1 × the 10 s spacing, so extrapolated to it.
    expect(rates(steady, [30_000], { windowMs: 30_000, leftOpen: true, rule: "v2.52" })).toEqual([
      20 * ((20 + 10) / 20 / 30),
    ]);
  });

  it("adds back the value before each counter reset", () => {
    const s: Array<[number, number]> = [
      [0, 10],
      [10_000, 20],
      [20_000, 5],
      [30_000, 15],
    ];
    // 15 − 10, plus 20 at the reset.
    expect(rates(s, [30_000], closed("v2.40", 30_000))).toEqual([(15 - 10 + 20) * (30 / 30 / 30)]);
  });

  it("takes the counter's zero point before the threshold up to 2.51, after it from 2.52", () => {
    // A counter that began within the window: 40 s from the window's start to its first sample, 10 s spacing, and
    // its zero point 8 s before that sample (20 over 20 s, from 8).
    const s: Array<[number, number]> = [
      [40_000, 8],
      [50_000, 18],
      [60_000, 28],
    ];
    // 2.40–2.51: the zero point (8 s) replaces the 40 s, and is then within the 11 s threshold: extrapolated by 8.
    expect(rates(s, [60_000], closed("v2.40", 60_000))).toEqual([20 * ((20 + 8 + 0) / 20 / 60)]);
    // 2.52 on: the 40 s is past the threshold, so half a spacing (5 s), which is shorter than the zero point's 8 s.
    expect(rates(s, [60_000], closed("v2.52", 60_000))).toEqual([20 * ((20 + 5 + 0) / 20 / 60)]);
  });

  it("extrapolates by half a spacing at an edge the samples do not reach", () => {
    const s: Array<[number, number]> = [
      [0, 1000],
      [10_000, 1010],
      [20_000, 1020],
    ];
    // Window [0, 60 s] at 60 s: 40 s after the last sample, past the threshold; the zero point is far away.
    for (const rule of ["v2.40", "v2.52"] as const)
      expect(rates(s, [60_000], closed(rule, 60_000))).toEqual([20 * ((20 + 0 + 5) / 20 / 60)]);
  });

  it("drops stale markers, and gives no value with fewer than two samples", () => {
    const s: Array<[number, number] | [number, "stale"]> = [
      [0, 1],
      [10_000, 2],
      [20_000, "stale"],
      [30_000, 5],
      [40_000, 6],
    ];
    const w = closed("v2.40", 15_000);
    // At 20 s: 10 s and the marker, one sample. At 30 s: the marker and 30 s. At 40 s: 30 s and 40 s.
    const out = rates(s, [10_000, 20_000, 30_000, 40_000], w);
    expect(out[0]).toBe(1 * ((10 + 5 + 0) / 10 / 15));
    expect(out.slice(1, 3)).toEqual([Number.NaN, Number.NaN]);
    expect(out[3]).toBe(1 * ((10 + 5 + 0) / 10 / 15));
  });

  it("walks many steps with the window sliding over the samples", () => {
    const times: number[] = [];
    const values: number[] = [];
    for (let k = 0; k < 100; k++) {
      times.push(k * 7_000 + (k % 3) * 500);
      values.push(k * k);
    }
    const steps = Array.from({ length: 60 }, (_, i) => i * 10_000);
    const w = closed("v2.52", 20_000);
    const slid = rates(
      times.map((t, k) => [t, values[k] as number]),
      steps,
      w,
    );
    // Each step alone, from only the samples in its window, gives the same.
    steps.forEach((t, i) => {
      const inWindow = times.flatMap((u, k) =>
        u >= t - 20_000 && u <= t ? [[u, values[k] as number] as [number, number]] : [],
      );
      expect(rates(inWindow, [t], w)[0], `step ${i}`).toBe(slid[i]);
    });
    expect(slid.filter(Number.isFinite).length).toBeGreaterThan(50);
  });
});

describe("durationSeconds", () => {
  it("is Go's Duration.Seconds(): whole seconds plus the rest in ns over 1e9", () => {
    expect(durationSeconds(60_000)).toBe(60);
    expect(durationSeconds(1_500)).toBe(1.5);
    expect(durationSeconds(1_001)).toBe(1 + 1_000_000 / 1e9);
  });
});
