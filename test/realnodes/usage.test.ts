// Real usage: a tenant's kube-apiserver runs on a real node, the meta-cluster's Prometheus scrapes that node's
// kubelet as kube-prometheus does (job="kubelet", /metrics/cadvisor and /metrics/resource, over HTTPS with an
// identity that may only get nodes/metrics), and the recommender and the ClusterScaler's signals read those
// series with their default queries. The recommender runs in this process with a history window of minutes; the
// WorkloadProfile of the tenant's apiserver gets a memory target between the p50 and the maximum of the working
// set Prometheus holds for the window the profile states.
//
// The figures (samples, p50, max, target, time to the first profile) go into bench/results/realnodes.json under
// realUsage. Like the other test/realnodes files this one gets its real node itself and removes it again unless
// the meta-cluster had real nodes before; on a machine that cannot run real nodes every test fails, naming what
// is missing.
import type * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kubeletScrapeIdentity, kubeletScrapeInterval } from "../../hack/lib/kubelet-scrape.js";
import { parseQuantity } from "../../src/api/index.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources } from "../../src/kube/resources.js";
import { PrometheusClient, type InstantSample } from "../../src/prometheus/client.js";
import { addRecommender } from "../../src/recommender/controller.js";
import { usageQueries } from "../../src/recommender/input/usage.js";
import type { RawWorkloadProfile } from "../../src/recommender/reconciler.js";
import { PrometheusSignals } from "../../src/scaler/signals/prometheus.js";
import { eventually } from "../harness/cluster.js";
import { machineNow, RealTenant, recordRealNodeResult } from "../harness/realtenant.js";

const log = (l: string) => process.stderr.write(`[realnodes-usage] ${l}\n`);
const MiB = 2 ** 20;
const container = "kube-apiserver";
/** The recommender's live step: twice the kubelet jobs' scrape interval (15 s), so that every step holds a sample. */
const stepSeconds = 30;

