// A backtest: each policy (a ClusterScaler) replayed over the same rebuilt history of every workload it governs,
// one decideOffline call per workload per policy, and the figures a platform team asks for before switching it on.
import { parseClusterScaler, type ClusterScaler } from "../api/index.js";
import { budgetOf } from "../scaler/fleet-budget.js";
import { decideOffline, type OfflineDecision } from "../scaler/offline.js";
import { resolvePolicy, selectClusterScaler } from "../scaler/policy.js";
import type { Size } from "../scaler/types.js";
import type { BacktestWorkload } from "./inventory.js";
import { coverageSignals, workloadSteps, type Coverage, type CoverageSignal, type WorkloadSteps } from "./replay.js";
import type { QueryFailure, SignalHistory } from "./signals.js";

export interface Policy {
  /** Where it came from: a file name, or clusterscaler/<name>. */
  source: string;
  /** The ClusterScaler as read (decideOffline parses it again, as the live reconciler does). */
  raw: unknown;
}

/** A change (or a change held back) of the timeline. */
export interface TimelineEntry {
  at: string;
  workload: string;
  component: string;
  action: "change" | "blocked";
  direction: "Up" | "Down";
  category: string;
  scaler: string;
  summary: string;
  before: Size;
  after: Size;
  blockedBy?: string;
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
  /** Every size change of a Deployment or StatefulSet rolls its pods today. */
  restarts: number;
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
  "restarts: every size change of a Deployment or StatefulSet is a rolling restart today (no in-place resize).",
  "slack counts request above usage (never below), per pod times replicas, at steps with usage data only.",
  "budgetHits are counted after the fact: the replay runs one workload at a time, so a change the fleet budget " +
    "would have held back is counted, not held (later rounds do not see the hold).",
  "not rebuilt from Prometheus: /readyz probe failures, WorkloadProfile recommendations and the fleet-regression " +
    "model; counter resets are handled by rate() as live.",
];

/** Parses each policy; a file that does not parse is an error naming the field. */
export function parsePolicies(policies: readonly Policy[]): Array<Policy & { value: ClusterScaler }> {
  return policies.map((p) => {
    const r = parseClusterScaler(p.raw);
    if (!r.ok) throw new Error(`${p.source}: invalid ClusterScaler: ${r.errors.join("; ")}`);
    return { ...p, value: r.value };
  });
}

const hours = (ms: number) => ms / 3_600_000;
const GiB = 1024 ** 3;

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const known = (x: number | undefined) => x !== undefined && !Number.isNaN(x);

/** Request above usage, and time with usage above the request, of one workload under a sequence of sizes. */
function usageFigures(
  steps: WorkloadSteps,
  stepMs: number,
  sizeAt: (i: number) => { cpu?: number; memory?: number; replicas: number },
): { cpuHours: number; gibHours: number; underMs: number } {
  let cpuHours = 0;
  let gibHours = 0;
  let underMs = 0;
  for (let i = 0; i < steps.rounds.length; i++) {
    const size = sizeAt(i);
    const cpu = steps.cpuUsage[i] as number;
    const memory = steps.memoryUsage[i] as number;
    let under = false;
    if (!Number.isNaN(cpu) && known(size.cpu)) {
      cpuHours += Math.max(0, (size.cpu as number) - cpu) * size.replicas * hours(stepMs);
      under ||= cpu > (size.cpu as number);
    }
    if (!Number.isNaN(memory) && known(size.memory)) {
      gibHours += (Math.max(0, (size.memory as number) - memory) / GiB) * size.replicas * hours(stepMs);
      under ||= memory > (size.memory as number);
    }
    if (under) underMs += stepMs;
  }
  return { cpuHours, gibHours, underMs };
}

