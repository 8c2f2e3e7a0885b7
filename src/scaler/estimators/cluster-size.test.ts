import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import type { WorkloadRef } from "../types.js";
import { clusterSizeEstimate, clusterSizeFloor, defaultLinear, ladderStep, linearSize } from "./cluster-size.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "test" });
const ladder = [
  { nodes: 0, cpu: 0.5, memory: 512 * MiB },
  { nodes: 100, cpu: 2, memory: 4096 * MiB, replicas: 3 },
  { nodes: 500, cpu: 4, memory: 8192 * MiB, objects: 50_000 },
];
const scheduler: WorkloadRef = { ...input().workload, name: "kube-scheduler", component: "kube-scheduler" };

describe("cluster-size", () => {
  it("takes the ladder step with the most nodes not above the tenant's", () => {
    expect(ladderStep(ladder, 99)?.nodes).toBe(0);
    expect(ladderStep(ladder, 100)?.nodes).toBe(100);
    expect(ladderStep(ladder, 10_000)?.nodes).toBe(500);
    expect(clusterSizeEstimate(input({ policy: policy({ ladder }) }, { clusterNodes: m(150) }))).toMatchObject({
      size: { cpuRequest: 2, memoryRequest: 4096 * MiB, replicas: 3 },
      note: "cluster-size ladder step from 100 nodes (tenant has 150)",
    });
  });

  it("reaches a step by stored objects where the step sets them", () => {
    const est = clusterSizeEstimate(
      input({ policy: policy({ ladder }) }, { clusterNodes: m(150), storedObjects: m(60_000) }),
    );
    expect(est?.size).toMatchObject({ cpuRequest: 4, memoryRequest: 8192 * MiB });
    expect(est?.note).toMatch(/objects/);
  });

  it("sizes a component without a ladder by addon-resizer's linear form, and nothing without a node count", () => {
    const est = clusterSizeEstimate(input({ workload: scheduler }, { clusterNodes: m(3) }));
    const want = linearSize(defaultLinear["kube-scheduler"]!, 3);
    expect(est?.size).toEqual({ cpuRequest: want.cpu, memoryRequest: want.memory });
    expect(want.memory).toBe(129.5 * MiB);
    expect(clusterSizeEstimate(input({ workload: scheduler }))).toBeUndefined();
  });

  it("puts the estimate itself under scale-downs: the ladder step, or the linear size without a ladder", () => {
    const o = defaultEngineOptions;
    // The ladder keys a step on objects too, so the floor needs a fresh object count as well.
    const load = { clusterNodes: m(150), storedObjects: m(1000) };
    expect(clusterSizeFloor(input({ policy: policy({ ladder }) }, load), o)).toEqual({
      cpu: 2,
      memory: 4096 * MiB,
    });
    expect(clusterSizeFloor(input({ workload: scheduler }, { clusterNodes: m(3) }), o)).toEqual({
      cpu: linearSize(defaultLinear["kube-scheduler"]!, 3).cpu,
      memory: 129.5 * MiB,
    });
  });

  it("knows no floor from a stale count under a ladder (no scale-down), nor from stale objects a step keys on", () => {
    const o = defaultEngineOptions;
    const stale = o.staleAfterMs + 1;
    expect(clusterSizeFloor(input({ policy: policy({ ladder }) }, { clusterNodes: m(150, stale) }), o)).toBe("unknown");
    expect(
      clusterSizeFloor(
        input({ policy: policy({ ladder }) }, { clusterNodes: m(150), storedObjects: m(60_000, stale) }),
        o,
      ),
    ).toBe("unknown");
    // Without a ladder, a stale count gives no floor from this estimator (the usage signals decide alone).
    expect(clusterSizeFloor(input({ workload: scheduler }, { clusterNodes: m(3, stale) }), o)).toEqual({});
  });
  it("answers each round for its own load though one ladder's last answer is kept", () => {
    const shared = policy({ ladder });
    const loads = [
      { clusterNodes: m(150) },
      { clusterNodes: m(150), storedObjects: m(60_000) },
      { clusterNodes: m(150), storedObjects: m(1_000) },
      { clusterNodes: m(150) },
      { clusterNodes: m(600) },
      { clusterNodes: m(600), apiserverWatchers: m(10) },
      { clusterNodes: m(50) },
      { clusterNodes: m(50) },
    ];
    for (const signals of loads) {
      // A fresh copy of the ladder has no answer kept: what the estimate is without the memo.
      const copy = policy({ ladder: ladder.map((s) => ({ ...s })) });
      expect(clusterSizeEstimate(input({ policy: shared }, signals))).toEqual(
        clusterSizeEstimate(input({ policy: copy }, signals)),
      );
      expect(clusterSizeFloor(input({ policy: shared }, signals), defaultEngineOptions)).toEqual(
        clusterSizeFloor(input({ policy: copy }, signals), defaultEngineOptions),
      );
    }
    // Another component on the same ladder-less policy gets its own linear size.
    const none = policy({});
    const apiserver = clusterSizeEstimate(input({ policy: none }, { clusterNodes: m(3) }));
    const sched = clusterSizeEstimate(input({ policy: none, workload: scheduler }, { clusterNodes: m(3) }));
    expect(apiserver?.size).not.toEqual(sched?.size);
  });
});
