import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { input, policy } from "../testing.js";
import { throttlingScaler } from "./throttling.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number) => ({ value, observedAt: now, source: "test" });
const sustained = { ...input().history, overThresholdSince: { throttling: now - 5 * 60_000 } };

describe("throttling scaler", () => {
  it.each<[string, Parameters<typeof input>[1], Parameters<typeof input>[0], unknown]>([
    ["429s: one more apiserver replica", { apiserver429Rate: m(2) }, {}, { replicas: 3 }],
    ["CFS throttling only: 50% more CPU", { cpuThrottledRatio: m(0.5) }, {}, { cpuRequest: 1.5, cpuLimit: undefined }],
    [
      "429s at replicas.max: 50% more CPU",
      { apiserver429Rate: m(2) },
      { policy: policy({ replicas: { max: 2 } }) },
      { cpuRequest: 1.5, cpuLimit: undefined },
    ],
  ])("%s", (_name, signals, over, size) => {
    expect(
      throttlingScaler.propose(input({ history: sustained, ...over }, signals), defaultEngineOptions, [])?.size,
    ).toEqual(size);
  });

  it("waits for its window", () => {
    expect(throttlingScaler.propose(input({}, { apiserver429Rate: m(2) }), defaultEngineOptions, [])).toBeUndefined();
  });

  it("is over its threshold on 429s or on CFS throttling from 25%", () => {
    const over = (signals: Parameters<typeof input>[1]) =>
      throttlingScaler.overThreshold?.(input({}, signals), defaultEngineOptions);
    expect([
      over({ apiserver429Rate: m(1) }),
      over({ cpuThrottledRatio: m(0.25) }),
      over({ cpuThrottledRatio: m(0.2) }),
    ]).toEqual([true, true, false]);
  });
});
