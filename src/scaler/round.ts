// One round of the pure pipeline for one workload: feed the round's signals into the workload's history (model),
// ask the engine for a plan (decide), and keep the round's recommendation for the scale-down stabilization window.
// The controller and decideOffline (offline.ts) both run exactly this, so a replay of recorded inputs decides as
// live would.
import { decide, recommendation } from "./engine.js";
import type { EngineOptions } from "./engine-options.js";
import { rememberRecommendation, settleBlockedReport, trackThresholds } from "./history.js";
import type { ScalerInput } from "./scalers/index.js";
import type { DecisionInput, Plan, WorkloadHistory } from "./types.js";

export function decideRound(
  history: WorkloadHistory,
  round: ScalerInput,
  options: EngineOptions,
): { input: DecisionInput; plan: Plan } {
  const input: DecisionInput = { ...round, history };
  return { input, plan: decideWithHistory(input, options) };
}

/**
 * decideRound of a round that carries its workload's history already (input.history): for a caller that builds
 * the input itself every round (OfflineReplay), so that it is not copied into a second object.
 */
export function decideWithHistory(input: DecisionInput, options: EngineOptions): Plan {
  const { history } = input;
  trackThresholds(history, input, options);
  // Computed once, before the plan: the scale-down reads the same one (it does not depend on the history).
  const rec = recommendation(input, options);
  const plan = decide(input, options, { rec });
  settleBlockedReport(history, plan, input.signals);
  if (rec) rememberRecommendation(history, rec, input.policy.scaleDown.stabilizationWindowMs, input.now);
  return plan;
}
