// One workload's replay through every policy that governs it: its rounds rebuilt from the history once (./replay.ts)
// and fed to the engine loop decideOffline runs (OfflineReplay), round by round. Backtest.add (./run.ts) runs it
// in the main thread, and the replay threads (./replay-worker.ts) run the same function.
import { parseClusterScaler, type ClusterScaler } from "../api/index.js";
import { decideOffline, OfflineReplay } from "../scaler/offline.js";
import { resolvePolicy, selectClusterScaler } from "../scaler/policy.js";
import type { Plan, ResolvedPolicy, Size } from "../scaler/types.js";
import type { BacktestWorkload } from "./inventory.js";
import {
  workloadSignals,
  workloadSteps,
  type WorkloadFigures,
  type WorkloadSignals,
  type WorkloadSteps,
} from "./replay.js";
import type { SignalHistory } from "./signals.js";

export interface Policy {
  /** Where it came from: a file name, or clusterscaler/<name>. */
  source: string;
  /** The ClusterScaler as read (the reference path's decideOffline parses it again, as the live reconciler does). */
  raw: unknown;
}

/** Parses each policy; a file that does not parse is an error naming the field. */
export function parsePolicies(policies: readonly Policy[]): Array<Policy & { value: ClusterScaler }> {
  return policies.map((p) => {
    const r = parseClusterScaler(p.raw);
    if (!r.ok) throw new Error(`${p.source}: invalid ClusterScaler: ${r.errors.join("; ")}`);
    return { ...p, value: r.value };
  });
}

/** One workload's replay under one policy: the size each round started from, and the rounds that did something. */
export interface Replayed {
  /** Per step; NaN where the size has none. */
  cpuRequest: Float64Array;
  memoryRequest: Float64Array;
  memoryLimit: Float64Array;
  replicas: Float64Array;
  acted: Array<{ i: number; plan: Exclude<Plan, { action: "none" }> }>;
  /** Rounds with no action held for missing or stale data, and held at a bound. */
  heldForData: number;
  boundHits: number;
}

function replayed(n: number): Replayed {
  return {
    cpuRequest: new Float64Array(n),
    memoryRequest: new Float64Array(n),
    memoryLimit: new Float64Array(n),
    replicas: new Float64Array(n),
    acted: [],
    heldForData: 0,
    boundHits: 0,
  };
}

/**
 * Whether a reason names a bound, as /maxAllowed|minAllowed/ finds it: a counter's last answer again for the same
 * reason (most rounds give one of a few constant reasons), without searching every round's reason.
 */
function boundReason(): (reason: string) => boolean {
  let last: string | undefined;
  let names = false;
  return (reason) => {
    if (reason !== last) {
      last = reason;
      names = reason.includes("maxAllowed") || reason.includes("minAllowed");
    }
    return names;
  };
}

/** The size rounds from..to-1 started from. */
function keepSizes(r: Replayed, from: number, to: number, size: Size): void {
  r.cpuRequest.fill(size.cpuRequest ?? Number.NaN, from, to);
  r.memoryRequest.fill(size.memoryRequest ?? Number.NaN, from, to);
  r.memoryLimit.fill(size.memoryLimit ?? Number.NaN, from, to);
  r.replicas.fill(size.replicas, from, to);
}

function keep(r: Replayed, i: number, plan: Plan, size: Size, namesBound: (reason: string) => boolean): void {
  keepSizes(r, i, i + 1, size);
  if (plan.action === "none") {
    if (plan.heldForData !== undefined) r.heldForData++;
    if (namesBound(plan.reason)) r.boundHits++;
  } else r.acted.push({ i, plan });
}

/** The reference path: the rounds as recorded JSON through decideOffline (bench/backtest's baseline, and the tests'). */
function replayRecorded(raw: unknown, w: BacktestWorkload, rounds: WorkloadSteps["rounds"]): Replayed {
  const decisions = decideOffline({
    clusterScaler: raw,
    workload: w.ref,
    tenantLabels: w.tenantLabels,
    start: w.start,
    rounds,
  });
  const r = replayed(decisions.length);
  const namesBound = boundReason();
  decisions.forEach((d, i) => keep(r, i, d.plan, d.size, namesBound));
  return r;
}

/**
 * The same engine loop (OfflineReplay, as decideOffline runs it) fed the signals in the engine's form directly: one
 * engine per policy, all fed each step's signals object (the engine reads a round's signals and never changes them).
 */
function replaySignals(
  policies: ReadonlyArray<ResolvedPolicy | undefined>,
  w: BacktestWorkload,
  s: WorkloadSignals,
  steps: readonly number[],
): Array<Replayed | undefined> {
  const runs = policies.flatMap((policy, p) =>
    policy
      ? [{ p, engine: new OfflineReplay(w.ref, policy, w.start), r: replayed(steps.length), namesBound: boundReason() }]
      : [],
  );
  const { columns } = s;
  const n = steps.length;
  // Each policy's engine on its own: the engines share nothing but the signals, which none of them changes.
  for (const { engine, r, namesBound } of runs) {
    let i = 0;
    while (i < n) {
      // Most rounds are decided from the columns, a run at a time (quietRun: none of their reasons names a bound,
      // none is held for data, and the size stays); a quiet round it does not take reads the step's signals written
      // in place (quietRound); any other is run on its own object.
      const end = engine.quietRun(i, n, columns);
      if (end > i) {
        keepSizes(r, i, end, engine.size);
        i = end;
        continue;
      }
      const now = steps[i] as number;
      const quiet = engine.quietRound(now, s.signalsInPlaceAt(i));
      if (quiet) keep(r, i, quiet, engine.size, namesBound);
      else {
        const { plan, size } = engine.round({ now, signals: s.signalsAt(i) });
        keep(r, i, plan, size, namesBound);
      }
      i++;
    }
  }
  const out: Array<Replayed | undefined> = policies.map(() => undefined);
  for (const { p, r } of runs) out[p] = r;
  return out;
}

/** One workload replayed through every policy: what the report needs of it, and per policy its replay (none where the policy does not govern it). */
export interface WorkloadReplay {
  figures: WorkloadFigures;
  replayed: Array<Replayed | undefined>;
}

/**
 * One workload's rounds, built once and replayed through every policy that governs it (as live: the tenants its
 * tenantSelector selects, and the components it lists); what both Backtest.add and the worker threads run.
 */
export function replayWorkload(
  policies: ReadonlyArray<Policy & { value: ClusterScaler }>,
  history: SignalHistory,
  w: BacktestWorkload,
  exact: boolean,
): WorkloadReplay {
  const figures = exact ? workloadSteps(history, w) : workloadSignals(history, w);
  // As live: the tenants its tenantSelector selects, and the components it lists.
  const resolved = policies.map((p) =>
    selectClusterScaler([p.value], w.tenantLabels)
      ? resolvePolicy(p.value, w.ref.component, w.tenantLabels)
      : undefined,
  );
  const replayed =
    "rounds" in figures
      ? policies.map((p, i) => (resolved[i] ? replayRecorded(p.raw, w, figures.rounds) : undefined))
      : replaySignals(resolved, w, figures, history.steps);
  return { figures, replayed };
}
