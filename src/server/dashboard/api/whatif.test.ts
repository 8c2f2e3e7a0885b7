// GET /api/whatif and /api/whatif/{name}: a backtest of one ClusterScaler over its own tenants only (as the live
// scaler picks the ClusterScaler of each tenant), beside the decisions really recorded in the range; bounded (range,
// steps, step, two queries in flight, one backtest at a time) and read-only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lookback, RangeSeries } from "../../../prometheus/client.js";
import type { RawSeries, RemoteQuery } from "../../../prometheus/remote-read.js";
import type { KubeObject } from "../../../kube/resources.js";
import type { SeriesSource } from "../evidence.js";
import type { ApiDeps, DecisionObject, WorkloadObject } from "./deps.js";
import { decisionFixture, FakeCache, serveApi } from "./testing.js";
import { runWhatIf, whatIfLimits, type WhatIf } from "./whatif.js";

const now = Date.parse("2026-12-05T12:00:00Z");
const Mi = 2 ** 20;

const apiserver = (tenant: string): WorkloadObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "kube-apiserver",
    namespace: `tcp-${tenant}`,
    labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver" },
  },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          { name: "kube-apiserver", resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } } },
        ],
      },
    },
  },
});

const clusterScaler = (name: string, tenant: string): KubeObject =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
      components: [{ name: "kube-apiserver", replicas: { min: 1, max: 1 } }],
      scaleDown: { enabled: true, stabilizationWindow: "5m", maxStepPercent: 20 },
    },
  }) as KubeObject;

const recorded = (
  name: string,
  tenant: string,
  clusterScaler: string,
  ago: number,
  phase?: "Applied" | "Blocked",
): DecisionObject => {
  const d = decisionFixture(name, { tenant, category: "Underutilized", direction: "Down", ago, phase });
  return {
    ...d,
    metadata: { ...d.metadata, namespace: `tcp-${tenant}` },
    spec: { ...d.spec!, clusterScaler, decidedAt: new Date(now - ago).toISOString() },
    status: phase ? d.status : { ...d.status, phase: undefined },
  };
};

/** Prometheus with one idle pod per tenant: 0.1 cores and 300Mi at every step; counts queries and those in flight. */
class IdlePrometheus implements SeriesSource {
  queries: string[] = [];
  signals: Array<AbortSignal | undefined> = [];
  inFlight = 0;
  maxInFlight = 0;
  hold?: Promise<void>;

