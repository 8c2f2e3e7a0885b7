// The error paths a real Prometheus will not produce on demand: timeouts, 5xx, malformed and partial bodies.
// Every one is an error the caller sees, never an empty result that would read as zero usage.
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { KubeClient } from "../../kube/client.js";
import { MetricsServerSource, MetricsServerUnavailable } from "./metrics-server.js";
import { PrometheusClient, PrometheusError } from "../../prometheus/client.js";
import { defaultMetricNames, FallbackUsageSource, gridBounds, PrometheusUsageSource, usageQueries } from "./usage.js";

const base = "http://prometheus.test:9090";
const ok = (result: unknown[]) => ({ status: "success", data: { resultType: "matrix", result } });
const series = (pod: string, container: string, values: Array<[number, string]>) => ({
  metric: { namespace: "ns", pod, container },
  values,
});

function client(extra: Partial<ConstructorParameters<typeof PrometheusClient>[0]> = {}) {
  const requests: string[] = [];
  const c = new PrometheusClient({
    url: base,
    // Generous: a short deadline under load times out the first attempt, and its retry finds the interceptor
    // used up ("Nock: No match"). The timeout test sets its own.
    timeoutMs: 10_000,
    retries: 2,
    retryBaseMs: 1,
    onRequest: (path, params) => requests.push(`${path} ${params.get("query")}`),
    ...extra,
  });
  return { c, requests };
}

const range = (c: PrometheusClient) => c.queryRange("up", new Date(0), new Date(600_000), 60);

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe("PrometheusClient", () => {
  it("reads a matrix, with the bearer token", async () => {
    const scope = nock(base, { reqheaders: { authorization: "Bearer s3cret" } })
      .post("/api/v1/query_range")
      .reply(
        200,
        ok([
          series("p", "c", [
            [60, "0.5"],
            [120, "0.25"],
          ]),
        ]),
      );
    const { c } = client({ bearerToken: "s3cret" });
    const out = await range(c);
    expect(out).toEqual([
      {
        labels: { namespace: "ns", pod: "p", container: "c" },
        points: [
          [60_000, 0.5],
          [120_000, 0.25],
        ],
      },
    ]);
    scope.done();
  });

  it("times out, retries, then reports the timeout", async () => {
    // A reply that never settles: nock 15 sends nothing, not even the status line (its .delay() holds back only
    // the body; the stalled body is tested in prometheus/client.test.ts).
    nock(base)
      .post("/api/v1/query_range")
      .times(3)
      .reply(() => new Promise<never>(() => {}));
    const { c, requests } = client({ timeoutMs: 200 });
    await expect(range(c)).rejects.toMatchObject({ kind: "timeout" });
    expect(requests).toHaveLength(3);
  });

  it("retries a 503 and succeeds when Prometheus recovers", async () => {
    nock(base).post("/api/v1/query_range").reply(503, "overloaded");
    nock(base).post("/api/v1/query_range").reply(200, ok([]));
    const { c, requests } = client();
    await expect(range(c)).resolves.toEqual([]);
    expect(requests).toHaveLength(2);
  });

  it("gives up after repeated 5xx with a server error", async () => {
    nock(base).post("/api/v1/query_range").times(3).reply(500, "boom");
    const { c } = client();
    const err = await range(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ kind: "server", message: expect.stringContaining("500") });
  });

  it.each([
    ["a body that is not JSON", "<html>proxy error</html>", "partial"],
    ["a truncated body", JSON.stringify(ok([series("p", "c", [[60, "1"]])])).slice(0, 40), "partial"],
    ["a vector where a matrix belongs", { status: "success", data: { resultType: "vector", result: [] } }, "malformed"],
    ["no data", { status: "success" }, "malformed"],
    ["a sample that is not a pair", ok([{ metric: {}, values: [[60]] }]), "malformed"],
    ["a series without values", ok([{ metric: { pod: "p", container: "c" }, values: [] }]), "malformed"],
    ["NaN", ok([series("p", "c", [[60, "NaN"]])]), "malformed"],
    ["+Inf", ok([series("p", "c", [[60, "+Inf"]])]), "malformed"],
    ["a partial-response warning", { ...ok([]), warnings: ["partial response: store gateway down"] }, "partial"],
    ["a query error", { status: "error", errorType: "bad_data", error: "parse error" }, "query"],
  ])("rejects %s without retrying", async (_what, body, kind) => {
    nock(base)
      .post("/api/v1/query_range")
      .reply(typeof body === "string" ? 200 : 200, body as nock.Body);
    const { c, requests } = client();
    await expect(range(c)).rejects.toMatchObject({ kind });
    expect(requests).toHaveLength(1);
  });

  it("reports an unreachable Prometheus", async () => {
    nock(base).post("/api/v1/query_range").times(3).replyWithError("ECONNREFUSED");
    const { c } = client();
    await expect(range(c)).rejects.toMatchObject({ kind: "unreachable" });
  });
});

