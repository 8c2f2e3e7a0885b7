import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { availableEstimators, estimator, estimatorFloor, registerEstimator, sizeByTenant } from "./index.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const nodes = (value: number, ageMs = 0) => ({ clusterNodes: { value, observedAt: now - ageMs, source: "test" } });
const ladder = [{ nodes: 100, cpu: 2, memory: 4096 * MiB }];

describe("estimator registry", () => {
  it("lists the four estimators, refuses an unknown name and a second registration", () => {
    expect(availableEstimators()).toEqual(["oom-memory", "profile", "cluster-size", "fleet-regression"]);
    expect(() => estimator("magic")).toThrow(/unknown estimator "magic"; available: oom-memory/);
    expect(() => registerEstimator({ name: "profile", estimate: () => undefined })).toThrow(/registered twice/);
  });

  it("tries the estimators that size by tenant size in list order, and says why each before the answer gave none", () => {
    const p = policy({ estimators: ["fleet-regression", "oom-memory", "cluster-size"], ladder });
    const { answer, misses } = sizeByTenant(input({ policy: p }, nodes(150)));
    expect(answer).toMatchObject({ estimator: "cluster-size", size: { cpuRequest: 2 } });
    expect(misses).toEqual(["fleet-regression: no fit (cpu: no fit; memory: no fit)"]);
  });

  it.each<[string, string, Parameters<typeof input>[0], Parameters<typeof input>[1], unknown]>([
    [
      "profile: target CPU, upper-bound memory",
      "profile",
      { profile: { target: { cpu: 1, memory: 1 }, upperBound: { memory: 2 } } },
      {},
      { cpu: 1, memory: 2 },
    ],
    ["profile without one: none", "profile", {}, {}, undefined],
    [
      "cluster-size: the ladder step",
      "cluster-size",
      { policy: policy({ ladder }) },
      nodes(150),
      { cpu: 2, memory: 4096 * MiB },
    ],
    [
      "cluster-size with a ladder and a stale count: unknown",
      "cluster-size",
      { policy: policy({ ladder }) },
      nodes(150, 600_000),
      "unknown",
    ],
    ["oom-memory: no floor", "oom-memory", {}, nodes(150), undefined],
  ])("floor of %s", (_name, name, over, signals, expected) => {
    expect(estimatorFloor(name, input(over, signals), defaultEngineOptions)).toEqual(expected);
  });
});
