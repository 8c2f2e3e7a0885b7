// The scaler and the drain controller of one process spend one set of disruption budgets (src/scaler/shared-budget.ts):
// a scale-down the scaler has planned and an eviction a drain has reserved are seen by the other at once, before
// their records reach any cache; and at the start of a leadership term the drain's first eviction waits for the
// catch-up, which counts the records the apiserver has and the caches do not show yet.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { componentLabel, signatureAnnotation, tenantLabel } from "../../api/labels.js";
import { createLogger } from "../../kube/logger.js";
import type { KubeObject, ResourceType } from "../../kube/resources.js";
import { ScalerReconciler, type ScalerCaches } from "../../scaler/reconciler.js";
import { signDecision } from "../../scaler/signature.js";
import { sharedFleetBudget, type BudgetManager } from "../../scaler/shared-budget.js";
import { emptyUsageSnapshot, type PrometheusSignals } from "../../scaler/signals/prometheus.js";
import { decisionsClient, Store, storeCaches } from "../../scaler/testing.js";
import { node, pdb, pod } from "../fixtures.js";
import type { Pod } from "../model.js";
import { PodIndex } from "../podindex.js";
import { DrainDisruptionBudgets } from "./disruption.js";
import { NodeDrainReconciler, type RawNodeDrain } from "./reconciler.js";

const key = randomBytes(32);
const t0 = Date.parse("2026-12-06T12:00:00Z");
const rc = () => ({ signal: new AbortController().signal, logger: createLogger({ level: "silent" }) });
const budgetId = "spec.disruption.budgets[0]";

/** One budget of 1 change per 5 minutes covering scale-downs and drains alike. */
const clusterScaler = {
  apiVersion: "metapilot.io/v1alpha1",
  kind: "ClusterScaler",
  metadata: { name: "fleet", uid: "cs", generation: 1 },
  spec: {
    components: [{ name: "kube-apiserver", replicas: { min: 1, max: 1 } }],
    scaleDown: { enabled: true, stabilizationWindow: "1m", maxStepPercent: 20 },
    disruption: { budgets: [{ limit: "1", interval: "5m", reasons: ["ScaleDown", "Drain"] }] },
  },
} as KubeObject;

/** A stand-in for the Manager: its shared informers over plain arrays, its leadership hooks, and a LIST. */
function fakeManager(listed: { decisions?: KubeObject[]; drains?: KubeObject[] } = {}) {
  const stores = new Map<string, Store>();
  const hooks: Array<(signal: AbortSignal) => Promise<void>> = [];
  let lists = 0;
  let gate: Promise<void> = Promise.resolve();
  const manager: BudgetManager = {
    informer: (opts: { resource: ResourceType }) => {
      let s = stores.get(opts.resource.kind);
      if (!s) stores.set(opts.resource.kind, (s = new Store()));
      return s;
    },
    onLeading: (hook) => hooks.push(hook),
    client: {
      listAll: (async (resource: ResourceType) => {
        lists++;
        await gate;
        const items = resource.kind === "ScalingDecision" ? listed.decisions : listed.drains;
        return { items: structuredClone(items ?? []), resourceVersion: "1" };
      }) as never,
    },
  };
  return {
    manager,
    hooks,
    store: (kind: string) => manager.informer({ resource: { kind } as ResourceType }) as Store,
    lists: () => lists,
    /** The LISTs answer only once `open` resolves. */
    holdLists(open: Promise<void>) {
      gate = open;
    },
  };
}

/** The drain controller's side: a NodeDrain of node src, where tenant b's kube-apiserver pod runs. */
function drainSide(m: ReturnType<typeof fakeManager>, clock: () => number) {
  const shared = sharedFleetBudget(m.manager, {});
  const labels = { [tenantLabel]: "b", [componentLabel]: "kube-apiserver" };
  const apiserver = pod("kube-apiserver-b", { node: "src", namespace: "tcp-b", labels });
  const podInformer = { on: (h: { add?: (p: Pod) => void }) => h.add?.(apiserver) };
  const drains = m.store("NodeDrain");
  drains.items.push({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "NodeDrain",
    metadata: { name: "d1", uid: "d1", generation: 1, resourceVersion: "10" },
    spec: { nodeNames: ["src"], timeout: "1h" },
  } as KubeObject);
  const evicted: string[] = [];
  const client = {
    patch: async () => ({}),
    request: async (r: { path: string }) => {
      evicted.push(r.path);
      return {};
    },
    applyStatus: async (_t: unknown, o: RawNodeDrain) => {
      const d = drains.get(o.metadata?.name ?? "") as RawNodeDrain;
      d.status = o.status;
      return structuredClone(d);
    },
  };
  const reconciler = new NodeDrainReconciler({
    client: client as never,
    caches: {
      drains: drains as never,
      nodes: new Store([node("src"), node("dst"), node("other")]) as never,
      pdbs: new Store([pdb("kube-apiserver-b", labels, 1, "tcp-b")]) as never,
      pods: new PodIndex(podInformer as never),
      pools: new Store() as never,
    },
    now: clock,
    disruption: new DrainDisruptionBudgets({
      clusterScalers: new Store([clusterScaler]),
      tenants: new Store() as never,
      budget: shared.budget,
      signingKey: () => Promise.resolve(key),
    }),
    caughtUp: () => shared.catchUp.caughtUp,
  });
  // As src/nodes/controller.ts wires it.
  shared.catchUp.onDrains((listed) => reconciler.observeListed(listed as RawNodeDrain[]));
  return {
    evicted,
    reconcile: () => reconciler.reconcile({ name: "d1" }, rc()),
    status: () => (drains.get("d1") as RawNodeDrain).status,
    podEntry: () => (drains.get("d1") as RawNodeDrain).status?.pods?.find((p) => p.name === apiserver.metadata?.name),
  };
}

