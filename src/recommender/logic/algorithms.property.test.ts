// Properties of every recommendation algorithm over random usage histories (fast-check): bounds are ordered,
// nothing goes below the pod minimums or above the histogram range, no samples means no recommendation, the
// order samples arrive in does not matter, and more usage never lowers a recommendation.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addCpuSample, addMemorySample, newContainerState, type ContainerState } from "../model/container.js";
import { cpuHistogramOptions, memoryHistogramOptions } from "../model/histogram.js";
import { algorithmByName, availableAlgorithms, resolveParameters, type Estimate } from "./index.js";

const MiB = 2 ** 20;
const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;

interface Sample {
  /** Minutes after t0, within 8 days. */
  at: number;
  cpu: number;
  memory: number;
}

const sample = fc.record({
  at: fc.integer({ min: 0, max: 8 * 1440 - 1 }),
  cpu: fc.double({ min: 0.001, max: 64, noNaN: true }),
  memory: fc.double({ min: 1 * MiB, max: 256 * 1024 * MiB, noNaN: true }),
});
// Enough samples for every algorithm's minimum sample count, from one burst to a spread over days.
const history = fc.array(sample, { minLength: 40, maxLength: 400 });
const containers = fc.integer({ min: 1, max: 4 });

function model(samples: readonly Sample[]): ContainerState {
  const s = newContainerState(24 * 3_600_000, t0);
  for (const x of samples) {
    addCpuSample(s, t0 + x.at * minute, x.cpu, 1);
    addMemorySample(s, "pod-0", t0 + x.at * minute, x.memory);
  }
  return s;
}

const now = new Date(t0 + 8 * 86_400_000);

function estimate(name: string, samples: readonly Sample[], containerCount = 1): Estimate | undefined {
  const a = algorithmByName(name);
  return a.estimate({ state: model(samples), containerCount, now }, resolveParameters(a));
}

/** The same value up to floating-point summation order. */
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

// fast-check runs hundreds of cases per property: CPU-bound work whose wall time grows with the machine's load. The
// limit is for a hang, not for speed.
describe.each(availableAlgorithms())("recommendation algorithm %s", { timeout: 60_000 }, (name) => {
  const params = resolveParameters(algorithmByName(name));

  it("orders its bounds and stays between the pod minimums and the histogram range", () => {
    fc.assert(
      fc.property(history, containers, (samples, n) => {
        const e = estimate(name, samples, n);
        expect(e).toBeDefined();
        for (const r of ["cpu", "memory"] as const) {
          const { target, lowerBound, upperBound } = e!;
          expect(lowerBound[r]).toBeLessThanOrEqual(target[r]);
          expect(target[r]).toBeLessThanOrEqual(upperBound[r]);
          const min = (r === "cpu" ? params.minCPU : params.minMemory) / n;
          expect(lowerBound[r]).toBeGreaterThanOrEqual(min * (1 - 1e-12));
          const max = r === "cpu" ? cpuHistogramOptions.maxValue : memoryHistogramOptions.maxValue;
          // Upper bounds may exceed the range only by their margin; targets never do.
          if (name === "vpa-histogram") expect(upperBound[r]).toBeLessThanOrEqual(max);
          expect(target[r]).toBeLessThanOrEqual(
            max *
              (1 + 2 * Math.max(params.cpuMarginFraction, params.memoryMarginFraction, params.safetyMarginFraction)),
          );
          expect(Number.isFinite(target[r])).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("gives no recommendation without samples", () => {
    expect(estimate(name, [])).toBeUndefined();
  });

  const orderIndependent = fc.property(
    history.chain((h) => fc.tuple(fc.constant(h), fc.shuffledSubarray(h, { minLength: h.length }))),
    ([samples, shuffled]) => {
      const a = estimate(name, samples)!;
      const b = estimate(name, shuffled)!;
      for (const bound of ["target", "lowerBound", "upperBound"] as const)
        for (const r of ["cpu", "memory"] as const) expect(close(a[bound][r], b[bound][r])).toBe(true);
      expect(close(a.confidenceDays, b.confidenceDays)).toBe(true);
    },
  );

  it("is unchanged when the same samples arrive in another order", () => {
    fc.assert(orderIndependent, { numRuns: 200 });
  });

  // The seed of a CI failure: two equal memory peaks 4 minutes apart in one day kept the time of whichever came
  // first, and the decay weight of that time moved the target across a bucket edge.
  it("is unchanged when the same samples arrive in another order (seed 1785008948)", () => {
    fc.assert(orderIndependent, { numRuns: 200, seed: 1785008948 });
  });

  const moreNeverLess = fc.property(history, fc.double({ min: 1, max: 8, noNaN: true }), (samples, k) => {
    const scaled = samples.map((x) => ({ ...x, cpu: x.cpu * k, memory: x.memory * k }));
    // Rounding can make two different memory values of one day equal once scaled: the tie keeps the earlier time,
    // whose decay weight is a little smaller, and that can move a percentile across a bucket edge (seed
    // 210889897: 274877906943.99976 and …9998 bytes a minute apart, × 1.2857). That is not more usage.
    fc.pre(
      samples.every((a, i) =>
        samples.every(
          (b, j) =>
            Math.floor(a.at / 1440) !== Math.floor(b.at / 1440) ||
            Math.sign(a.memory - b.memory) === Math.sign(scaled[i]!.memory - scaled[j]!.memory),
        ),
      ),
    );
    const base = estimate(name, samples)!;
    const more = estimate(name, scaled)!;
    for (const bound of ["target", "lowerBound", "upperBound"] as const)
      for (const r of ["cpu", "memory"] as const)
        expect(more[bound][r]).toBeGreaterThanOrEqual(base[bound][r] * (1 - 1e-12));
  });

  it("never recommends less when every sample uses more", () => {
    fc.assert(moreNeverLess, { numRuns: 200 });
  });

  it("never recommends less when every sample uses more (seed 210889897)", () => {
    fc.assert(moreNeverLess, { numRuns: 200, seed: 210889897 });
  });
});