/** What became of each real OOM kill under the replayed sizes. */
function oomOutcomes(
  w: BacktestWorkload,
  steps: WorkloadSteps,
  decisions: readonly OfflineDecision[],
  history: SignalHistory,
): OomOutcome[] {
  return steps.kills.map((kill) => {
    const base = {
      id: kill.id,
      tenant: w.ref.tenant,
      workload: `${w.ref.namespace}/${w.ref.name}`,
      at: new Date(kill.at).toISOString(),
      ...(kill.limitBytes !== undefined ? { limitBytes: kill.limitBytes } : {}),
    };
    const killedAt = kill.limitBytes ?? w.start.memoryLimit;
    const above = (i: number) => {
      const limit = decisions[i]?.size.memoryLimit;
      return killedAt !== undefined && limit !== undefined && limit > killedAt;
    };
    if (above(kill.stepIndex)) {
      let first = kill.stepIndex;
      while (first > 0 && above(first - 1)) first--;
      // A round's size is the one it started from: the change that raised it was decided the round before
      // (unless the limit was already above at the start of the range: the lead is then at least that long).
      const raisedAt = history.steps[Math.max(0, first - 1)] as number;
      return { ...base, outcome: "prevented", leadMinutes: (kill.at - raisedAt) / 60_000 };
    }
    for (let i = kill.stepIndex; i < decisions.length; i++) {
      const plan = decisions[i]?.plan;
      if (plan && plan.action === "change" && plan.oomIds.includes(kill.id))
        return { ...base, outcome: "answered", delayMinutes: ((history.steps[i] as number) - kill.at) / 60_000 };
    }
    return { ...base, outcome: "lost" };
  });
}

/** Non-OOM changes the fleet budget would have held back: more than its maxChangesPerInterval in any interval. */
export function budgetHitsOf(cs: ClusterScaler, changes: ReadonlyArray<{ at: number; oom: boolean }>): number {
  const { maxChanges, intervalMs } = budgetOf(cs);
  const sorted = [...changes].sort((a, b) => a.at - b.at);
  let hits = 0;
  const window: number[] = [];
  for (const c of sorted) {
    while (window.length > 0 && (window[0] as number) <= c.at - intervalMs) window.shift();
    if (!c.oom && window.length >= maxChanges) {
      hits++;
      continue;
    }
    window.push(c.at);
  }
  return hits;
}

export interface RunOptions {
  policies: readonly Policy[];
  workloads: readonly BacktestWorkload[];
  history: SignalHistory;
  /** The range asked for (the history's steps may start and end inside it). */
  from: number;
  to: number;
}

