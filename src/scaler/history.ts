// The scaler's model of each workload: what it remembers between decisions (cooldowns, the OOM kills it answered,
// since when each sustained signal has been over its threshold, the recommendations of the stabilization window, the
// simulated size of dry-run). It is fed by the signals of each round and by the decisions recorded; after a restart
// it is rebuilt from the recorded decisions. Everything here but the map of HistoryModel is a pure function.
import type { ScalerName } from "../api/index.js";
import { sizeOf, type DecisionObject } from "./decisions.js";
import { sameSize } from "./sizes.js";
import { forEachOverThreshold } from "./scalers/index.js";
import type { EngineOptions } from "./engine-options.js";
import type {
  BlockedReason,
  DecisionInput,
  Plan,
  Recommendation,
  ResolvedPolicy,
  Signals,
  Size,
  WorkloadHistory,
} from "./types.js";
import { blockedKeyAnnotation, observedSizeAnnotation, oomIdsAnnotation } from "../api/labels.js";

/**
 * A simulated change is the baseline of the workload's next dry-run decisions for its cooldown only (the scale-up
 * cooldown after an Up, the longer of the scale-down cooldown and stabilization window after a Down), and only
 * while the real workload keeps the size it had then. Within that time OOM kills, which act at once, build on it
 * as live mode would. After it, the baseline is the real workload again: the signals dry-run reads come from the
 * unchanged workload, so building on the simulated size would assume the change had no effect (a constant 429
 * rate would grow the simulated size every cooldown without end).
 */
export interface DryRunShadow {
  observed: Size;
  after: Size;
  at: number;
  direction: "Up" | "Down";
}

/** How long a simulated change stays the dry-run baseline (see DryRunShadow). */
export function dryRunBaselineHoldMs(direction: "Up" | "Down", policy: ResolvedPolicy): number {
  return direction === "Up"
    ? policy.scaleUpCooldownMs
    : Math.max(policy.scaleDown.cooldownMs, policy.scaleDown.stabilizationWindowMs);
}

/** A workload's history as the scaler keeps it: the engine's view plus the OOM kills it answered and the shadow. */
export type History = WorkloadHistory & { handled: Set<string>; shadow?: DryRunShadow };

/** A history with nothing remembered yet, observed from `now`. */
export function emptyHistory(now: number): History {
  const handled = new Set<string>();
  return { handled, handledOomIds: handled, overThresholdSince: {}, recommendations: [], observingSince: now };
}

/**
 * The history rebuilt from a workload's recorded decisions, after a restart: cooldowns, handled OOM kills, the last
 * OOM bump, a lasting Blocked condition the latest decision recorded, and the dry-run shadow. `trusted` says whether a decision without a phase is metapilot's (it carries metapilot's
 * signature): anyone who may create ScalingDecisions could otherwise mark OOM kills as handled, and so keep them
 * from being answered. The observation window starts again at `now`.
 */
export function historyFromDecisions(
  decisions: readonly DecisionObject[],
  trusted: (d: DecisionObject) => boolean,
  now: number,
): History {
  const history = emptyHistory(now);
  let shadowAt = 0;
  let latestAt = -1;
  for (const d of decisions) {
    if (!d.status?.phase && !trusted(d)) continue;
    const oomIds = (d.metadata?.annotations?.[oomIdsAnnotation] ?? "").split(",").filter(Boolean);
    for (const id of oomIds) history.handled.add(id);
    const at = Date.parse(d.spec?.decidedAt ?? "") || 0;
    // The latest decision says whether a lasting Blocked condition was recorded and not yet left. It, and the last
    // OOM bump, are read from metapilot's signed decisions only: a stranger's must not silence or double a bump.
    const signed = trusted(d);
    if (d.status?.phase && at >= latestAt) {
      latestAt = at;
      const key = d.metadata?.annotations?.[blockedKeyAnnotation];
      const reason = d.status.reason as BlockedReason | undefined;
      if (
        signed &&
        d.status.phase === "Blocked" &&
        key &&
        (reason === "MaxAllowed" || reason === "ExceedsNodeCapacity")
      )
        history.blockedReport = { reason, key, message: d.status.message ?? "", at, oom: oomIds.length > 0 };
      else delete history.blockedReport;
    }
    if (d.status?.phase !== "Applied" && d.status?.phase !== "DryRun") continue;
    history.lastChangeAt = Math.max(history.lastChangeAt ?? 0, at);
    const observed = d.metadata?.annotations?.[observedSizeAnnotation];
    if (d.status?.phase === "DryRun" && observed && at >= shadowAt) {
      try {
        history.shadow = {
          observed: JSON.parse(observed) as Size,
          after: sizeOf(d.spec?.after),
          at,
          direction: d.spec?.direction === "Down" ? "Down" : "Up",
        };
        shadowAt = at;
      } catch {
        // an unreadable annotation only loses the shadow, never a decision
      }
    }
    if (d.spec?.direction === "Up") history.lastScaleUpAt = Math.max(history.lastScaleUpAt ?? 0, at);
    if (
      signed &&
      d.spec?.direction === "Up" &&
      d.spec.rootCause?.category === "OOMKilled" &&
      at >= (history.lastOomBump?.at ?? 0)
    ) {
      const after = sizeOf(d.spec.after);
      history.lastOomBump = { at, memoryLimit: after.memoryLimit, memoryRequest: after.memoryRequest };
    }
  }
  return history;
}

