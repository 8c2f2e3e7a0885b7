// Which workloads a ClusterScaler reports as held for missing data: a workload is held while its latest plan is
// held, and leaves the set on any other outcome, so ScaleDownHeld never keeps repeating a reason that is gone.
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { componentLabel, pausedAnnotation, tenantLabel } from "../api/labels.js";
import { WorkloadReasons } from "./held.js";
import { signalConditions } from "./signal-conditions.js";
import { emptyUsageSnapshot, type PrometheusSignals } from "./signals/prometheus.js";
import { storeCaches } from "./testing.js";

const ns = "hand";
const labels = { [tenantLabel]: "hand", [componentLabel]: "kube-apiserver" };

/** A ClusterScaler "all" for every tenant, with the given components (the apiserver with only its oom scaler). */
const clusterScaler = (components: unknown[] = [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }]) =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "all", uid: "cs", resourceVersion: "1" },
    spec: { components },
  }) as KubeObject & { spec: Record<string, unknown> };

describe("ScalerReconciler.heldReasons", () => {
  it("holds a workload while its scale-down waits for data, and forgets it when it no longer does", async () => {
    const deployment: KubeObject = {
      metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
      spec: {
        replicas: 1,
        template: {
          spec: { containers: [{ name: "kube-apiserver", resources: { requests: { memory: "512Mi" } } }] },
        },
      },
    } as KubeObject;
    const caches = storeCaches({ clusterScalers: [clusterScaler()], deployments: [deployment] });
    const deployments = caches.deployments;
    // No Prometheus: nothing can be scaled down, so the workload's scale-down is held for data.
    const reconciler = new ScalerReconciler({
      caches: caches as unknown as ScalerCaches,
      client: undefined as never,
      actuator: { dryRun: false, apply: async () => undefined },
      recorder: { record: () => undefined } as never,
      dryRun: false,
    });
    const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
    const reconcile = () => reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);

    await reconcile();
    expect(reconciler.heldReasons.get("all")).toEqual(new Map([["hand/kube-apiserver", "no Prometheus configured"]]));
    // While the next round runs, the status (written on each poll) still sees it held: emptied at the start of a
    // round, the set read empty and the ClusterScaler said its signals were fresh (chaos: Prometheus answering NaN).
    const inFlight = reconcile();
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);
    await inFlight;
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);

    // Paused: its plan is no longer a hold for data, so the old reason must not linger.
    deployment.metadata = { ...deployment.metadata, annotations: { [pausedAnnotation]: "true" } };
    await reconcile();
    expect(reconciler.heldReasons.has("all")).toBe(false);

    deployment.metadata = { ...deployment.metadata, annotations: {} };
    await reconcile();
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);

    // Deleted: gone from the set too.
    deployments.items.length = 0;
    await reconcile();
    expect(reconciler.heldReasons.has("all")).toBe(false);
  });
});

describe("ScaleDownHeld follows its cause", () => {
  const conditionsOf = (reconciler: ScalerReconciler, prometheus: PrometheusSignals, now: number) =>
    signalConditions({ prometheus, held: reconciler.heldFor("all"), now, staleAfterMs: 90_000 });

  function setup() {
    const now = Date.parse("2026-12-05T12:00:00Z");
    const deployment = {
      metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
      spec: {
        replicas: 1,
        template: {
          spec: {
            containers: [{ name: "kube-apiserver", resources: { requests: { cpu: "1", memory: "512Mi" } } }],
          },
        },
      },
    } as KubeObject;
    const scaler = clusterScaler([{ name: "kube-apiserver" }]);
    const snapshot = emptyUsageSnapshot();
    const prometheus = { snapshot, lastError: undefined, lastSuccessAt: now } as unknown as PrometheusSignals;
    const caches = storeCaches({
      clusterScalers: [scaler],
      deployments: [deployment],
      pods: [{ metadata: { name: "kube-apiserver-0", namespace: ns, labels } } as KubeObject],
    });
    const reconciler = new ScalerReconciler({
      caches: caches as unknown as ScalerCaches,
      client: undefined as never,
      actuator: { dryRun: false, apply: async () => undefined },
      recorder: { record: () => undefined } as never,
      prometheus,
      dryRun: false,
      now: () => now,
    });
    const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
    const reconcile = () => reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
    return { now, snapshot, prometheus, reconciler, reconcile, clusterScaler: scaler };
  }

  it("clears when the missing series comes back", async () => {
    const t = setup();
    // Prometheus answers, but has no cpu usage of this workload: its scale-down is held.
    await t.reconcile();
    let [signals, held] = conditionsOf(t.reconciler, t.prometheus, t.now);
    expect(held).toMatchObject({ type: "ScaleDownHeld", status: "True", reason: "SignalsMissing" });
    expect(held.message).toMatch(/^hand\/kube-apiserver: cpu usage missing, memory working set missing$/);
    expect(signals.status).toBe("False");

    const series = `${ns}/kube-apiserver-0/kube-apiserver`;
    t.snapshot.cpu.set(series, { value: 0.5, observedAt: t.now, source: "test" });
    t.snapshot.memory.set(series, { value: 300 * 2 ** 20, observedAt: t.now, source: "test" });
    await t.reconcile();
    [signals, held] = conditionsOf(t.reconciler, t.prometheus, t.now);
    expect(held).toMatchObject({ type: "ScaleDownHeld", status: "False", reason: "SignalsFresh" });
    expect(signals).toMatchObject({ type: "SignalsAvailable", status: "True" });
  });

  it("clears when the ClusterScaler stops governing the workload, though the workload is never reconciled again", async () => {
    const t = setup();
    await t.reconcile();
    expect(conditionsOf(t.reconciler, t.prometheus, t.now)[1].status).toBe("True");
    // The ClusterScaler now selects other tenants: the watches enqueue only governed workloads, so this one gets
    // no last round; its old reason must not hold the ClusterScaler's conditions.
    t.clusterScaler.spec = { ...t.clusterScaler.spec, tenantSelector: { matchLabels: { tier: "gold" } } };
    t.clusterScaler.metadata = { ...t.clusterScaler.metadata, resourceVersion: "2" };
    expect(t.reconciler.heldReasons.get("all")?.size).toBe(1);
    expect(conditionsOf(t.reconciler, t.prometheus, t.now)[1]).toMatchObject({
      status: "False",
      reason: "SignalsFresh",
    });
  });
});

describe("WorkloadReasons", () => {
  it("keeps a workload under one ClusterScaler at a time, and drops a ClusterScaler with none", () => {
    const held = new WorkloadReasons();
    held.hold("a", "ns/w", "cpu usage missing");
    held.hold("b", "ns/w", "memory working set stale");
    expect(held.byClusterScaler.has("a")).toBe(false);
    expect(held.of("b", () => true)).toEqual(new Map([["ns/w", "memory working set stale"]]));
    expect(held.of("b", () => false)).toEqual(new Map());
    held.release("ns/w");
    expect(held.byClusterScaler.size).toBe(0);
  });
});
