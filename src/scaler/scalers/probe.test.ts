import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { input, policy } from "../testing.js";
import { probeScaler } from "./probe.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const failures = (value: number, ageMs = 0) => ({ probeFailures: { value, observedAt: now - ageMs, source: "probe" } });

describe("probe scaler", () => {
  it.each<[string, Parameters<typeof input>[0], ReturnType<typeof failures>, unknown]>([
    ["a replica while the Deployment may grow", {}, failures(3), { replicas: 3 }],
    [
      "50% more CPU at replicas.max",
      { policy: policy({ replicas: { min: 1, max: 2 } }) },
      failures(3),
      { cpuRequest: 1.5 },
    ],
    ["nothing under the threshold", {}, failures(2), undefined],
    ["nothing on a stale count", {}, failures(5, 10 * 60_000), undefined],
  ])("%s", (_name, over, signals, size) => {
    expect(probeScaler.propose(input(over, signals), defaultEngineOptions, [])?.size).toEqual(size);
  });

  it("is over its threshold exactly when it would act", () => {
    expect(probeScaler.overThreshold?.(input({}, failures(3)), defaultEngineOptions)).toBe(true);
    expect(probeScaler.overThreshold?.(input({}, failures(2)), defaultEngineOptions)).toBe(false);
  });
});
