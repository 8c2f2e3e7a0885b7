// The cluster-size ladder keyed on load, not nodes alone: a step is reached by the tenant's node count, or by its
// stored objects or its watchers where the step sets them (TKE sizes managed control planes by pods, ConfigMaps and
// CRDs as well as nodes). The highest step reached applies, and the decision names the signal that reached it.
import type { Evidence } from "../api/index.js";
import { evidenceOf, fresh } from "./freshness.js";
import type { ClusterSizeStep, Measurement } from "./types.js";

export type LadderKey = "nodes" | "objects" | "watchers";

/** A ladder step with the load keys (ClusterSizeStep in types.ts carries them too). */
export interface LadderStep extends ClusterSizeStep {
  objects?: number;
  watchers?: number;
}

/** The tenant's size by each key, as fresh measurements; a key without one reaches no step. */
export type TenantLoad = Partial<Record<LadderKey, Measurement>>;

/** The series each key is read from, as the decision's evidence names it. */
export const ladderSignal: Record<LadderKey, string> = {
  nodes: "tenant_nodes",
  objects: "apiserver_storage_objects",
  watchers: 'apiserver_longrunning_requests{verb="WATCH"}',
};

export interface ReachedStep {
  step: LadderStep;
  /** The key that reached it (nodes first, then objects, then watchers, when several do). */
  by: LadderKey;
  value: number;
  /** The step's bound on that key. */
  bound: number;
}

const keys: LadderKey[] = ["nodes", "objects", "watchers"];

/** The highest step (by its nodes) that any key of `load` reaches. */
export function reachedStep(ladder: readonly LadderStep[], load: TenantLoad): ReachedStep | undefined {
  let best: ReachedStep | undefined;
  for (const step of ladder) {
    if (best && step.nodes <= best.step.nodes) continue;
    for (const key of keys) {
      const bound = step[key];
      const m = load[key];
      if (bound === undefined || !m || m.value < bound) continue;
      best = { step, by: key, value: m.value, bound };
      break;
    }
  }
  return best;
}

/** The keys other than nodes that some step of the ladder sets: the signals the ladder needs fresh. */
export function loadKeysOf(ladder: readonly LadderStep[]): LadderKey[] {
  return (["objects", "watchers"] as const).filter((k) => ladder.some((s) => s[k] !== undefined));
}

/** What reached the step, as evidence: the series, its value and the step's bound. */
export function reachedEvidence(r: ReachedStep, load: TenantLoad): Evidence {
  const m = load[r.by] as Measurement;
  return evidenceOf(ladderSignal[r.by], m, String(r.value), String(r.bound));
}

/** A line on the step and what reached it, for the decision's summary. */
export function describeReached(r: ReachedStep): string {
  const what = { nodes: "nodes", objects: "stored objects", watchers: "watchers on one apiserver pod" }[r.by];
  return `cluster-size ladder step from ${r.step.nodes} nodes, reached by ${r.value} ${what} (≥ ${r.bound})`;
}

/** The tenant's load as the ladder reads it from a round's signals; `o` given, only the fresh measurements. */
export function loadOf(
  signals: { clusterNodes?: Measurement; storedObjects?: Measurement; apiserverWatchers?: Measurement },
  now?: number,
  o?: { staleAfterMs: number },
): TenantLoad {
  const f = (m: Measurement | undefined) => (o && now !== undefined ? fresh(m, now, o) : m);
  return { nodes: f(signals.clusterNodes), objects: f(signals.storedObjects), watchers: f(signals.apiserverWatchers) };
}
