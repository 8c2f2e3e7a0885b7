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
  trackThresholds(history, round, options);
  const input: DecisionInput = { ...round, history };
  // Computed once, before the plan: the scale-down reads the same one (it does not depend on the history).
  const rec = recommendation(input, options);
  const plan = decide(input, options, { rec });
  settleBlockedReport(history, plan, round.signals);
  if (rec) rememberRecommendation(history, rec, round.policy.scaleDown.stabilizationWindowMs, round.now);
  return { input, plan };
}