  async queryRange(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
    signal?: AbortSignal,
  ): Promise<RangeSeries[]> {
    this.queries.push(promql);
    this.signals.push(signal);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await (this.hold ?? new Promise((r) => setTimeout(r, 1)));
      const value = promql.startsWith("max by (namespace,pod,container) (rate(container_cpu_usage_seconds_total")
        ? 0.1
        : promql.startsWith("max by (namespace,pod,container) (container_memory_working_set_bytes")
          ? 300 * Mi
          : undefined;
      if (value === undefined) return [];
      return ["a", "b"]
        .filter((t) => promql.includes(`tcp-${t}`))
        .map((t) => {
          const points: Array<[number, number]> = [];
          for (let at = start.getTime(); at <= end.getTime(); at += stepSeconds * 1000) points.push([at, value]);
          return {
            labels: { namespace: `tcp-${t}`, pod: "kube-apiserver-5d9f8c7b6-abcde", container: "kube-apiserver" },
            points,
          };
        });
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * The same idle pods with Prometheus 2.42's remote read API: CPU as a counter and memory as a gauge, each scraped
 * every 30 s, so that rate()[1m] and the gauge at each step are IdlePrometheus' answers.
 */
class RemoteIdlePrometheus extends IdlePrometheus {
  reads: RemoteQuery[] = [];
  /** Remote read requests: one per metric and chunk (the OOM kills' join asks two queries in one). */
  requests = 0;

  lookback(): Promise<Lookback> {
    return Promise.resolve({ deltaMs: 300_000, leftOpen: false, rateRule: "v2.40" });
  }

  async remoteRead(queries: readonly RemoteQuery[], signal?: AbortSignal): Promise<RawSeries[][]> {
    this.reads.push(...queries);
    this.requests++;
    this.signals.push(signal);
    await new Promise((r) => setTimeout(r, 1));
    return queries.map((q) => {
      const name = q.matchers.find((m) => m.name === "__name__")?.value;
      const namespaces = q.matchers.find((m) => m.name === "namespace")?.value ?? "";
      if (name !== "container_cpu_usage_seconds_total" && name !== "container_memory_working_set_bytes") return [];
      return ["a", "b"]
        .filter((t) => namespaces.split("|").includes(`tcp-${t}`))
        .map((t) => {
          const times: number[] = [];
          const values: number[] = [];
          for (let at = Math.ceil(q.startMs / 30_000) * 30_000; at <= q.endMs; at += 30_000) {
            times.push(at);
            values.push(name === "container_memory_working_set_bytes" ? 300 * Mi : (at / 1000) * 0.1);
          }
          return {
            labels: { namespace: `tcp-${t}`, pod: "kube-apiserver-5d9f8c7b6-abcde", container: "kube-apiserver" },
            timestampsMs: Float64Array.from(times),
            values: Float64Array.from(values),
            stale: new Uint8Array(times.length),
          };
        });
    });
  }
}

function deps(series?: SeriesSource): ApiDeps {
  return {
    caches: {
      tenants: new FakeCache([]),
      deployments: new FakeCache([apiserver("a"), apiserver("b")]),
      statefulSets: new FakeCache([]),
      profiles: new FakeCache([]),
      decisions: new FakeCache([
        recorded("down-a", "a", "fast", 30 * 60_000, "Applied"),
        // Held back: not a change. One whose phase is not written yet counts as one.
        recorded("held-a", "a", "fast", 20 * 60_000, "Blocked"),
        recorded("new-a", "a", "fast", 10 * 60_000),
        recorded("down-b", "b", "other", 30 * 60_000),
        recorded("old-a", "a", "fast", 3 * 3_600_000),
      ]),
      nodePools: new FakeCache([]),
      nodeDrains: new FakeCache([]),
      clusterScalers: new FakeCache([clusterScaler("fast", "a"), clusterScaler("other", "b")]),
    },
    series,
    rateWindow: "1m",
    now: () => now,
  };
}

describe("what if", () => {
  it("replays the ClusterScaler's own tenants with the live engine, beside the decisions it really recorded", async () => {
    const prom = new IdlePrometheus();
    const w = await runWhatIf(deps(prom), "fast", { since: "2h", step: "30s" });
    expect(w.namespaces).toEqual(["tcp-a"]);
    // Only tenant a's history is read: every query names its namespace, none tenant b's.
    expect(prom.queries.length).toBe(w.backtest.queries);
    expect(prom.queries.every((q) => q.includes('namespace=~"tcp-a"') && !q.includes("tcp-b"))).toBe(true);
    expect(prom.maxInFlight).toBeLessThanOrEqual(whatIfLimits.concurrency);
    expect(w.stepSeconds).toBe(30);
    expect(w.backtest.steps).toBe(241);
    // Idle at 10% of its CPU request: the policy steps it down every stabilization window, by at most 20%.
    const timeline = w.policy.timeline["a"] ?? [];
    expect(timeline.length).toBeGreaterThan(3);
    expect(timeline.every((e) => e.direction === "Down" && e.category === "Underutilized")).toBe(true);
    expect(timeline[0]?.after.cpuRequest).toBeCloseTo(0.8, 3);
    expect(w.policy.timeline["b"]).toBeUndefined();
    // What really happened in the same range: the ClusterScaler's decision in the last 2 hours, not tenant b's,
    // not one from before the range.
    expect(w.real.decisions.map((d) => d.name).sort()).toEqual(["down-a", "held-a", "new-a"]);
    expect(w.real.summary).toEqual({ changes: 2, scaleUps: 0, scaleDowns: 2, oomAnswers: 0, blocked: 1, dryRun: 0 });
    expect(w.comparison).toContainEqual(["scale-downs", w.policy.summary.scaleDowns, 2]);
  });

  it("reads CPU usage and the gauges by remote read where the Prometheus has it, with the same result", async () => {
    const byRange = await runWhatIf(deps(new IdlePrometheus()), "fast", { since: "2h", step: "30s" });
    const prom = new RemoteIdlePrometheus();
    const abort = new AbortController();
    const w = await runWhatIf(deps(prom), "fast", { since: "2h", step: "30s" }, abort.signal);
    const names = prom.reads.map((q) => q.matchers.find((m) => m.name === "__name__")?.value);
    expect(names).toContain("container_cpu_usage_seconds_total");
    expect(names).toContain("container_memory_working_set_bytes");
    expect(prom.queries.some((q) => q.includes("container_cpu_usage_seconds_total"))).toBe(false);
    expect(prom.reads.every((q) => q.matchers.some((m) => m.name === "namespace" && m.value === "tcp-a"))).toBe(true);
    expect(prom.signals.every((s) => s === abort.signal)).toBe(true);
    expect(prom.queries.length + prom.requests).toBe(w.backtest.queries);
    // The same decisions at the same times; a rate computed here may differ from the range answer in its last bit.
    const timeline = (x: WhatIf) => x.policy.timeline["a"] ?? [];
    expect(timeline(w).map((e) => [e.at, e.direction])).toEqual(timeline(byRange).map((e) => [e.at, e.direction]));
    timeline(w).forEach((e, i) =>
      expect(e.after.cpuRequest).toBeCloseTo(timeline(byRange)[i]?.after.cpuRequest ?? Number.NaN, 9),
    );
    expect(timeline(w).length).toBeGreaterThan(3);
  });

  it("reads the dashboard's own series source (no PrometheusClient needed), with the request's abort signal", async () => {
    const prom = new IdlePrometheus();
    const abort = new AbortController();
    const w = await runWhatIf(deps(prom), "fast", { since: "1h" }, abort.signal);
    expect(prom.queries.length).toBe(w.backtest.queries);
    expect(prom.signals.length).toBeGreaterThan(0);
    expect(prom.signals.every((s) => s === abort.signal)).toBe(true);
  });

  it("refuses ranges, steps and names it must not run, before asking Prometheus anything", async () => {
    const prom = new IdlePrometheus();
    const d = deps(prom);
    await expect(runWhatIf(d, "fast", { since: "8d" })).rejects.toThrow(/longer than 168h/);
    await expect(runWhatIf(d, "fast", { since: "1h", step: "1s" })).rejects.toThrow(/at least 5s/);
    await expect(runWhatIf(d, "fast", { since: "7d", step: "15s" })).rejects.toThrow(/more than 20160/);
    await expect(runWhatIf(d, "fast", { since: "1h", step: "soon" })).rejects.toThrow(/step/);
    await expect(runWhatIf(d, "nope", { since: "1h" })).rejects.toMatchObject({ status: 404 });
    await expect(runWhatIf(deps(), "fast", { since: "1h" })).rejects.toMatchObject({ status: 503 });
    expect(prom.queries).toEqual([]);
  });

  describe("over HTTP", () => {
    const prom = new IdlePrometheus();
    let api: Awaited<ReturnType<typeof serveApi>>;
    beforeAll(async () => {
      api = await serveApi(deps(prom));
    });
    afterAll(() => api.close());

    it("lists the ClusterScalers and the bounds", async () => {
      const res = await fetch(`${api.base}/api/whatif`);
      expect(await res.json()).toEqual({
        clusterScalers: ["fast", "other"],
        prometheus: true,
        running: false,
        limits: { maxRangeHours: 168, maxSteps: 20_160, minStepSeconds: 5, defaultStep: "15s" },
      });
    });

    it("runs one backtest at a time: a second request while one runs is answered 429", async () => {
      let release = () => {};
      prom.hold = new Promise<void>((r) => (release = r));
      const first = fetch(`${api.base}/api/whatif/fast?since=1h`);
      // Until its first range query is in flight (held).
      while (prom.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      expect(((await (await fetch(`${api.base}/api/whatif`)).json()) as { running: boolean }).running).toBe(true);
      const second = await fetch(`${api.base}/api/whatif/other?since=1h`);
      expect(second.status).toBe(429);
      expect(second.headers.get("retry-after")).toBe("10");
      release();
      prom.hold = undefined;
      const done = await first;
      expect(done.status).toBe(200);
      expect(((await done.json()) as WhatIf).clusterScaler).toBe("fast");
      expect((await fetch(`${api.base}/api/whatif/other?since=1h`)).status).toBe(200);
    });

    it("answers 400, 404 and the backtest's HTML report", async () => {
      expect((await fetch(`${api.base}/api/whatif/fast?since=30d`)).status).toBe(400);
      expect((await fetch(`${api.base}/api/whatif/fast?since=yesterday`)).status).toBe(400);
      expect((await fetch(`${api.base}/api/whatif/fast?format=pdf`)).status).toBe(400);
      expect((await fetch(`${api.base}/api/whatif/nope?since=1h`)).status).toBe(404);
      const html = await fetch(`${api.base}/api/whatif/fast?since=1h&format=html`);
      expect(html.headers.get("content-type")).toMatch(/text\/html/);
      expect(await html.text()).toContain("metapilot backtest");
    });
  });
});
