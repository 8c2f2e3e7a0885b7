// The engine's disruption-budget gate: what a planned change counts as (its reasons) and whether the active budgets
// leave room for it. Pure: the budgets' remaining counts come in the DecisionInput (src/scaler/fleet-budget.ts
// computes them from the recorded decisions), and so does the restart rule (src/scaler/restart.ts).
import type { DisruptionReason } from "../api/index.js";
import type { DecisionInput, Size } from "./types.js";

/** The reasons a change from `before` to `after` in `direction` counts under. */
export function disruptionReasons(
  input: Pick<DecisionInput, "restartRequiring">,
  direction: "Up" | "Down",
  before: Size,
  after: Size,
): DisruptionReason[] {
  const reasons: DisruptionReason[] = [direction === "Up" ? "ScaleUp" : "ScaleDown"];
  if (input.restartRequiring?.(before, after)) reasons.push("RestartRequiring");
  return reasons;
}

/**
 * The budget that holds a change with these reasons back (the most restrictive active one that covers a reason and
 * has nothing left), or undefined when every one has room.
 */
export function heldBy(
  input: Pick<DecisionInput, "fleetBudgetRemaining" | "budgetRemaining">,
  reasons: readonly DisruptionReason[],
): { budget?: string } | undefined {
  const r = input.budgetRemaining;
  if (!r) return input.fleetBudgetRemaining <= 0 ? {} : undefined;
  for (const reason of reasons) {
    const b = r[reason];
    if (b && b.remaining <= 0) return { budget: b.budget };
  }
  return undefined;
}

/** The Blocked decision's blockedBy for a change held by `budget`. */
export function heldMessage(budget: string | undefined, oom: boolean): string {
  const which = budget ? `disruption budget ${budget}` : "fleet budget";
  return oom
    ? `${which} exhausted for this interval, and this tenant's OOM scale-ups that no budget holds back ` +
        "(oomFloorPerTenant) are used"
    : `${which} exhausted for this interval`;
}
