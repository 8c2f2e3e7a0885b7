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
  it("reads five batched queries into per-container and per-namespace values", async () => {
    nock(url).post("/api/v1/query").times(5).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    expect(s.lastError).toBeUndefined();
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
    expect(s.queries).toBe(5);
  });

  it("rejects a poll with a negative value: nothing is updated and the failure is kept", async () => {
    nock(url).post("/api/v1/query").times(5).reply(200, vector("0.5"));
    const s = signals();
    await s.poll();
    nock(url).post("/api/v1/query").times(5).reply(200, vector("-1"));
    await s.poll();
    expect(s.lastError).toMatch(/negative value -1/);
    expect(s.snapshot.cpu.get("tcp-a/p/c")?.value).toBe(0.5);
  });
});
