import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { input, policy } from "../testing.js";
import { cpuScaler } from "./cpu.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const cpu = (value: number) => ({ cpuUsage: { value, observedAt: now, source: "test" } });
const sustained = { ...input().history, overThresholdSince: { cpu: now - 5 * 60_000 } };

describe("cpu scaler", () => {
  it.each<[string, number, Parameters<typeof input>[0], unknown]>([
    ["usage / 60% target utilisation", 0.9, {}, { cpuRequest: expect.closeTo(1.5) }],
    ["at least 20% more", 0.62, {}, { cpuRequest: expect.closeTo(1.2) }],
    [
      "a replica once the request is at maxAllowed",
      0.9,
      { policy: policy({ maxAllowed: { cpu: 1 } }) },
      { replicas: 3 },
    ],
  ])("%s", (_name, usage, over, size) => {
    const c = cpuScaler.propose(input({ history: sustained, ...over }, cpu(usage)), defaultEngineOptions, []);
    expect(c?.size).toEqual(size);
  });

  it("waits for its window, and is over its threshold from 80% of the request", () => {
    expect(cpuScaler.propose(input({}, cpu(0.9)), defaultEngineOptions, [])).toBeUndefined();
    expect(cpuScaler.overThreshold?.(input({}, cpu(0.8)), defaultEngineOptions)).toBe(true);
    expect(cpuScaler.overThreshold?.(input({}, cpu(0.79)), defaultEngineOptions)).toBe(false);
  });
});
