// What the report takes of one workload's replay, computed where the workload was replayed (a replay thread, or the
// main thread for a small run): its slack and under-provisioned time before and under each policy, what became of
// its OOM kills, and the rounds that acted, without their evidence and notes. The main thread only adds these up
// and keeps the timeline (./run.ts); no column of the workload's steps crosses between threads.
import type { Plan } from "../scaler/types.js";
import type { BacktestWorkload } from "./inventory.js";
import type { Coverage, CoverageSignal, WorkloadFigures } from "./replay.js";
import type { SignalHistory } from "./signals.js";
import type { ActedFields } from "./timeline-store.js";
import type { Replayed, WorkloadReplay } from "./workload-replay.js";

/** Milliseconds as hours. */
export const hours = (ms: number) => ms / 3_600_000;
const GiB = 1024 ** 3;

/** Request above usage (never below), and the time with usage above the request. */
export interface UsageFigures {
  cpuHours: number;
  gibHours: number;
  underMs: number;
}

/** A round that changed or blocked something, as the timeline and the report's counts read it. */
export interface ActedRound extends ActedFields {
  /** The step. */
  i: number;
  heldByFleetBudget?: boolean;
}

/** One policy's replay of the workload, as the report adds it up. */
export interface PolicyRecord {
  after: UsageFigures;
  heldForData: number;
  boundHits: number;
  oomOutcomes: OomOutcome[];
  acted: ActedRound[];
}

export interface WorkloadRecord {
  coverage: Record<CoverageSignal, Coverage>;
  /** Under the sizes the workload really had. */
  before: UsageFigures;
  /** Per policy; undefined where the policy does not govern the workload. */
  policies: Array<PolicyRecord | undefined>;
}

export interface OomOutcome {
  id: string;
  tenant: string;
  workload: string;
  at: string;
  limitBytes?: number;
  /** prevented: the policy had raised the limit above the one it died at before it died; answered: by an OOM scale-up after it; lost: neither. */
  outcome: "prevented" | "answered" | "lost";
  /** prevented: how long before the kill the limit was already above; answered: how long after the kill. */
  leadMinutes?: number;
  delayMinutes?: number;
}

/**
 * Slack and under-provisioned time of one workload under the sizes of each step: `cpu[i]` and `memory[i]` (NaN
 * where unknown, then `fallback`'s), times `replicas` (per step, or one count). Plain arrays and numbers, no
 * closure or object per step: the first call of an earlier form (a closure returning each step's size) once gave
 * a different sum than its second on the same arrays (bench/README).
 */
function usageFigures(
  steps: WorkloadFigures,
  stepMs: number,
  sizes: {
    cpu: Float64Array;
    memory: Float64Array;
    replicas: Float64Array | number;
    fallback?: { cpu?: number; memory?: number };
  },
): UsageFigures {
  const stepHours = hours(stepMs);
  const cpuFallback = sizes.fallback?.cpu ?? Number.NaN;
  const memoryFallback = sizes.fallback?.memory ?? Number.NaN;
  const { cpu: cpuSizes, memory: memorySizes, replicas } = sizes;
  let cpuHours = 0;
  let gibHours = 0;
  let underMs = 0;
  const n = steps.cpuUsage.length;
  for (let i = 0; i < n; i++) {
    let cpuSize = cpuSizes[i] ?? Number.NaN;
    if (Number.isNaN(cpuSize)) cpuSize = cpuFallback;
    let memorySize = memorySizes[i] ?? Number.NaN;
    if (Number.isNaN(memorySize)) memorySize = memoryFallback;
    const count = typeof replicas === "number" ? replicas : (replicas[i] ?? Number.NaN);
    const cpu = steps.cpuUsage[i] as number;
    const memory = steps.memoryUsage[i] as number;
    let under = false;
    if (!Number.isNaN(cpu) && !Number.isNaN(cpuSize)) {
      cpuHours += Math.max(0, cpuSize - cpu) * count * stepHours;
      under ||= cpu > cpuSize;
    }
    if (!Number.isNaN(memory) && !Number.isNaN(memorySize)) {
      gibHours += (Math.max(0, memorySize - memory) / GiB) * count * stepHours;
      under ||= memory > memorySize;
    }
    if (under) underMs += stepMs;
  }
  return { cpuHours, gibHours, underMs };
}

/** What became of each real OOM kill under the replayed sizes. */
function oomOutcomes(w: BacktestWorkload, figures: WorkloadFigures, r: Replayed, history: SignalHistory): OomOutcome[] {
  return figures.kills.map((kill) => {
    const base = {
      id: kill.id,
      tenant: w.ref.tenant,
      workload: `${w.ref.namespace}/${w.ref.name}`,
      at: new Date(kill.at).toISOString(),
      ...(kill.limitBytes !== undefined ? { limitBytes: kill.limitBytes } : {}),
    };
    const killedAt = kill.limitBytes ?? w.start.memoryLimit;
    const above = (i: number) => {
      const limit = r.memoryLimit[i] ?? Number.NaN;
      return killedAt !== undefined && !Number.isNaN(limit) && limit > killedAt;
    };
    if (above(kill.stepIndex)) {
      let first = kill.stepIndex;
      while (first > 0 && above(first - 1)) first--;
      // A round's size is the one it started from: the change that raised it was decided the round before
      // (unless the limit was already above at the start of the range: the lead is then at least that long).
      const raisedAt = history.steps[Math.max(0, first - 1)] as number;
      return { ...base, outcome: "prevented", leadMinutes: (kill.at - raisedAt) / 60_000 };
    }
    for (const { i, plan } of r.acted) {
      if (i < kill.stepIndex) continue;
      if (plan.action === "change" && plan.oomIds.includes(kill.id))
        return { ...base, outcome: "answered", delayMinutes: ((history.steps[i] as number) - kill.at) / 60_000 };
    }
    return { ...base, outcome: "lost" };
  });
}

/** A plan that acted, without what the report does not read (evidence, notes, OOM ids). */
function actedRound(i: number, plan: Exclude<Plan, { action: "none" }>): ActedRound {
  return {
    i,
    action: plan.action,
    direction: plan.direction,
    category: plan.category,
    scaler: plan.scaler,
    summary: plan.summary,
    before: plan.before,
    after: plan.after,
    ...(plan.blockedBy !== undefined ? { blockedBy: plan.blockedBy } : {}),
    ...(plan.heldByFleetBudget !== undefined ? { heldByFleetBudget: plan.heldByFleetBudget } : {}),
  };
}

/** The report's part of one workload's replay (the same numbers wherever it is computed: one function, the same inputs). */
export function workloadRecord(w: BacktestWorkload, r: WorkloadReplay, history: SignalHistory): WorkloadRecord {
  const { figures } = r;
  const stepMs = history.stepMs;
  return {
    coverage: figures.coverage,
    before: usageFigures(figures, stepMs, {
      cpu: figures.real.cpuRequest,
      memory: figures.real.memoryRequest,
      replicas: w.start.replicas,
      fallback: { cpu: w.start.cpuRequest, memory: w.start.memoryRequest },
    }),
    policies: r.replayed.map((p) =>
      p
        ? {
            after: usageFigures(figures, stepMs, { cpu: p.cpuRequest, memory: p.memoryRequest, replicas: p.replicas }),
            heldForData: p.heldForData,
            boundHits: p.boundHits,
            oomOutcomes: oomOutcomes(w, figures, p, history),
            acted: p.acted.map(({ i, plan }) => actedRound(i, plan)),
          }
        : undefined,
    ),
  };
}
