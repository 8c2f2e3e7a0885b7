// Estimators turn a fired scaler into a new size. Each is a pure function in a registry by name; the policy
// lists which ones a component uses, and unknown names are rejected when the policy is resolved.
//
// What the list means (also in the CRD's text of spec.components[].estimators):
// - oom-memory answers OOM kills (the oom scaler). Without it in the list, OOM kills are not answered.
// - cluster-size and fleet-regression size a tenant by its size (the cluster-size scaler, on a fresh node count):
//   they are tried in list order and the first that gives an answer sets the size (sizeByTenant, Estimator.bySize).
// - for scale-downs, every listed profile, cluster-size and fleet-regression answer is a floor: no recommendation
//   goes below what the WorkloadProfile, the ladder step or the fleet fit says the tenant needs (Estimator.floor).
//
// One file per estimator (oom-memory.ts, profile.ts, cluster-size.ts, fleet-regression.ts); this module is the
// registry and the two ways the engine asks it (sizeByTenant, estimatorFloor).
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput } from "../types.js";
import { clusterSizeEstimator } from "./cluster-size.js";
import { fleetRegressionEstimator } from "./fleet-regression.js";
import { oomMemoryEstimator } from "./oom-memory.js";
import { profileEstimator } from "./profile.js";
import { defaultHeadroom, type Estimator, type EstimatorResult, type Floor, type Headroom } from "./types.js";

export * from "./types.js";
export { defaultOomBump, inOomLoop, oomMemory, unansweredOoms, type OomBumpOptions } from "./oom-memory.js";
export { profileEstimate } from "./profile.js";
export { clusterSizeEstimate, defaultLinear, ladderStep, linearSize, type LinearSize } from "./cluster-size.js";
export { fleetRegressionEstimate } from "./fleet-regression.js";

/**
 * The size of a tenant by its size: the listed estimators that size by it (cluster-size, fleet-regression) in list
 * order, the first that gives an answer; `misses` says why each one before it (or every one, without an answer)
 * gave none.
 */
export function sizeByTenant(
  input: DecisionInput,
  headroom: Headroom = defaultHeadroom,
): { answer?: EstimatorResult & { estimator: string }; misses: string[] } {
  let misses: string[] | undefined;
  for (const e of estimatorsOf(input.policy.estimators)) {
    if (!e.bySize) continue;
    const result = e.estimate(input, headroom);
    if (result) return { answer: answerOf(result, e.name), misses: misses ?? [] };
    (misses ??= []).push(`${e.name}: ${e.bySize.whyNone(input)}`);
  }
  return { misses: misses ?? [] };
}

/**
 * A result as sizeByTenant's answer, the same object again for the same result (estimators give their last result
 * again for the same load, and callers never change an answer): most rounds see one tenant size.
 */
const answers = new WeakMap<EstimatorResult, EstimatorResult & { estimator: string }>();
function answerOf(result: EstimatorResult, estimator: string): EstimatorResult & { estimator: string } {
  let answer = answers.get(result);
  if (answer?.estimator !== estimator) answers.set(result, (answer = { ...result, estimator }));
  return answer;
}

/** A policy's list of estimator names as the estimators, in list order (an unknown name throws), once per list. */
const resolvedLists = new WeakMap<readonly string[], readonly Estimator[]>();
export function estimatorsOf(names: readonly string[]): readonly Estimator[] {
  let list = resolvedLists.get(names);
  if (!list) resolvedLists.set(names, (list = names.map(estimator)));
  return list;
}

const registry = new Map<string, Estimator>();

export function registerEstimator(e: Estimator): void {
  if (registry.has(e.name)) throw new Error(`estimator ${e.name} registered twice`);
  registry.set(e.name, e);
}

// Registry order is the order `availableEstimators` lists them in.
for (const e of [oomMemoryEstimator, profileEstimator, clusterSizeEstimator, fleetRegressionEstimator])
  registerEstimator(e);

/** A listed estimator's floor under scale-down recommendations (none for a name without one). */
export function estimatorFloor(
  name: string,
  input: DecisionInput,
  options: EngineOptions,
): Floor | "unknown" | undefined {
  return registry.get(name)?.floor?.(input, options);
}

export function availableEstimators(): string[] {
  return [...registry.keys()];
}

export function estimator(name: string): Estimator {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown estimator "${name}"; available: ${availableEstimators().join(", ")}`);
  return e;
}
