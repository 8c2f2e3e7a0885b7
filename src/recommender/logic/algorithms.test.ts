// Table-driven checks of every formula against hand-computed values (the bucket ends were computed by hand from
// firstBucketSize·(1.05^b − 1)/0.05: 0.5 core lies in bucket 25, which ends at 0.5111345 cores; 300 MiB lies in
// memory bucket 19, which ends at 330,659,541 bytes).
import { describe, expect, it } from "vitest";
import {
  addCpuSample,
  addMemorySample,
  confidenceDays,
  dayMs,
  newContainerState,
  recordOom,
  type ContainerState,
} from "../model/container.js";
import {
  bucketStart,
  cpuHistogramOptions,
  findBucket,
  memoryHistogramOptions,
  numBuckets,
  percentile,
} from "../model/histogram.js";
import { withConfidence, withMargin, withMinimum } from "./estimators.js";
import {
  algorithmByName,
  availableAlgorithms,
  defaultParameters,
  resolveParameters,
  UnknownAlgorithmError,
} from "./index.js";

const MiB = 2 ** 20;
const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;

/** 8 days, one sample a minute; cpu(i) and memory(i) give the values of minute i. */
function history(cpu: (i: number) => number, memory: (i: number) => number, days = 8): ContainerState {
  const s = newContainerState(24 * 3_600_000, t0);
  for (let i = 0; i < days * 1440; i++) {
    addCpuSample(s, t0 + i * minute, cpu(i), 1);
    addMemorySample(s, "pod-0", t0 + i * minute, memory(i));
  }
  return s;
}

describe("exponential histogram (VPA util/histogram.go)", () => {
  it.each([
    // [value, bucket, end of bucket]
    [0.001, 0, 0.01],
    [0.01, 1, 0.0205],
    [0.1, 8, 0.11026564319570314],
    [0.5, 25, 0.5111345375888712],
    [1, 36, 1.0162813885540918],
  ])("CPU %f cores lies in bucket %i, which ends at %f", (value, bucket, end) => {
    expect(findBucket(cpuHistogramOptions, value)).toBe(bucket);
    expect(bucketStart(cpuHistogramOptions, bucket + 1)).toBeCloseTo(end, 12);
  });

  it("has VPA's bucket counts and memory buckets", () => {
    expect(numBuckets(cpuHistogramOptions)).toBe(176);
    expect(numBuckets(memoryHistogramOptions)).toBe(176);
    expect(findBucket(memoryHistogramOptions, 300 * MiB)).toBe(19);
    expect(bucketStart(memoryHistogramOptions, 20)).toBeCloseTo(330_659_541.03, 1);
    expect(findBucket(cpuHistogramOptions, 5000)).toBe(175); // above maxValue: the last bucket
  });

  it.each([
    // weights per bucket, percentile, expected bucket end
    [{ 8: 96, 36: 4 }, 0.95, 0.11026564319570314],
    [{ 8: 96, 36: 4 }, 0.97, 1.0162813885540918],
    [{ 8: 50, 36: 50 }, 0.5, 0.11026564319570314],
    [{ 8: 50, 36: 50 }, 0.51, 1.0162813885540918],
    [{ 175: 1 }, 0.9, bucketStart(cpuHistogramOptions, 175)], // last bucket: its start, it has no end
  ])("percentile of %o at %f is %f", (h, p, want) => {
    expect(percentile(cpuHistogramOptions, h, p)).toBeCloseTo(want, 12);
  });

  it("has no percentile when empty", () => {
    expect(percentile(cpuHistogramOptions, {}, 0.9)).toBeUndefined();
    expect(percentile(cpuHistogramOptions, { 3: 1e-6 }, 0.9)).toBeUndefined();
  });
});

describe("estimator decorators (VPA logic/estimator.go)", () => {
  it.each([
    [1, 0.15, 1.15],
    [0.5111345375888712, 0.15, 0.587804718227202],
  ])("margin: %f × (1 + %f) = %f", (v, m, want) => expect(withMargin(v, m)).toBeCloseTo(want, 12));

  it.each([
    // value, multiplier, exponent, confidence days, expected
    [1, 1, 1, 8, 1.125], // upper bound, 8 days: × (1 + 1/8)
    [1, 1, 1, 1, 2], // upper bound, 1 day: doubled
    [1, 0.001, -2, 8, 1 / (1 + 0.001 / 8) ** 2], // lower bound, 8 days
    [1, 0.001, -2, 0.01, 1 / 1.1 ** 2], // lower bound, ~15 minutes: × 1/1.21
    [1, 1, 1, 0, Number.POSITIVE_INFINITY],
    [1, 0.001, -2, 0, 0],
  ])("confidence: %f × (1 + %f/c)^%f at c=%f is %f", (v, m, e, c, want) => {
    expect(withConfidence(v, m, e, c)).toBeCloseTo(want, 12);
  });

  it("minimum", () => {
    expect(withMinimum(0.01, 0.025)).toBe(0.025);
    expect(withMinimum(1, 0.025)).toBe(1);
  });
});

