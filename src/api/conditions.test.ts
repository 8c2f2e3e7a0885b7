import { describe, expect, it } from "vitest";
import { jsonEqual, mergeConditions } from "./conditions.js";

const before = new Date("2026-12-01T00:00:00Z");
const now = new Date("2026-12-06T12:00:00Z");

describe("mergeConditions", () => {
  const previous = [
    {
      type: "Ready",
      status: "True" as const,
      reason: "AllReady",
      message: "ok",
      observedGeneration: 1,
      lastTransitionTime: before.toISOString(),
    },
    {
      type: "Degraded",
      status: "False" as const,
      reason: "None",
      message: "",
      lastTransitionTime: before.toISOString(),
    },
  ];

  it("keeps lastTransitionTime while the status stays, moves it when the status changes, and sets the generation", () => {
    const merged = mergeConditions(
      previous,
      [
        { type: "Ready", status: "True", reason: "StillReady", message: "still ok" },
        { type: "Degraded", status: "True", reason: "PodCrash", message: "etcd-0 crashes" },
      ],
      2,
      now,
    );
    expect(merged).toEqual([
      {
        type: "Ready",
        status: "True",
        reason: "StillReady",
        message: "still ok",
        observedGeneration: 2,
        lastTransitionTime: before.toISOString(),
      },
      {
        type: "Degraded",
        status: "True",
        reason: "PodCrash",
        message: "etcd-0 crashes",
        observedGeneration: 2,
        lastTransitionTime: now.toISOString(),
      },
    ]);
  });

  it("gives a new condition the current time, drops one no longer computed, and cuts a long message", () => {
    const merged = mergeConditions(
      previous,
      [{ type: "Paused", status: "False", reason: "NotPaused", message: "x".repeat(5000) }],
      undefined,
      now,
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ type: "Paused", lastTransitionTime: now.toISOString() });
    expect(merged[0]?.message).toHaveLength(4000);
    expect(mergeConditions(undefined, [], 1, now)).toEqual([]);
  });
});

describe("jsonEqual", () => {
  it.each<[unknown, unknown, boolean]>([
    [{ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }, true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: [1, 2] }, { a: [2, 1] }, false],
    [{ a: 1 }, { a: "1" }, false],
    [{ a: null }, { a: undefined }, false],
  ])("%j and %j → %s", (a, b, expected) => {
    expect(jsonEqual(a, b)).toBe(expected);
  });
});