/** The scaler's side: tenant a's kube-apiserver, idle enough for a scale-down once the 1-minute window has passed. */
function scalerSide(m: ReturnType<typeof fakeManager>, clock: () => number) {
  const labels = { [tenantLabel]: "a", [componentLabel]: "kube-apiserver" };
  const caches = storeCaches({
    clusterScalers: [clusterScaler],
    deployments: [
      {
        metadata: { name: "kube-apiserver", namespace: "tcp-a", uid: "dep-a", labels },
        spec: {
          replicas: 1,
          template: {
            spec: {
              containers: [
                {
                  name: "kube-apiserver",
                  resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
                },
              ],
            },
          },
        },
      } as KubeObject,
    ],
    pods: [{ metadata: { name: "kube-apiserver-a", namespace: "tcp-a", uid: "pod-a", labels } }],
  });
  // The process's decision cache is the shared one the budget reads; a new decision is not in it yet.
  const decisions = m.store("ScalingDecision");
  const snapshot = emptyUsageSnapshot();
  const created = new Store();
  const reconciler = new ScalerReconciler({
    caches: { ...caches, decisions } as unknown as ScalerCaches,
    client: decisionsClient(created) as never,
    actuator: { dryRun: false, apply: async () => undefined },
    recorder: { record: () => undefined } as never,
    prometheus: { snapshot, lastError: undefined } as unknown as PrometheusSignals,
    dryRun: false,
    now: clock,
    signingKey: async () => key,
    sharedBudget: sharedFleetBudget(m.manager, {}),
  });
  type Made = KubeObject & { spec?: { direction?: string; decidedAt?: string }; status?: { phase?: string } };
  return {
    /** The decisions it made (created with its client; the shared cache does not show them). */
    made: () => created.items as Made[],
    /** One round at the clock's time, with the idle usage Prometheus reports. */
    async round() {
      const series = "tcp-a/kube-apiserver-a/kube-apiserver";
      snapshot.cpu.set(series, { value: 0.2, observedAt: clock() - 5000, source: "test" });
      snapshot.memory.set(series, { value: 500 * 2 ** 20, observedAt: clock() - 5000, source: "test" });
      await reconciler.reconcile({ namespace: "tcp-a", name: "kube-apiserver" }, rc());
    },
  };
}

