// The recommender on the real meta-cluster, reading a real Prometheus that holds 8 days of synthetic cAdvisor
// history (OpenMetrics → promtool → TSDB blocks) for the pods of Deployments created here. Pods are named as the
// real pods are, so they map to their workloads through the owner chain in the informer caches. Profiles appear
// with the hand-computed recommendations, survive a restart of the recommender with no history read again
// (Prometheus' own query log proves it), and a workload with no data gets InsufficientData.
import * as k8s from "@kubernetes/client-node";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources } from "../../src/kube/resources.js";
import { PrometheusClient } from "../../src/prometheus/client.js";
import { PrometheusUsageSource } from "../../src/recommender/input/usage.js";
import { formatRows, recommendOnce } from "../../src/recommender/oneshot.js";
import { addRecommender, type RecommenderConfig, type RecommenderHandle } from "../../src/recommender/controller.js";
import type { RawWorkloadProfile } from "../../src/recommender/reconciler.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { HistoryPrometheus, writeOpenMetrics, type SyntheticContainer } from "./history.js";

const MiB = 2 ** 20;
const dayMs = 86_400_000;

describe("workload recommender", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const prometheus = new HistoryPrometheus();
  let ns: { name: string; cleanup: () => Promise<void> };
  let stop = new AbortController();
  let running: Promise<unknown> | undefined;
  let handle: RecommenderHandle;

  const config = (): RecommenderConfig => ({
    prometheus: { url: prometheus.url, timeoutMs: 20_000 },
    selector: { namespaces: [ns.name] },
    defaultAlgorithm: "vpa-histogram",
    resyncMs: 5000,
    refreshIntervalMs: 1000,
    stepSeconds: 10,
  });
  const startRecommender = () => {
    stop = new AbortController();
    const manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: "warn" }), qps: 100, burst: 100 });
    handle = addRecommender(manager, { workers: 4, dryRun: false, namespace: ns.name }, config());
    running = manager.start(stop.signal);
  };
  const stopRecommender = async () => {
    stop.abort();
    await running;
  };
  const profile = (name: string) => client.get<RawWorkloadProfile>(Resources.WorkloadProfile, name, ns.name);
  const deployment = (name: string, containers: string[], extra: Record<string, string> = {}, replicas = 1) => ({
    metadata: { name, annotations: { "metapilot.io/profile": "true", ...extra } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: containers.map((c) => ({
            name: c,
            image: "registry.k8s.io/pause:3.10",
            resources: { requests: { cpu: "1", memory: "1Gi" } },
          })),
          tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
        },
      },
    },
  });

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "rec");
    await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment("web", ["app"], {}, 2) });
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: deployment("worker", ["main", "sidecar"], { "metapilot.io/recommender": "percentile" }),
    });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment("idle", ["app"]) });
    const pods = await eventually(
      async () => {
        const list = await core.listNamespacedPod({ namespace: ns.name });
        return list.items.length === 4 ? list.items : undefined;
      },
      90_000,
      "4 pods",
    );
    const podOf = (app: string) =>
      pods.filter((p) => p.metadata?.labels?.app === app).map((p) => p.metadata?.name ?? "");
    const containers: SyntheticContainer[] = [
      ...podOf("web").map((pod) => ({
        namespace: ns.name,
        pod,
        container: "app",
        cpu: () => 0.5,
        memory: () => 300 * MiB,
      })),
      ...podOf("worker").flatMap((pod) => [
        { namespace: ns.name, pod, container: "main", cpu: () => 1, memory: () => 1024 * MiB },
        { namespace: ns.name, pod, container: "sidecar", cpu: () => 0.05, memory: () => 50 * MiB },
      ]),
    ];
    // The history ends more than one rate window (5m) before the recommender starts. rate() over [5m] goes on
    // answering for up to 5 minutes after a series' last sample, and those live points would raise the confidence
    // (and with it the upper bounds) between the two reads that the restart test compares.
    const end = Date.now() - 10 * 60_000;
    const file = path.join(prometheus.dir, "history.om");
    await writeOpenMetrics(file, containers, end - 8 * dayMs, end, 60);
    await prometheus.backfill(file);
    await prometheus.start();
    startRecommender();
  }, 300_000);

  afterAll(async () => {
    await stopRecommender().catch(() => undefined);
    await prometheus.cleanup();
    await ns?.cleanup();
  }, 60_000);

  it("creates one owned profile per opted-in Deployment, with the expected recommendations", async () => {
    const ready = async (name: string) =>
      eventually(
        async () => {
          const p = await profile(name);
          return p.status?.conditions?.find((c) => c.type === "Ready") ? p : undefined;
        },
        120_000,
        `${name} status`,
      );
    const web = await ready("web-deploy");
    expect(web.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Deployment", name: "web", controller: true });
    expect(web.status?.algorithm).toBe("vpa-histogram");
    const app = web.status?.containers?.find((c) => c.name === "app");
    // 0.5 core lies in CPU bucket 25, which ends at 0.51113 cores; × 1.15 = 0.5878 → 588m.
    // 300 MiB lies in memory bucket 19, which ends at 330,659,541 bytes; × 1.15 = 362.6 MiB → 363Mi.
    expect(app?.target).toEqual({ cpu: "588m", memory: "363Mi" });
    // Confidence ≈ 8 days: upper × (1 + 1/8) ≈ 662m / 408Mi; lower × (1 + 0.001/8)^−2 ≈ the target.
    // (Confidence is a few minutes either side of 8 days, depending on where the rate windows fall: ±1 unit.)
    expect(Number.parseInt(app?.upperBound?.cpu ?? "")).toBeGreaterThanOrEqual(661);
    expect(Number.parseInt(app?.upperBound?.cpu ?? "")).toBeLessThanOrEqual(663);
    expect(Number.parseInt(app?.upperBound?.memory ?? "")).toBeGreaterThanOrEqual(407);
    expect(Number.parseInt(app?.upperBound?.memory ?? "")).toBeLessThanOrEqual(409);
    expect(app?.lowerBound).toEqual({ cpu: "588m", memory: "363Mi" });
    expect(app?.confidenceDays).toBeGreaterThan(7.9);
    expect(web.status?.confidence).toBeGreaterThan(0.98);
    expect(web.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(web.status?.checkpoint).toBeDefined();

    const worker = await ready("worker-deploy");
    expect(worker.status?.algorithm).toBe("percentile");
    const byName = Object.fromEntries((worker.status?.containers ?? []).map((c) => [c.name, c]));
    // percentile: CPU p95 (bucket end 1.0163 → 1017m), memory max + 15% (1 GiB × 1.15 = 1177.6 → 1178Mi).
    expect(byName.main?.target).toEqual({ cpu: "1017m", memory: "1178Mi" });
    // The sidecar: 0.05 core → bucket 4 ends at 0.05526 → 56m; 50 MiB + 15% is below the pod minimum of 250 MiB
    // shared by two containers, so 125Mi.
    expect(byName.sidecar?.target).toEqual({ cpu: "56m", memory: "125Mi" });
  }, 180_000);

  it("gives a workload with no data InsufficientData and no recommendation", async () => {
    const idle = await eventually(
      async () => {
        const p = await profile("idle-deploy");
        return p.status?.conditions?.find((c) => c.type === "Ready") ? p : undefined;
      },
      60_000,
      "idle status",
    );
    const readyCond = idle.status?.conditions?.find((c) => c.type === "Ready");
    expect(readyCond).toMatchObject({ status: "False", reason: "InsufficientData" });
    expect(idle.status?.conditions?.find((c) => c.type === "HistoryAvailable")).toMatchObject({
      status: "False",
      reason: "NoData",
    });
    expect(idle.status?.containers?.[0]).toMatchObject({ name: "app", reason: "NoData", sampleCount: 0 });
    expect(idle.status?.containers?.[0]?.target).toBeUndefined();
  });

  it("read the history with one range query per metric for the namespace", () => {
    const queries = prometheus.rangeQueries();
    const history = queries.filter((q) => q.endMs - q.startMs > 7 * dayMs);
    expect(history.map((q) => q.query.replace(/\{.*/, "")).sort()).toEqual([
      "max by (namespace, pod, container) (max_over_time(container_memory_working_set_bytes",
      "max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total",
    ]);
    expect(handle.store.stats.historyReads).toBe(1);
  });

  it("survives a restart from its checkpoints, reading no history again", async () => {
    const before = await profile("web-deploy");
    await stopRecommender();
    const seenBefore = prometheus.rangeQueries().length;
    startRecommender();
    // Live reads every 10 s step: wait for the restarted recommender's first one in Prometheus' query log.
    const after = await eventually(
      async () => {
        const q = prometheus.rangeQueries().slice(seenBefore);
        return handle.store.size === 3 && q.length >= 2 ? q : undefined;
      },
      60_000,
      "the restarted recommender's first live read",
    );
    expect(handle.store.stats.historyReads).toBe(0);
    // Only the minutes since the checkpoint: no range longer than a quarter of an hour.
    const long = after.filter((q) => q.endMs - q.startMs >= 15 * 60_000);
    expect(long).toEqual([]);
    const again = await profile("web-deploy");
    expect(again.status?.containers).toEqual(before.status?.containers);
  }, 120_000);

  it("memoryPeakRule VPA: the PerDay checkpoint is dropped and the history read again under VPA", async () => {
    const before = await profile("web-deploy");
    expect((before.status?.checkpoint as { memoryPeakRule?: string } | undefined)?.memoryPeakRule).toBe("PerDay");
    const historyReads = handle.store.stats.historyReads;
    // The recommender writes the status meanwhile: retry the update on a conflict.
    await eventually(
      async () => {
        const p = await profile("web-deploy");
        const spec = {
          ...p.spec!,
          parameters: { ...(p.spec?.parameters as object | undefined), memoryPeakRule: "VPA" },
        };
        return client.update(Resources.WorkloadProfile, { ...p, spec }).then(
          () => true,
          () => undefined,
        );
      },
      60_000,
      "the profile's spec updated",
    );
    const after = await eventually(
      async () => {
        const p = await profile("web-deploy");
        const rule = (p.status?.checkpoint as { memoryPeakRule?: string } | undefined)?.memoryPeakRule;
        return rule === "VPA" && p.status?.containers?.length ? p : undefined;
      },
      120_000,
      "a checkpoint made under VPA",
    );
    expect(handle.store.stats.historyReads).toBeGreaterThan(historyReads);
    // Constant usage: one bucket under either rule, so the memory target is the same.
    expect(after.status?.containers?.[0]?.target?.memory).toBe(before.status?.containers?.[0]?.target?.memory);
  }, 240_000);

  it("metapilot recommend: one shot, recommendations vs requests", async () => {
    const rows = await recommendOnce({
      client,
      source: new PrometheusUsageSource(new PrometheusClient({ url: prometheus.url })),
      namespace: ns.name,
      algorithm: "vpa-histogram",
      historyDays: 8,
      stepSeconds: 300,
      now: new Date(),
    });
    expect(rows.find((r) => r.workload === "web")).toMatchObject({
      cpuRequest: "1",
      cpuTarget: "588m",
      memoryTarget: "363Mi",
    });
    expect(rows.find((r) => r.workload === "idle")).toMatchObject({ reason: "NoData", cpuTarget: undefined });
    const table = formatRows(rows, "table");
    expect(table).toContain("1 → 588m (-41%)");
    expect(table).toContain("1Gi → 363Mi (-65%)");
    expect(JSON.parse(formatRows(rows, "json"))).toHaveLength(rows.length);
  });

  it("removes the profile with its workload (owner reference)", async () => {
    await apps.deleteNamespacedDeployment({ name: "worker", namespace: ns.name, propagationPolicy: "Foreground" });
    await eventually(
      async () => ((await client.getOptional(Resources.WorkloadProfile, "worker-deploy", ns.name)) ? undefined : true),
      60_000,
      "worker profile to be garbage-collected",
    );
  }, 90_000);
});
