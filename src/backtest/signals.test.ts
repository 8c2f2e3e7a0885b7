// The history rebuilt from canned range answers: one query per metric per chunk for all tenants, values per
// namespace/pod/container at each step, missing where Prometheus has no point, and a failed query leaving only its
// metric and chunk missing, with the reason.
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient, type RangeQueryClient } from "../prometheus/client.js";
import { chunksOf, fetchHistory, historyMetrics, historyQueries, stepsOf } from "./signals.js";
import { cannedPrometheus, promUrl } from "./testing.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const t0 = Date.parse("2026-12-01T00:00:00Z");
const stepMs = 30_000;
const client = () => new PrometheusClient({ url: promUrl, retries: 1, retryBaseMs: 1, timeoutMs: 10_000 });
const pod = (ns: string, name: string, container = "kube-apiserver") => ({ namespace: ns, pod: name, container });

describe("stepsOf and chunksOf", () => {
  it("aligns steps to the step and splits them into chunks", () => {
    expect(stepsOf(t0 + 1, t0 + 95_000, stepMs)).toEqual([t0 + 30_000, t0 + 60_000, t0 + 90_000]);
    expect(chunksOf(5, 2)).toEqual([
      [0, 1],
      [2, 3],
      [4, 4],
    ]);
  });
});

describe("historyQueries", () => {
  it("reads the live poll's queries and kube-state-metrics, for the tenant namespaces only", () => {
    const q = historyQueries(["tcp-a", "tcp-b"], "1m");
    expect(q.cpu).toBe(
      'max by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{namespace=~"tcp-a|tcp-b",container!="",container!="POD"}[1m]))',
    );
    expect(q.oomKills).toContain(
      'kube_pod_container_status_last_terminated_reason{namespace=~"tcp-a|tcp-b",reason="OOMKilled"}',
    );
    expect(Object.keys(q)).toEqual([...historyMetrics]);
  });

  it("reads each kill's series over the whole step, so one shorter than a step (its pod replaced) is seen", () => {
    const q = historyQueries(["tcp-a"], "1m", {}, 15_000);
    expect(q.oomKills).toBe(
      'max by (namespace,pod,container) (max_over_time(kube_pod_container_status_last_terminated_reason{namespace=~"tcp-a",reason="OOMKilled"}[15000ms])) ' +
        '* on (namespace,pod,container) max by (namespace,pod,container) (max_over_time(kube_pod_container_status_restarts_total{namespace=~"tcp-a"}[15000ms]))',
    );
    // The usage queries stay the live poll's own.
    expect(q.cpu).toBe(historyQueries(["tcp-a"], "1m").cpu);
  });
});

