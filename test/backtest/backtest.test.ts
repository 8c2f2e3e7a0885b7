// `metapilot backtest` as a process against a real Prometheus and the meta-cluster's apiserver: six hours of a
// tenant apiserver's history (idle CPU and memory, one OOM kill at its 2Gi limit, a memory series that stops for
// forty minutes) backfilled with promtool, the tenant's Deployment read from the meta-cluster, two policies side by
// side, one read from the meta-cluster (--name), one from a file. The query log proves the number of range queries
// the report prints; the kill is answered at once; the shorter stabilization window scales down more often; no
// scale-down happens while memory is missing.
import { execFile } from "node:child_process";
import { createWriteStream, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawSizesNote } from "../../src/backtest/run.js";
import {
  fetchHistory,
  historyMetrics,
  rawMetrics,
  remoteMetrics,
  type HistoryMetric,
  type SignalHistory,
} from "../../src/backtest/signals.js";
import { PrometheusClient, type RangeQueryClient } from "../../src/prometheus/client.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { adminKubeConfig, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { HistoryPrometheus } from "../recommender/history.js";

const MiB = 2 ** 20;
const hourMs = 3_600_000;
const root = path.resolve(import.meta.dirname, "../..");

describe("metapilot backtest on a real Prometheus and the meta-cluster", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const prometheus = new HistoryPrometheus();
  let ns: { name: string; cleanup: () => Promise<void> };
  // Whole minutes, six hours back from a few minutes ago: the range the backtest reads.
  const end = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
  const start = end - 6 * hourMs;
  const oomAt = start + 2 * hourMs;
  const gap = { from: start + 4 * hourMs, to: start + 4 * hourMs + 40 * 60_000 };
  const pod = "kube-apiserver-5d9f8c7b6-abcde";

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "backtest");
    const tenant = ns.name;
    await client.create(Resources.Deployment, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "kube-apiserver",
        namespace: ns.name,
        labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver" },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "kube-apiserver" } },
        template: {
          metadata: { labels: { app: "kube-apiserver" } },
          spec: {
            containers: [
              {
                name: "kube-apiserver",
                image: "registry.k8s.io/pause:3.10",
                resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
              },
            ],
          },
        },
      },
    } as KubeObject);
    // The history, every 30 s: cAdvisor's counter and gauge, kube-state-metrics' termination reason, restarts and
    // resources.
    const file = path.join(prometheus.dir, "history.om");
    const out = createWriteStream(file);
    const l = `{namespace="${ns.name}",pod="${pod}",container="kube-apiserver"}`;
    const series = (name: string, type: string, labels: string, value: (t: number) => number | undefined) => {
      out.write(`# TYPE ${name.replace(/_total$/, "")} ${type}\n`);
      for (let t = start - 10 * 60_000; t <= end; t += 30_000) {
        const v = value(t);
        if (v !== undefined) out.write(`${name}${labels} ${v} ${t / 1000}\n`);
      }
    };
    series("container_cpu_usage_seconds_total", "counter", l, (t) => ((t - start + 10 * 60_000) / 1000) * 0.1);
    series("container_memory_working_set_bytes", "gauge", l, (t) =>
      t >= gap.from && t < gap.to ? undefined : t >= oomAt - 60_000 && t < oomAt ? 2000 * MiB : 300 * MiB,
    );
    const ksm = `{namespace="${ns.name}",pod="${pod}",container="kube-apiserver",uid="u1"`;
    series("kube_pod_container_status_restarts_total", "counter", `${ksm}}`, (t) => (t >= oomAt ? 1 : 0));
    series("kube_pod_container_status_last_terminated_reason", "gauge", `${ksm},reason="OOMKilled"}`, (t) =>
      t >= oomAt ? 1 : undefined,
    );
    series("kube_pod_container_resource_limits", "gauge", `${ksm},resource="memory",unit="byte"}`, () => 2048 * MiB);
    series("kube_pod_container_resource_requests", "gauge", `${ksm},resource="memory",unit="byte"}`, () => 1024 * MiB);
    series("kube_pod_container_resource_requests", "gauge", `${ksm},resource="cpu",unit="core"}`, () => 1);
    // A sidecar's sizes, sparse and irregular (not the workload's container, so not in its figures): for the raw
    // reads against Prometheus' own evaluation. Samples every 7 minutes for an hour (a step falls exactly 5 minutes,
    // the lookback, after each), none for 20 minutes, then every 3 minutes; two uids of one key overlap for a while.
    const sidecar = `{namespace="${ns.name}",pod="${pod}",container="sidecar"`;
    const sparse = (uid: string, resource: string, times: number[], value: (t: number) => number) => {
      const name = resource === "limit" ? "kube_pod_container_resource_limits" : "kube_pod_container_resource_requests";
      out.write(`# TYPE ${name} gauge\n`);
      for (const t of times)
        out.write(
          `${name}${sidecar},uid="${uid}",resource="${resource === "cpu" ? "cpu" : "memory"}"} ${value(t)} ${t / 1000}\n`,
        );
    };
    const sparseTimes = [
      ...Array.from({ length: 9 }, (_, k) => start + hourMs + k * 7 * 60_000),
      ...Array.from({ length: 20 }, (_, k) => start + 2 * hourMs + 23 * 60_000 + k * 3 * 60_000),
    ];
    sparse("s1", "memory", sparseTimes, (t) => 100 * MiB + ((t - start) / 60_000) * MiB);
    sparse("s2", "memory", sparseTimes.slice(5, 12), () => 150 * MiB);
    sparse("s1", "cpu", sparseTimes, (t) => ((t - start) / 60_000) % 7);
    sparse("s1", "limit", sparseTimes.slice(3), () => 512 * MiB);
    out.end("# EOF\n");
    await new Promise<void>((r) => out.once("finish", () => r()));
    // The fast policy from the meta-cluster (--name), the slow one from a file (-f).
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: ns.name },
      spec: {
        components: [{ name: "kube-apiserver", replicas: { min: 1, max: 1 } }],
        scaleDown: { enabled: true, stabilizationWindow: "5m", maxStepPercent: 20 },
      },
    } as KubeObject);
    await prometheus.backfill(file);
    await prometheus.start();
    for (const [name, window] of [["slow", "30m"]])
      writeFileSync(
        path.join(prometheus.dir, `${name}.yaml`),
        [
          "apiVersion: metapilot.io/v1alpha1",
          "kind: ClusterScaler",
          `metadata: { name: ${name} }`,
          "spec:",
          "  components: [{ name: kube-apiserver, replicas: { min: 1, max: 1 } }]",
          `  scaleDown: { enabled: true, stabilizationWindow: ${window}, maxStepPercent: 20 }`,
          "",
        ].join("\n"),
      );
  });

  afterAll(async () => {
    await client.delete(Resources.ClusterScaler, ns.name).catch(() => undefined);
    await prometheus.cleanup();
    await ns?.cleanup();
  });

  it("replays the history with the live engine, bounded queries, honest coverage", async () => {
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          "--import",
          "tsx",
          "src/cli/main.ts",
          "backtest",
          "--name",
          ns.name,
          "-f",
          path.join(prometheus.dir, "slow.yaml"),
          "-n",
          ns.name,
          "--from",
          new Date(start).toISOString(),
          "--to",
          new Date(end).toISOString(),
          "-o",
          "json",
          "--fail-if",
          "oomLost>0",
        ],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH,
            HOME: prometheus.dir,
            KUBECONFIG: metacluster().kubeconfig,
            PROMETHEUS_URL: prometheus.url,
          },
          maxBuffer: 256 << 20,
          timeout: 110_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      ),
    );
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    // 1,441 steps of 15 s in one chunk: one request per history metric. The remote metrics by the remote read API
    // (not in the query log), the rest range queries, as the Prometheus query log saw them.
    expect(report.steps).toBe(6 * 240 + 1);
    expect(report.queries).toBe(historyMetrics.length);
    const logged = prometheus.rangeQueries().filter((q) => q.query.includes(ns.name));
    expect(logged).toHaveLength(historyMetrics.length - remoteMetrics.length);
    expect(logged.every((q) => q.step > 0)).toBe(true);
    expect(report.notes).not.toContain(rawSizesNote);
    expect(report.partial).toBe(false);
    const [fast, slow] = report.policies;
    expect([fast.name, fast.source, slow.name]).toEqual([ns.name, `clusterscaler/${ns.name}`, "slow"]);
    for (const p of report.policies) {
      expect(p.summary.workloads).toBe(1);
      expect(p.oomKills).toEqual([
        expect.objectContaining({
          outcome: "answered",
          delayMinutes: 0,
          limitBytes: 2048 * MiB,
          at: new Date(oomAt).toISOString(),
        }),
      ]);
      // No scale-down while memory was missing (Prometheus keeps a series 5 minutes past its last sample).
      const downs = (Object.values(p.timeline).flat() as Array<{ at: string; direction: string }>).filter(
        (e) => e.direction === "Down",
      );
      for (const d of downs) {
        const t = Date.parse(d.at);
        expect(t >= gap.from + 5 * 60_000 && t < gap.to, d.at).toBe(false);
      }
      expect(p.summary.heldForData).toBeGreaterThan(0);
    }
    expect(fast.summary.scaleDowns).toBeGreaterThan(slow.summary.scaleDowns);
    expect(fast.summary.slackCpuHoursAfter).toBeLessThan(slow.summary.slackCpuHoursAfter);
    expect(fast.summary.slackCpuHoursBefore).toBeCloseTo(6 * 0.9, 0);
    expect(report.coverage.memoryWorkingSet.percent).toBeLessThan(95);
    expect(report.coverage.memoryWorkingSet.gaps).toBe(1);
    expect(report.coverage.oomKills.percent).toBeGreaterThan(99);
  });

  it("reads raw samples (remote read; the sizes by the query API without it) that give, at every step, what Prometheus evaluates", async () => {
    const prom = new PrometheusClient({ url: prometheus.url });
    const lookback = await prom.lookback();
    expect(lookback).toEqual({ deltaMs: 5 * 60_000, leftOpen: false, rateRule: "v2.40" });
    // The query API only: a Prometheus (or proxy) without the remote read API.
    const queryApi: RangeQueryClient = {
      queryRange: prom.queryRange.bind(prom),
      queryRangeColumns: prom.queryRangeColumns.bind(prom),
      queryMatrixColumns: prom.queryMatrixColumns.bind(prom),
    };
    const read = (withLookback: boolean, client: RangeQueryClient = prom) =>
      fetchHistory({
        client,
        from: start,
        to: end,
        stepMs: 15_000,
        rateWindow: "1m",
        namespaces: [ns.name],
        // Several chunks, so that each raw read starts one lookback before its first step.
        chunkSteps: 200,
        ...(withLookback ? { lookback } : {}),
      });
    const [remote, raw, evaluated] = [await read(true), await read(true, queryApi), await read(false)];
    expect([remote.remoteReads, remote.rawQueries]).toEqual([remoteMetrics.length * 8, 0]);
    expect([raw.remoteReads, raw.rawQueries]).toEqual([0, rawMetrics.length * 8]);
    expect([evaluated.remoteReads, evaluated.rawQueries]).toEqual([0, 0]);
    const same = (got: SignalHistory, metric: HistoryMetric) => {
      const keys = [...evaluated.series[metric].keys()].sort();
      expect([...got.series[metric].keys()].sort(), metric).toEqual(keys);
      for (const key of keys)
        expect([...(got.series[metric].get(key) ?? [])], `${metric} ${key}`).toEqual([
          ...(evaluated.series[metric].get(key) ?? []),
        ]);
      return keys;
    };
    for (const metric of remoteMetrics) {
      const keys = same(remote, metric);
      // This history has no tenant apiserver series (nodes, objects, etcd's size); the others are read.
      if (!["nodes", "objects", "etcdDbSize"].includes(metric)) expect(keys.length, metric).toBeGreaterThan(0);
    }
    for (const metric of rawMetrics) expect(same(raw, metric), metric).toContain(`${ns.name}/${pod}/sidecar`);
    expect(remote.failures).toEqual([]);
  });
});
