import { describe, expect, it } from "vitest";
import { evidenceOf, fresh, freshness } from "./freshness.js";

const now = Date.parse("2026-11-23T12:00:00Z");

describe("freshness", () => {
  it.each([
    [undefined, "missing"],
    [{ value: 0, observedAt: now - 90_000, source: "p" }, "fresh"],
    [{ value: 0, observedAt: now - 90_001, source: "p" }, "stale"],
  ] as const)("%j is %s", (m, expected) => {
    expect(freshness(m, now, 90_000)).toBe(expected);
    expect(fresh(m, now, { staleAfterMs: 90_000 })).toBe(expected === "fresh" ? m : undefined);
  });

  it("makes evidence that keeps the measurement's time and source", () => {
    expect(evidenceOf("cpu_usage", { value: 1, observedAt: now, source: "prometheus" }, "1", "0.8")).toEqual({
      signal: "cpu_usage",
      value: "1",
      threshold: "0.8",
      observedAt: "2026-11-23T12:00:00.000Z",
      source: "prometheus",
    });
  });
});