describe("fetchHistory", () => {
  const from = t0;
  const to = t0 + 59 * stepMs; // 60 steps

  it("sends one range query per metric per chunk for all tenants, and keeps values per series and step", async () => {
    const prom = cannedPrometheus(["tcp-a", "tcp-b"], {
      cpu: [
        // Two tenants in one answer; tcp-b's series has a hole (a stale or gone series) over steps 10..19.
        { labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: () => 0.5 },
        {
          labels: pod("tcp-b", "kube-apiserver-7c8d-fghij"),
          at: (t) => ((t - t0) / stepMs >= 10 && (t - t0) / stepMs < 20 ? undefined : 0.25),
        },
      ],
      nodes: [{ labels: { namespace: "tcp-a" }, at: (t) => (t - t0) / stepMs }],
    });
    const h = await fetchHistory({
      client: client(),
      from,
      to,
      stepMs,
      rateWindow: "1m",
      namespaces: ["tcp-a", "tcp-b"],
      chunkSteps: 25,
    });
    expect(h.steps).toHaveLength(60);
    // 3 chunks (25 + 25 + 10 steps) × 11 metrics, whatever the number of tenants.
    expect(h.queries).toBe(3 * historyMetrics.length);
    expect(prom.asked).toHaveLength(h.queries);
    const a = h.series.cpu.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver");
    const b = h.series.cpu.get("tcp-b/kube-apiserver-7c8d-fghij/kube-apiserver");
    expect([...(a ?? [])].every((v) => v === 0.5)).toBe(true);
    expect(b?.[9]).toBe(0.25);
    expect(Number.isNaN(b?.[10])).toBe(true);
    expect(Number.isNaN(b?.[19])).toBe(true);
    expect(b?.[20]).toBe(0.25);
    // Across chunk boundaries, each step in its place.
    expect(h.series.nodes.get("tcp-a")?.[24]).toBe(24);
    expect(h.series.nodes.get("tcp-a")?.[25]).toBe(25);
    expect(h.series.nodes.get("tcp-a")?.[59]).toBe(59);
    expect(h.failures).toEqual([]);
  });

  it("reads the same history from a client that gives series only (no columns)", async () => {
    const read = (c: RangeQueryClient) => {
      const prom = cannedPrometheus(["tcp-a", "tcp-b"], {
        cpu: [
          { labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: (t) => ((t - t0) / stepMs) % 7 },
          { labels: pod("tcp-b", "kube-apiserver-7c8d-fghij"), at: (t) => ((t - t0) / stepMs > 30 ? 0.25 : undefined) },
        ],
        memory: [{ labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: (t) => 1e9 + t }],
        objects: [{ labels: { namespace: "tcp-b" }, at: (t) => (t - t0) / stepMs + 0.5 }],
      });
      return fetchHistory({
        client: c,
        from,
        to,
        stepMs,
        rateWindow: "1m",
        namespaces: ["tcp-a", "tcp-b"],
        chunkSteps: 25,
      }).finally(() => prom.done());
    };
    const columns = await read(client());
    const series = client();
    const seriesOnly: RangeQueryClient = { queryRange: (...a) => series.queryRange(...a) };
    const points = await read(seriesOnly);
    expect(columns.series.cpu.size).toBe(2);
    expect(columns.series.cpu.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver")?.[8]).toBe(1);
    expect(columns.series.objects.get("tcp-b")?.[59]).toBe(59.5);
    expect(points).toEqual(columns);
  });

  it("keeps going when Prometheus fails mid-way: only that metric's chunk is missing, and why", async () => {
    cannedPrometheus(
      ["tcp-a"],
      {
        cpu: [{ labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: () => 0.5 }],
        memory: [{ labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: () => 1e9 }],
      },
      (metric, start) =>
        metric === "memory" && start >= t0 + 25 * stepMs && start < t0 + 50 * stepMs ? 503 : undefined,
    );
    const h = await fetchHistory({
      client: client(),
      from,
      to,
      stepMs,
      rateWindow: "1m",
      namespaces: ["tcp-a"],
      chunkSteps: 25,
    });
    expect(h.failures).toEqual([
      {
        metric: "memory",
        from: new Date(t0 + 25 * stepMs).toISOString(),
        to: new Date(t0 + 49 * stepMs).toISOString(),
        error: expect.stringMatching(/^Prometheus server: Prometheus answered 503/),
      },
    ]);
    const memory = h.series.memory.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver");
    expect(memory?.[24]).toBe(1e9);
    expect(Number.isNaN(memory?.[25])).toBe(true);
    expect(memory?.[50]).toBe(1e9);
    expect(h.failedAt.memory[25]).toMatch(/503/);
    expect(h.failedAt.memory[24]).toBeUndefined();
    expect(h.failedAt.cpu.every((e) => e === undefined)).toBe(true);
    expect(h.series.cpu.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver")?.[30]).toBe(0.5);
  });

  it("rejects a step whose usage answer has a negative value, as the live poll rejects the whole poll", async () => {
    cannedPrometheus(["tcp-a"], {
      cpu: [{ labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: (t) => (t === t0 + 3 * stepMs ? -1 : 0.5) }],
      memory: [{ labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: () => 1e9 }],
    });
    const h = await fetchHistory({ client: client(), from, to, stepMs, rateWindow: "1m", namespaces: ["tcp-a"] });
    expect(h.rejectedSteps).toBe(1);
    expect(Number.isNaN(h.series.memory.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver")?.[3])).toBe(true);
    expect(h.failedAt.cpu[3]).toMatch(/negative/);
    expect(h.series.cpu.get("tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver")?.[4]).toBe(0.5);
  });
});
