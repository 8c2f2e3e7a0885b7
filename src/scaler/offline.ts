// The engine offline: recorded inputs of one workload replayed round by round through exactly the pipeline the
// controller runs (decideRound: the history model, the scalers, the estimators and the engine), with no cluster and
// no clock but the recorded one. Each change is carried forward as the workload would read it back once applied,
// so later rounds see earlier decisions; nothing is ever applied, so the ClusterScaler's dryRun makes no
// difference here. The fleet budget is not counted: a round says what remained of it (unlimited when it does not).
import { parseClusterScaler } from "../api/index.js";
import { sizeBlock, sizeOf } from "./decisions.js";
import { defaultEngineOptions, type EngineOptions } from "./engine-options.js";
import { afterDecision, emptyHistory, type History } from "./history.js";
import { resolvePolicy } from "./policy.js";
import { decideWithHistory, quietPlan, tenantFacts, type TenantFacts } from "./round.js";
import { fresh } from "./freshness.js";
import type {
  DecisionInput,
  Measurement,
  Placement,
  Plan,
  Profile,
  ResolvedPolicy,
  Signals,
  Size,
  WorkloadRef,
} from "./types.js";

/** A measurement as recorded: its time as an ISO string. */
export interface RecordedMeasurement {
  value: number;
  observedAt: string;
  source?: string;
}

export interface RecordedOomKill {
  id: string;
  pod: string;
  container: string;
  finishedAt: string;
  limitBytes?: number;
  replaceable?: boolean;
}

/** What one round saw. */
export interface RecordedRound {
  /** The round's clock. */
  at: string;
  signals: {
    oom?: RecordedOomKill[];
    cpuUsage?: RecordedMeasurement;
    memoryWorkingSet?: RecordedMeasurement;
    cpuThrottledRatio?: RecordedMeasurement;
    apiserver429Rate?: RecordedMeasurement;
    clusterNodes?: RecordedMeasurement;
    storedObjects?: RecordedMeasurement;
    apiserverWatchers?: RecordedMeasurement;
    apfSeatsRatio?: RecordedMeasurement;
    apfRejectedRate?: RecordedMeasurement;
    /** By "VERB/scope". */
    requestLatencyP99?: Record<string, RecordedMeasurement>;
    etcdDatabaseBytes?: RecordedMeasurement;
    probeFailures?: RecordedMeasurement;
    unavailableReason?: string;
  };
  /** The size the workload really had, where known; otherwise the size the earlier decisions left it at. */
  observed?: Size;
  profile?: Profile;
  /** The fleet model's fits of the component, for the fleet-regression estimator. */
  fleet?: DecisionInput["fleet"];
  /** The nodes and NodePools the component could run on then (no capacity check when unset). */
  placement?: Placement;
  /** Changes the fleet budget still allowed (unlimited when unset), and the tenant's OOM floor left. */
  fleetBudgetRemaining?: number;
  oomFloorRemaining?: number;
  paused?: boolean;
}

export interface RecordedInputs {
  /** The ClusterScaler, as in a file or from the cluster. */
  clusterScaler: unknown;
  workload: WorkloadRef;
  /** The tenant's labels, for the ClusterScaler's overrides. */
  tenantLabels?: Record<string, string>;
  /** The workload's size before the first round. */
  start: Size;
  rounds: RecordedRound[];
  engine?: Partial<EngineOptions>;
}

export interface OfflineDecision {
  at: string;
  plan: Plan;
  /** The size the round started from. */
  size: Size;
}

const measurement = (m: RecordedMeasurement | undefined): Measurement | undefined =>
  m && { value: m.value, observedAt: Date.parse(m.observedAt), source: m.source ?? "recorded" };

/** A recorded round's signals in the engine's form (times as ms; no OOM kills as none). */
export function signalsOf(r: RecordedRound["signals"]): Signals {
  const signals: Signals = {
    oom: (r.oom ?? []).map((e) => ({ ...e, finishedAt: Date.parse(e.finishedAt) })),
  };
  for (const name of [
    "cpuUsage",
    "memoryWorkingSet",
    "cpuThrottledRatio",
    "apiserver429Rate",
    "clusterNodes",
    "storedObjects",
    "apiserverWatchers",
    "apfSeatsRatio",
    "apfRejectedRate",
    "etcdDatabaseBytes",
    "probeFailures",
  ] as const) {
    const m = measurement(r[name]);
    if (m) signals[name] = m;
  }
  if (r.requestLatencyP99) {
    const latency: Record<string, Measurement> = {};
    for (const [key, rm] of Object.entries(r.requestLatencyP99)) {
      const m = measurement(rm);
      if (m) latency[key] = m;
    }
    signals.requestLatencyP99 = latency;
  }
  if (r.unavailableReason !== undefined) signals.unavailableReason = r.unavailableReason;
  return signals;
}

/** One round in the engine's own form: its clock in ms and the signals as the live poll gives them. */
export interface OfflineRound {
  now: number;
  signals: Signals;
  observed?: Size;
  profile?: Profile;
  fleet?: DecisionInput["fleet"];
  placement?: Placement;
  fleetBudgetRemaining?: number;
  oomFloorRemaining?: number;
  paused?: boolean;
}

