// What every algorithm shares: resolved parameters (all numbers, base units), the estimate it returns, and the
// Algorithm interface of the registry.
import type { ContainerState, MemoryPeakRule } from "../model/container.js";

export interface RecommenderParameters {
  targetPercentile: number;
  lowerBoundPercentile: number;
  upperBoundPercentile: number;
  safetyMarginFraction: number;
  halfLifeHours: number;
  historyDays: number;
  cpuPercentile: number;
  memoryPercentile: number;
  cpuMarginFraction: number;
  memoryMarginFraction: number;
  /** How a pod's memory samples become peaks (model/container.ts). */
  memoryPeakRule: MemoryPeakRule;
  oomBumpBytes: number;
  oomBumpRatio: number;
  /** Pod-level minimums (cores, bytes), shared among the containers as VPA does. */
  minCPU: number;
  minMemory: number;
  /** VPA's confidence multipliers: bound × (1 + multiplier/confidence)^exponent. */
  upperBoundConfidenceMultiplier: number;
  upperBoundConfidenceExponent: number;
  lowerBoundConfidenceMultiplier: number;
  lowerBoundConfidenceExponent: number;
  /** Fewer CPU samples than this (or no memory sample) is InsufficientData: no recommendation, never a guess. */
  minSampleCount: number;
}

export interface Resources {
  cpu: number;
  memory: number;
}

export interface Estimate {
  target: Resources;
  lowerBound: Resources;
  upperBound: Resources;
  /** Days of history behind the estimate (VPA's confidence). */
  confidenceDays: number;
}

export interface AlgorithmInput {
  state: ContainerState;
  /** Containers in the pod: VPA splits the pod minimums among them. */
  containerCount: number;
  now: Date;
}

export interface Algorithm {
  name: string;
  description: string;
  /** Overrides of the shared defaults for this algorithm. */
  defaults: Partial<RecommenderParameters>;
  /** A pure function of the model (built from samples), the parameters and the clock. */
  estimate(input: AlgorithmInput, params: RecommenderParameters): Estimate | undefined;
}
