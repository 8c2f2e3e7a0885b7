import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { recommendation, scaleDownPlan } from "./scale-down.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number) => ({ value, observedAt: now, source: "test" });
const idle = { cpuUsage: m(0.12), memoryWorkingSet: m(200 * MiB) };

describe("recommendation", () => {
  it("is usage with the engine's headroom, raised to each listed estimator's floor", () => {
    expect(recommendation(input({}, idle))).toEqual({ at: now, cpu: 0.2, memory: 260 * MiB });
    const profile = { target: { cpu: 0.5, memory: 300 * MiB }, upperBound: { memory: 400 * MiB } };
    expect(recommendation(input({ profile }, idle))).toEqual({ at: now, cpu: 0.5, memory: 400 * MiB });
  });

  it("is unknown without fresh usage, or with a ladder and no fresh node count", () => {
    expect(recommendation(input({}, { memoryWorkingSet: m(1) }))).toBeUndefined();
    expect(recommendation(input({ policy: policy({ ladder: [{ nodes: 0, cpu: 1 }] }) }, idle))).toBeUndefined();
  });
});

describe("scaleDownPlan", () => {
  it("steps down by at most maxStepPercent once the window has passed", () => {
    const plan = scaleDownPlan(input({}, idle), defaultEngineOptions, []);
    expect(plan).toMatchObject({ action: "change", direction: "Down", category: "Underutilized" });
    expect(plan.action === "change" && plan.after.cpuRequest).toBeCloseTo(0.8);
  });

  it("is held for data, with a typed reason, while a signal is missing", () => {
    expect(scaleDownPlan(input({}, { cpuUsage: m(0.1) }), defaultEngineOptions, [])).toMatchObject({
      action: "none",
      heldForData: "memory working set missing",
    });
  });
});
