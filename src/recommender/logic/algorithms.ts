// The recommendation algorithms. Each is a pure function of a container's model, its parameters and the clock.
import { cpuHistogramOptions, memoryHistogramOptions, percentile } from "../model/histogram.js";
import {
  confidenceDays,
  cpuDecayedHistogram,
  cpuWindowHistogram,
  memoryDecayedHistogram,
  memoryWindowPeaks,
} from "../model/container.js";
import { withConfidence, withMargin, withMinimum } from "./estimators.js";
import type { Algorithm, AlgorithmInput, Estimate, RecommenderParameters } from "./types.js";

const capCpu = (v: number) => Math.min(v, cpuHistogramOptions.maxValue);
const capMemory = (v: number) => Math.min(v, memoryHistogramOptions.maxValue);

function minimums(input: AlgorithmInput, p: RecommenderParameters) {
  // VPA's podMinCPUMillicores / podMinMemoryMb are per pod, split evenly among its containers.
  const share = 1 / Math.max(1, input.containerCount);
  return { cpu: p.minCPU * share, memory: p.minMemory * share };
}

/**
 * VPA's recommender: decaying histograms (half-life), CPU over all samples and memory over the daily peak of each pod;
 * target p90, lower p50, upper p95, each plus the safety margin; upper bound × (1 + 1/confidence)^1, lower
 * bound × (1 + 0.001/confidence)^−2; then the pod minimums.
 */
export const vpaHistogram: Algorithm = {
  name: "vpa-histogram",
  description: "decaying exponential histograms with bounds and confidence, as the Vertical Pod Autoscaler",
  defaults: {},
  estimate(input, p): Estimate | undefined {
    const cpu = cpuDecayedHistogram(input.state);
    const memory = memoryDecayedHistogram(input.state);
    const at = (q: number) => {
      const c = percentile(cpuHistogramOptions, cpu, q);
      const m = percentile(memoryHistogramOptions, memory, q);
      return c === undefined || m === undefined ? undefined : { cpu: c, memory: m };
    };
    const target = at(p.targetPercentile);
    const lower = at(p.lowerBoundPercentile);
    const upper = at(p.upperBoundPercentile);
    if (!target || !lower || !upper) return undefined;
    const confidence = confidenceDays(input.state);
    const min = minimums(input, p);
    const finish = (v: number, resource: "cpu" | "memory", bound: "target" | "lower" | "upper") => {
      let out = withMargin(v, p.safetyMarginFraction);
      if (bound === "upper")
        out = withConfidence(out, p.upperBoundConfidenceMultiplier, p.upperBoundConfidenceExponent, confidence);
      if (bound === "lower")
        out = withConfidence(out, p.lowerBoundConfidenceMultiplier, p.lowerBoundConfidenceExponent, confidence);
      out = withMinimum(out, min[resource]);
      return resource === "cpu" ? capCpu(out) : capMemory(out);
    };
    return {
      target: { cpu: finish(target.cpu, "cpu", "target"), memory: finish(target.memory, "memory", "target") },
      lowerBound: { cpu: finish(lower.cpu, "cpu", "lower"), memory: finish(lower.memory, "memory", "lower") },
      upperBound: { cpu: finish(upper.cpu, "cpu", "upper"), memory: finish(upper.memory, "memory", "upper") },
      confidenceDays: confidence,
    };
  },
};

/**
 * Crane / KRR "simple" style over the history window, no decay: CPU at cpuPercentile (p95), memory at
 * memoryPercentile of the daily peaks of the pods (1 = the maximum) plus memoryMarginFraction (15%). Lower bound: the
 * lowerBoundPercentile of both; upper bound: the CPU maximum and the memory target.
 */
export const percentileAlgorithm: Algorithm = {
  name: "percentile",
  description: "CPU p95 and memory peak + 15% over the window (Crane / KRR style)",
  defaults: { cpuPercentile: 0.95, memoryPercentile: 1, memoryMarginFraction: 0.15, cpuMarginFraction: 0 },
  estimate(input, p): Estimate | undefined {
    const cpu = cpuWindowHistogram(input.state);
    const peaks = memoryWindowPeaks(input.state);
    const cpuAt = (q: number) => percentile(cpuHistogramOptions, cpu, q);
    const cpuTarget = cpuAt(p.cpuPercentile);
    const cpuLower = cpuAt(p.lowerBoundPercentile);
    const cpuMax = cpuAt(1);
    if (cpuTarget === undefined || cpuLower === undefined || cpuMax === undefined || peaks.length === 0)
      return undefined;
    const memTarget = exactPercentile(peaks, p.memoryPercentile);
    const memLower = exactPercentile(peaks, p.lowerBoundPercentile);
    const min = minimums(input, p);
    const target = {
      cpu: withMinimum(withMargin(cpuTarget, p.cpuMarginFraction), min.cpu),
      memory: withMinimum(withMargin(memTarget, p.memoryMarginFraction), min.memory),
    };
    return {
      target,
      lowerBound: { cpu: withMinimum(cpuLower, min.cpu), memory: withMinimum(memLower, min.memory) },
      upperBound: { cpu: Math.max(target.cpu, withMinimum(cpuMax, min.cpu)), memory: target.memory },
      confidenceDays: confidenceDays(input.state),
    };
  },
};

/**
 * The peak plus a margin, for what must never be starved: CPU and memory at their window maximum × (1 +
 * margin). Lower bound: the lowerBoundPercentile; upper bound: the peak × (1 + 2·margin).
 */
export const peakMargin: Algorithm = {
  name: "peak-margin",
  description: "the window peak plus a margin (20%) for CPU and memory",
  defaults: { cpuMarginFraction: 0.2, memoryMarginFraction: 0.2 },
  estimate(input, p): Estimate | undefined {
    const cpu = cpuWindowHistogram(input.state);
    const peaks = memoryWindowPeaks(input.state);
    const cpuPeak = percentile(cpuHistogramOptions, cpu, 1);
    const cpuLower = percentile(cpuHistogramOptions, cpu, p.lowerBoundPercentile);
    if (cpuPeak === undefined || cpuLower === undefined || peaks.length === 0) return undefined;
    const memPeak = Math.max(...peaks);
    const min = minimums(input, p);
    return {
      target: {
        cpu: withMinimum(withMargin(cpuPeak, p.cpuMarginFraction), min.cpu),
        memory: withMinimum(withMargin(memPeak, p.memoryMarginFraction), min.memory),
      },
      lowerBound: {
        cpu: withMinimum(cpuLower, min.cpu),
        memory: withMinimum(exactPercentile(peaks, p.lowerBoundPercentile), min.memory),
      },
      upperBound: {
        cpu: withMinimum(withMargin(cpuPeak, 2 * p.cpuMarginFraction), min.cpu),
        memory: withMinimum(withMargin(memPeak, 2 * p.memoryMarginFraction), min.memory),
      },
      confidenceDays: confidenceDays(input.state),
    };
  },
};

/**
 * Nearest-rank percentile of a small list (daily peaks of the pods): the smallest value with at least p of the list
 * at or below it.
 */
export function exactPercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}