describe("PrometheusUsageSource", () => {
  it("makes one query per metric for the whole namespace, max by (namespace, pod, container)", async () => {
    const q = usageQueries("tcp-a", 60);
    expect(q.cpu).toBe(
      'max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="tcp-a",container!="",container!="POD"}[5m]))',
    );
    expect(q.memory).toBe(
      'max by (namespace, pod, container) (max_over_time(container_memory_working_set_bytes{namespace="tcp-a",container!="",container!="POD"}[60s]))',
    );
    nock(base)
      .post("/api/v1/query_range")
      .times(2)
      .reply(200, ok([series("a-1", "c", [[120, "1"]]), series("b-0", "c", [[120, "2"]])]));
    const { c, requests } = client();
    const batch = await new PrometheusUsageSource(c).fetch("ns", 60_000, 180_000, 60);
    expect(requests).toHaveLength(2);
    expect(batch.cpu.map((s) => s.pod)).toEqual(["a-1", "b-0"]);
    expect(batch.startMs).toBe(120_000); // strictly after the start: that point is already covered
  });

  it("reads a history bootstrap as VPA does: from the start, included, to the end, whatever the clock", async () => {
    const asked: Array<{ start: number; end: number }> = []; // ms
    nock(base)
      .post("/api/v1/query_range", (body: Record<string, string>) => {
        asked.push({ start: Math.round(Number(body.start) * 1000), end: Math.round(Number(body.end) * 1000) });
        return true;
      })
      .times(4)
      .reply(200, ok([series("a-1", "c", [[120, "1"]])]));
    const { c } = client();
    const source = new PrometheusUsageSource(c);
    // 8 days of 5-minute points ending 123.456 s past a step boundary.
    const endMs = Date.UTC(2026, 0, 9) + 123_456;
    const startMs = endMs - 8 * 86_400_000;
    const vpa = await source.fetch("ns", startMs, endMs, 300, undefined, "fromEnd");
    expect(asked[0]).toEqual({ start: startMs, end: endMs });
    expect(vpa).toMatchObject({ startMs, endMs });
    // The live grid: on the epoch's 5-minute boundaries, strictly after the start.
    const live = await source.fetch("ns", startMs, endMs, 300);
    const firstMs = Math.floor(startMs / 300_000) * 300_000 + 300_000;
    const lastMs = Math.floor(endMs / 300_000) * 300_000;
    expect(asked[2]).toEqual({ start: firstMs, end: lastMs });
    expect(live).toMatchObject({ startMs: firstMs, endMs: lastMs });
  });

  it("reads a group of namespaces with one query per metric and splits the answer by namespace", async () => {
    const q = usageQueries(["tcp-a", "tcp-b", "tcp.c"], 60);
    expect(q.cpu).toContain('namespace=~"tcp-a|tcp-b|tcp\\\\.c"');
    const inNs = (ns: string, pod: string) => ({
      metric: { namespace: ns, pod, container: "c" },
      values: [[120, "1"]],
    });
    let asked = "";
    nock(base)
      .post("/api/v1/query_range", (body: Record<string, string>) => {
        asked = body.query ?? "";
        return true;
      })
      .times(2)
      .reply(200, ok([inNs("tcp-a", "a-0"), inNs("tcp-a", "a-1"), inNs("tcp-b", "b-0")]));
    const { c, requests } = client();
    const batches = await new PrometheusUsageSource(c).fetchMany(["tcp-a", "tcp-b", "tcp-idle"], 60_000, 180_000, 60);
    expect(requests).toHaveLength(2);
    expect(asked).toContain('namespace=~"tcp-a|tcp-b|tcp-idle"');
    expect(batches.get("tcp-a")?.cpu.map((s) => s.pod)).toEqual(["a-0", "a-1"]);
    expect(batches.get("tcp-b")?.memory.map((s) => s.pod)).toEqual(["b-0"]);
    // A namespace without data is in the answer, empty, so its models' coverage still moves on.
    expect(batches.get("tcp-idle")).toMatchObject({ cpu: [], memory: [], endMs: 180_000 });
  });

  it("counts a container seen by two scrapes once, and never the pod's cgroup or its sandbox", () => {
    // What the kubelet serves for one container of a kube-prometheus scrape: /metrics/cadvisor's series (with id
    // and image), /metrics/resource's (without), both job="kubelet"; and cAdvisor's series of the pod's own cgroup
    // and of its pause container, container="" on containerd.
    const q = usageQueries("tcp-a", 60);
    for (const query of [q.cpu, q.memory]) {
      // One value per container: the maximum of its series. A sum by (namespace, pod, container) would add the
      // /metrics/resource series to the /metrics/cadvisor one and double the usage.
      expect(query).toMatch(/^max by \(namespace, pod, container\) \(/);
      expect(query).not.toMatch(/\bsum\b/);
      expect(query).toContain('container!=""'); // the pod cgroup and the containerd sandbox
      expect(query).toContain('container!="POD"'); // the dockershim sandbox
      // Nothing that only one scrape's series carry (image, id, metrics_path) is required.
      expect(query).not.toMatch(/image|\bid\b|metrics_path/);
    }
  });

  it("uses configured metric and label names", () => {
    const q = usageQueries("x", 60, {
      cpuUsageSeconds: "cpu_total",
      memoryWorkingSet: "mem",
      namespaceLabel: "kubernetes_namespace",
      podLabel: "pod_name",
      containerLabel: "container_name",
      extraSelector: 'job="kubelet"',
      rateWindow: "2m",
    });
    expect(q.cpu).toBe(
      'max by (kubernetes_namespace, pod_name, container_name) (rate(cpu_total{kubernetes_namespace="x",container_name!="",container_name!="POD",job="kubelet"}[2m]))',
    );
  });

  it.each([
    // step (s), configured window, window in the query
    [60, "5m", "5m"], // live reads: the window, for scrape intervals up to 2.5 min
    [300, "5m", "5m"], // history reads at the default step: the same
    [1800, "5m", "1800s"], // a coarser step: the step, or 25 of every 30 minutes would be skipped
    [1800, "1h", "1h"],
  ])("reads CPU at a %i s step with rate over the larger of step and window (%s → %s)", (step, window, want) => {
    expect(usageQueries("x", step, { ...defaultMetricNames, rateWindow: window }).cpu).toContain(`}[${want}]))`);
  });

  it("reads long ranges in chunks below Prometheus' 11,000 points per series", async () => {
    nock(base).post("/api/v1/query_range").times(4).reply(200, ok([]));
    const { c, requests } = client();
    // 8 days at a 60 s step is 11,520 points: two chunks per metric.
    await new PrometheusUsageSource(c).fetch("ns", 0, 8 * 86_400_000, 60);
    expect(requests).toHaveLength(4);
  });
});

describe("metrics-server fallback", () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://apiserver.test", skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  const kube = new KubeClient(kc, { maxRetries: 0, retryBaseMs: 1 });
  const path = "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods";

  it("reads current usage", async () => {
    nock("https://apiserver.test")
      .get(path)
      .reply(200, {
        items: [
          {
            metadata: { name: "a-1", namespace: "ns" },
            timestamp: "2026-01-01T00:00:00Z",
            window: "30s",
            containers: [{ name: "c", usage: { cpu: "250m", memory: "64Mi" } }],
          },
        ],
      });
    const b = await new MetricsServerSource(kube).fetch("ns", 0, 1, 60);
    expect(b.cpu[0]).toEqual({ pod: "a-1", container: "c", points: [[Date.UTC(2026, 0, 1), 0.25]] });
    expect(b.memory[0]?.points[0]?.[1]).toBe(64 * 2 ** 20);
    expect(b.stepSeconds).toBe(30);
  });

  it("degrades cleanly when metrics-server is not installed", async () => {
    nock("https://apiserver.test").get(path).reply(404, { kind: "Status", code: 404, reason: "NotFound" });
    await expect(new MetricsServerSource(kube).fetch("ns", 0, 1, 60)).rejects.toBeInstanceOf(MetricsServerUnavailable);
  });

  it("is used for a live read when Prometheus is down, never for history", async () => {
    nock(base).post("/api/v1/query_range").times(6).reply(502, "bad gateway");
    nock("https://apiserver.test")
      .get(path)
      .reply(200, {
        items: [{ metadata: { name: "a-1" }, timestamp: "2026-01-01T00:00:00Z", window: "1m0s", containers: [] }],
      });
    const { c } = client();
    const source = new FallbackUsageSource(new PrometheusUsageSource(c), new MetricsServerSource(kube));
    await expect(source.fetch("ns", 0, 120_000, 60)).resolves.toMatchObject({
      source: "metrics-server",
      stepSeconds: 60,
    });
    await expect(source.fetch("ns", 0, 8 * 86_400_000, 300)).rejects.toMatchObject({ kind: "server" });
  });

  it("falls back per namespace when a grouped live read fails, without asking Prometheus again", async () => {
    const { c, requests } = client();
    // One grouped CPU query, retried by the client (3 attempts), then no per-namespace Prometheus query at all.
    nock(base).post("/api/v1/query_range").times(3).reply(502, "bad gateway");
    for (const ns of ["ns-a", "ns-b"])
      nock("https://apiserver.test")
        .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`)
        .reply(200, {
          items: [{ metadata: { name: `${ns}-1` }, timestamp: "2026-01-01T00:00:00Z", window: "30s", containers: [] }],
        });
    const source = new FallbackUsageSource(new PrometheusUsageSource(c), new MetricsServerSource(kube));
    const batches = await source.fetchMany(["ns-a", "ns-b"], 0, 120_000, 60);
    expect([...batches.values()].map((b) => b.source)).toEqual(["metrics-server", "metrics-server"]);
    expect(requests).toHaveLength(3);
    expect(nock.isDone()).toBe(true);
  });

  it("reports both errors when both fail", async () => {
    nock(base).post("/api/v1/query_range").times(3).reply(503, "down");
    nock("https://apiserver.test").get(path).times(2).reply(503, { kind: "Status", code: 503 });
    const { c } = client();
    const source = new FallbackUsageSource(new PrometheusUsageSource(c), new MetricsServerSource(kube));
    await expect(source.fetch("ns", 0, 120_000, 60)).rejects.toThrow(
      /503.*fallback metrics-server: metrics.k8s.io is not served/,
    );
  });
});

describe("gridBounds", () => {
  const step = 60_000;
  it("epoch: on the step's grid, strictly after the start, nothing when no point is new", () => {
    expect(gridBounds(60_000, 180_000, step, "epoch")).toEqual({ firstMs: 120_000, lastMs: 180_000 });
    expect(gridBounds(61_000, 119_000, step, "epoch")).toBeUndefined();
  });
  it("fromEnd: the end and whole steps back to the start, included", () => {
    expect(gridBounds(1_000, 181_000, step, "fromEnd")).toEqual({ firstMs: 1_000, lastMs: 181_000 });
    expect(gridBounds(1_000, 150_000, step, "fromEnd")).toEqual({ firstMs: 30_000, lastMs: 150_000 });
    expect(gridBounds(150_000, 150_000, step, "fromEnd")).toEqual({ firstMs: 150_000, lastMs: 150_000 });
    expect(gridBounds(150_001, 150_000, step, "fromEnd")).toBeUndefined();
  });
});
