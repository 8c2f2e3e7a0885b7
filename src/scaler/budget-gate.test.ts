// The engine's disruption-budget gate: reasons, the most restrictive active budget per reason, and the OOM floor.
import { describe, expect, it } from "vitest";
import { decide } from "./engine.js";
import { MiB } from "./quantity.js";
import { input } from "./testing.js";
import type { BudgetRemaining, DecisionInput } from "./types.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;
const m = (value: number) => ({ value, observedAt: now, source: "prometheus" });
const kill = { id: "p/c/1", pod: "p", container: "c", finishedAt: now - 100, limitBytes: 2048 * MiB };
const cold = { cpuUsage: m(0.1), memoryWorkingSet: m(200 * MiB) };
const settled = {
  handledOomIds: new Set<string>(),
  overThresholdSince: {},
  recommendations: [{ at: now - 60 * min, cpu: 0.2, memory: 300 * MiB }],
  observingSince: now - 4 * 60 * min,
};
const restarts = () => true;
const inPlace = () => false;
const budgets = (b: BudgetRemaining): Partial<DecisionInput> => ({ budgetRemaining: b, fleetBudgetRemaining: 99 });

describe("the disruption-budget gate", () => {
  it("records a change's reasons: its direction, and RestartRequiring when the restart rule says so", () => {
    const up = decide(input({ restartRequiring: restarts }, { oom: [kill] }));
    expect(up.action === "change" && up.disruptionReasons).toEqual(["ScaleUp", "RestartRequiring"]);
    const down = decide(input({ history: settled, restartRequiring: inPlace }, cold));
    expect(down.action === "change" && down.disruptionReasons).toEqual(["ScaleDown"]);
  });

  it("holds a change back when one active budget covering one of its reasons is spent, and names it", () => {
    const spentRestarts = budgets({
      ScaleDown: { remaining: 3, budget: "spec.disruption.budgets[0]" },
      RestartRequiring: { remaining: 0, budget: "spec.disruption.budgets[1]" },
    });
    const rolling = decide(input({ history: settled, restartRequiring: restarts, ...spentRestarts }, cold));
    expect(rolling.action).toBe("blocked");
    expect(rolling.action === "blocked" && rolling.heldByBudget).toBe("spec.disruption.budgets[1]");
    expect(rolling.action === "blocked" && rolling.blockedReason).toBe("FleetBudget");
    expect(rolling.action === "blocked" && rolling.blockedBy).toMatch(/disruption budget spec.disruption.budgets\[1\]/);
    // The same scale-down made in place restarts nothing: the restart budget does not cover it.
    const resized = decide(input({ history: settled, restartRequiring: inPlace, ...spentRestarts }, cold));
    expect(resized.action).toBe("change");
  });

  it("leaves a reason no active budget covers unlimited", () => {
    const onlyDown = budgets({ ScaleDown: { remaining: 0, budget: "default[0]" } });
    expect(decide(input({ restartRequiring: restarts, ...onlyDown }, { oom: [kill] })).action).toBe("change");
    expect(decide(input({ history: settled, ...onlyDown }, cold)).action).toBe("blocked");
  });

  it("keeps the OOM floor that no budget takes away, a budget of 0 included, and only for OOM kills", () => {
    const frozen = budgets({
      ScaleUp: { remaining: 0, budget: "spec.disruption.budgets[0]" },
      RestartRequiring: { remaining: 0, budget: "spec.disruption.budgets[0]" },
    });
    expect(decide(input({ ...frozen, oomFloorRemaining: 1 }, { oom: [kill] })).action).toBe("change");
    const beyond = decide(input({ ...frozen, oomFloorRemaining: 0 }, { oom: [kill] }));
    expect(beyond.action === "blocked" && beyond.blockedBy).toMatch(/oomFloorPerTenant/);
    const hot = { cpuUsage: m(0.95), memoryWorkingSet: m(500 * MiB) };
    const pressure = { ...settled, overThresholdSince: { cpu: now - 5 * min }, recommendations: [] };
    expect(decide(input({ history: pressure, ...frozen, oomFloorRemaining: 2 }, hot)).action).toBe("blocked");
  });
});
