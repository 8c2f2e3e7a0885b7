// A backtest: each policy (a ClusterScaler) replayed over the same rebuilt history of every workload it governs,
// through the engine loop decideOffline runs (OfflineReplay: decideRound round by round), once per workload per
// policy, and the figures a platform team asks for before switching it on.
import type { ClusterScaler } from "../api/index.js";
import { cronWindow } from "../api/cron.js";
import { budgetsOf, limitOf } from "../scaler/fleet-budget.js";
import type { Size } from "../scaler/types.js";
import type { BacktestWorkload } from "./inventory.js";
import { coverageSignals, type Coverage, type CoverageSignal } from "./replay.js";
import type { QueryFailure, SignalHistory } from "./signals.js";
import { TimelineStore, type BudgetedChange, type TimelineEntry } from "./timeline-store.js";
import { ReplayWorkers, type ReplayWorkerOptions } from "./workers.js";
import { hours, workloadRecord, type OomOutcome, type PolicyRecord, type WorkloadRecord } from "./workload-record.js";
import { parsePolicies, replayWorkload, type Policy } from "./workload-replay.js";

export { parsePolicies, type Policy } from "./workload-replay.js";
export type { BudgetedChange, TimelineEntry } from "./timeline-store.js";
export type { OomOutcome } from "./workload-record.js";

/** The figures of a policy; every number here is a --fail-if metric. */
export interface Summary {
  tenants: number;
  workloads: number;
  oomKills: number;
  oomPrevented: number;
  oomAnswered: number;
  oomLost: number;
  /** Median of how much earlier the prevented kills' limit was raised, in minutes (0 when none was). */
  oomLeadMinutes: number;
  slackCpuHoursBefore: number;
  slackCpuHoursAfter: number;
  slackGiBHoursBefore: number;
  slackGiBHoursAfter: number;
  changes: number;
  scaleUps: number;
  scaleDowns: number;
  /** Changes that restart the pods: rolling updates. */
  restarts: number;
  /** Changes of only CPU or memory that reach the pods in place (the operator's in-place resize): no restart. */
  restartsInPlace: number;
  restartsRolling: number;
  underProvisionedHoursBefore: number;
  underProvisionedHours: number;
  boundHits: number;
  budgetHits: number;
  /** Rounds whose scale-down was held for missing or stale data. */
  heldForData: number;
  /** Percentage of steps with usage (CPU and memory) for the workloads it governs. */
  coverage: number;
}

export interface PolicyResult {
  name: string;
  source: string;
  summary: Summary;
  /** The tenants' changes, by tenant, in time order. */
  timeline: Record<string, TimelineEntry[]>;
  oomKills: OomOutcome[];
  /** Workloads of the inventory this policy does not govern (its tenantSelector, or no such component). */
  notGoverned: number;
}

export interface BacktestReport {
  from: string;
  to: string;
  stepSeconds: number;
  steps: number;
  queries: number;
  /** Per signal: percentage of steps with data, and gaps (interruptions of a series). */
  coverage: Record<CoverageSignal, { percent: number; gaps: number }>;
  /** Steps whose usage answer Prometheus gave with a negative value: rejected whole, as live. */
  rejectedSteps: number;
  /** What is missing: failed range queries (the report is partial where there are any). */
  missing: QueryFailure[];
  partial: boolean;
  notes: string[];
  policies: PolicyResult[];
}

export const reportNotes = [
  "restarts are rolling updates: every resource change of a workload the operator does not own, or of one whose " +
    "TenantControlPlane says resourceUpdates.strategy Restart, or that also changes replicas or the QoS class; a " +
    "change of only CPU or memory of a TenantControlPlane's component is counted in place (the operator falls back " +
    "to rolling where the kubelet cannot resize: older than 1.33, kwok, Infeasible, Deferred too long); a change of " +
    "replicas alone restarts nothing.",
  "slack counts request above usage (never below), per pod times replicas, at steps with usage data only.",
  "budgetHits are counted after the fact, by the live budgets' rules (every budget in force, its cron window, " +
    "reasons, percentage of the backtest's tenants and the OOM floor; RestartRequiring as the restarts above): the " +
    "replay runs one workload at a time, so a change a budget would have held back is counted, not held (later " +
    "rounds do not see the hold).",
  "not rebuilt from Prometheus: /readyz probe failures, WorkloadProfile recommendations and the fleet-regression " +
    "model; counter resets are handled by rate() as live.",
];