describe("vpa-histogram", () => {
  const vpa = algorithmByName("vpa-histogram");
  const p = resolveParameters(vpa);
  const now = new Date(t0 + 8 * dayMs);

  it("has VPA's defaults", () => {
    expect(p).toMatchObject({
      targetPercentile: 0.9,
      lowerBoundPercentile: 0.5,
      upperBoundPercentile: 0.95,
      safetyMarginFraction: 0.15,
      halfLifeHours: 24,
      historyDays: 8,
      oomBumpBytes: 100 * MiB,
      oomBumpRatio: 1.2,
      minCPU: 0.025,
      minMemory: 250 * MiB,
    });
  });

  it("constant usage over 8 days: bucket end + 15%, bounds scaled by confidence", () => {
    const s = history(
      () => 0.5,
      () => 300 * MiB,
    );
    const c = confidenceDays(s);
    expect(c).toBeCloseTo(11519 / 1440, 12); // lifespan (first to last sample) is the smaller one
    const e = vpa.estimate({ state: s, containerCount: 1, now }, p)!;
    const cpu = 0.5111345375888712 * 1.15;
    const mem = 330_659_541.0288841 * 1.15;
    expect(e.target.cpu).toBeCloseTo(cpu, 9);
    expect(e.target.memory).toBeCloseTo(mem, 0);
    expect(e.upperBound.cpu).toBeCloseTo(cpu * (1 + 1 / c), 9);
    expect(e.upperBound.memory).toBeCloseTo(mem * (1 + 1 / c), 0);
    expect(e.lowerBound.cpu).toBeCloseTo(cpu * (1 + 0.001 / c) ** -2, 9);
    expect(e.lowerBound.memory).toBeCloseTo(mem * (1 + 0.001 / c) ** -2, 0);
  });

  it.each([
    // containers in the pod, expected CPU and memory target: the pod minimum split among containers
    [1, 0.025, 250 * MiB],
    [2, 0.0125, 125 * MiB],
  ])("tiny usage with %i containers is raised to the minimum", (containerCount, cpu, memory) => {
    const s = history(
      () => 0.001,
      () => 1e6,
    );
    const e = vpa.estimate({ state: s, containerCount, now }, p)!;
    expect(e.target.cpu).toBeCloseTo(cpu, 12);
    expect(e.target.memory).toBeCloseTo(memory, 3);
  });

  it("p90 follows the recent past: decay with a 24 h half-life", () => {
    // 7 days at 0.1 core, then 1 day at 1 core: the last day weighs 2^7/(2^8−1) ≈ 50% of the total, so p80 is
    // 1 core; with a 1000-hour half-life each day weighs about 1/8 (the last ≈ 13.7%), so p80 stays at 0.1.
    const cpu = (i: number) => (i >= 7 * 1440 ? 1 : 0.1);
    const p80 = { ...p, targetPercentile: 0.8 };
    const decayed = vpa.estimate({ state: history(cpu, () => 300 * MiB), containerCount: 1, now }, p80)!;
    expect(decayed.target.cpu).toBeCloseTo(1.0162813885540918 * 1.15, 9);
    const flat = newContainerState(1000 * 3_600_000, t0);
    for (let i = 0; i < 8 * 1440; i++) {
      addCpuSample(flat, t0 + i * minute, cpu(i), 1);
      addMemorySample(flat, "pod-0", t0 + i * minute, 300 * MiB);
    }
    const e = vpa.estimate({ state: flat, containerCount: 1, now }, { ...p80, halfLifeHours: 1000 })!;
    expect(e.target.cpu).toBeCloseTo(0.11026564319570314 * 1.15, 9);
  });

  it("an OOM kill at a 400 MiB limit becomes a 500 MiB memory peak: max(400 + 100, 400 × 1.2)", () => {
    const s = history(
      () => 0.5,
      () => 300 * MiB,
    );
    expect(
      recordOom(s, "pod/c/1", "pod-0", t0 + 7 * dayMs + 3_600_000, 400 * MiB, { bumpBytes: 100 * MiB, bumpRatio: 1.2 }),
    ).toBe(true);
    expect(
      recordOom(s, "pod/c/1", "pod-0", t0 + 7 * dayMs + 3_600_000, 400 * MiB, { bumpBytes: 100 * MiB, bumpRatio: 1.2 }),
    ).toBe(false);
    const e = vpa.estimate({ state: s, containerCount: 1, now }, p)!;
    const bucket = findBucket(memoryHistogramOptions, 500 * MiB);
    expect(e.target.memory).toBeCloseTo(bucketStart(memoryHistogramOptions, bucket + 1) * 1.15, 0);
    // At 1 GiB, ×1.2 wins over +100 MiB.
    const large = history(
      () => 0.5,
      () => 10 * MiB,
    );
    recordOom(large, "y", "pod-0", t0 + 7 * dayMs, 1024 * MiB, { bumpBytes: 100 * MiB, bumpRatio: 1.2 });
    expect(Math.max(...large.days.flatMap((d) => d.memoryPeaks.map((p) => p.bytes)))).toBeCloseTo(1024 * MiB * 1.2, 3);
    // A small limit: +100 MiB wins over ×1.2.
    const small = history(
      () => 0.5,
      () => 10 * MiB,
    );
    recordOom(small, "x", "pod-0", t0 + 7 * dayMs, 100 * MiB, { bumpBytes: 100 * MiB, bumpRatio: 1.2 });
    expect(Math.max(...small.days.flatMap((d) => d.memoryPeaks.map((p) => p.bytes)))).toBe(200 * MiB);
  });

  it("per-profile overrides win over defaults", () => {
    const q = resolveParameters(vpa, {
      targetPercentile: 0.5,
      safetyMarginFraction: 0,
      minCPU: "100m",
      minMemory: "1Gi",
    });
    expect(q.targetPercentile).toBe(0.5);
    expect(q.safetyMarginFraction).toBe(0);
    expect(q.minCPU).toBeCloseTo(0.1, 12);
    expect(q.minMemory).toBe(2 ** 30);
    const e = vpa.estimate(
      {
        state: history(
          () => 0.5,
          () => 300 * MiB,
        ),
        containerCount: 1,
        now,
      },
      q,
    )!;
    expect(e.target.cpu).toBeCloseTo(0.5111345375888712, 9);
  });
});

