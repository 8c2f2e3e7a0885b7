// `metapilot recommend` and the profile controller on the same history with OOM kills (issue 21, item 1). A
// Deployment uses ~800 MiB for 8 days against a 1Gi request and a 2Gi limit, so the history alone says "shrink".
// Its pod is OOM-killed at the 2Gi limit (kubelet's lastState, patched on the kwok pod) while the controller
// watches; the pod is then deleted, as a rollout after the ClusterScaler's OOM decision would, and that decision
// is recorded. The one shot, run after the pod is gone, must see the kill through the decision and agree with the
// profile within one memory histogram bucket; without the decision it would have said "shrink". Last, the
// `metapilot recommend -A` process, with only KUBECONFIG and PROMETHEUS_URL set, gives the same row.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { parseQuantity } from "../../src/api/index.js";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { PrometheusClient } from "../../src/prometheus/client.js";
import { PrometheusUsageSource } from "../../src/recommender/input/usage.js";
import { findBucket, memoryHistogramOptions } from "../../src/recommender/model/histogram.js";
import { formatRows, recommendOnce } from "../../src/recommender/oneshot.js";
import { addRecommender } from "../../src/recommender/controller.js";
import type { RawWorkloadProfile } from "../../src/recommender/reconciler.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { HistoryPrometheus, writeOpenMetrics } from "./history.js";

const MiB = 2 ** 20;
const dayMs = 86_400_000;

