import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { estimatorFloor } from "../estimators/index.js";
import type { DecisionInput, ResolvedPolicy, Size } from "../types.js";
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

  it("answers a round as it would without its last covered round remembered, over any sequence of rounds", () => {
    // Each round changes one thing the scaler reads at most (or nothing): a count, its age, the size, the component,
    // the fleet, the options or the policy, from few values so that sequences come back to earlier rounds. Each
    // is asked of the remembering policy object, and of a copy never asked before, with the same answer and notes.
    const m = (value: number | undefined, ageMs: number) =>
      value === undefined ? undefined : { value, observedAt: now - ageMs, source: "prometheus" };
    const count = fc.constantFrom(undefined, 0, 10, 100, 150, 400, 20_000, Number.NaN);
    const age = fc.constantFrom(0, 10 * 60_000);
    // Between the ladder's steps and the fleet's sizes, so that one change turns a covered size into one that is not.
    const sizeValue = fc.constantFrom(undefined, 1, 3, 8, 2048 * MiB, 6144 * MiB, 16384 * MiB, Number.NaN, Infinity);
    const fit = (intercept: number): DecisionInput["fleet"] => ({
      cpu: { ok: true, fit: { predictors: ["nodes"], coefficients: [intercept, 0.002], r2: 0.9, samples: 9 } },
      memory: {
        ok: true,
        fit: {
          predictors: ["nodes", "objects"],
          coefficients: [intercept * 1024 * MiB, 3 * MiB, 0.1 * MiB],
          r2: 0.9,
          samples: 9,
        },
      },
    });
    const fleets: Array<DecisionInput["fleet"]> = [undefined, fit(0.1), fit(3)];
    const optionSets = [
      defaultEngineOptions,
      { ...defaultEngineOptions, staleAfterMs: 20 * 60_000 },
      { ...defaultEngineOptions, cpuTargetUtilization: 0.2, memoryHeadroom: 3 },
    ];
    const ladders = [
      { nodes: 0, cpu: 0.5, memory: 1024 * MiB },
      { nodes: 100, objects: 10_000, cpu: 2, memory: 4096 * MiB },
      { nodes: 300, watchers: 300, cpu: 4, memory: 8192 * MiB },
    ];
    const policies = [
      policy({ ladder: ladders, estimators: ["cluster-size", "fleet-regression"] }),
      policy({ ladder: ladders, estimators: ["fleet-regression", "cluster-size"] }),
      policy({ estimators: ["fleet-regression"] }),
      // No ladder: addon-resizer's linear size of each component.
      policy({ estimators: ["cluster-size"] }),
    ];
    const components = ["kube-apiserver", "etcd", "kube-scheduler"] as const;
    const fields = ["replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const;
    const change = fc.oneof(
      fc.constant({ kind: "none" as const }),
      fc.record({
        kind: fc.constantFrom("nodes" as const, "objects" as const, "watchers" as const),
        value: count,
        age,
      }),
      fc.record({ kind: fc.constant("size" as const), field: fc.constantFrom(...fields), value: sizeValue }),
      fc.record({ kind: fc.constant("component" as const), index: fc.nat({ max: components.length - 1 }) }),
      fc.record({ kind: fc.constant("fleet" as const), index: fc.nat({ max: fleets.length - 1 }) }),
      fc.record({ kind: fc.constant("options" as const), index: fc.nat({ max: optionSets.length - 1 }) }),
      fc.record({ kind: fc.constant("policy" as const), index: fc.nat({ max: policies.length - 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(change, { maxLength: 40 }), (changes) => {
        // Fresh policy objects per sequence: nothing remembered from an earlier one.
        const remembering = policies.map((p) => structuredClone(p));
        let which = 0;
        const counts: Record<"nodes" | "objects" | "watchers", ReturnType<typeof m>> = {
          nodes: m(150, 0),
          objects: undefined,
          watchers: undefined,
        };
        let size: Size = { replicas: 2, cpuRequest: 3, memoryRequest: 6144 * MiB, memoryLimit: 8192 * MiB };
        let component: (typeof components)[number] = components[0];
        let fleet = fleets[0];
        let options = optionSets[0] as typeof defaultEngineOptions;
        for (const c of changes) {
          if (c.kind === "nodes" || c.kind === "objects" || c.kind === "watchers") counts[c.kind] = m(c.value, c.age);
          else if (c.kind === "size") {
            size = { ...size };
            if (c.field === "replicas") size.replicas = c.value ?? 1;
            else size[c.field] = c.value;
          } else if (c.kind === "component") component = components[c.index] ?? component;
          else if (c.kind === "fleet") fleet = fleets[c.index];
          else if (c.kind === "options") options = optionSets[c.index] as typeof defaultEngineOptions;
          else if (c.kind === "policy") which = c.index;
          const ask = (p: ResolvedPolicy) => {
            const notes: string[] = [];
            const base = input();
            const proposal = clusterSizeScaler.propose(
              {
                ...base,
                workload: { ...base.workload, component },
                current: size,
                policy: p,
                fleet,
                now,
                signals: {
                  ...base.signals,
                  clusterNodes: counts.nodes,
                  storedObjects: counts.objects,
                  apiserverWatchers: counts.watchers,
                },
              },
              options,
              notes,
            );
            return { proposal, notes };
          };
          const p = remembering[which] as ResolvedPolicy;
          expect(ask(p)).toEqual(ask(structuredClone(p)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("asks again when the headroom or a count the round before did not reach a step changes", () => {
    const m = (value: number) => ({ value, observedAt: now, source: "prometheus" });
    const ask = (over: Partial<DecisionInput>, signals: Parameters<typeof input>[1], o = defaultEngineOptions) =>
      clusterSizeScaler.propose(input(over, signals), o, []);
    // Stored objects reach the 100-node step: 2 cores, above the 1 the tenant's 10 nodes needed.
    const byObjects = policy({
      ladder: [
        { nodes: 0, cpu: 0.5, memory: 1024 * MiB },
        { nodes: 100, objects: 10_000, cpu: 2, memory: 4096 * MiB },
      ],
      estimators: ["cluster-size"],
    });
    const small = { current: { replicas: 1, cpuRequest: 1, memoryRequest: 2048 * MiB }, policy: byObjects };
    expect(ask(small, { clusterNodes: m(10), storedObjects: m(50) })).toBeUndefined();
    expect(ask(small, { clusterNodes: m(10), storedObjects: m(20_000) })?.size).toMatchObject({
      cpuRequest: 2,
    });
    // The fleet's 2 cores at 150 nodes: a request of 3.33 at 60% utilisation, which 4 cores cover; 10 at 20%.
    const fleet: DecisionInput["fleet"] = {
      cpu: { ok: true, fit: { predictors: ["nodes"], coefficients: [1.7, 0.002], r2: 0.9, samples: 9 } },
    };
    const byFleet = policy({ estimators: ["fleet-regression"] });
    const four = { current: { replicas: 1, cpuRequest: 4, memoryRequest: 2048 * MiB }, policy: byFleet, fleet };
    expect(ask(four, { clusterNodes: m(150) })).toBeUndefined();
    const tight = { ...defaultEngineOptions, cpuTargetUtilization: 0.2 };
    expect(ask(four, { clusterNodes: m(150) }, tight)?.size).toMatchObject({ cpuRequest: 10 });
  });
});
