// Tenant size: on a fresh node count, the listed cluster-size and fleet-regression estimators in list order, the
// first with an answer; a scale-up only when that size is above the current one (after the policy's bounds). The
// ladder's step is reached by nodes, or by stored objects or watchers where a step sets them (src/scaler/ladder.ts);
// a stale or missing object or watcher count reaches nothing, and the evidence names the series that reached it.
import { sizeByTenant } from "../estimators/index.js";
import { evidenceOf, fresh } from "../freshness.js";
import { loadOf, reachedEvidence, reachedStep, type TenantLoad } from "../ladder.js";
import { clamp, covers, maxSize, onceForSize, sameSize } from "../sizes.js";
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput, ResolvedPolicy, Size } from "../types.js";
import type { Scaler } from "./types.js";

/** Whether a size bounded by the policy is sameSize as itself (not when a bound leaves a NaN or an Infinity). */
const boundedIsItself = onceForSize((size, input) => {
  const bounded = clamp(size, input);
  return sameSize(bounded, bounded);
});

/**
 * What a round read when the size it had already covered its tenant's size, within its bounds (propose gave nothing
 * and noted nothing): the tenant's size as the estimators saw it (the fresh counts), and everything else they and
 * the bounds read. A bySize estimator is a function of the tenant's size and of these only (Estimator.bySize: the
 * options as its headroom), and a resolved policy is not changed once resolved, so a round that reads the same is
 * covered too.
 */
interface Covered {
  options: EngineOptions;
  component: string;
  fleet: DecisionInput["fleet"];
  nodes: number;
  objects: number | undefined;
  watchers: number | undefined;
  size: Size;
}

/** Per resolved policy, the last round it covered (a workload's rounds mostly see one tenant size and one size). */
const lastCovered = new WeakMap<ResolvedPolicy, Covered>();

/** Whether a round reads what `c` read (Object.is: NaN is NaN, -0 is not +0). */
function sameAsCovered(
  c: Covered,
  input: DecisionInput,
  options: EngineOptions,
  nodes: number,
  load: TenantLoad,
): boolean {
  const s = input.current;
  return (
    c.options === options &&
    c.component === input.workload.component &&
    c.fleet === input.fleet &&
    Object.is(c.nodes, nodes) &&
    Object.is(c.objects, load.objects?.value) &&
    Object.is(c.watchers, load.watchers?.value) &&
    Object.is(c.size.replicas, s.replicas) &&
    Object.is(c.size.cpuRequest, s.cpuRequest) &&
    Object.is(c.size.cpuLimit, s.cpuLimit) &&
    Object.is(c.size.memoryRequest, s.memoryRequest) &&
    Object.is(c.size.memoryLimit, s.memoryLimit)
  );
}

export const clusterSizeScaler: Scaler = {
  name: "cluster-size",
  propose(input, options, notes) {
    const { current } = input;
    const nodes = fresh(input.signals.clusterNodes, input.now, options);
    if (!input.policy.scalers["cluster-size"].enabled || !nodes) return undefined;
    // The estimators see only what is fresh: a stale object or watcher count sizes nothing.
    const load = loadOf(input.signals, input.now, options);
    const seen = lastCovered.get(input.policy);
    if (seen && sameAsCovered(seen, input, options, nodes.value, load)) return undefined;
    const { storedObjects, apiserverWatchers } = input.signals;
    // The round's own input when both counts are fresh or absent (most rounds): there is nothing to leave out of it.
    const sized: DecisionInput =
      load.objects === storedObjects && load.watchers === apiserverWatchers
        ? input
        : { ...input, signals: { ...input.signals, storedObjects: load.objects, apiserverWatchers: load.watchers } };
    const { answer: est, misses } = sizeByTenant(sized, options);
    if (!est && misses.length) notes.push(`no size for ${nodes.value} tenant nodes: ${misses.join("; ")}`);
    if (!est) return undefined;
    // An estimate the current size covers (most rounds) grows nothing: the grown size has the current one's values,
    // so it bounds to the same size, which is compared with itself (once per size: boundedIsItself), and need not
    // be built and bounded again.
    const covered = covers(current, est.size);
    if (covered && boundedIsItself(current, input)) {
      lastCovered.set(input.policy, {
        options,
        component: input.workload.component,
        fleet: input.fleet,
        nodes: nodes.value,
        objects: load.objects?.value,
        watchers: load.watchers?.value,
        size: { ...current },
      });
      return undefined;
    }
    const bounded = clamp(current, input);
    const grownBounded = covered ? bounded : clamp(maxSize(current, est.size), input);
    if (sameSize(grownBounded, bounded)) return undefined;
    const req = est.size.memoryRequest;
    const limit =
      req !== undefined && current.memoryLimit !== undefined && current.memoryRequest
        ? Math.max(current.memoryLimit, req * (current.memoryLimit / current.memoryRequest))
        : undefined;
    const reached = est.estimator === "cluster-size" ? reachedStep(input.policy.ladder, load) : undefined;
    const byLoad = reached && reached.by !== "nodes" ? [reachedEvidence(reached, load)] : [];
    return {
      scaler: "cluster-size",
      category: "ClusterGrowth",
      size: { ...est.size, memoryLimit: limit },
      note: misses.length ? `${est.note}; tried first: ${misses.join("; ")}` : est.note,
      estimator: est.estimator,
      oomIds: [],
      evidence: [...byLoad, evidenceOf("tenant_nodes", nodes, String(nodes.value)), ...(est.evidence ?? [])],
    };
  },
};
