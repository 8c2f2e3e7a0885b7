import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { decide } from "../engine.js";
import { input, policy } from "../testing.js";
import type { Size, WorkloadHistory } from "../types.js";
import { registerEstimator } from "../estimators/index.js";
import { decideRound } from "../round.js";
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

describe("scale-downs that the next round would undo", () => {
  const scheduler = {
    kind: "Deployment" as const,
    name: "kube-scheduler",
    namespace: "tcp-a",
    tenant: "a",
    component: "kube-scheduler" as const,
    container: "kube-scheduler",
    ownedByTenantControlPlane: false,
  };
  const quiet = { cpuUsage: m(0.01), memoryWorkingSet: m(40 * MiB), clusterNodes: m(3) };

  it("never goes below the cluster-size estimate of a component without a ladder, so nothing raises it back", () => {
    // Found by the backtest benchmark: 130Mi → 128Mi (minAllowed) by the scale-down, then up to the linear size
    // (128Mi + 3 × 0.5Mi) by the cluster-size scaler 30 s later, every stabilization window for 14 days.
    let current: Size = { replicas: 1, cpuRequest: 0.1, memoryRequest: 140 * MiB, memoryLimit: 280 * MiB };
    for (let round = 0; round < 20; round++) {
      const plan = scaleDownPlan(input({ workload: scheduler, current }, quiet), defaultEngineOptions, []);
      if (plan.action !== "change") break;
      current = plan.after;
    }
    expect(current.memoryRequest).toBeCloseTo(129.5 * MiB, -3);
    expect(decide(input({ workload: scheduler, current }, quiet))).toMatchObject({ action: "none" });
  });

  it("keeps the limit's ratio to the request that minAllowed settles on, so the limit does not ratchet down", () => {
    const current: Size = { replicas: 1, cpuRequest: 0.1, memoryRequest: 140 * MiB, memoryLimit: 280 * MiB };
    const p = policy({ estimators: ["oom-memory"] });
    const plan = scaleDownPlan(input({ workload: scheduler, current, policy: p }, quiet), defaultEngineOptions, []);
    expect(plan.action === "change" && plan.after).toMatchObject({ memoryRequest: 128 * MiB, memoryLimit: 256 * MiB });
  });
});

describe("a round's recommendation, computed once", () => {
  // An estimator whose floor counts how often a recommendation is computed.
  let floors = 0;
  registerEstimator({
    name: "test-counting-floor",
    estimate: () => undefined,
    floor: (i) => {
      floors++;
      return { cpu: 0.3, memory: (i.signals.memoryWorkingSet?.value ?? 0) * 2 };
    },
  });
  const counted = policy({
    estimators: ["test-counting-floor"],
    scaleDown: { ...policy().scaleDown, stabilizationWindowMs: 0 },
  });

  it("is the one the scale-down steps down to and the one the window keeps", () => {
    const history: WorkloadHistory = {
      handledOomIds: new Set(),
      overThresholdSince: {},
      recommendations: [],
      observingSince: now - 60 * 60_000,
    };
    floors = 0;
    const { plan, input: decided } = decideRound(history, input({ policy: counted }, idle), defaultEngineOptions);
    // The scale-down got as far as the recommendation, and decideRound kept one for the window: one computation.
    expect(floors).toBe(1);
    expect(history.recommendations).toEqual([recommendation(decided, defaultEngineOptions)]);
    expect(history.recommendations[0]).toEqual({ at: now, cpu: 0.3, memory: 400 * MiB });
    // The plan is the one the scale-down makes computing it itself.
    expect(plan).toEqual(decide(decided, defaultEngineOptions));
    expect(plan).toMatchObject({ action: "change", direction: "Down" });
  });

  it("is what the scale-down reads when given, and computed by it when not", () => {
    const i = input({ policy: counted }, idle);
    floors = 0;
    const own = scaleDownPlan(i, defaultEngineOptions, []);
    expect(floors).toBe(1);
    const given = scaleDownPlan(i, defaultEngineOptions, [], { rec: { at: now, cpu: 0.99, memory: 900 * MiB } });
    expect(floors).toBe(1);
    expect(own.action === "change" && own.after.cpuRequest).toBeCloseTo(0.8);
    // 0.99 is within minDownChange of the request: only memory steps down, to 900Mi (less than 20%).
    expect(given).toMatchObject({ action: "change", after: { cpuRequest: 1, memoryRequest: 900 * MiB } });
    expect(scaleDownPlan(i, defaultEngineOptions, [], { rec: undefined })).toMatchObject({ action: "none" });
  });
});
