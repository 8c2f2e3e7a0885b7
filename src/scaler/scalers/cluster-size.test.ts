import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { estimatorFloor } from "../estimators/index.js";
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

  it("grows to a step reached by stored objects or watchers, naming the series, its value and the step's bound", () => {
    const load = [
      { nodes: 0, cpu: 0.5, memory: 1024 * MiB },
      { nodes: 100, objects: 10_000, cpu: 2, memory: 4096 * MiB },
      { nodes: 1000, watchers: 300, cpu: 4, memory: 8192 * MiB },
    ];
    const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "prometheus" });
    const ask = (signals: Parameters<typeof input>[1]) =>
      clusterSizeScaler.propose(input({ policy: policy({ ladder: load }) }, signals), defaultEngineOptions, []);
    const byObjects = ask({ ...nodes(10), storedObjects: m(20_012) });
    expect(byObjects?.size).toMatchObject({ cpuRequest: 2, memoryRequest: 4096 * MiB });
    expect(byObjects?.evidence[0]).toMatchObject({
      signal: "apiserver_storage_objects",
      value: "20012",
      threshold: "10000",
    });
    expect(byObjects?.note).toBe(
      "cluster-size ladder step from 100 nodes, reached by 20012 stored objects (≥ 10000); tenant has 10 nodes",
    );
    const byWatchers = ask({ ...nodes(10), storedObjects: m(20_012), apiserverWatchers: m(400) });
    expect(byWatchers?.size).toMatchObject({ cpuRequest: 4 });
    expect(byWatchers?.evidence[0]).toMatchObject({
      signal: 'apiserver_longrunning_requests{verb="WATCH"}',
      value: "400",
    });
    // A stale count reaches nothing: no false scale-up.
    expect(
      ask({ ...nodes(10), storedObjects: m(20_012, 10 * 60_000), apiserverWatchers: m(400, 10 * 60_000) }),
    ).toBeUndefined();
    expect(ask({ ...nodes(10) })).toBeUndefined();
  });
});

describe("cluster-size estimator floor with a ladder keyed on load", () => {
  it("is unknown (so no scale-down) while a key the ladder sets is stale or missing", () => {
    const load = [
      { nodes: 0, cpu: 0.5 },
      { nodes: 100, objects: 10_000, cpu: 2 },
    ];
    const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "prometheus" });
    const floor = (signals: Parameters<typeof input>[1]) =>
      estimatorFloor("cluster-size", input({ policy: policy({ ladder: load }) }, signals), defaultEngineOptions);
    expect(floor({ ...nodes(10), storedObjects: m(20_000) })).toEqual({ cpu: 2, memory: undefined });
    expect(floor({ ...nodes(10), storedObjects: m(20_000, 10 * 60_000) })).toBe("unknown");
    expect(floor({ ...nodes(10) })).toBe("unknown");
    expect(floor({ ...nodes(10), storedObjects: m(50) })).toEqual({ cpu: 0.5, memory: undefined });
  });
});
