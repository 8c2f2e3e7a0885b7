import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { clusterSizeScaler } from "./cluster-size.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const nodes = (value: number, ageMs = 0) => ({ clusterNodes: { value, observedAt: now - ageMs, source: "test" } });
const ladder = [
  { nodes: 0, cpu: 0.5, memory: 1024 * MiB },
  { nodes: 100, cpu: 2, memory: 4096 * MiB },
];

describe("cluster-size scaler", () => {
  it("grows to the ladder step, the limit keeping its ratio to the request", () => {
    const c = clusterSizeScaler.propose(input({ policy: policy({ ladder }) }, nodes(150)), defaultEngineOptions, []);
    expect(c).toMatchObject({ category: "ClusterGrowth", estimator: "cluster-size" });
    expect(c?.size).toMatchObject({ cpuRequest: 2, memoryRequest: 4096 * MiB, memoryLimit: 8192 * MiB });
  });

  it("asks for nothing when the step is not above the current size, or the node count is stale", () => {
    expect(
      clusterSizeScaler.propose(input({ policy: policy({ ladder }) }, nodes(50)), defaultEngineOptions, []),
    ).toBeUndefined();
    expect(
      clusterSizeScaler.propose(
        input({ policy: policy({ ladder }) }, nodes(150, 10 * 60_000)),
        defaultEngineOptions,
        [],
      ),
    ).toBeUndefined();
  });

  it("notes why no listed estimator gave a size", () => {
    const notes: string[] = [];
    const p = policy({ estimators: ["oom-memory", "fleet-regression"] });
    expect(clusterSizeScaler.propose(input({ policy: p }, nodes(150)), defaultEngineOptions, notes)).toBeUndefined();
    expect(notes).toEqual(["no size for 150 tenant nodes: fleet-regression: no fit (cpu: no fit; memory: no fit)"]);
  });
});
