// The decision engine: a pure function of signals, policy, current size, history and clock that returns a plan.
// Up is fast (an OOM acts at once, sustained pressure after a short window); down is slow (only after the
// stabilization window, by at most maxStepPercent, and only when every signal it needs is fresh). Dry-run and live
// mode call the same function; only the actuator differs. The triggers are the scalers of scalers/index.ts, the
// sizes come from the estimators of estimators/index.ts, and the scale-down is scalers/scale-down.ts.
import type { RootCauseCategory } from "../api/index.js";
import { defaultEngineOptions, type EngineOptions } from "./engine-options.js";
import { estimatorsOf } from "./estimators/index.js";
import { iso } from "./freshness.js";
import { capacityShortfall, describeShortfall, shortfallKey } from "./capacity.js";
import { upCandidates, type UpCandidate } from "./scalers/index.js";
import { canAddReplica } from "./scalers/common.js";
import { scaleDownPlan, type KnownRecommendation } from "./scalers/scale-down.js";
import { disruptionReasons, heldBy, heldMessage } from "./budget-gate.js";
import { clamp, describeSize, maxSize, sameSize } from "./sizes.js";
import type { BlockedReason, DecisionInput, Plan } from "./types.js";

type BlockedPlan = Exclude<Plan, { action: "none" }> & {
  action: "blocked";
  blockedReason: BlockedReason;
  blockedKey: string;
};

export { defaultEngineOptions, type EngineOptions } from "./engine-options.js";
export { freshness } from "./freshness.js";
export { heldForDataReason, recommendation } from "./scalers/scale-down.js";
export { clamp, describeSize, sameSize } from "./sizes.js";

// Order of root causes when several scalers fire at once: the most direct evidence names the decision.
const priority: RootCauseCategory[] = [
  "OOMKilled",
  "ProbeFailure",
  "Throttling",
  "APFSaturation",
  "RequestLatency",
  "CPUSaturation",
  "MemoryPressure",
  "EtcdDatabaseSize",
  "ClusterGrowth",
];

