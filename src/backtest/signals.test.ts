// The history rebuilt from canned range answers: one query per metric per chunk for all tenants, values per
// namespace/pod/container at each step, missing where Prometheus has no point, and a failed query leaving only its
// metric and chunk missing, with the reason.
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient, PrometheusError, type RangeColumns, type RangeQueryClient } from "../prometheus/client.js";
import type { RawSeries, RemoteQuery } from "../prometheus/remote-read.js";
import {
  chunksOf,
  evaluateOomKills,
  evaluateRemote,
  fetchHistory,
  historyMetrics,
  historyQueries,
  maxOverTimeAtSteps,
  rawMetrics,
  rawSelectors,
  remoteMetrics,
  rateWindowOf,
  selectAtSteps,
  stepsOf,
} from "./signals.js";
import { SeriesPool } from "./shared-series.js";
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

  it("takes its series from a pool, where given: a batch's series given back are the next batch's, with no value of it left", async () => {
    const key = "tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver";
    const pool = new SeriesPool(60);
    const read = (seriesPool = pool) =>
      fetchHistory({ client: client(), from, to, stepMs, rateWindow: "1m", namespaces: ["tcp-a"], seriesPool });
    // The first batch: values over the first half; the second: over the second half only.
    const firstProm = cannedPrometheus(["tcp-a"], {
      cpu: [
        { labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: (t) => ((t - t0) / stepMs < 30 ? 0.5 : undefined) },
      ],
    });
    const first = await read();
    firstProm.done();
    const used = first.series.cpu.get(key);
    expect(used?.[0]).toBe(0.5);
    pool.release(first);
    expect(pool.held).toBeGreaterThan(0);
    cannedPrometheus(["tcp-a"], {
      cpu: [
        { labels: pod("tcp-a", "kube-apiserver-5d9f-abcde"), at: (t) => ((t - t0) / stepMs >= 30 ? 0.25 : undefined) },
      ],
    });
    const second = await read();
    const again = second.series.cpu.get(key);
    expect(again?.buffer).toBe(used?.buffer);
    expect(Number.isNaN(again?.[0])).toBe(true);
    expect(Number.isNaN(again?.[29])).toBe(true);
    expect(again?.[30]).toBe(0.25);
    await expect(read(new SeriesPool(59))).rejects.toThrow(/59-step series for a history of 60 steps/);
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

describe("selectAtSteps (an instant vector selector from raw samples)", () => {
  const steps = [0, 60, 120, 180, 240, 300, 360].map((s) => t0 + s * 1000);
  const at = (times: number[], values: number[], leftOpen: boolean, first = 0, last = steps.length - 1) => {
    const out: Array<number | undefined> = steps.map(() => undefined);
    selectAtSteps(
      Float64Array.from(times, (s) => t0 + s * 1000),
      Float64Array.from(values),
      steps,
      first,
      last,
      { deltaMs: 120_000, leftOpen },
      (i, v) => (out[i] = v),
    );
    return out;
  };

  it("takes the newest sample at or before each step within the lookback, none before the first", () => {
    // Samples at 30 s (1), 60 s (2, on a step), 61 s (3), then none until 350 s (4).
    expect(at([30, 60, 61, 350], [1, 2, 3, 4], false)).toEqual([undefined, 2, 3, 3, undefined, undefined, 4]);
  });

  it("keeps a sample exactly one lookback old in Prometheus 2 (closed) and drops it from Prometheus 3 on", () => {
    // The sample at 60 s is exactly 120 s old at the step 180 s.
    expect(at([60], [7], false)).toEqual([undefined, 7, 7, 7, undefined, undefined, undefined]);
    expect(at([60], [7], true)).toEqual([undefined, 7, 7, undefined, undefined, undefined, undefined]);
  });

  it("evaluates only the steps asked, reading samples before the first of them", () => {
    expect(at([10, 200], [1, 2], false, 2, 4)).toEqual([undefined, undefined, 1, undefined, 2, undefined, undefined]);
  });
});

describe("fetchHistory with raw samples of the sizes", () => {
  const from = t0;
  const to = t0 + 59 * stepMs; // 60 steps, step i at i × 30 s
  const key = "tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver";
  const GiB = 2 ** 30;
  // kube-state-metrics' memory request of one container by two series of one key (another uid label): one scraped
  // every 5 minutes from 2 minutes before the range, 1 GiB, then 2 GiB from 20 minutes on; the other with one
  // sample of 3 GiB at 10 minutes. The fake answers a range selector with the samples in (time − span, time].
  const samples = (selector: string, time: number, spanMs: number): RangeColumns[] => {
    if (!selector.startsWith("kube_pod_container_resource_requests") || !selector.includes('"memory"')) return [];
    const series = (uid: string, times: number[], value: (t: number) => number): RangeColumns => {
      const ts = times.filter((t) => t > time - spanMs && t <= time);
      return {
        labels: { ...pod("tcp-a", "kube-apiserver-5d9f-abcde"), uid },
        timestampsMs: Float64Array.from(ts),
        values: Float64Array.from(ts, value),
      };
    };
    const every5m = Array.from({ length: 8 }, (_, k) => t0 - 120_000 + k * 300_000);
    return [
      series("u1", every5m, (t) => (t >= t0 + 20 * 60_000 ? 2 : 1) * GiB),
      series("u2", [t0 + 10 * 60_000], () => 3 * GiB),
    ].filter((c) => c.timestampsMs.length > 0);
  };
  const fake = (tooLarge = false) => {
    const raw: Array<{ query: string; time: number }> = [];
    const ranges: string[] = [];
    const client: RangeQueryClient = {
      queryRange: async (promql) => {
        ranges.push(promql);
        return [];
      },
      queryMatrixColumns: async (promql, time) => {
        raw.push({ query: promql, time: time.getTime() });
        if (tooLarge) throw new PrometheusError("over the limit", "too-large");
        const m = /^(.*)\[(\d+)ms\]$/.exec(promql);
        if (!m) throw new Error(`not a range selector: ${promql}`);
        return samples(m[1] as string, time.getTime(), Number(m[2]));
      },
    };
    return { client, raw, ranges };
  };
  const options = { from, to, stepMs, rateWindow: "1m", namespaces: ["tcp-a"], chunkSteps: 25 };

  it("reads each size's selector once per chunk, back one lookback, and evaluates it at each step as Prometheus", async () => {
    const { client, raw, ranges } = fake();
    const h = await fetchHistory({ ...options, client, lookback: { deltaMs: 300_000, leftOpen: false } });
    const sel = rawSelectors(["tcp-a"]);
    // Three chunks (25, 25, 10 steps), three raw metrics each, at each chunk's last step; the rest are range queries.
    const chunks = [
      [0, 24],
      [25, 49],
      [50, 59],
    ];
    expect(raw.map((r) => `${r.query}@${r.time}`).sort()).toEqual(
      chunks
        .flatMap(([first = 0, last = 0]) =>
          [sel.cpuRequest, sel.memoryRequest, sel.memoryLimit].map(
            (s) => `${s}[${(last - first) * stepMs + 300_000}ms]@${t0 + last * stepMs}`,
          ),
        )
        .sort(),
    );
    expect(ranges).toHaveLength((historyMetrics.length - 3) * 3);
    expect(h.queries).toBe(historyMetrics.length * 3);
    expect(h.rawQueries).toBe(9);
    const memory = [...(h.series.memoryRequest.get(key) ?? [])];
    // The sample 2 minutes before the range covers step 0; the 3 GiB one steps 20 (10 min) to 30 (exactly 5
    // minutes old: kept, as Prometheus 2 keeps it); 2 GiB from the sample at 23 minutes (step 46) on.
    const expected = memory.map((_, i) => (i >= 46 ? 2 : i >= 20 && i <= 30 ? 3 : 1) * GiB);
    expect(memory).toEqual(expected);
    expect(h.series.cpuRequest.size).toBe(0);
    // Prometheus 3's left-open window drops the 3 GiB sample at exactly 5 minutes.
    const open = await fetchHistory({
      ...options,
      client: fake().client,
      lookback: { deltaMs: 300_000, leftOpen: true },
    });
    expect(open.series.memoryRequest.get(key)?.[30]).toBe(GiB);
    expect(open.series.memoryRequest.get(key)?.[29]).toBe(3 * GiB);
  });

  it("evaluates at Prometheus an answer over the size limit, and everything without a lookback", async () => {
    const large = fake(true);
    const h = await fetchHistory({ ...options, client: large.client, lookback: { deltaMs: 300_000, leftOpen: false } });
    expect(large.raw).toHaveLength(9);
    expect(large.ranges).toHaveLength(historyMetrics.length * 3);
    expect(h.failures).toEqual([]);
    expect(h.rawQueries ?? 0).toBe(0);
    const none = fake();
    await fetchHistory({ ...options, client: none.client });
    expect(none.raw).toHaveLength(0);
    expect(none.ranges).toHaveLength(historyMetrics.length * 3);
  });

  it("keeps a raw read that fails for another reason as a failure of its metric and chunk", async () => {
    const client: RangeQueryClient = {
      queryRange: async () => [],
      queryMatrixColumns: async () => {
        throw new PrometheusError("query failed (bad_data): x", "query");
      },
    };
    const h = await fetchHistory({ ...options, client, lookback: { deltaMs: 300_000, leftOpen: false } });
    expect(h.failures.map((f) => f.metric).sort()).toEqual(
      ["cpuRequest", "memoryLimit", "memoryRequest"].flatMap((m) => [m, m, m]).sort(),
    );
    expect(h.failedAt.memoryRequest[0]).toMatch(/bad_data/);
  });
});

describe("evaluateRemote (historyQueries' aggregations from raw samples)", () => {
  const steps = Array.from({ length: 6 }, (_, i) => t0 + i * stepMs);
  const lookback = { deltaMs: 60_000, leftOpen: false };
  const raw = (labels: Record<string, string>, samples: Array<[number, number | "stale"]>): RawSeries => ({
    labels,
    timestampsMs: Float64Array.from(samples, ([i]) => t0 + i * stepMs),
    values: Float64Array.from(samples, ([, v]) => (v === "stale" ? Number.NaN : v)),
    stale: Uint8Array.from(samples, ([, v]) => (v === "stale" ? 1 : 0)),
  });
  const points = (c: RangeColumns | undefined) =>
    c ? [...c.timestampsMs].map((t, k) => [(t - t0) / stepMs, c.values[k]]) : [];

  it("max by container: the largest value of a key's series that is not NaN, a series ending at its stale marker", () => {
    const a = pod("tcp-a", "p-1");
    const out = evaluateRemote(
      "maxByContainer",
      [
        raw({ ...a, uid: "1" }, [
          [0, 5],
          [2, Number.NaN],
          [3, "stale"],
        ]),
        raw({ ...a, uid: "2" }, [
          [1, 3],
          [2, 4],
        ]),
        raw({ ...pod("tcp-a", "p-2"), uid: "3" }, [[0, 1]]),
      ],
      steps,
      0,
      5,
      lookback,
    );
    expect(out.map((c) => c.labels)).toEqual([a, pod("tcp-a", "p-2")]);
    // Step 2: 4 (the NaN does not win); step 3: uid 1 has ended at its marker, uid 2's 4 is 30 s old; step 4: 60
    // s old, within the closed lookback; step 5: none.
    expect(points(out[0])).toEqual([
      [0, 5],
      [1, 5],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(points(out[1])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });

  it("count by namespace counts the series with a sample; sum of max by resource adds each resource's largest", () => {
    const series = [
      raw({ namespace: "tcp-a", pod: "p-1", resource: "pods" }, [[0, 10]]),
      raw({ namespace: "tcp-a", pod: "p-2", resource: "pods" }, [
        [0, 12],
        [1, "stale"],
      ]),
      raw({ namespace: "tcp-a", pod: "p-1", resource: "nodes" }, [[0, 3]]),
    ];
    const count = evaluateRemote("countByNamespace", series, steps, 0, 2, lookback);
    expect(points(count[0])).toEqual([
      [0, 3],
      [1, 2],
      [2, 2],
    ]);
    const sum = evaluateRemote("sumOfMaxByResource", series, steps, 0, 2, lookback);
    expect(sum.map((c) => c.labels)).toEqual([{ namespace: "tcp-a" }]);
    expect(points(sum[0])).toEqual([
      [0, 15],
      [1, 13],
      [2, 13],
    ]);
  });

  it("refuses a value that is not finite, as the range query's answer is refused", () => {
    const nan = raw(pod("tcp-a", "p-1"), [[0, Number.NaN]]);
    expect(() => evaluateRemote("maxByContainer", [nan], steps, 0, 1, lookback)).toThrow(PrometheusError);
    const inf = raw({ namespace: "tcp-a" }, [[0, Number.POSITIVE_INFINITY]]);
    expect(() => evaluateRemote("maxByNamespace", [inf], steps, 0, 1, lookback)).toThrow(/non-finite/);
  });
});

describe("fetchHistory by the remote read API", () => {
  const from = t0;
  const to = t0 + 59 * stepMs;
  const options = { from, to, stepMs, rateWindow: "1m", namespaces: ["tcp-a"], chunkSteps: 25 };
  const key = "tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver";
  const lookback = { deltaMs: 300_000, leftOpen: false };
  const fake = (remote: (q: RemoteQuery) => RawSeries[]) => {
    const reads: RemoteQuery[] = [];
    const ranges: string[] = [];
    const matrix: string[] = [];
    const client: RangeQueryClient = {
      queryRange: async (promql) => {
        ranges.push(promql);
        return [];
      },
      queryMatrixColumns: async (promql) => {
        matrix.push(promql);
        return [];
      },
      remoteRead: async (queries) => {
        reads.push(...queries);
        return queries.map(remote);
      },
    };
    return { client, reads, ranges, matrix };
  };
  const memory = (q: RemoteQuery): RawSeries[] =>
    q.matchers.some((m) => m.name === "__name__" && m.value === "container_memory_working_set_bytes")
      ? [
          {
            labels: { ...pod("tcp-a", "kube-apiserver-5d9f-abcde"), id: "x" },
            timestampsMs: Float64Array.from([
              t0 - 60_000,
              t0 + 3 * stepMs,
              t0 + 6 * stepMs,
              t0 + 9 * stepMs,
              t0 + 10 * stepMs,
            ]),
            values: Float64Array.from([100, 100, 100, 100, Number.NaN]),
            stale: Uint8Array.from([0, 0, 0, 0, 1]),
          },
        ]
      : [];

  // Without the Prometheus' rate() arithmetic (Lookback.rateRule), CPU usage stays a range query.
  const gauges = remoteMetrics.filter((m) => m !== "cpu");
  // Queries sent by remote read per chunk: one per metric, and a second one for the OOM kills' join (its restart
  // counts, in the same request).
  const queriesPerChunk = (metrics: readonly string[]) => metrics.length + (metrics.includes("oomKills") ? 1 : 0);

  it("reads each remote metric once per chunk, back one lookback, with the live query's matchers", async () => {
    const { client, reads, ranges, matrix } = fake(memory);
    const h = await fetchHistory({ ...options, client, lookback });
    expect(reads).toHaveLength(queriesPerChunk(gauges) * 3);
    expect(ranges).toHaveLength((historyMetrics.length - gauges.length) * 3);
    expect(matrix).toHaveLength(0);
    expect(h.queries).toBe(historyMetrics.length * 3);
    expect(h.remoteReads).toBe(gauges.length * 3);
    expect(h.rawQueries).toBe(0);
    const first = reads.find((q) => q.matchers.some((m) => m.value === "container_memory_working_set_bytes"));
    expect(first).toEqual({
      startMs: t0 - 300_000,
      endMs: t0 + 24 * stepMs,
      matchers: [
        { type: "=", name: "__name__", value: "container_memory_working_set_bytes" },
        { type: "=~", name: "namespace", value: "tcp-a" },
        { type: "!=", name: "container", value: "" },
        { type: "!=", name: "container", value: "POD" },
      ],
    });
    // The series ends at its stale marker (step 10), not one lookback after its last sample (step 19).
    const values = [...(h.series.memory.get(key) ?? [])];
    expect(values.slice(0, 10)).toEqual(Array(10).fill(100));
    expect(values.slice(10).every(Number.isNaN)).toBe(true);
  });

  it("asks the query API instead once the Prometheus has no remote read API, and for an answer over the limit", async () => {
    const unsupported = fake(() => {
      throw new PrometheusError("no remote read API (HTTP 404)", "unsupported");
    });
    const h = await fetchHistory({ ...options, client: unsupported.client, lookback, concurrency: 1 });
    expect(unsupported.reads).toHaveLength(1);
    expect(unsupported.matrix).toHaveLength(rawMetrics.length * 3);
    expect(unsupported.ranges).toHaveLength((historyMetrics.length - rawMetrics.length) * 3);
    expect(h.failures).toEqual([]);
    expect(h.remoteReads).toBe(0);
    const large = fake(() => {
      throw new PrometheusError("over the limit", "too-large");
    });
    await fetchHistory({ ...options, client: large.client, lookback });
    expect(large.reads).toHaveLength(queriesPerChunk(gauges) * 3);
    expect(large.ranges).toHaveLength((historyMetrics.length - rawMetrics.length) * 3);
  });

  it("keeps a remote read that fails for another reason as a failure of its metric and chunk", async () => {
    const broken = fake(() => {
      throw new PrometheusError("Prometheus answered 503", "server");
    });
    const h = await fetchHistory({ ...options, client: broken.client, lookback });
    expect(new Set(h.failures.map((f) => f.metric))).toEqual(new Set(gauges));
    expect(h.failedAt.memory[0]).toMatch(/503/);
    expect(broken.ranges).toHaveLength((historyMetrics.length - gauges.length) * 3);
  });

  it("reads the OOM kills' two sides in one request, back one step, with the Prometheus' window edges", async () => {
    const container = pod("tcp-a", "kube-apiserver-5d9f-abcde");
    // A kill seen at step 3 only, its sample on the step: a window closed on the left still holds it at step 4.
    const kills = (q: RemoteQuery): RawSeries[] => {
      const name = q.matchers.find((m) => m.name === "__name__")?.value;
      const at = (v: number) => ({
        timestampsMs: Float64Array.from([t0 + 3 * stepMs]),
        values: Float64Array.from([v]),
        stale: new Uint8Array(1),
      });
      if (name === "kube_pod_container_status_last_terminated_reason")
        return [{ labels: { ...container, reason: "OOMKilled" }, ...at(1) }];
      return name === "kube_pod_container_status_restarts_total" ? [{ labels: container, ...at(2) }] : [];
    };
    for (const leftOpen of [false, true]) {
      const { client, reads } = fake(kills);
      const h = await fetchHistory({ ...options, client, lookback: { ...lookback, leftOpen } });
      const pair = reads.filter((q) => q.matchers.some((m) => m.value.startsWith("kube_pod_container_status_")));
      expect(pair.slice(0, 2).map((q) => [q.startMs, q.matchers[0]?.value, q.matchers.at(-1)])).toEqual([
        [
          t0 - stepMs,
          "kube_pod_container_status_last_terminated_reason",
          { type: "=", name: "reason", value: "OOMKilled" },
        ],
        [t0 - stepMs, "kube_pod_container_status_restarts_total", { type: "=~", name: "namespace", value: "tcp-a" }],
      ]);
      expect(h.queries).toBe(historyMetrics.length * 3);
      const values = [...(h.series.oomKills.get(key) ?? [])].slice(0, 6);
      expect(values, `leftOpen ${leftOpen}`).toEqual([NaN, NaN, NaN, 2, leftOpen ? NaN : 2, NaN]);
    }
  });

  it("evaluates CPU usage's rate() here where the Prometheus' arithmetic is known, back one rate window", async () => {
    const cpuKey = "tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver";
    // Two series of one container (two jobs scraping one kubelet): the larger rate, as max by.
    const counter = (job: string, perSecond: number): RawSeries => {
      const times: number[] = [];
      const values: number[] = [];
      for (let t = t0 - 60_000; t <= to; t += 15_000) {
        times.push(t);
        values.push(((t - t0 + 60_000) / 1000) * perSecond);
      }
      return {
        labels: { ...pod("tcp-a", "kube-apiserver-5d9f-abcde"), job },
        timestampsMs: Float64Array.from(times),
        values: Float64Array.from(values),
        stale: new Uint8Array(times.length),
      };
    };
    const cpu = (q: RemoteQuery): RawSeries[] =>
      q.matchers.some((m) => m.name === "__name__" && m.value === "container_cpu_usage_seconds_total")
        ? [counter("a", 0.25), counter("b", 0.5)]
        : memory(q);
    const { client, reads, ranges } = fake(cpu);
    const h = await fetchHistory({ ...options, client, lookback: { ...lookback, rateRule: "v2.40" } });
    expect(reads).toHaveLength(queriesPerChunk(remoteMetrics) * 3);
    expect(ranges.some((q) => q.includes("container_cpu_usage_seconds_total"))).toBe(false);
    const read = reads.find((q) => q.matchers.some((m) => m.value === "container_cpu_usage_seconds_total"));
    expect(read?.startMs).toBe(t0 - 60_000);
    // A steady 0.5 CPU: five samples over the whole minute at every step.
    const values = [...(h.series.cpu.get(cpuKey) ?? [])];
    expect(values).toHaveLength(60);
    for (const v of values) expect(v).toBeCloseTo(0.5, 12);
    // A window that PromQL and this client would not read alike stays a range query.
    const other = fake(cpu);
    await fetchHistory({
      ...options,
      rateWindow: "1d",
      client: other.client,
      lookback: { ...lookback, rateRule: "v2.40" },
    });
    expect(other.ranges.filter((q) => q.includes("container_cpu_usage_seconds_total"))).toHaveLength(3);
  });
});

describe("rateWindowOf", () => {
  const lookback = { deltaMs: 300_000, leftOpen: true, rateRule: "v2.52" as const };
  it("is the window in ms with the Prometheus' rule and window kind", () => {
    expect(rateWindowOf("1m", lookback)).toEqual({ windowMs: 60_000, leftOpen: true, rule: "v2.52" });
    expect(rateWindowOf("1m30s", lookback)?.windowMs).toBe(90_000);
    expect(rateWindowOf("500ms", lookback)?.windowMs).toBe(500);
  });
  it("is undefined without the rule, or for a window PromQL and parseDuration do not read alike", () => {
    expect(rateWindowOf("1m", { deltaMs: 300_000, leftOpen: false })).toBeUndefined();
    expect(rateWindowOf("1m", undefined)).toBeUndefined();
    for (const w of ["1d", "1.5m", "0s", "1us", ""]) expect(rateWindowOf(w, lookback), w).toBeUndefined();
  });
});

describe("the OOM kills' join from raw samples", () => {
  const steps = [0, 1, 2, 3, 4, 5].map((k) => t0 + k * stepMs);
  const raw = (labels: Record<string, string>, points: Array<[number, number, boolean?]>): RawSeries => ({
    labels,
    timestampsMs: Float64Array.from(points.map(([t]) => t)),
    values: Float64Array.from(points.map(([, v, stale]) => (stale ? Number.NaN : v))),
    stale: Uint8Array.from(points.map(([, , stale]) => (stale ? 1 : 0))),
  });
  const at = (h: number[]) => (i: number, v: number) => {
    h[i] = v;
  };

  it("max_over_time takes [t − w, t] before Prometheus 3 and (t − w, t] from 3 on, without stale markers", () => {
    // Samples on step 1 (exactly one window before step 2), two between steps 2 and 3 (the larger first), a marker
    // on step 4.
    const times = Float64Array.from([t0 + stepMs, t0 + 2.5 * stepMs, t0 + 2.8 * stepMs, t0 + 4 * stepMs]);
    const values = Float64Array.from([7, 3, 1, Number.NaN]);
    const stale = Uint8Array.from([0, 0, 0, 1]);
    const closed: number[] = [];
    const open: number[] = [];
    maxOverTimeAtSteps(times, values, steps, 0, 5, { windowMs: stepMs, leftOpen: false }, at(closed), stale);
    maxOverTimeAtSteps(times, values, steps, 0, 5, { windowMs: stepMs, leftOpen: true }, at(open), stale);
    expect(closed).toEqual([undefined, 7, 7, 3]);
    expect(open).toEqual([undefined, 7, undefined, 3]);
    // A NaN sample gives way to the next one, as PromQL's max_over_time.
    const nan: number[] = [];
    maxOverTimeAtSteps(
      Float64Array.from([t0 + stepMs - 1, t0 + stepMs]),
      Float64Array.from([Number.NaN, 2]),
      steps,
      1,
      1,
      { windowMs: stepMs, leftOpen: false },
      at(nan),
    );
    expect(nan).toEqual([undefined, 2]);
  });

  it("joins each container's OOM reason with its largest restart count, where both have one", () => {
    const a = pod("tcp-a", "kube-apiserver-1");
    const b = pod("tcp-a", "kube-apiserver-2");
    const reasons = [
      raw({ ...a, reason: "OOMKilled", uid: "1" }, [
        [t0 + 2 * stepMs, 1],
        [t0 + 3 * stepMs, 1],
      ]),
      // Pod b's reason, but no restart count: no kill.
      raw({ ...b, reason: "OOMKilled" }, [[t0 + 2 * stepMs, 1]]),
    ];
    const restarts = [
      // A second series of the container, first: the larger count, as max by.
      raw({ ...a, uid: "2" }, [[t0 + 3 * stepMs, 4]]),
      raw({ ...a, uid: "1" }, [
        [t0, 0],
        [t0 + stepMs, 0],
        [t0 + 2 * stepMs, 1],
        [t0 + 3 * stepMs, 1],
        [t0 + 3.5 * stepMs, 2],
        [t0 + 4 * stepMs, 0, true],
      ]),
    ];
    const out = evaluateOomKills(reasons, restarts, steps, 0, 5, { windowMs: stepMs, leftOpen: false });
    expect(out).toHaveLength(1);
    expect(out[0]?.labels).toEqual(a);
    expect([...(out[0]?.timestampsMs ?? [])]).toEqual([t0 + 2 * stepMs, t0 + 3 * stepMs, t0 + 4 * stepMs]);
    // Step 2: 1 × 1; step 3: 1 × max(1, 4); step 4: step 3's samples are still within [t − w, t] (the count 2
    // after it is below the second series' 4; the marker counts for nothing).
    expect([...(out[0]?.values ?? [])]).toEqual([1, 4, 4]);
  });
});
