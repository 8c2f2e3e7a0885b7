// One round of the pure pipeline for one workload: feed the round's signals into the workload's history (model),
// ask the engine for a plan (decide), and keep the round's recommendation for the scale-down stabilization window.
// The controller and decideOffline (offline.ts) both run exactly this, so a replay of recorded inputs decides as
// live would.
import { decide, recommendation } from "./engine.js";
import type { EngineOptions } from "./engine-options.js";
import { estimatorsOf } from "./estimators/index.js";
import { rememberRecommendation, settleBlockedReport, trackThresholds } from "./history.js";
import { oomScaler } from "./scalers/oom.js";
import { anyOverThreshold, eventScalers, sustainedScalerNames, type ScalerInput } from "./scalers/index.js";
import {
  quietScaleDownReason,
  recommendationFloor,
  scaleDownFacts,
  scaleDownPlan,
  type KnownRecommendation,
  type RecommendationFloor,
  type ScaleDownFacts,
} from "./scalers/scale-down.js";
import type { ScalerName } from "../api/index.js";
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
  const quiet = quietPlan(input, options);
  return quiet && "action" in quiet ? quiet : decideInFull(input, options, quiet);
}

/**
 * What the event scalers but the oom scaler, and the estimators' floors, make of a tenant's size and the workload's:
 * whether every such scaler stays quiet (and the notes they leave), the recommendation's floor, and the
 * scale-down's facts of the size (scaleDownFacts: the policy and the size only). Those scalers (cluster-size) read
 * of the signals only the fresh node, object and watcher counts, as the floors do (recommendationFloor); beside
 * them the size, the policy, the options, the workload, its profile and fleet fits, never the history or the clock
 * but through freshness. So these facts, found on one round, hold for every round of the workload that reads the
 * same of those at the same size. The oom scaler reads the round's kills and the history: it is asked every round
 * (round.property.test.ts keeps the event scalers to those two, the oom scaler first).
 */
export interface TenantFacts {
  eventsQuiet: boolean;
  notes: readonly string[];
  floor: RecommendationFloor | "unknown";
  /** The scale-down's facts of the round's size (the caller finds the facts again when the size changes). */
  scaleDown: ScaleDownFacts;
}

/** The round's TenantFacts. */
export function tenantFacts(input: DecisionInput, options: EngineOptions): TenantFacts {
  const notes: string[] = [];
  let eventsQuiet = true;
  for (const s of eventScalers()) {
    if (s !== oomScaler && s.propose(input, options, notes)) {
      eventsQuiet = false;
      break;
    }
  }
  return {
    eventsQuiet,
    notes,
    floor: recommendationFloor(input, options),
    scaleDown: scaleDownFacts(input, options),
  };
}

/**
 * decideWithHistory of a round in which no scaler asks for a scale-up and the scale-down changes nothing (most
 * rounds), with the same plan and the same effects on the history, without asking the scalers that cannot ask: the
 * round's plan when it is such a round; else nothing is changed, and what it gives (the round's recommendation, once
 * it got that far) is for decideInFull, which then decides the round.
 *
 * Why it is the same: a scaler with a threshold (overThreshold) that is not over it now has no overThresholdSince
 * once the round is fed in (trackThresholds deletes it), and such a scaler proposes nothing, and notes nothing,
 * without it (round.property.test.ts checks every registered one; the probe scaler, which acts at its threshold
 * without a window, is not over it either). So when none is over, only the event scalers (oom, cluster-size) can
 * ask, and they are asked as decide asks them, in registry order, into the same notes. Then decide
 * goes on to the scale-down with the same recommendation, and returns its plan when it is not a change. None of
 * what is read before the history is fed reads what feeding it changes (the event scalers and the scale-down do not
 * read overThresholdSince).
 *
 * `facts`: the round's TenantFacts, where the caller knows them already (OfflineReplay.quietRound, for a round that
 * reads the tenant's size as the round they were found on did, at the same size): of the event scalers only the oom
 * scaler is asked (it comes first in registry order, so the notes keep their order), the floor is not found again,
 * and the scale-down's reason comes from the round's own recommendation where that is enough (quietScaleDownReason).
 */
export function quietPlan(
  input: DecisionInput,
  options: EngineOptions,
  facts?: TenantFacts,
): Plan | KnownRecommendation | undefined {
  if (input.paused) return undefined;
  // Unknown names fail loudly, as in decide (tenantFacts asked already).
  if (!facts) estimatorsOf(input.policy.estimators);
  if (anyOverThreshold(input, options)) return undefined;
  const notes: string[] = [];
  if (facts) {
    if (oomScaler.propose(input, options, notes) || !facts.eventsQuiet) return undefined;
    for (const note of facts.notes) notes.push(note);
  } else for (const s of eventScalers()) if (s.propose(input, options, notes)) return undefined;
  if (input.signals.unavailableReason) notes.push(input.signals.unavailableReason);
  const rec = recommendation(input, options, facts?.floor);
  // Most rounds with facts: the round's own recommendation tells the scale-down's reason (quietScaleDownReason).
  const reason = facts && quietScaleDownReason(input, rec, facts.scaleDown);
  const plan: Plan = reason ? { action: "none", reason, notes } : scaleDownPlan(input, options, notes, { rec });
  if (plan.action !== "none") return { rec };
  const { history } = input;
  // trackThresholds with no sustained scaler over its threshold: their starts deleted (most rounds have none, and
  // the keys of an empty object are fewer lookups than each name's).
  const since = history.overThresholdSince as Record<string, number | undefined>;
  for (const name in since) if (sustainedScalerNames().includes(name as ScalerName)) delete since[name];
  settleBlockedReport(history, plan, input.signals);
  if (rec) rememberRecommendation(history, rec, input.policy.scaleDown.stabilizationWindowMs, input.now);
  return plan;
}

/** decideWithHistory asking every scaler; `known`: the round's recommendation, where quietPlan computed it. */
export function decideInFull(input: DecisionInput, options: EngineOptions, known?: KnownRecommendation): Plan {
  const { history } = input;
  trackThresholds(history, input, options);
  // Computed once, before the plan: the scale-down reads the same one (it does not depend on the history).
  const rec = known ? known.rec : recommendation(input, options);
  const plan = decide(input, options, { rec });
  settleBlockedReport(history, plan, input.signals);
  if (rec) rememberRecommendation(history, rec, input.policy.scaleDown.stabilizationWindowMs, input.now);
  return plan;
}