describe("percentile and peak-margin", () => {
  const now = new Date(t0 + 8 * dayMs);
  // 96% of minutes at 0.1 core, 4% at 1 core; memory 300 MiB, one day at 400 MiB.
  const s = history(
    (i) => (i % 100 < 96 ? 0.1 : 1),
    (i) => (i >= 3 * 1440 && i < 4 * 1440 ? 400 * MiB : 300 * MiB),
  );

  it("percentile: CPU p95, memory max + 15%", () => {
    const a = algorithmByName("percentile");
    const e = a.estimate({ state: s, containerCount: 1, now }, resolveParameters(a))!;
    expect(e.target.cpu).toBeCloseTo(0.11026564319570314, 12);
    expect(e.target.memory).toBeCloseTo(400 * MiB * 1.15, 3);
    expect(e.upperBound.cpu).toBeCloseTo(1.0162813885540918, 12);
    expect(e.lowerBound.memory).toBe(300 * MiB);
  });

  it("percentile is configurable: CPU p99 and memory p50 with no margin", () => {
    const a = algorithmByName("percentile");
    const q = resolveParameters(a, { cpuPercentile: 0.99, memoryPercentile: 0.5, memoryMarginFraction: 0 });
    const e = a.estimate({ state: s, containerCount: 1, now }, q)!;
    expect(e.target.cpu).toBeCloseTo(1.0162813885540918, 12);
    expect(e.target.memory).toBe(300 * MiB);
  });

  it("peak-margin: peaks + 20%, upper bound + 40%", () => {
    const a = algorithmByName("peak-margin");
    const e = a.estimate({ state: s, containerCount: 1, now }, resolveParameters(a))!;
    expect(e.target.cpu).toBeCloseTo(1.0162813885540918 * 1.2, 12);
    expect(e.target.memory).toBeCloseTo(400 * MiB * 1.2, 3);
    expect(e.upperBound.memory).toBeCloseTo(400 * MiB * 1.4, 3);
  });
});

describe("registry", () => {
  it("lists the algorithms and rejects unknown names", () => {
    expect(availableAlgorithms()).toEqual(["peak-margin", "percentile", "vpa-histogram"]);
    expect(() => algorithmByName("magic")).toThrow(UnknownAlgorithmError);
    expect(() => algorithmByName("magic")).toThrow(/available: peak-margin, percentile, vpa-histogram/);
    expect(defaultParameters.minSampleCount).toBeGreaterThan(0);
  });
});