/** Nearest-rank percentile: the smallest value with at least q of the values at or below it. */
function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe("real usage from the kubelet's cAdvisor series", () => {
  // One apiserver: its pod's peak is the window's maximum, and one pod fewer on the shared machine.
  const t = new RealTenant({
    prefix: "use",
    log,
    spec: (s) => ({ ...s, apiServer: { replicas: 1 } }),
  });
  const { core, namespace } = t;
  let setupError: unknown;
  let prometheus: PrometheusClient;
  let pod: k8s.V1Pod;
  const stopRecommender = new AbortController();
  let recommenderRunning: Promise<unknown> | undefined;

  /** The tenant's kube-apiserver container series of `metric`, every label, at `time` (default now). */
  const apiserverSeries = (metric: string, time?: Date) =>
    prometheus.query(`${metric}{namespace="${namespace}",container="${container}"}`, time);

  beforeAll(async () => {
    try {
      await t.setUp();
      prometheus = new PrometheusClient({ url: t.state.prometheusUrl, timeoutMs: 30_000 });
      await t.create();
      pod = await eventually(
        async () => {
          const pods = await core.listNamespacedPod({
            namespace,
            labelSelector: `metapilot.io/component=${container}`,
          });
          return pods.items.find((p) =>
            p.status?.containerStatuses?.some((c) => c.name === container && c.state?.running),
          );
        },
        900_000,
        `the tenant's ${container} container running on the real node`,
      );
      log(`${pod.metadata!.name} runs on ${pod.spec!.nodeName}`);
    } catch (err) {
      setupError = err;
    }
  }, 960_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    stopRecommender.abort();
    await recommenderRunning?.catch(() => undefined);
    await t.tearDown();
  }, 600_000);

  it("Prometheus scrapes the kubelet as kube-prometheus does: both paths as job kubelet, with node and instance", async () => {
    expect(pod.spec?.nodeName).toBe(t.node.name);
    const instance = `${t.node.gateway}:${t.node.kubeletPort}`;
    const series = await eventually(
      async () => {
        const s = await apiserverSeries("container_memory_working_set_bytes");
        const paths = new Set(s.map((x) => x.labels.metrics_path));
        return paths.has("/metrics/cadvisor") && paths.has("/metrics/resource") ? s : undefined;
      },
      300_000,
      `container_memory_working_set_bytes of ${container} from /metrics/cadvisor and /metrics/resource`,
    );
    for (const s of series) {
      expect(s.labels).toMatchObject({
        job: "kubelet",
        node: t.node.name,
        instance,
        namespace,
        pod: pod.metadata!.name,
        container,
      });
      expect(s.value).toBeGreaterThan(0);
    }
    // cAdvisor's series is the container's cgroup (id, image); the resource endpoint's has neither: the same
    // container twice, which a sum by (namespace, pod, container) would count twice.
    const cadvisor = series.find((s) => s.labels.metrics_path === "/metrics/cadvisor")!;
    expect(cadvisor.labels.image).toMatch(/kube-apiserver/);
    expect(cadvisor.labels.id).toContain(`pod${pod.metadata!.uid}/`);
    expect(series.find((s) => s.labels.metrics_path === "/metrics/resource")!.labels.image).toBeUndefined();
    const cpu = await apiserverSeries("container_cpu_usage_seconds_total");
    expect(new Set(cpu.map((s) => s.labels.metrics_path))).toEqual(new Set(["/metrics/cadvisor", "/metrics/resource"]));

    // The pod's own cgroup (and the sandbox on containerd) come with container="": there, and not a container.
    const podLevel = await prometheus.query(
      `container_memory_working_set_bytes{namespace="${namespace}",pod="${pod.metadata!.name}",container=""}`,
    );
    expect(podLevel.length, "series of the pod's own cgroup").toBeGreaterThan(0);
    const podCgroup = podLevel.find((s) => !s.labels.image);
    expect(podCgroup?.labels.id, "the pod cgroup's series").toMatch(new RegExp(`/pod${pod.metadata!.uid}$`));
    // containerd's sandbox carries no container name: the pause image, container="".
    expect(
      podLevel.some((s) => s.labels.image?.includes("pause")),
      "the sandbox's series",
    ).toBe(true);
  }, 360_000);

  it("Prometheus' identity may get the kubelet's metrics and nothing else of it", async () => {
    const pki = (f: string) => readFileSync(path.join(t.state.dir, "pki", f));
    const get = (p: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          `https://${t.node.gateway}:${t.node.kubeletPort}${p}`,
          {
            ca: pki("ca.crt"),
            cert: pki(`${kubeletScrapeIdentity}.crt`),
            key: pki(`${kubeletScrapeIdentity}.key`),
            timeout: 30_000,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("timeout", () => req.destroy(new Error(`GET ${p}: no answer in 30 s`)));
        req.on("error", reject);
        req.end();
      });
    expect(await get("/metrics/cadvisor")).toBe(200);
    expect(await get("/metrics/resource")).toBe(200);
    // nodes/proxy (pods, exec, logs) and nodes/stats are not granted: the kubelet asks the apiserver and refuses.
    expect(await get("/pods")).toBe(403);
    expect(await get("/stats/summary")).toBe(403);
    expect(await get(`/containerLogs/${namespace}/${pod.metadata!.name}/${container}`)).toBe(403);
  }, 120_000);

  it("the recommender's and the scaler's default queries count the container once, without the pod cgroup", async () => {
    // At one evaluation time, each of the recommender's queries against each scrape's own series of the container.
    const q = usageQueries(namespace, stepSeconds);
    const selector = `namespace="${namespace}",container="${container}"`;
    const perPath = {
      memory: `max by (metrics_path) (max_over_time(container_memory_working_set_bytes{${selector}}[${stepSeconds}s]))`,
      cpu: `max by (metrics_path) (rate(container_cpu_usage_seconds_total{${selector}}[5m]))`,
    };
    const read = await eventually(
      async () => {
        const at = new Date(Date.now() - 5_000);
        const out: Record<"memory" | "cpu", { ours: InstantSample[]; paths: InstantSample[] }> = {
          memory: { ours: [], paths: [] },
          cpu: { ours: [], paths: [] },
        };
        for (const m of ["memory", "cpu"] as const) {
          out[m].ours = (await prometheus.query(q[m], at)).filter((s) => s.labels.container === container);
          out[m].paths = await prometheus.query(perPath[m], at);
          // Until both scrapes have samples of the container in the window, each with usage in it: the maximum can
          // be told from the sum only where neither is 0. A clean-clone run, reading as soon as both had samples,
          // got one of the two CPU rates as 0 (its counter had not moved within the window) and failed here.
          if (out[m].paths.length < 2 || out[m].paths.some((s) => !(s.value > 0))) return undefined;
        }
        return { at, ...out };
      },
      180_000,
      `both scrapes' samples of ${container}, not 0, in one ${stepSeconds} s step and one 5m rate window`,
    );
    for (const m of ["memory", "cpu"] as const) {
      const { ours, paths } = read[m];
      expect(paths.map((s) => s.labels.metrics_path).sort(), m).toEqual(["/metrics/cadvisor", "/metrics/resource"]);
      expect(ours, m).toHaveLength(1);
      expect(ours[0]!.labels, m).toEqual({ namespace, pod: pod.metadata!.name, container });
      const values = paths.map((s) => s.value);
      // The maximum of the two scrapes of one container, not their sum. How far apart the two are is the kubelet's
      // business: a clean-clone run saw CPU rates of 0.0157 (/metrics/cadvisor) and 0.0017 (/metrics/resource), so
      // "well below the sum" is not a property of our query and is not asserted.
      expect(ours[0]!.value, m).toBe(Math.max(...values));
      // Both are above 0 (read until they were), so the sum is above the maximum.
      expect(ours[0]!.value, m).toBeLessThan(values.reduce((a, b) => a + b, 0));
    }
    const at = read.at;
    // Only the workload's containers: no series for the pod cgroup or the sandbox (container="").
    const all = await prometheus.query(q.memory, at);
    expect(all.map((s) => s.labels.container).sort()).not.toContain("");

    // The ClusterScaler's signals, polled from the same Prometheus with their defaults.
    const signals = new PrometheusSignals({
      client: prometheus,
      intervalMs: 60_000,
      rateWindow: "1m",
      logger: pino({ level: "silent" }),
      namespaces: () => [namespace],
      onUpdate: () => undefined,
    });
    const key = `${namespace}/${pod.metadata!.name}/${container}`;
    const { before, after } = await eventually(
      async () => {
        const before = await apiserverSeries("container_memory_working_set_bytes");
        await signals.poll();
        const after = await apiserverSeries("container_memory_working_set_bytes");
        expect(signals.lastError).toBeUndefined();
        // CPU needs two samples in the 1m rate window of the scaler's default.
        return signals.snapshot.cpu.has(key) && signals.snapshot.memory.has(key) ? { before, after } : undefined;
      },
      120_000,
      `the scaler's CPU and memory signals of ${container}`,
    );
    const memory = signals.snapshot.memory.get(key)?.value;
    // The scaler's value at its poll, between the samples Prometheus held just before and just after it.
    const seen = [...before, ...after].map((s) => s.value);
    expect(memory).toBeGreaterThanOrEqual(Math.min(...seen) * 0.9);
    expect(memory).toBeLessThanOrEqual(Math.max(...seen) * 1.1);
    expect(signals.snapshot.cpu.get(key)?.value).toBeGreaterThan(0);
    expect([...signals.snapshot.memory.keys()].every((k) => !k.endsWith("/"))).toBe(true);
  }, 120_000);

  it("the recommender builds the apiserver's WorkloadProfile from them: memory target between p50 and max", async () => {
    // Made by hand (the recommender leaves such profiles' specs alone): the percentile algorithm without its
    // margins, so the memory target is the pod's peak working set itself; a history of half an hour.
    const parameters = {
      historyDays: 1 / 48,
      memoryMarginFraction: 0,
      cpuMarginFraction: 0,
      minSampleCount: 6,
      minCPU: "1m",
      minMemory: "1Mi",
    };
    await t.client.create(Resources.WorkloadProfile, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "WorkloadProfile",
      metadata: { name: "kube-apiserver-deploy", namespace },
      spec: {
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver" },
        algorithm: "percentile",
        parameters,
      },
    });
    const manager = new Manager({
      kubeConfig: t.kc,
      logger: createLogger({ level: "warn" }),
      identity: `recommender-${t.name}`,
      qps: 50,
      burst: 50,
    });
    addRecommender(
      manager,
      { workers: 2, dryRun: false, namespace },
      {
        prometheus: { url: t.state.prometheusUrl, timeoutMs: 30_000 },
        selector: { namespaces: [namespace], labelSelector: `metapilot.io/component=${container}` },
        defaultAlgorithm: "vpa-histogram",
        // Prometheus only: a profile built from anything else would prove nothing here.
        metricsServerFallback: false,
        stepSeconds,
        refreshIntervalMs: stepSeconds * 1000,
        resyncMs: 5000,
      },
    );
    const started = Date.now();
    recommenderRunning = manager.start(stopRecommender.signal);
    let last = "";
    const profile = await eventually(
      async () => {
        const p = await t.client.get<RawWorkloadProfile>(Resources.WorkloadProfile, "kube-apiserver-deploy", namespace);
        last = JSON.stringify(p.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}`));
        const c = p.status?.containers?.find((x) => x.name === container);
        return c?.reason === "Recommended" && c.target?.memory && p.status?.window?.end ? p : undefined;
      },
      600_000,
      () => `a recommendation for ${container} (last conditions: ${last})`,
    );
    const firstProfileSeconds = (Date.now() - started) / 1000;
    const rec = profile.status!.containers!.find((x) => x.name === container)!;
    const target = parseQuantity(rec.target!.memory!);
    const start = new Date(profile.status!.window!.start!).getTime();
    const end = new Date(profile.status!.window!.end!).getTime();
    // Each point of the profile is the peak of the step before it: the raw samples of (start − step, end], from
    // both scrapes of the container.
    const rangeSeconds = Math.ceil((end - start) / 1000) + stepSeconds;
    const matrix = await rangeVector(
      t.state.prometheusUrl,
      `container_memory_working_set_bytes{namespace="${namespace}",container="${container}"}[${rangeSeconds}s]`,
      end,
    );
    const samples = matrix.flatMap((s) => s.values.map(([, v]) => Number(v))).sort((a, b) => a - b);
    expect(samples.length).toBeGreaterThanOrEqual(parameters.minSampleCount);
    const p50 = nearestRank(samples, 0.5);
    const max = samples[samples.length - 1]!;
    log(
      `profile after ${firstProfileSeconds.toFixed(0)} s: target ${rec.target!.memory} (${(target / MiB).toFixed(1)} MiB); ` +
        `${samples.length} samples, p50 ${(p50 / MiB).toFixed(1)} MiB, max ${(max / MiB).toFixed(1)} MiB`,
    );
    expect(target).toBeGreaterThanOrEqual(p50);
    // The profile states memory in whole MiB, rounded up.
    expect(target).toBeLessThanOrEqual(Math.ceil(max / MiB) * MiB);
    expect(parseQuantity(rec.target!.cpu!)).toBeGreaterThan(0);
    expect(rec.sampleCount).toBeGreaterThanOrEqual(parameters.minSampleCount);

    recordRealNodeResult("realUsage", {
      recordedBy: "test/realnodes/usage.test.ts",
      measuredAt: new Date().toISOString(),
      machine: machineNow(),
      series:
        'container_memory_working_set_bytes{job="kubelet"} of the tenant kube-apiserver container, /metrics/cadvisor and /metrics/resource',
      scrapeInterval: kubeletScrapeInterval,
      stepSeconds,
      algorithm: "percentile",
      parameters,
      window: profile.status!.window,
      samples: samples.length,
      recommenderCpuSamples: rec.sampleCount,
      p50MiB: Math.round((p50 / MiB) * 10) / 10,
      maxMiB: Math.round((max / MiB) * 10) / 10,
      targetMemory: rec.target!.memory,
      targetCpu: rec.target!.cpu,
      timeToFirstProfileSeconds: Math.round(firstProfileSeconds),
      timeToFirstProfileMeaning:
        "in-process recommender started (the apiserver's series already in Prometheus) → profile with a target; " +
        "mostly waiting for minSampleCount CPU points at the step since the apiserver container started",
    });
  }, 660_000);
});

/** A range-vector instant query's raw samples, straight from the HTTP API. */
async function rangeVector(
  url: string,
  promql: string,
  atMs: number,
): Promise<Array<{ metric: Record<string, string>; values: Array<[number, string]> }>> {
  const body = new URLSearchParams({ query: promql, time: (atMs / 1000).toFixed(3) });
  const res = await fetch(`${url}/api/v1/query`, { method: "POST", body });
  const json = (await res.json()) as {
    status: string;
    data: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
  };
  if (json.status !== "success" || json.data.resultType !== "matrix")
    throw new Error(`${promql}: ${JSON.stringify(json).slice(0, 300)}`);
  return json.data.result;
}
