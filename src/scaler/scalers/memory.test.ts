import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import { memoryScaler } from "./memory.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const mem = (mi: number) => ({ memoryWorkingSet: { value: mi * MiB, observedAt: now, source: "test" } });
const sustained = { ...input().history, overThresholdSince: { memory: now - 5 * 60_000 } };

describe("memory scaler", () => {
  it("gives 30% headroom over the working set, request and limit keeping their ratio", () => {
    // 2000Mi of a 2048Mi limit: wanted 2600Mi, so × 2600/2048 on both.
    const c = memoryScaler.propose(input({ history: sustained }, mem(2000)), defaultEngineOptions, []);
    expect(c?.size.memoryLimit).toBeCloseTo(2600 * MiB);
    expect(c?.size.memoryRequest).toBeCloseTo(1300 * MiB);
  });

  it("is measured against the request of a container without a limit", () => {
    const current = { replicas: 1, memoryRequest: 1000 * MiB };
    expect(memoryScaler.overThreshold?.(input({ current }, mem(900)), defaultEngineOptions)).toBe(true);
    expect(memoryScaler.overThreshold?.(input({}, mem(900)), defaultEngineOptions)).toBe(false); // of 2048Mi
  });

  it("waits for its window", () => {
    expect(memoryScaler.propose(input({}, mem(2000)), defaultEngineOptions, [])).toBeUndefined();
  });
});
