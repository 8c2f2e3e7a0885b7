// From models to a recommendation: per container the algorithm's estimate, rounded (CPU up to whole
// millicores, memory up to whole MiB), or a reason why there is none. Pure: the same model, parameters and
// clock give the same answer, which is what the profile controller and `metapilot recommend` both use.
import type { ContainerRecommendation } from "../api/index.js";
import { confidenceDays, expireDays, type ContainerState } from "./model/container.js";
import type { Algorithm, Estimate, RecommenderParameters } from "./logic/index.js";

const MiB = 2 ** 20;

/** Cores → whole millicores, rounded up (at least 1m). */
export function formatCpu(cores: number): string {
  return `${Math.max(1, Math.ceil(cores * 1000 - 1e-9))}m`;
}

/** Bytes → whole MiB, rounded up (at least 1Mi). */
export function formatMemory(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / MiB - 1e-9))}Mi`;
}

export type ContainerReason = "Recommended" | "NoData" | "InsufficientData";

export interface ContainerResult {
  name: string;
  reason: ContainerReason;
  message: string;
  estimate?: Estimate;
  sampleCount: number;
  confidenceDays: number;
  firstSampleMs?: number;
  lastSampleMs?: number;
}

export function recommendContainers(
  containers: readonly string[],
  states: ReadonlyMap<string, ContainerState>,
  algorithm: Algorithm,
  params: RecommenderParameters,
  now: Date,
): ContainerResult[] {
  return containers.map((name) => {
    const state = states.get(name);
    if (!state || (state.sampleCount === 0 && state.memorySampleCount === 0)) {
      return { name, reason: "NoData", message: `${name}: no usage samples`, sampleCount: 0, confidenceDays: 0 };
    }
    expireDays(state, now.getTime(), params.historyDays);
    const base = {
      name,
      sampleCount: state.sampleCount,
      confidenceDays: confidenceDays(state),
      firstSampleMs: state.firstSampleMs,
      lastSampleMs: state.lastSampleMs,
    };
    if (state.sampleCount < params.minSampleCount || state.memorySampleCount === 0) {
      return {
        ...base,
        reason: "InsufficientData",
        message: `${name}: ${state.sampleCount} CPU and ${state.memorySampleCount} memory samples, need at least ${params.minSampleCount}`,
      };
    }
    const estimate = algorithm.estimate({ state, containerCount: containers.length, now }, params);
    if (!estimate) {
      return { ...base, reason: "InsufficientData", message: `${name}: no samples in the history window` };
    }
    return { ...base, reason: "Recommended", message: `${name}: recommended`, estimate };
  });
}

export function toContainerRecommendation(r: ContainerResult): ContainerRecommendation {
  const e = r.estimate;
  const round = (days: number) => Math.round(days * 1000) / 1000;
  return {
    name: r.name,
    ...(e
      ? {
          target: { cpu: formatCpu(e.target.cpu), memory: formatMemory(e.target.memory) },
          lowerBound: { cpu: formatCpu(e.lowerBound.cpu), memory: formatMemory(e.lowerBound.memory) },
          upperBound: { cpu: formatCpu(e.upperBound.cpu), memory: formatMemory(e.upperBound.memory) },
        }
      : {}),
    confidenceDays: round(r.confidenceDays),
    sampleCount: r.sampleCount,
    reason: r.reason,
  };
}