describe("metapilot recommend agrees with the WorkloadProfile on an OOM-killed workload", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const prometheus = new HistoryPrometheus();
  const stop = new AbortController();
  let running: Promise<unknown> | undefined;
  let ns: { name: string; cleanup: () => Promise<void> };

  const podsOf = async () =>
    (await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=api" })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const memoryTarget = async () => {
    const p = await client.get<RawWorkloadProfile>(Resources.WorkloadProfile, "api-deploy", ns.name);
    return p.status?.containers?.find((c) => c.name === "app")?.target?.memory;
  };

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "rec-oom");
    await client.create(Resources.Deployment, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: ns.name, annotations: { "metapilot.io/profile": "true" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "api" } },
        template: {
          metadata: { labels: { app: "api" } },
          spec: {
            containers: [
              {
                name: "app",
                image: "registry.k8s.io/pause:3.10",
                resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
              },
            ],
            tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
          },
        },
      },
    } as KubeObject);
    const [pod] = await eventually(
      async () => {
        const pods = (await podsOf()).filter((p) => p.status?.phase === "Running");
        return pods.length === 1 ? pods : undefined;
      },
      90_000,
      "the api pod running",
    );
    const end = Date.now() - 10 * 60_000;
    const file = path.join(prometheus.dir, "history.om");
    await writeOpenMetrics(
      file,
      [{ namespace: ns.name, pod: pod!.metadata!.name!, container: "app", cpu: () => 0.2, memory: () => 800 * MiB }],
      end - 8 * dayMs,
      end,
      60,
    );
    await prometheus.backfill(file);
    await prometheus.start();
    const manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: "warn" }), qps: 100, burst: 100 });
    addRecommender(
      manager,
      { workers: 2, dryRun: false, namespace: ns.name },
      {
        prometheus: { url: prometheus.url, timeoutMs: 20_000 },
        selector: { namespaces: [ns.name] },
        defaultAlgorithm: "vpa-histogram",
        resyncMs: 3000,
        refreshIntervalMs: 1000,
        stepSeconds: 10,
      },
    );
    running = manager.start(stop.signal);
  }, 300_000);

  afterAll(async () => {
    stop.abort();
    await running?.catch(() => undefined);
    await prometheus.cleanup();
    await ns?.cleanup();
  }, 60_000);

  it("counts the kill in both, and says so in the row", async () => {
    const historyAlone = await eventually(memoryTarget, 120_000, "the profile's first recommendation");
    // 800 MiB: memory bucket end × 1.15 is below the 1Gi request.
    expect(parseQuantity(historyAlone)).toBeLessThan(1024 * MiB);

    const [pod] = await podsOf();
    const podName = pod!.metadata!.name!;
    const finishedAt = new Date().toISOString();
    await client.patch(
      Resources.Pod,
      podName,
      ns.name,
      {
        status: {
          containerStatuses: [
            {
              name: "app",
              image: "registry.k8s.io/pause:3.10",
              imageID: "",
              ready: true,
              restartCount: 1,
              state: { running: { startedAt: finishedAt } },
              lastState: { terminated: { reason: "OOMKilled", exitCode: 137, finishedAt } },
            },
          ],
        },
      },
      "strategic",
      "status",
    );
    const afterKill = await eventually(
      async () => {
        const t = await memoryTarget();
        return t && parseQuantity(t) > 2048 * MiB ? t : undefined;
      },
      120_000,
      "the profile's memory target above the 2Gi limit the pod died at",
    );

    // The one shot while the killed pod is still there: pod status alone.
    const oneShot = () =>
      recommendOnce({
        client,
        source: new PrometheusUsageSource(new PrometheusClient({ url: prometheus.url })),
        namespace: ns.name,
        algorithm: "vpa-histogram",
        historyDays: 8,
        stepSeconds: 300,
        now: new Date(),
      });
    const sameBucket = (a: string, b: string) =>
      Math.abs(
        findBucket(memoryHistogramOptions, parseQuantity(a) / 1.15) -
          findBucket(memoryHistogramOptions, parseQuantity(b) / 1.15),
      );
    const [live] = await oneShot();
    expect(live).toMatchObject({ workload: "api", container: "app", oomKills: 1, memoryRequest: "1Gi" });
    expect(sameBucket(live!.memoryTarget!, afterKill)).toBeLessThanOrEqual(1);
    expect(parseQuantity(live!.memoryTargetWithoutOomKills!)).toBeLessThan(1024 * MiB);
    const table = formatRows([live!], "table");
    expect(table).toMatch(/1Gi → \d+Mi \(\+\d+%\)/);
    expect(table).toContain(`memory raised by 1 OOM kill (history alone: ${live!.memoryTargetWithoutOomKills})`);

    // The scaler's record of the kill (as src/scaler/engine.ts writes its evidence), then the pod goes.
    await client.create(Resources.ScalingDecision, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ScalingDecision",
      metadata: { name: "api-oom-1", namespace: ns.name },
      spec: {
        target: { kind: "Deployment", name: "api", namespace: ns.name, tenant: "t" },
        component: "kube-apiserver",
        direction: "Up",
        dryRun: true,
        scaler: "oom",
        rootCause: {
          category: "OOMKilled",
          summary: "app was OOM-killed at its 2Gi limit.",
          evidence: [
            {
              signal: "container_oom_killed",
              value: `${podName}/app`,
              threshold: "limit 2048Mi",
              observedAt: finishedAt,
              source: "pod-status",
            },
          ],
        },
        before: { replicas: 1, resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } } },
        after: { replicas: 1, resources: { requests: { memory: "1Gi" }, limits: { memory: "3Gi" } } },
      },
    } as KubeObject);
    await core.deleteNamespacedPod({ name: podName, namespace: ns.name, gracePeriodSeconds: 0 });
    await eventually(
      async () => {
        const pods = await podsOf();
        return pods.length === 1 &&
          pods[0]?.metadata?.name !== podName &&
          !pods[0]?.status?.containerStatuses?.some((c) => c.lastState?.terminated)
          ? true
          : undefined;
      },
      90_000,
      "the replacement pod, without the kill in its status",
    );
    const [gone] = await oneShot();
    expect(gone).toMatchObject({ oomKills: 1 });
    const profileNow = await memoryTarget();
    expect(sameBucket(gone!.memoryTarget!, profileNow!)).toBeLessThanOrEqual(1);
    expect(parseQuantity(gone!.memoryTarget!)).toBeGreaterThan(2048 * MiB);

    // The command itself, configured only by what `eval "$(hack/metacluster env)"` exports.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "recommend", "-A", "-o", "json"],
      {
        env: { ...process.env, KUBECONFIG: metacluster().kubeconfig, PROMETHEUS_URL: prometheus.url },
        maxBuffer: 64 << 20,
      },
    );
    const cliRows = JSON.parse(stdout) as Array<{ namespace: string; workload: string; memoryTarget?: string }>;
    expect(cliRows.find((r) => r.namespace === ns.name && r.workload === "api")).toMatchObject({
      oomKills: 1,
      memoryTarget: gone!.memoryTarget,
    });
  }, 300_000);
});
