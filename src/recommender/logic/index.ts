// The registry of recommendation algorithms, by name, in cluster-autoscaler's plug-in shape: unknown names are
// rejected at start-up (the default algorithm) and reported in a profile's status (the workload annotation).
import { parseQuantity, type WorkloadProfileSpec } from "../../api/index.js";
import { peakMargin, percentileAlgorithm, vpaHistogram } from "./algorithms.js";
import type { Algorithm, RecommenderParameters } from "./types.js";

export type { Algorithm, AlgorithmInput, Estimate, RecommenderParameters, Resources } from "./types.js";
export { exactPercentile } from "./algorithms.js";

const MiB = 2 ** 20;

/** VPA's defaults (pkg/recommender/logic/recommender.go and model/aggregations_config.go). */
export const defaultParameters: RecommenderParameters = {
  targetPercentile: 0.9,
  lowerBoundPercentile: 0.5,
  upperBoundPercentile: 0.95,
  safetyMarginFraction: 0.15,
  halfLifeHours: 24,
  historyDays: 8,
  cpuPercentile: 0.95,
  memoryPercentile: 1,
  cpuMarginFraction: 0,
  memoryMarginFraction: 0.15,
  memoryPeakRule: "PerDay",
  oomBumpBytes: 100 * MiB,
  oomBumpRatio: 1.2,
  minCPU: 0.025,
  minMemory: 250 * MiB,
  upperBoundConfidenceMultiplier: 1,
  upperBoundConfidenceExponent: 1,
  lowerBoundConfidenceMultiplier: 0.001,
  lowerBoundConfidenceExponent: -2,
  minSampleCount: 30,
};

const registry = new Map<string, Algorithm>();

export function registerAlgorithm(a: Algorithm): void {
  if (registry.has(a.name)) throw new Error(`algorithm ${a.name} registered twice`);
  registry.set(a.name, a);
}

for (const a of [vpaHistogram, percentileAlgorithm, peakMargin]) registerAlgorithm(a);

export function availableAlgorithms(): string[] {
  return [...registry.keys()].sort();
}

export class UnknownAlgorithmError extends Error {
  constructor(name: string) {
    super(`unknown recommender algorithm "${name}"; available: ${availableAlgorithms().join(", ")}`);
    this.name = "UnknownAlgorithmError";
  }
}

export function algorithmByName(name: string): Algorithm {
  const a = registry.get(name);
  if (!a) throw new UnknownAlgorithmError(name);
  return a;
}

/** Shared defaults, then the algorithm's defaults, then the profile's spec.parameters. */
export function resolveParameters(
  algorithm: Algorithm,
  overrides: WorkloadProfileSpec["parameters"] = {},
): RecommenderParameters {
  const { minCPU, minMemory, ...numeric } = overrides;
  const defined = Object.fromEntries(Object.entries(numeric).filter(([, v]) => v !== undefined));
  return {
    ...defaultParameters,
    ...algorithm.defaults,
    ...(defined as Partial<RecommenderParameters>),
    ...(minCPU !== undefined ? { minCPU: parseQuantity(minCPU) } : {}),
    ...(minMemory !== undefined ? { minMemory: parseQuantity(minMemory) } : {}),
  };
}