/**
 * The size the next decision starts from: in dry-run, the last simulated change while it holds (see DryRunShadow);
 * otherwise the size the workload has or is rolling to.
 */
export function baselineSize(
  history: History,
  observed: Size,
  dryRun: boolean,
  policy: ResolvedPolicy,
  now: number,
): Size {
  const shadow = history.shadow;
  return dryRun &&
    shadow &&
    sameSize(observed, shadow.observed) &&
    now - shadow.at < dryRunBaselineHoldMs(shadow.direction, policy)
    ? shadow.after
    : observed;
}

/** Feeds a round's signals in: since when each sustained scaler has been over its threshold (scalers/index.ts). */
export function trackThresholds(
  history: WorkloadHistory,
  input: Omit<DecisionInput, "history">,
  options: EngineOptions,
): void {
  const since = history.overThresholdSince as Record<ScalerName, number | undefined>;
  forEachOverThreshold(input, options, (scaler, over) => {
    if (over) since[scaler] ??= input.now;
    else if (since[scaler] !== undefined) delete since[scaler];
  });
}

/** Keeps a round's recommendation for the scale-down stabilization window, and forgets those older than it. */
export function rememberRecommendation(
  history: WorkloadHistory,
  rec: Recommendation,
  windowMs: number,
  now: number,
): void {
  history.recommendations.push(rec);
  const cutoff = now - windowMs;
  while (history.recommendations.length && (history.recommendations[0]?.at ?? 0) < cutoff)
    history.recommendations.shift();
}

/**
 * When the workload is worth looking at again without an event: when the first sustained signal over its
 * threshold has been so for its window, or when a scale-down may first be made (a full stabilization window of
 * observation, and the window and cooldown after the last change), at most a minute from now. Without the
 * scale-down's moment, a scale-down waited for the next event or poll after its window had passed.
 */
export function nextWindowEndMs(history: WorkloadHistory, policy: ResolvedPolicy, now: number): number {
  const waiting = Object.entries(history.overThresholdSince).map(
    ([s, t]) => (t ?? now) + policy.scalers[s as ScalerName].windowMs - now,
  );
  const sd = policy.scaleDown;
  if (sd.enabled) {
    const observed = history.observingSince + sd.stabilizationWindowMs;
    const settled =
      history.lastChangeAt === undefined ? 0 : history.lastChangeAt + Math.max(sd.cooldownMs, sd.stabilizationWindowMs);
    waiting.push(Math.max(observed, settled) - now);
  }
  return Math.min(...waiting.filter((x) => x > 0), 60_000);
}

/** The OOM kills a recorded plan answered: never acted on twice. */
export function markHandled(history: History, plan: Exclude<Plan, { action: "none" }>): void {
  for (const id of plan.oomIds) history.handled.add(id);
}

/**
 * Feeds a decision in once it has its phase: a change made (or simulated) starts the cooldowns and, after a Down,
 * a new stabilization window; a simulated one becomes the dry-run shadow, at the size it would read back after
 * applying it (whole millicores and MiB), as live.
 */
export function afterDecision(
  history: History,
  plan: Exclude<Plan, { action: "none" }>,
  phase: "Applied" | "DryRun" | "Blocked" | "Failed",
  observed: Size,
  recordedAfter: Size,
  now: number,
): void {
  if (phase === "DryRun") history.shadow = { observed, after: recordedAfter, at: now, direction: plan.direction };
  if (phase !== "Blocked" && phase !== "Failed") {
    history.lastChangeAt = now;
    if (plan.direction === "Up") history.lastScaleUpAt = now;
    if (plan.direction === "Down") history.recommendations = [];
    if (plan.direction === "Up" && plan.category === "OOMKilled")
      history.lastOomBump = {
        at: now,
        memoryLimit: recordedAfter.memoryLimit,
        memoryRequest: recordedAfter.memoryRequest,
      };
  }
  if (phase === "Blocked" && plan.blockedKey && plan.blockedReason)
    history.blockedReport = {
      reason: plan.blockedReason,
      key: plan.blockedKey,
      message: plan.blockedBy ?? plan.summary,
      at: now,
      oom: plan.oomIds.length > 0,
    };
  markHandled(history, plan);
}

/**
 * After a round's plan: a recorded Blocked condition (WorkloadHistory.blockedReport) is forgotten once the round
 * no longer meets it, so that it is recorded again if it comes back. One raised by OOM kills lasts while the pods
 * still show a kill (a kill is in a pod's status until its container ends again), since kills come and go between
 * rounds of an OOM loop; any plan that changes or blocks something else ends it too.
 */
export function settleBlockedReport(history: WorkloadHistory, plan: Plan, signals: Signals): void {
  const r = history.blockedReport;
  if (!r || (plan.action === "none" && plan.stillBlocked)) return;
  if (plan.action === "none" && r.oom && signals.oom.length > 0) return;
  delete history.blockedReport;
}

/** Every governed workload's history, by namespace/name, built on first use. */
export class HistoryModel {
  private readonly histories = new Map<string, History>();

  /** The workload's history; `rebuild` makes it when there is none (the first round, or after a restart). */
  get(key: string, rebuild: () => History): History {
    let history = this.histories.get(key);
    if (!history) {
      history = rebuild();
      this.histories.set(key, history);
    }
    return history;
  }

  /** The workload's history if there is one, without building it. */
  peek(key: string): History | undefined {
    return this.histories.get(key);
  }

  forget(key: string): void {
    this.histories.delete(key);
  }
}