/** Said when the sizes were read as raw samples (FetchHistoryOptions.lookback). */
export const rawSizesNote =
  "the sizes the workloads really had (kube-state-metrics' requests and limits) were read as raw samples and " +
  "evaluated with Prometheus' lookback: a pod's size ends up to the lookback after the pod, where Prometheus would " +
  "end it at its stale marker. They count in the 'before' figures, and as a kill's limit, read from the killed " +
  "pod's own series at the step before the kill, where the pod still has it.";

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const qosClass = (s: Size) =>
  s.cpuRequest === undefined && s.memoryRequest === undefined && s.cpuLimit === undefined && s.memoryLimit === undefined
    ? "BestEffort"
    : s.cpuLimit !== undefined &&
        s.cpuLimit === s.cpuRequest &&
        s.memoryLimit !== undefined &&
        s.memoryLimit === s.memoryRequest
      ? "Guaranteed"
      : "Burstable";

/**
 * How a change reaches the pods, as the operator carries it out: in place (only CPU or memory, same QoS class, on a
 * TenantControlPlane's component with in-place resize), by a rolling update, or with no restart (replicas only).
 */
export function changeMethod(w: BacktestWorkload, before: Size, after: Size): "InPlace" | "Rolling" | "None" {
  const resources = (["cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const).some(
    (k) => before[k] !== after[k],
  );
  if (!resources) return "None";
  if (w.inPlaceResize && before.replicas === after.replicas && qosClass(before) === qosClass(after)) return "InPlace";
  return "Rolling";
}

/**
 * Changes the disruption budgets would have held back, with the live budgets' rules (src/scaler/fleet-budget.ts):
 * every budget in force (spec.disruption.budgets and spec.fleetBudget, or the built-in default), each active only
 * inside its cron window, counting the changes with one of its reasons in its sliding interval, its percentage of
 * `tenants` rounded up; the most restrictive active budget holds a change back. An OOM scale-up is never held while
 * its tenant has OOM floor left over the longest active interval covering ScaleUp (oomFloorPerTenant). A held
 * change is not counted against later ones, as live, where it was not made.
 */
export function budgetHitsOf(cs: ClusterScaler, changes: readonly BudgetedChange[], tenants: number): number {
  const { budgets, oomFloor } = budgetsOf(cs);
  const sorted = [...changes].sort((x, y) => x.at - y.at);
  // One pass in time order, linear in the changes (a fleet's two weeks are tens of thousands): per budget, the times
  // of the counted changes with one of its reasons, oldest first, and where its sliding interval now begins; per
  // tenant, the times of its counted OOM scale-ups; each cron window's state until it next changes.
  const perBudget = budgets.map((b) => ({
    b,
    limit: limitOf(b.limitSpec, tenants),
    times: [] as number[],
    head: 0,
    active: !b.schedule,
    until: b.schedule ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY,
  }));
  const oomTimes = new Map<string, number[]>();
  let hits = 0;
  for (const c of sorted) {
    let spent = false;
    let floorMs = 0;
    for (const s of perBudget) {
      if (!s.b.reasons.some((r) => c.reasons.includes(r))) continue;
      if (s.b.schedule && c.at >= s.until) {
        const w = cronWindow(s.b.schedule, s.b.durationMs ?? 0, c.at);
        s.active = w.active;
        s.until = w.changesAt ?? Number.POSITIVE_INFINITY;
      }
      if (!s.active) continue;
      if (s.b.reasons.includes("ScaleUp")) floorMs = Math.max(floorMs, s.b.intervalMs);
      while (s.head < s.times.length && (s.times[s.head] as number) <= c.at - s.b.intervalMs) s.head++;
      if (s.times.length - s.head >= s.limit) spent = true;
    }
    if (spent && c.oom) {
      const times = oomTimes.get(c.tenant) ?? [];
      if (times.length - firstAfter(times, c.at - floorMs) < oomFloor) {
        count(c);
        continue;
      }
    }
    if (spent) hits++;
    else count(c);
  }
  return hits;

  function count(c: BudgetedChange): void {
    for (const s of perBudget) if (s.b.reasons.some((r) => c.reasons.includes(r))) s.times.push(c.at);
    if (!c.oom) return;
    const times = oomTimes.get(c.tenant);
    if (times) times.push(c.at);
    else oomTimes.set(c.tenant, [c.at]);
  }
}

/** The index of the first of the ascending `times` after `t` (times.length when none is). */
function firstAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface RunOptions {
  policies: readonly Policy[];
  workloads: readonly BacktestWorkload[];
  history: SignalHistory;
  /** The range asked for (the history's steps may start and end inside it). */
  from: number;
  to: number;
  /** Replay through the reference path (see Backtest). */
  exact?: boolean;
}

const emptySummary = (): Summary => ({
  tenants: 0,
  workloads: 0,
  oomKills: 0,
  oomPrevented: 0,
  oomAnswered: 0,
  oomLost: 0,
  oomLeadMinutes: 0,
  slackCpuHoursBefore: 0,
  slackCpuHoursAfter: 0,
  slackGiBHoursBefore: 0,
  slackGiBHoursAfter: 0,
  changes: 0,
  scaleUps: 0,
  scaleDowns: 0,
  restarts: 0,
  restartsInPlace: 0,
  restartsRolling: 0,
  underProvisionedHoursBefore: 0,
  underProvisionedHours: 0,
  boundHits: 0,
  budgetHits: 0,
  heldForData: 0,
  coverage: 0,
});

interface PolicyState {
  policy: Policy & { value: ClusterScaler };
  summary: Summary;
  /** The timeline, and the changes the budgets count (those of the timeline that were made). */
  timeline: TimelineStore;
  outcomes: OomOutcome[];
  tenants: Set<string>;
  usageExpected: number;
  usagePresent: number;
  notGoverned: number;
}

/**
 * A backtest built up one batch of tenants at a time (each with its own history), so that only one batch's history
 * and one workload's rounds are held at once; `report()` sums it up. Each workload's rounds are built once and
 * replayed through every policy, then dropped.
 */
export class Backtest {
  private readonly policies: PolicyState[];
  private readonly coverage = Object.fromEntries(
    coverageSignals.map((s) => [s, { expected: 0, present: 0, gaps: 0 }]),
  ) as Record<CoverageSignal, Coverage>;
  private queries = 0;
  private rejectedSteps = 0;
  private rawQueries = 0;
  private steps = 0;
  private stepMs = 0;
  private readonly failures: QueryFailure[] = [];

  /**
   * `exact`: replay through the reference path (every round as recorded JSON through decideOffline) instead of the
   * engine-form rounds; the same decisions, slower (bench/backtest measures both).
   */
  constructor(
    policies: readonly Policy[],
    private readonly exact = false,
  ) {
    this.policies = parsePolicies(policies).map((policy) => ({
      policy,
      summary: emptySummary(),
      timeline: new TimelineStore(),
      outcomes: [],
      tenants: new Set(),
      usageExpected: 0,
      usagePresent: 0,
      notGoverned: 0,
    }));
  }

  /** Replays `workloads` (whose namespaces `history` was read for) through every policy, in this thread. */
  add(history: SignalHistory, workloads: readonly BacktestWorkload[]): void {
    this.begin(history);
    const policies = this.policies.map((p) => p.policy);
    for (const w of workloads)
      this.recordWorkload(w, workloadRecord(w, replayWorkload(policies, history, w, this.exact), history), history);
  }

  /**
   * As add, with the workloads replayed on `workers` (from startWorkers): the same code in worker threads, recorded
   * here in the order of `workloads`, so the report is the same as add's. Rejects if a worker fails or `signal`
   * aborts (the workers are then terminated).
   */
  async addOn(
    workers: ReplayWorkers,
    history: SignalHistory,
    workloads: readonly BacktestWorkload[],
    signal?: AbortSignal,
  ): Promise<void> {
    this.begin(history);
    await workers.replay(
      history,
      workloads,
      (i, r) => this.recordWorkload(workloads[i] as BacktestWorkload, r, history),
      signal,
    );
  }

  /** `count` worker threads that replay this backtest's policies (addOn); the caller terminates them (close). */
  startWorkers(count: number, options: ReplayWorkerOptions = {}): ReplayWorkers {
    return new ReplayWorkers(
      this.policies.map((p) => ({ source: p.policy.source, raw: p.policy.raw })),
      this.exact,
      count,
      options,
    );
  }

  private begin(history: SignalHistory): void {
    this.queries += history.queries;
    this.rejectedSteps += history.rejectedSteps;
    this.rawQueries += history.rawQueries ?? 0;
    this.steps = history.steps.length;
    this.stepMs = history.stepMs;
    this.failures.push(...history.failures);
  }

  private recordWorkload(w: BacktestWorkload, r: WorkloadRecord, history: SignalHistory): void {
    for (const s of coverageSignals) {
      this.coverage[s].expected += r.coverage[s].expected;
      this.coverage[s].present += r.coverage[s].present;
      this.coverage[s].gaps += r.coverage[s].gaps;
    }
    this.policies.forEach((p, i) => {
      const record = r.policies[i];
      if (record) this.record(p, w, r, record, history);
      else p.notGoverned++;
    });
  }

  private record(
    p: PolicyState,
    w: BacktestWorkload,
    r: WorkloadRecord,
    pr: PolicyRecord,
    history: SignalHistory,
  ): void {
    const s = p.summary;
    s.workloads++;
    p.tenants.add(w.ref.tenant);
    p.usageExpected += r.coverage.cpuUsage.expected + r.coverage.memoryWorkingSet.expected;
    p.usagePresent += r.coverage.cpuUsage.present + r.coverage.memoryWorkingSet.present;
    s.slackCpuHoursBefore += r.before.cpuHours;
    s.slackGiBHoursBefore += r.before.gibHours;
    s.underProvisionedHoursBefore += hours(r.before.underMs);
    s.slackCpuHoursAfter += pr.after.cpuHours;
    s.slackGiBHoursAfter += pr.after.gibHours;
    s.underProvisionedHours += hours(pr.after.underMs);
    s.heldForData += pr.heldForData;
    s.boundHits += pr.boundHits;
    p.outcomes.push(...pr.oomOutcomes);
    const id = p.timeline.addWorkload(w.ref.tenant, `${w.ref.kind}/${w.ref.name}`, w.ref.component);
    for (const plan of pr.acted) {
      if (plan.action === "blocked" && !plan.heldByFleetBudget) s.boundHits++;
      const method = plan.action === "change" ? changeMethod(w, plan.before, plan.after) : "None";
      p.timeline.add(id, history.steps[plan.i] as number, method === "Rolling", plan);
      if (plan.action !== "change") continue;
      if (method === "InPlace") s.restartsInPlace++;
      if (method === "Rolling") s.restartsRolling++;
      s.changes++;
      if (plan.direction === "Up") s.scaleUps++;
      else s.scaleDowns++;
    }
  }

  report(from: number, to: number): BacktestReport {
    const policies = this.policies.map((p): PolicyResult => {
      const s = { ...p.summary };
      s.tenants = p.tenants.size;
      s.restarts = s.restartsRolling;
      s.oomKills = p.outcomes.length;
      s.oomPrevented = p.outcomes.filter((k) => k.outcome === "prevented").length;
      s.oomAnswered = p.outcomes.filter((k) => k.outcome === "answered").length;
      s.oomLost = p.outcomes.filter((k) => k.outcome === "lost").length;
      s.oomLeadMinutes = round2(
        median(p.outcomes.flatMap((k) => (k.leadMinutes !== undefined ? [k.leadMinutes] : []))),
      );
      s.budgetHits = budgetHitsOf(p.policy.value, p.timeline.changes(), p.tenants.size);
      s.coverage = p.usageExpected ? round2((100 * p.usagePresent) / p.usageExpected) : 0;
      for (const key of [
        "slackCpuHoursBefore",
        "slackCpuHoursAfter",
        "slackGiBHoursBefore",
        "slackGiBHoursAfter",
        "underProvisionedHoursBefore",
        "underProvisionedHours",
      ] as const)
        s[key] = round2(s[key]);
      return {
        name: p.policy.value.metadata?.name ?? p.policy.source,
        source: p.policy.source,
        summary: s,
        timeline: p.timeline.timeline(),
        oomKills: p.outcomes,
        notGoverned: p.notGoverned,
      };
    });
    const coverage = Object.fromEntries(
      coverageSignals.map((sig) => {
        const c = this.coverage[sig];
        return [sig, { percent: c.expected ? round2((100 * c.present) / c.expected) : 0, gaps: c.gaps }];
      }),
    ) as BacktestReport["coverage"];
    const missing = [...this.failures].sort((a, b) => a.from.localeCompare(b.from) || a.metric.localeCompare(b.metric));
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      stepSeconds: this.stepMs / 1000,
      steps: this.steps,
      queries: this.queries,
      coverage,
      rejectedSteps: this.rejectedSteps,
      missing,
      partial: missing.length > 0,
      notes: this.rawQueries > 0 ? [...reportNotes, rawSizesNote] : reportNotes,
      policies,
    };
  }
}

/** One history, every workload of it: a backtest of one batch. */
export function runBacktest(o: RunOptions): BacktestReport {
  const b = new Backtest(o.policies, o.exact);
  b.add(o.history, o.workloads);
  return b.report(o.from, o.to);
}

const round2 = (x: number) => Math.round(x * 100) / 100;
