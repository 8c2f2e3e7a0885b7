import nock from "nock";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient } from "../../prometheus/client.js";
import { PrometheusSignals, usageQueryOrder } from "./prometheus.js";

const url = "http://prom.test:9090";
beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const vector = (value: string) => ({
  status: "success",
  data: {
    resultType: "vector",
    result: [{ metric: { namespace: "tcp-a", pod: "p", container: "c" }, value: [Date.now() / 1000, value] }],
  },
});

function signals(): PrometheusSignals {
  return new PrometheusSignals({
    client: new PrometheusClient({ url, retries: 0 }),
    intervalMs: 1000,
    rateWindow: "1m",
    logger: pino({ level: "silent" }),
    namespaces: () => ["tcp-a"],
    onUpdate: () => undefined,
  });
}

describe("PrometheusSignals.poll", () => {
  it("reads one batched query per signal into per-container and per-namespace values", async () => {
    nock(url).post("/api/v1/query").times(usageQueryOrder.length).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    expect(s.lastError).toBeUndefined();
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
    expect(s.queries).toBe(11);
  });

  it("asks for each container's usage once: the maximum of its series, without the pod cgroup or the sandbox", async () => {
    const asked: string[] = [];
    nock(url)
      .post("/api/v1/query", (body: Record<string, string>) => {
        asked.push(body.query ?? "");
        return true;
      })
      .times(usageQueryOrder.length)
      .reply(200, vector("0.5"));
    await signals().poll();
    const only = 'container!="",container!="POD"';
    // The kubelet serves a container's CPU and memory at /metrics/cadvisor and /metrics/resource, both scraped as
    // job="kubelet" by kube-prometheus: a sum by container would double them.
    expect(asked).toContain(
      `max by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{namespace=~"tcp-a",${only}}[1m]))`,
    );
    expect(asked).toContain(
      `max by (namespace,pod,container) (container_memory_working_set_bytes{namespace=~"tcp-a",${only}})`,
    );
    // The throttling ratio is cAdvisor's alone (the resource endpoint has no CFS series), and a duplicate scrape
    // would scale numerator and denominator alike.
    expect(asked.find((q) => q.includes("container_cpu_cfs_throttled_periods_total"))).toContain(only);
  });

  it("rejects a poll with a negative value: nothing is updated and the failure is kept", async () => {
    nock(url).post("/api/v1/query").times(usageQueryOrder.length).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    nock(url).post("/api/v1/query").times(usageQueryOrder.length).reply(200, vector("-1"));
    await s.poll();
    expect(s.lastError).toMatch(/negative value -1/);
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
  });

  it("asks for the tenant apiserver's load: watchers, APF seats and rejections, p99 per verb, etcd size", async () => {
    const asked: string[] = [];
    const answer = (query: string) => {
      const metric = query.startsWith("histogram_quantile")
        ? { namespace: "tcp-a", verb: "LIST", scope: "cluster" }
        : { namespace: "tcp-a" };
      return {
        status: "success",
        data: { resultType: "vector", result: [{ metric, value: [Date.now() / 1000, "7"] }] },
      };
    };
    for (let i = 0; i < usageQueryOrder.length; i++) {
      let query = "";
      nock(url)
        .post("/api/v1/query", (body: Record<string, string>) => {
          query = body.query ?? "";
          asked.push(query);
          return true;
        })
        .reply(200, () => answer(query));
    }
    const s = signals();
    await s.poll();
    expect(asked).toContain(
      'max by (namespace) (sum by (namespace,pod) (apiserver_longrunning_requests{namespace=~"tcp-a",verb="WATCH"}))',
    );
    expect(asked).toContain(
      'max by (namespace) (sum by (namespace,pod) (apiserver_flowcontrol_current_executing_seats{namespace=~"tcp-a",priority_level!="exempt"}) ' +
        '/ sum by (namespace,pod) (apiserver_flowcontrol_nominal_limit_seats{namespace=~"tcp-a",priority_level!="exempt"}))',
    );
    expect(asked).toContain(
      'sum by (namespace) (rate(apiserver_flowcontrol_rejected_requests_total{namespace=~"tcp-a"}[1m]))',
    );
    expect(asked).toContain(
      'histogram_quantile(0.99, sum by (namespace,verb,scope,le) (rate(apiserver_request_duration_seconds_bucket{namespace=~"tcp-a",verb!~"WATCH|CONNECT"}[1m]))) >= 0',
    );
    expect(asked).toContain('max by (namespace) (apiserver_storage_size_bytes{namespace=~"tcp-a"})');
    expect(s.snapshot.watchers.get("tcp-a")?.value).toBe(7);
    expect(s.snapshot.apfSeats.get("tcp-a")?.value).toBe(7);
    expect(s.snapshot.apfRejected.get("tcp-a")?.value).toBe(7);
    expect(s.snapshot.etcdDbSize.get("tcp-a")?.value).toBe(7);
    expect([...s.snapshot.latencyP99.keys()]).toEqual(["tcp-a/LIST/cluster"]);
  });
});