/** `known`: the round's recommendation, where the caller computed it already (decideRound). */
export function decide(
  input: DecisionInput,
  options: EngineOptions = defaultEngineOptions,
  known?: KnownRecommendation,
): Plan {
  const notes: string[] = [];
  if (input.paused)
    return { action: "none", reason: "paused (metapilot.io/paused, or the ClusterScaler's spec.paused)", notes };
  estimatorsOf(input.policy.estimators); // unknown names fail loudly
  const ups = upCandidates(input, options, notes);
  if (input.signals.unavailableReason) notes.push(input.signals.unavailableReason);
  if (ups.length > 0) {
    ups.sort((a, b) => priority.indexOf(a.category) - priority.indexOf(b.category));
    const primary = ups[0] as UpCandidate;
    let grown = input.current;
    for (const c of ups) grown = maxSize(grown, c.size);
    const after = clamp(grown, input);
    // An up never shrinks anything, even if the current size is above maxAllowed (someone else set it).
    for (const k of ["cpuRequest", "memoryRequest", "memoryLimit", "cpuLimit"] as const) {
      const c = input.current[k];
      const a = after[k];
      if (c !== undefined && a !== undefined && a < c) after[k] = c;
    }
    if (after.replicas < input.current.replicas) after.replicas = input.current.replicas;
    const oomIds = ups.flatMap((c) => c.oomIds);
    // An OOM kill is answered only by more memory where the kill happens: the limit, or the request of a container
    // without one. A limit held at maxAllowed while the request still grows (the request follows the limit by its
    // ratio) would answer nothing, so that counts as being at the maximum too.
    const killedAt = input.current.memoryLimit !== undefined ? "memoryLimit" : "memoryRequest";
    const oomUnanswered = oomIds.length > 0 && (after[killedAt] ?? 0) <= (input.current[killedAt] ?? 0);
    const atMax = oomUnanswered || sameSize(after, input.current);
    const where = `${primary.category} on ${input.workload.component} of ${input.workload.tenant}`;
    const base = {
      direction: "Up" as const,
      scaler: primary.scaler,
      category: primary.category,
      summary: atMax
        ? `${where}: already at maxAllowed (${describeSize(input.current)}); nothing left to raise (${primary.note})`
        : `${where}: ${describeSize(input.current)} → ${describeSize(after)} (${primary.note})`,
      evidence: ups.flatMap((c) => c.evidence).slice(0, 32),
      before: input.current,
      after: atMax ? input.current : after,
      oomIds,
      notes,
      ...(primary.estimator ? { estimator: primary.estimator } : {}),
    };
    if (atMax) {
      // An OOM kill that nothing can answer is recorded (Blocked, and reported) once while the workload stays at
      // this memory under this bound and its pods keep showing kills (WorkloadHistory.blockedReport): a person has
      // to raise maxAllowed or look at the workload. Pressure signals at the maximum are only noted.
      if (oomIds.length > 0)
        return reportOnce(input, notes, {
          action: "blocked",
          ...base,
          blockedBy: "already at maxAllowed: raise the ClusterScaler's maxAllowed",
          blockedReason: "MaxAllowed",
          blockedKey: maxAllowedKey(input),
        });
      return {
        action: "none",
        reason: `${primary.category}: already at maxAllowed (${describeSize(input.current)})`,
        notes: [...notes, ...ups.map((u) => u.note)],
      };
    }
    const isOom = primary.category === "OOMKilled";
    // A size no node the component may run on can hold: one more replica instead where replicas are allowed (not
    // for an OOM kill, which only more memory answers), else Blocked, with a NodePool that would hold it proposed.
    const shortfall = capacityShortfall(after, input.placement);
    if (shortfall) {
      const wider = { ...input.current, replicas: input.current.replicas + 1 };
      if (!isOom && canAddReplica(input) && !capacityShortfall(wider, input.placement)) {
        base.summary =
          `${where}: ${describeSize(input.current)} → ${describeSize(wider)}, one more replica instead of ` +
          `${describeSize(after)}: ${describeShortfall(shortfall)} (${primary.note})`;
        base.after = wider;
      } else {
        return reportOnce(input, notes, {
          action: "blocked",
          ...base,
          summary: `${where}: ${describeSize(input.current)} → ${describeSize(after)} fits no node (${primary.note})`,
          blockedBy: describeShortfall(shortfall),
          blockedReason: "ExceedsNodeCapacity",
          blockedKey: shortfallKey(input.current, shortfall),
          capacity: shortfall,
        });
      }
    }
    // OOM kills are direct evidence and act at once; everything else respects the cooldown. Every change counts
    // against the fleet budget, but an OOM scale-up within the tenant's floor is made even when it is spent.
    if (
      !isOom &&
      input.history.lastScaleUpAt !== undefined &&
      input.now - input.history.lastScaleUpAt < input.policy.scaleUpCooldownMs
    ) {
      return {
        action: "none",
        reason: `scale-up cooldown until ${iso(input.history.lastScaleUpAt + input.policy.scaleUpCooldownMs)}`,
        notes,
      };
    }
    const reasons = disruptionReasons(input, "Up", base.before, base.after);
    const held = heldBy(input, reasons);
    if (held && !(isOom && input.oomFloorRemaining > 0)) {
      return {
        action: "blocked",
        ...base,
        disruptionReasons: reasons,
        heldByFleetBudget: true,
        ...(held.budget ? { heldByBudget: held.budget } : {}),
        blockedReason: "FleetBudget",
        blockedBy: heldMessage(held.budget, isOom),
      };
    }
    return { action: "change", ...base, disruptionReasons: reasons };
  }
  const down = scaleDownPlan(input, options, notes, known);
  if (down.action !== "change") return down;
  const reasons = disruptionReasons(input, "Down", down.before, down.after);
  const held = heldBy(input, reasons);
  if (held) {
    return {
      ...down,
      action: "blocked",
      disruptionReasons: reasons,
      heldByFleetBudget: true,
      ...(held.budget ? { heldByBudget: held.budget } : {}),
      blockedReason: "FleetBudget",
      blockedBy: heldMessage(held.budget, false),
    };
  }
  return { ...down, disruptionReasons: reasons };
}

/** The condition an OOM kill at maxAllowed is: the memory the workload has, under the bound it is at. */
export function maxAllowedKey(input: Pick<DecisionInput, "current" | "policy">): string {
  const { current, policy } = input;
  return [
    "max-allowed",
    current.memoryLimit ?? "-",
    current.memoryRequest ?? "-",
    policy.maxAllowed.memory ?? "-",
  ].join("/");
}

/**
 * A blocked plan for a condition that lasts, unless a Blocked decision was already recorded for the same condition
 * (WorkloadHistory.blockedReport): then nothing new is recorded, and the plan says the condition still holds.
 */
function reportOnce(input: DecisionInput, notes: string[], plan: BlockedPlan): Plan {
  const r = input.history.blockedReport;
  if (r?.reason !== plan.blockedReason || r.key !== plan.blockedKey) return plan;
  return {
    action: "none",
    reason: `${plan.blockedReason}: still blocked as recorded at ${iso(r.at)} (${plan.summary})`,
    notes,
    stillBlocked: r,
  };
}
