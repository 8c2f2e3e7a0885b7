// Builders of decision-engine inputs for unit and property tests.
import { scalerDefaults } from "./policy.js";
import { MiB } from "./quantity.js";
import type { DecisionInput, ResolvedPolicy, Signals } from "./types.js";
import type { KubeObject } from "../kube/resources.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;

export function policy(over: Partial<ResolvedPolicy> = {}): ResolvedPolicy {
  return {
    clusterScaler: "cs",
    scalers: structuredClone(scalerDefaults),
    estimators: ["oom-memory", "profile", "cluster-size"],
    minAllowed: { cpu: 0.1, memory: 128 * MiB },
    maxAllowed: { cpu: 8, memory: 16384 * MiB },
    replicas: { min: 1, max: 5 },
    ladder: [],
    scaleUpCooldownMs: min,
    scaleDown: { enabled: true, stabilizationWindowMs: 180 * min, maxStepPercent: 20, cooldownMs: 0 },
    dryRun: false,
    ...over,
  };
}

export function input(over: Partial<DecisionInput> = {}, signals: Partial<Signals> = {}): DecisionInput {
  return {
    workload: {
      kind: "Deployment",
      name: "kube-apiserver",
      namespace: "tcp-a",
      tenant: "a",
      component: "kube-apiserver",
      container: "kube-apiserver",
      ownedByTenantControlPlane: false,
    },
    current: { replicas: 2, cpuRequest: 1, memoryRequest: 1024 * MiB, memoryLimit: 2048 * MiB },
    policy: policy(),
    signals: { oom: [], ...signals },
    history: {
      handledOomIds: new Set(),
      overThresholdSince: {},
      recommendations: [],
      observingSince: now - 10 * 60 * min,
    },
    now,
    fleetBudgetRemaining: 10,
    oomFloorRemaining: 2,
    paused: false,
    ...over,
  };
}

/** The part of an informer the scaler's reconciler reads, over a plain array (unit tests' caches). */
export class Store {
  constructor(readonly items: KubeObject[] = []) {}
  get(key: string) {
    return this.items.find(
      (o) => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata?.name) === key,
    );
  }
  /** Like an informer, replays what it holds to a new handler. */
  on(handlers: { add?: (o: KubeObject, initial?: boolean) => void }) {
    for (const o of this.items) handlers.add?.(o, true);
    return this;
  }
  list(filter?: (o: KubeObject) => boolean) {
    return filter ? this.items.filter(filter) : [...this.items];
  }
  listNamespace(ns: string, filter?: (o: KubeObject) => boolean) {
    return this.list((o) => o.metadata?.namespace === ns && (!filter || filter(o)));
  }
}

const cacheNames = [
  "clusterScalers",
  "tenants",
  "deployments",
  "statefulSets",
  "pods",
  "decisions",
  "profiles",
] as const;

/** The scaler reconciler's caches (ScalerCaches) over plain arrays: each named one holds its items, the rest none. */
export function storeCaches(
  items: Partial<Record<(typeof cacheNames)[number], KubeObject[]>> = {},
): Record<(typeof cacheNames)[number], Store> {
  return Object.fromEntries(cacheNames.map((name) => [name, new Store(items[name] ?? [])])) as Record<
    (typeof cacheNames)[number],
    Store
  >;
}

/** A client for unit tests of the reconciler: a created decision goes into `decisions`, and its status onto it. */
export function decisionsClient(decisions: Store) {
  return {
    create: async (_resource: unknown, obj: KubeObject) => {
      decisions.items.push(structuredClone(obj));
      return obj;
    },
    applyStatus: async (_resource: unknown, obj: KubeObject & { status: unknown }) => {
      const recorded = decisions.get(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
      if (recorded) (recorded as KubeObject & { status: unknown }).status = obj.status;
      return obj;
    },
  };
}