describe("the scaler and the drain controller of one process", () => {
  it("share one budget: sharedFleetBudget gives both the same, fed by the manager's shared informers", () => {
    const m = fakeManager();
    const a = sharedFleetBudget(m.manager, { defaultDisruptionBudgets: [{ limit: "3", interval: "1m" }] });
    const b = sharedFleetBudget(m.manager, { defaultDisruptionBudgets: [{ limit: "3", interval: "1m" }] });
    expect(b).toBe(a);
    expect(m.hooks).toHaveLength(1);
    // Controllers of one process configured apart would count apart: refused.
    expect(() => sharedFleetBudget(m.manager, { namespace: "elsewhere" })).toThrow(/share one namespace/);
    expect(sharedFleetBudget(fakeManager().manager, {})).not.toBe(a);
  });

  it("a scale-down the scaler planned holds a drain's eviction at the same instant (one budget of 1 for both)", async () => {
    const m = fakeManager();
    let clock = t0;
    const scaler = scalerSide(m, () => clock);
    const drain = drainSide(m, () => clock);
    // Rounds every 30 s until the scaler plans its scale-down (after the 1-minute window).
    for (; scaler.made().length === 0 && clock < t0 + 4 * 60_000; clock += 30_000) await scaler.round();
    clock -= 30_000;
    expect(scaler.made().map((d) => [d.spec?.direction, d.status?.phase])).toEqual([["Down", "Applied"]]);
    // Its decision is in no cache yet: the drain sees it through the budget the two share.
    expect(m.store("ScalingDecision").items).toEqual([]);
    await drain.reconcile();
    expect(drain.evicted).toEqual([]);
    expect(drain.podEntry()).toMatchObject({
      state: "Blocked",
      disruption: { clusterScaler: "fleet", heldBy: budgetId },
    });
    expect(drain.podEntry()?.message).toContain("1 of 1 changes made in the last 5m");
    // A drain controller counting on its own (another process's budget) would have evicted at the same instant.
    const apart = drainSide(fakeManager(), () => clock);
    await apart.reconcile();
    expect(apart.evicted).toEqual(["/api/v1/namespaces/tcp-b/pods/kube-apiserver-b/eviction"]);
  });

  it("an eviction a drain reserved holds the scaler's scale-down in the same interval", async () => {
    const m = fakeManager();
    let clock = t0;
    const scaler = scalerSide(m, () => clock);
    const drain = drainSide(m, () => clock);
    await drain.reconcile();
    expect(drain.evicted).toHaveLength(1);
    expect(drain.podEntry()?.disruption?.evictedAt).toBe(new Date(t0).toISOString());
    for (; scaler.made().length === 0 && clock < t0 + 4 * 60_000; clock += 30_000) await scaler.round();
    const made = scaler.made();
    expect(made.map((d) => [d.spec?.direction, d.status?.phase])).toEqual([["Down", "Blocked"]]);
    expect(made[0]?.metadata?.annotations?.["metapilot.io/disruption-budget"]).toBe(budgetId);
  });

  /** A change of the previous leader: in the apiserver's LIST, not yet in this process's caches. */
  const recordedDecision = () => {
    const d = {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ScalingDecision",
      metadata: { name: "kube-apiserver-down-1", namespace: "tcp-c", uid: "sd-c", annotations: {} },
      spec: {
        target: { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver", namespace: "tcp-c", tenant: "c" },
        component: "kube-apiserver",
        direction: "Down",
        dryRun: false,
        decidedAt: new Date(t0 - 60_000).toISOString(),
        clusterScaler: "fleet",
        disruptionReasons: ["ScaleDown"],
      },
      status: { phase: "Applied" },
    };
    (d.metadata.annotations as Record<string, string>)[signatureAnnotation] = signDecision(key, d);
    return d as KubeObject;
  };
  const recordedEviction = () =>
    ({
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name: "d0", uid: "d0", resourceVersion: "9" },
      spec: { nodeNames: ["other"] },
      status: {
        pods: [
          {
            namespace: "tcp-c",
            name: "kube-apiserver-c",
            node: "other",
            state: "Evicted",
            disruption: { clusterScaler: "fleet", tenant: "c", evictedAt: new Date(t0 - 30_000).toISOString() },
          },
        ],
      },
    }) as KubeObject;

  it.each([
    ["a scale-down", { decisions: [recordedDecision()] }],
    ["an eviction of another drain", { drains: [recordedEviction()] }],
  ])(
    "in a new term, the drain's first eviction waits for the catch-up, which counts %s the caches lack",
    async (_what, listed) => {
      const m = fakeManager(listed);
      const drain = drainSide(m, () => t0);
      let open = () => {};
      m.holdLists(new Promise<void>((r) => (open = r)));
      // Only the drain controller runs here: the catch-up is registered all the same, once.
      expect(m.hooks).toHaveLength(1);
      const term = new AbortController();
      const caughtUp = m.hooks[0]!(term.signal);
      const reconciled = drain.reconcile();
      await new Promise((r) => setTimeout(r, 20));
      expect(m.lists()).toBe(2);
      expect(drain.evicted).toEqual([]);
      expect(drain.podEntry()).toBeUndefined();
      open();
      await caughtUp;
      await reconciled;
      expect(drain.evicted).toEqual([]);
      expect(drain.podEntry()).toMatchObject({ state: "Blocked", disruption: { heldBy: budgetId } });
      term.abort();
    },
  );

  it("a status written after the catch-up keeps the leader before's eviction records that the lagging cache lacks", async () => {
    // The apiserver has d1 as the leader before left it: node src draining, tenant c's apiserver evicted from it.
    const evictedAt = new Date(t0 - 30_000).toISOString();
    const listed = {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name: "d1", uid: "d1", generation: 1, resourceVersion: "12" },
      spec: { nodeNames: ["src"], timeout: "1h" },
      status: {
        phase: "Draining",
        startTime: new Date(t0 - 60_000).toISOString(),
        nodes: [{ name: "src", state: "Draining", startTime: new Date(t0 - 60_000).toISOString() }],
        pods: [
          {
            namespace: "tcp-c",
            name: "kube-apiserver-c",
            node: "src",
            state: "Evicted",
            disruption: { clusterScaler: "fleet", tenant: "c", evictedAt },
          },
        ],
      },
    } as KubeObject;
    const m = fakeManager({ drains: [listed] });
    // This process's cache still has d1 as it was created (resourceVersion 10), with no status.
    const drain = drainSide(m, () => t0);
    await m.hooks[0]!(new AbortController().signal);
    await drain.reconcile();
    expect(drain.evicted).toEqual([]);
    expect(drain.podEntry()).toMatchObject({ state: "Blocked", disruption: { heldBy: budgetId } });
    expect(drain.status()?.startTime).toBe(new Date(t0 - 60_000).toISOString());
    expect(drain.status()?.pods?.find((p) => p.name === "kube-apiserver-c")).toMatchObject({
      state: "Evicted",
      disruption: { evictedAt },
    });
  });
});
