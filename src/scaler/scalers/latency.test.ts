import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { input, policy } from "../testing.js";
import { latencyScaler, latencySlo } from "./latency.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "test" });
const sustained = { ...input().history, overThresholdSince: { latency: now - 5 * 60_000 } };
const p99 = (byVerb: Record<string, ReturnType<typeof m>>) => ({ requestLatencyP99: byVerb });

describe("latencySlo", () => {
  it.each([
    ["POST", "namespace", 1],
    ["PATCH", "cluster", 1],
    ["GET", "resource", 1],
    ["LIST", "namespace", 5],
    ["LIST", "cluster", 30],
    ["GET", "cluster", 30],
  ])("%s %s: %ss", (verb, scope, slo) => expect(latencySlo(verb, scope)).toBe(slo));
});

describe("latency scaler", () => {
  it.each<[string, Parameters<typeof input>[1], Parameters<typeof input>[0], unknown]>([
    ["a POST p99 of 1.2s: one more replica", p99({ "POST/namespace": m(1.2) }), {}, { replicas: 3 }],
    ["a cluster LIST of 12s is within its 30s", p99({ "LIST/cluster": m(12) }), {}, undefined],
    ["a namespace LIST of 6s is over its 5s", p99({ "LIST/namespace": m(6) }), {}, { replicas: 3 }],
    [
      "at replicas.max: 50% more CPU",
      p99({ "GET/resource": m(2) }),
      { policy: policy({ replicas: { max: 2 } }) },
      { cpuRequest: 1.5 },
    ],
    ["a stale p99: nothing", p99({ "POST/namespace": m(9, 10 * 60_000) }), {}, undefined],
  ])("%s", (_name, signals, over, size) => {
    expect(
      latencyScaler.propose(input({ history: sustained, ...over }, signals), defaultEngineOptions, [])?.size,
    ).toEqual(size);
  });

  it("names the verb furthest over its SLO, its p99 and threshold", () => {
    const c = latencyScaler.propose(
      input({ history: sustained }, p99({ "POST/namespace": m(1.5), "LIST/namespace": m(15) })),
      defaultEngineOptions,
      [],
    );
    expect(c?.category).toBe("RequestLatency");
    expect(c?.evidence).toMatchObject([
      {
        signal: 'apiserver_request_duration_seconds_p99{verb="LIST",scope="namespace"}',
        value: "15.000",
        threshold: "5",
      },
    ]);
  });

  it("waits for its window; over its threshold is a fraction of the SLO", () => {
    expect(latencyScaler.propose(input({}, p99({ "POST/namespace": m(3) })), defaultEngineOptions, [])).toBeUndefined();
    const half = policy();
    half.scalers.latency.threshold = 0.5;
    const over = (p: Parameters<typeof input>[0]) =>
      latencyScaler.overThreshold?.(input(p, p99({ "POST/namespace": m(0.6) })), defaultEngineOptions);
    expect([over({}), over({ policy: half })]).toEqual([false, true]);
  });
});
