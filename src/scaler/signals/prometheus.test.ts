import nock from "nock";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient } from "../../prometheus/client.js";
import { PrometheusSignals } from "./prometheus.js";

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
  it("reads six batched queries into per-container and per-namespace values", async () => {
    nock(url).post("/api/v1/query").times(6).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    expect(s.lastError).toBeUndefined();
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
    expect(s.queries).toBe(6);
  });

  it("asks for each container's usage once: the maximum of its series, without the pod cgroup or the sandbox", async () => {
    const asked: string[] = [];
    nock(url)
      .post("/api/v1/query", (body: Record<string, string>) => {
        asked.push(body.query ?? "");
        return true;
      })
      .times(6)
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
    nock(url).post("/api/v1/query").times(6).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    nock(url).post("/api/v1/query").times(6).reply(200, vector("-1"));
    await s.poll();
    expect(s.lastError).toMatch(/negative value -1/);
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
  });
});
