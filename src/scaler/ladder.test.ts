import { describe, expect, it } from "vitest";
import { describeReached, loadKeysOf, loadOf, reachedEvidence, reachedStep } from "./ladder.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "prometheus" });
const ladder = [
  { nodes: 0, cpu: 0.25 },
  { nodes: 100, objects: 10_000, watchers: 500, cpu: 1 },
  { nodes: 1000, objects: 100_000, cpu: 2 },
];

describe("reachedStep", () => {
  it.each<[string, Parameters<typeof reachedStep>[1], number | undefined, string | undefined]>([
    ["10 nodes: the first step", { nodes: m(10) }, 0, "nodes"],
    ["10 nodes and 20,000 objects: the step from 10,000 objects", { nodes: m(10), objects: m(20_000) }, 100, "objects"],
    ["10 nodes and 600 watchers: the step from 500 watchers", { nodes: m(10), watchers: m(600) }, 100, "watchers"],
    ["150 nodes and 200,000 objects: the highest reached", { nodes: m(150), objects: m(200_000) }, 1000, "objects"],
    ["150 nodes: by nodes, though objects reach it too", { nodes: m(150), objects: m(20_000) }, 100, "nodes"],
    ["nothing measured: no step", {}, undefined, undefined],
  ])("%s", (_name, load, stepNodes, by) => {
    const r = reachedStep(ladder, load);
    expect(r?.step.nodes).toBe(stepNodes);
    expect(r?.by).toBe(by);
  });

  it("names the series, its value and the step's bound", () => {
    const load = { nodes: m(10), objects: m(20_012) };
    const r = reachedStep(ladder, load)!;
    expect(reachedEvidence(r, load)).toMatchObject({
      signal: "apiserver_storage_objects",
      value: "20012",
      threshold: "10000",
    });
    expect(describeReached(r)).toBe(
      "cluster-size ladder step from 100 nodes, reached by 20012 stored objects (≥ 10000)",
    );
  });
});

describe("loadOf and loadKeysOf", () => {
  it("keeps only fresh measurements when given a clock, and lists the keys a ladder needs", () => {
    const signals = { clusterNodes: m(10), storedObjects: m(20_000, 10 * 60_000), apiserverWatchers: m(5) };
    expect(loadOf(signals, now, { staleAfterMs: 60_000 })).toEqual({
      nodes: m(10),
      objects: undefined,
      watchers: m(5),
    });
    expect(loadOf(signals).objects).toEqual(m(20_000, 10 * 60_000));
    expect(loadKeysOf(ladder)).toEqual(["objects", "watchers"]);
    expect(loadKeysOf([{ nodes: 0 }])).toEqual([]);
  });
});