export function runBacktest(o: RunOptions): BacktestReport {
  const parsed = parsePolicies(o.policies);
  const { history } = o;
  const stepMs = history.stepMs;
  const perWorkload = new Map(o.workloads.map((w) => [w, workloadSteps(history, w)]));
  const coverage = Object.fromEntries(
    coverageSignals.map((s) => {
      const c = [...perWorkload.values()].reduce<Coverage>(
        (acc, w) => ({
          expected: acc.expected + w.coverage[s].expected,
          present: acc.present + w.coverage[s].present,
          gaps: acc.gaps + w.coverage[s].gaps,
        }),
        { expected: 0, present: 0, gaps: 0 },
      );
      return [s, { percent: c.expected ? round2((100 * c.present) / c.expected) : 0, gaps: c.gaps }];
    }),
  ) as BacktestReport["coverage"];
  const policies = parsed.map((p): PolicyResult => {
    const timeline: Record<string, TimelineEntry[]> = {};
    const outcomes: OomOutcome[] = [];
    const changes: Array<{ at: number; oom: boolean }> = [];
    const tenants = new Set<string>();
    const s: Summary = {
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
    };
    let usageExpected = 0;
    let usagePresent = 0;
    let notGoverned = 0;
    for (const w of o.workloads) {
      // As live: the policy governs the tenants its tenantSelector selects, and the components it lists.
      if (!selectClusterScaler([p.value], w.tenantLabels) || !resolvePolicy(p.value, w.ref.component, w.tenantLabels)) {
        notGoverned++;
        continue;
      }
      const steps = perWorkload.get(w) as WorkloadSteps;
      const decisions = decideOffline({
        clusterScaler: p.raw,
        workload: w.ref,
        tenantLabels: w.tenantLabels,
        start: w.start,
        rounds: steps.rounds,
      });
      s.workloads++;
      tenants.add(w.ref.tenant);
      usageExpected += steps.coverage.cpuUsage.expected + steps.coverage.memoryWorkingSet.expected;
      usagePresent += steps.coverage.cpuUsage.present + steps.coverage.memoryWorkingSet.present;
      const before = usageFigures(steps, stepMs, (i) => ({
        cpu: pick(steps.real.cpuRequest[i], w.start.cpuRequest),
        memory: pick(steps.real.memoryRequest[i], w.start.memoryRequest),
        replicas: w.start.replicas,
      }));
      const after = usageFigures(steps, stepMs, (i) => {
        const size = (decisions[i] as OfflineDecision).size;
        return { cpu: size.cpuRequest, memory: size.memoryRequest, replicas: size.replicas };
      });
      s.slackCpuHoursBefore += before.cpuHours;
      s.slackGiBHoursBefore += before.gibHours;
      s.underProvisionedHoursBefore += hours(before.underMs);
      s.slackCpuHoursAfter += after.cpuHours;
      s.slackGiBHoursAfter += after.gibHours;
      s.underProvisionedHours += hours(after.underMs);
      outcomes.push(...oomOutcomes(w, steps, decisions, history));
      const entries = (timeline[w.ref.tenant] ??= []);
      for (const d of decisions) {
        const plan = d.plan;
        if (plan.action === "none") {
          if (plan.heldForData !== undefined) s.heldForData++;
          if (/maxAllowed|minAllowed/.test(plan.reason)) s.boundHits++;
          continue;
        }
        if (plan.action === "blocked" && !plan.heldByFleetBudget) s.boundHits++;
        entries.push({
          at: d.at,
          workload: `${w.ref.kind}/${w.ref.name}`,
          component: w.ref.component,
          action: plan.action,
          direction: plan.direction,
          category: plan.category,
          scaler: plan.scaler,
          summary: plan.summary,
          before: plan.before,
          after: plan.after,
          ...(plan.blockedBy ? { blockedBy: plan.blockedBy } : {}),
        });
        if (plan.action !== "change") continue;
        s.changes++;
        if (plan.direction === "Up") s.scaleUps++;
        else s.scaleDowns++;
        changes.push({ at: Date.parse(d.at), oom: plan.category === "OOMKilled" });
      }
    }
    for (const entries of Object.values(timeline)) entries.sort((a, b) => a.at.localeCompare(b.at));
    s.tenants = tenants.size;
    s.restarts = s.changes;
    s.restartsRolling = s.changes;
    s.oomKills = outcomes.length;
    s.oomPrevented = outcomes.filter((k) => k.outcome === "prevented").length;
    s.oomAnswered = outcomes.filter((k) => k.outcome === "answered").length;
    s.oomLost = outcomes.filter((k) => k.outcome === "lost").length;
    s.oomLeadMinutes = round2(median(outcomes.flatMap((k) => (k.leadMinutes !== undefined ? [k.leadMinutes] : []))));
    s.budgetHits = budgetHitsOf(p.value, changes);
    s.coverage = usageExpected ? round2((100 * usagePresent) / usageExpected) : 0;
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
      name: p.value.metadata?.name ?? p.source,
      source: p.source,
      summary: s,
      timeline,
      oomKills: outcomes,
      notGoverned,
    };
  });
  return {
    from: new Date(o.from).toISOString(),
    to: new Date(o.to).toISOString(),
    stepSeconds: stepMs / 1000,
    steps: history.steps.length,
    queries: history.queries,
    coverage,
    rejectedSteps: history.rejectedSteps,
    missing: history.failures,
    partial: history.failures.length > 0,
    notes: reportNotes,
    policies,
  };
}

const pick = (series: number | undefined, fallback: number | undefined) =>
  series !== undefined && !Number.isNaN(series) ? series : fallback;

const round2 = (x: number) => Math.round(x * 100) / 100;
