// The remote read API against a real, scraping Prometheus: series that end (a pod gone, a tenant gone) get stale
// markers, which the query API's raw answers do not carry. Every remote metric read by remote read and evaluated
// locally (src/backtest/signals.ts evaluateRemote) equals, at every step, the range query Prometheus evaluates,
// CPU usage's rate() included (src/prometheus/rate.ts: scrapes with jitter, a counter reset, a counter that starts
// within the window, a usage that jumps, series that end), and the OOM kills' join (restarts within a step of each
// other, a tenant gone after a kill); the query API's raw samples, without the markers, would keep a gone pod's
// memory for the lookback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchHistory, remoteMetrics, type SignalHistory } from "../../src/backtest/signals.js";
import { PrometheusClient, type RangeQueryClient } from "../../src/prometheus/client.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";

const Mi = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("remote read against a scraping Prometheus", () => {
  const exporter = new SyntheticExporter();
  let prom: TestPrometheus;
  let from = 0;
  let to = 0;
  const a = "tcp-remote-a";
  const b = "tcp-remote-b";
  const c = (ns: string, pod: string) => ({ namespace: ns, pod, container: "kube-apiserver" });

  const cpu = "container_cpu_usage_seconds_total";
  /** Everything one tenant's pod shows: cAdvisor's CPU and memory, kube-state-metrics' restarts and sizes. */
  const podSeries = (ns: string, pod: string, memory: number, cores: number) => {
    exporter.setRate(cpu, c(ns, pod), cores);
    // A second series of the container (another cgroup id): the larger rate counts, as max by.
    exporter.setRate(cpu, { ...c(ns, pod), id: "second" }, cores / 3);
    exporter.setRate(cpu, { ...c(ns, pod), container: "POD" }, 5);
    exporter.setGauge("container_memory_working_set_bytes", c(ns, pod), memory);
    exporter.setGauge("container_memory_working_set_bytes", { ...c(ns, pod), container: "POD" }, 1);
    exporter.setGauge("kube_pod_container_status_restarts_total", c(ns, pod), 0);
    exporter.setGauge("kube_pod_container_resource_requests", { ...c(ns, pod), resource: "cpu" }, 0.5);
    exporter.setGauge("kube_pod_container_resource_requests", { ...c(ns, pod), resource: "memory" }, memory * 2);
    exporter.setGauge("kube_pod_container_resource_limits", { ...c(ns, pod), resource: "memory" }, memory * 3);
  };
  /** kube-state-metrics after an OOM kill: the last termination's reason, and the restart count. */
  const oomKill = (container: Record<string, string>, restarts: number) => {
    exporter.setGauge("kube_pod_container_status_last_terminated_reason", { ...container, reason: "OOMKilled" }, 1);
    exporter.setGauge("kube_pod_container_status_restarts_total", container, restarts);
  };
  const tenantSeries = (ns: string, nodes: number, pods: number) => {
    exporter.setGauge("apiserver_storage_objects", { namespace: ns, pod: "apiserver-0", resource: "nodes" }, nodes);
    exporter.setGauge("apiserver_storage_objects", { namespace: ns, pod: "apiserver-0", resource: "pods" }, pods);
    exporter.setGauge("apiserver_storage_objects", { namespace: ns, pod: "apiserver-1", resource: "pods" }, pods + 1);
    exporter.setGauge("apiserver_storage_size_bytes", { namespace: ns, pod: "apiserver-0" }, 50 * Mi);
  };

  beforeAll(async () => {
    prom = new TestPrometheus([await exporter.start()]);
    await prom.start();
    podSeries(a, "kube-apiserver-1", 300 * Mi, 0.3);
    podSeries(a, "kube-apiserver-2", 200 * Mi, 0.5);
    podSeries(b, "kube-apiserver-1", 100 * Mi, 0.1);
    tenantSeries(a, 10, 100);
    tenantSeries(b, 3, 30);
    // Scraped: every pod's memory is in Prometheus, a scrape after it too.
    const client = new PrometheusClient({ url: prom.url });
    const deadline = Date.now() + 30_000;
    while ((await client.query("container_memory_working_set_bytes")).length < 6 && Date.now() < deadline)
      await sleep(250);
    await sleep(1_500);
    from = Date.now();
    await sleep(3_000);
    // A container restarts (its counter starts again from 0) after an OOM kill, and another one's usage jumps.
    exporter.resetCounter(cpu, c(a, "kube-apiserver-2"));
    oomKill(c(a, "kube-apiserver-2"), 1);
    oomKill(c(b, "kube-apiserver-1"), 1);
    exporter.setRate(cpu, c(b, "kube-apiserver-1"), 1.7);
    await sleep(3_000);
    // The busiest pod of tenant a goes: its series end at the next scrape, with a stale marker.
    exporter.removeWhere({ namespace: a, pod: "kube-apiserver-1" });
    // A second kill of one container: two restarts, each within a step of the other.
    oomKill(c(a, "kube-apiserver-2"), 2);
    await sleep(1_400);
    oomKill(c(a, "kube-apiserver-2"), 3);
    await sleep(2_600);
    // A new pod, its counter starting within the window (rate()'s zero point). Set 0.9 s after a scrape (1 s
    // apart) from 0.6 s worth of usage, its zero point is about 0.7 s before its first sample: within 1.1 times
    // the spacing but more than half of it, where Prometheus before 2.52 and from 2.52 on extrapolate apart.
    podSeries(a, "kube-apiserver-3", 250 * Mi, 0.8);
    await exporter.scraped();
    await sleep(900);
    exporter.setRate(cpu, c(a, "kube-apiserver-4"), 2, 0.6 * 2);
    tenantSeries(a, 12, 140);
    exporter.removeWhere({ namespace: a, pod: "apiserver-1" });
    await sleep(4_000);
    // Tenant b goes altogether.
    exporter.removeWhere({ namespace: b });
    await sleep(6_000);
    to = Date.now() - 1_000;
    // The last scrapes are in.
    await sleep(2_000);
  }, 60_000);

  afterAll(async () => {
    await prom?.cleanup();
    await exporter.stop();
  });

  it("gives every remote metric, at every step, the value Prometheus evaluates, stale markers and all", async () => {
    const client = new PrometheusClient({ url: prom.url });
    const lookback = await client.lookback();
    // Prometheus 2.42 (Debian bookworm's): CPU usage's rate() is evaluated locally by its arithmetic too.
    expect(lookback.rateRule).toBe("v2.40");
    const queryApi: RangeQueryClient = {
      queryRange: client.queryRange.bind(client),
      queryRangeColumns: client.queryRangeColumns.bind(client),
      queryMatrixColumns: client.queryMatrixColumns.bind(client),
    };
    const read = (c: RangeQueryClient, withLookback: boolean) =>
      fetchHistory({
        client: c,
        from,
        to,
        stepMs: 1_000,
        rateWindow: "5s",
        namespaces: [a, b],
        chunkSteps: 10,
        ...(withLookback ? { lookback } : {}),
      });
    const [remote, evaluated, raw] = [await read(client, true), await read(client, false), await read(queryApi, true)];
    expect(remote.remoteReads).toBe(remoteMetrics.length * Math.ceil(remote.steps.length / 10));
    expect([remote.failures, evaluated.failures]).toEqual([[], []]);
    const values = (h: SignalHistory, metric: (typeof remoteMetrics)[number], key: string) => [
      ...(h.series[metric].get(key) ?? []),
    ];
    for (const metric of remoteMetrics) {
      const keys = [...evaluated.series[metric].keys()].sort();
      expect(keys.length, metric).toBeGreaterThan(0);
      expect([...remote.series[metric].keys()].sort(), metric).toEqual(keys);
      for (const key of keys)
        expect(values(remote, metric, key), `${metric} ${key}`).toEqual(values(evaluated, metric, key));
    }
    // The gone pod's memory ends within a scrape or two of its removal: at its stale marker, not the 5-minute
    // lookback later (the steps after it are NaN in Prometheus' answer, and so in ours).
    const gone = `${a}/kube-apiserver-1/kube-apiserver`;
    const memory = values(evaluated, "memory", gone);
    expect(memory.slice(0, 4).every((v) => v === 300 * Mi)).toBe(true);
    expect(memory.slice(-6).every(Number.isNaN)).toBe(true);
    // The query API's raw samples have no markers: the gone pod's size would stay up to the lookback.
    const size = values(raw, "memoryLimit", gone);
    expect(size.slice(-6).every((v) => v === 900 * Mi)).toBe(true);
    expect(values(evaluated, "memoryLimit", gone).slice(-6).every(Number.isNaN)).toBe(true);
  });
});