/**
 * The replay loop of one workload under one resolved policy, a round at a time: decideRound on the workload's
 * history (decideWithHistory, its body, on an input built with the history in it), then each change carried forward
 * as the workload would read it back once applied (whole millicores and MiB, as live). decideOffline runs it over
 * recorded (JSON) rounds; the backtest feeds it rounds it builds in this form directly, without the ISO-string round
 * trip, so both run exactly the same engine.
 */
export class OfflineReplay {
  private history?: History;
  /** The size the next round starts from (the last observed size, or the last change carried forward). */
  size: Size;
  private readonly engine: EngineOptions;
  /** quietRound's input, one object for every round it decides (nothing it decides keeps the input). */
  private quietInput?: DecisionInput;
  /** The TenantFacts of the last tenant size quietRound saw, for the size the workload had then. */
  private facts?: { size: Size; nodes?: number; objects?: number; watchers?: number; facts: TenantFacts };

  constructor(
    private readonly workload: WorkloadRef,
    private readonly policy: ResolvedPolicy,
    start: Size,
    engine: Partial<EngineOptions> = {},
  ) {
    this.size = start;
    this.engine = { ...defaultEngineOptions, ...engine };
  }

  /** The round's plan, and the size the round started from. */
  round(r: OfflineRound): { plan: Plan; size: Size } {
    const now = r.now;
    // The observation window starts at the first round, as live starts it at the controller's first look.
    const history = (this.history ??= emptyHistory(now));
    const observed = r.observed ?? this.size;
    const plan = decideWithHistory(
      {
        workload: this.workload,
        current: observed,
        observed,
        policy: this.policy,
        signals: r.signals,
        profile: r.profile,
        fleet: r.fleet,
        now,
        fleetBudgetRemaining: r.fleetBudgetRemaining ?? Number.POSITIVE_INFINITY,
        oomFloorRemaining: r.oomFloorRemaining ?? Number.POSITIVE_INFINITY,
        placement: r.placement,
        paused: r.paused ?? false,
        history,
      },
      this.engine,
    );
    this.size = observed;
    if (plan.action !== "none") {
      // As the workload reads back once applied: whole millicores and MiB, as live.
      const applied = sizeOf(sizeBlock(plan.after));
      afterDecision(history, plan, plan.action === "blocked" ? "Blocked" : "Applied", observed, applied, now);
      if (plan.action === "change") this.size = applied;
    }
    return { plan, size: observed };
  }

  /**
   * The round at `now` when it is a quiet one (quietPlan: no scaler asks for a scale-up, and the scale-down changes
   * nothing), decided as round() decides it, with the same effects, for a round with nothing but its signals (no
   * observed size, profile, fleet fits or placement; not paused; no budget spent). Undefined when it is not such a
   * round, or the first: nothing was changed then, and the caller runs round() on it.
   * What makes it cheaper: the event scalers are not asked and the estimators' floors are not found again while the
   * tenant's size (its fresh node, object and watcher counts) and the workload's size stay as they were (TenantFacts),
   * and the input is one object for every round. The signals are read during the call only: the caller may reuse
   * the object for the next round.
   */
  quietRound(now: number, signals: Signals): Plan | undefined {
    const history = this.history;
    if (!history) return undefined;
    const input = (this.quietInput ??= {
      workload: this.workload,
      current: this.size,
      observed: this.size,
      policy: this.policy,
      signals,
      profile: undefined,
      fleet: undefined,
      now,
      fleetBudgetRemaining: Number.POSITIVE_INFINITY,
      oomFloorRemaining: Number.POSITIVE_INFINITY,
      placement: undefined,
      paused: false,
      history,
    });
    input.current = input.observed = this.size;
    input.signals = signals;
    input.now = now;
    input.history = history;
    const nodes = fresh(signals.clusterNodes, now, this.engine)?.value;
    const objects = fresh(signals.storedObjects, now, this.engine)?.value;
    const watchers = fresh(signals.apiserverWatchers, now, this.engine)?.value;
    let known = this.facts;
    if (
      known?.size !== this.size ||
      !Object.is(known.nodes, nodes) ||
      !Object.is(known.objects, objects) ||
      !Object.is(known.watchers, watchers)
    )
      this.facts = known = { size: this.size, nodes, objects, watchers, facts: tenantFacts(input, this.engine) };
    const plan = quietPlan(input, this.engine, known.facts);
    return plan && "action" in plan ? plan : undefined;
  }
}

/** Every round's plan, in order. Throws on a ClusterScaler that does not parse or does not list the component. */
export function decideOffline(recorded: RecordedInputs): OfflineDecision[] {
  const parsed = parseClusterScaler(recorded.clusterScaler);
  if (!parsed.ok) throw new Error(`invalid ClusterScaler: ${parsed.errors.join("; ")}`);
  const { component } = recorded.workload;
  const policy = resolvePolicy(parsed.value, component, recorded.tenantLabels ?? {});
  if (!policy) throw new Error(`the ClusterScaler lists no component ${component}`);
  const replay = new OfflineReplay(recorded.workload, policy, recorded.start, recorded.engine);
  return recorded.rounds.map((round) => ({
    at: round.at,
    ...replay.round({ ...round, now: Date.parse(round.at), signals: signalsOf(round.signals) }),
  }));
}
