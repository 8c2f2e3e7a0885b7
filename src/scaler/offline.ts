// The engine offline: recorded inputs of one workload replayed round by round through exactly the pipeline the
// controller runs (decideRound: the history model, the scalers, the estimators and the engine), with no cluster and
// no clock but the recorded one. Each change is carried forward as the workload would read it back once applied,
// so later rounds see earlier decisions; nothing is ever applied, so the ClusterScaler's dryRun makes no
// difference here. The fleet budget is not counted: a round says what remained of it (unlimited when it does not).
import { parseClusterScaler } from "../api/index.js";
import { sizeBlock, sizeOf } from "./decisions.js";
import { defaultEngineOptions, type EngineOptions } from "./engine-options.js";
import { afterDecision, emptyHistory, rememberRecommendation, type History } from "./history.js";
import { resolvePolicy } from "./policy.js";
import { decideWithHistory, quietPlan, tenantFacts, type TenantFacts } from "./round.js";
import { fresh } from "./freshness.js";
import { measuredSignals, quietBounds, type MeasuredSignal } from "./scalers/index.js";
import { oomScaler } from "./scalers/oom.js";
import {
  ownRecommendationHolds,
  quietScaleDownReason,
  recommendationOver,
  recommendedCpu,
  recommendedMemory,
  scaleDownDisabledReason,
  scaleDownWait,
  windowHoldsReason,
  windowStepDown,
  type RecommendationFloor,
} from "./scalers/scale-down.js";
import type {
  DecisionInput,
  Measurement,
  OomEvent,
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
  for (const name of measuredSignals) {
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
 * A workload's signals as columns, an entry per step, where every measurement was observed at its step's clock or is
 * missing (NaN): the form the backtest rebuilds them in from Prometheus' history (src/backtest/replay.ts), and what
 * OfflineReplay.quietAt and quietRun read. A signal the workload has no column of (the apiserver's own ones for other
 * components, probe failures) is missing at every step. Step i's signals are what signalsOfColumns gives.
 */
export interface SignalColumns {
  /** Each step's clock, ms. */
  steps: readonly number[];
  measured: Partial<Record<MeasuredSignal, Float64Array>>;
  /** By "VERB/scope". */
  requestLatencyP99: ReadonlyArray<readonly [string, Float64Array]>;
  /** The OOM kills each step shows; undefined where none. */
  oom: ReadonlyArray<OomEvent[] | undefined>;
  /** Why the step's signals are unavailable, where they are; undefined for every step where none is. */
  unavailableReason: ReadonlyArray<string | undefined> | undefined;
}

/** What OfflineReplay.quietAt and quietRun check a step's columns against, for one size of the workload. */
interface ColumnCheck {
  size: Size;
  columns: SignalColumns;
  /**
   * The columns some sustained scaler reads, and the bound each value must be under (QuietBounds); undefined when a
   * scaler cannot say, or a measurement observed at its round's clock would not be fresh (a negative staleAfterMs).
   */
  read?: Float64Array[];
  bounds?: number[];
}

/**
 * The replay loop of one workload under one resolved policy, a round at a time: decideRound on the workload's
 * history (decideWithHistory, its body, on an input built with the history in it), then each change carried forward
 * as the workload would read it back once applied (whole millicores and MiB, as live). decideOffline runs it over
 * recorded (JSON) rounds; the backtest feeds it rounds it builds in this form directly, without the ISO-string round
 * trip, so both run exactly the same engine. Most of the backtest's rounds are quiet ones, which it decides from the
 * workload's columns a run at a time (quietRun), tested equal to round().
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
  /** quietAt's and quietRun's columns and bounds, for the size the workload had when they were found. */
  private columnCheck?: ColumnCheck;
  /** What quietAt's round reads of the signals, but through the columns: no failed query, and kills but for a call. */
  private readonly columnSignals: Signals = { oom: noOom };
  private readonly scratchNotes: string[] = [];

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

  /**
   * Step i of `columns` decided as quietRound decides it, without the step's signals object, for the most common
   * quiet round: no failed query at the step, no OOM kill the oom scaler answers, the tenant's size as quietRound
   * last found its facts at the workload's size, every sustained scaler under its quietBelow bounds, fresh usage,
   * and a scale-down that the window holds back (its reason told by the round's own recommendation,
   * quietScaleDownReason, or by the window's, windowStepDown). It then has the plan quietRound would give (action
   * none, never held for data; its notes are not kept) and the same effect: the round's recommendation kept for the
   * window. Returns the plan's reason; undefined, with nothing changed, for any other step: the caller asks
   * quietRound, then round().
   *
   * Why it is the same: the oom scaler is asked on the step's kills as quietPlan asks it; the other event scalers
   * and the floor are the facts'; no sustained scaler is over its threshold (the bounds are conservative,
   * scalers/quiet-bounds.property.test.ts), so quietPlan would go on to the recommendation, which is
   * recommendationOver of the same floor and usage, and to the same scale-down; the history has no threshold starts
   * to delete and no Blocked report to settle (else undefined). offline-quiet.test.ts checks plans and histories.
   */
  quietAt(i: number, columns: SignalColumns): string | undefined {
    const ready = this.columnsReady(columns);
    if (!ready) return undefined;
    const { history, input, floor } = ready;
    const m = columns.measured;
    if (columns.unavailableReason?.[i] !== undefined || !this.sameTenantSize(m, i)) return undefined;
    const cpu = valueAt(m.cpuUsage, i);
    const memory = valueAt(m.memoryWorkingSet, i);
    if (cpu === undefined || memory === undefined || !underBounds(ready, i)) return undefined;
    const now = columns.steps[i] as number;
    const rec = recommendationOver(floor, now, cpu, memory, this.engine);
    input.now = now;
    const kills = columns.oom[i];
    if (kills) {
      // A kill at the step: the oom scaler asked as quietPlan asks it (what it notes is not kept).
      const signals = input.signals;
      signals.oom = kills;
      const notes = this.scratchNotes;
      notes.length = 0;
      const asks = oomScaler.propose(input, this.engine, notes);
      signals.oom = noOom;
      if (asks) return undefined;
    }
    const facts = ready.facts.scaleDown;
    const reason = !this.policy.scaleDown.enabled
      ? scaleDownDisabledReason
      : (quietScaleDownReason(input, rec, facts) ??
        (windowStepDown(input, rec, facts.cpuBelow, facts.memBelow) === "holds" ? windowHoldsReason : undefined));
    if (reason === undefined) return undefined;
    rememberRecommendation(history, rec, this.policy.scaleDown.stabilizationWindowMs, now);
    return reason;
  }

  /**
   * quietAt over steps `from`, from + 1, ... before `to`, as far as it takes them: the first step it does not take
   * (`to` when it takes them all), every step before it decided as quietAt decides it, with the same effects. Their
   * plans' reasons are those quietAt gives (the scale-down disabled, waiting for the clock, or held back by the
   * window): none names a bound, and none is held for data.
   *
   * What makes it cheaper than a quietAt a step: the checks of the workload's state are made once, and a step's
   * recommendation is computed as numbers, not kept in the window as the step is taken: only where the window is
   * read (a step whose own recommendation does not tell that the window holds) and at the end are the taken steps'
   * recommendations put in, those still in the window then (what quietAt's rememberRecommendation a step would have
   * left there: the window keeps what is newer than one stabilization window before the last step).
   */
  quietRun(from: number, to: number, columns: SignalColumns): number {
    const ready = this.columnsReady(columns);
    const m = columns.measured;
    const cpuColumn = m.cpuUsage;
    const memoryColumn = m.memoryWorkingSet;
    if (!ready || !cpuColumn || !memoryColumn) return from;
    const { input, floor } = ready;
    const facts = ready.facts.scaleDown;
    const { steps, oom, unavailableReason } = columns;
    const engine = this.engine;
    const enabled = this.policy.scaleDown.enabled;
    // The first taken step whose recommendation is not in the window yet.
    let pending = from;
    let i = from;
    for (; i < to; i++) {
      if (oom[i] !== undefined) {
        // A kill: quietAt asks the oom scaler, on the window as it is after the steps before.
        this.putInWindow(ready, columns, pending, i);
        pending = i;
        if (this.quietAt(i, columns) === undefined) break;
        pending = i + 1;
        continue;
      }
      if (unavailableReason?.[i] !== undefined || !this.sameTenantSize(m, i)) break;
      const cpu = cpuColumn[i] as number;
      const memory = memoryColumn[i] as number;
      if (Number.isNaN(cpu) || Number.isNaN(memory) || !underBounds(ready, i)) break;
      if (!enabled) continue;
      input.now = steps[i] as number;
      if (scaleDownWait(input)) continue;
      if (ownRecommendationHolds(facts, recommendedCpu(floor, cpu, engine), recommendedMemory(floor, memory, engine)))
        continue;
      // The window decides: with the recommendations of the steps taken before this one in it.
      this.putInWindow(ready, columns, pending, i);
      pending = i;
      const rec = recommendationOver(floor, input.now, cpu, memory, engine);
      if (windowStepDown(input, rec, facts.cpuBelow, facts.memBelow) !== "holds") break;
    }
    this.putInWindow(ready, columns, pending, i);
    return i;
  }

  /**
   * The recommendations of taken steps from..to-1 put in the window, as rememberRecommendation at each would have
   * left it after step to-1: those older than one stabilization window before it are not put in (the first one put
   * in, at least step to-1's, forgets what the window held from before then).
   */
  private putInWindow(ready: ColumnsReady, columns: SignalColumns, from: number, to: number): void {
    if (to <= from) return;
    const { steps } = columns;
    const windowMs = this.policy.scaleDown.stabilizationWindowMs;
    const cutoff = (steps[to - 1] as number) - windowMs;
    let first = to;
    while (first > from && (steps[first - 1] as number) >= cutoff) first--;
    const cpu = columns.measured.cpuUsage as Float64Array;
    const memory = columns.measured.memoryWorkingSet as Float64Array;
    for (let s = first; s < to; s++) {
      const now = steps[s] as number;
      const rec = recommendationOver(ready.floor, now, cpu[s] as number, memory[s] as number, this.engine);
      rememberRecommendation(ready.history, rec, windowMs, now);
    }
  }

  /**
   * What quietAt and quietRun need of the workload before any step: a history, the facts quietRound found at the
   * workload's size (every other event scaler quiet, the floor known), no Blocked report, no sustained scaler's
   * start, and the columns' bounds at this size; undefined when a step cannot be decided from the columns. The input
   * they decide on is quietRound's, at this size, with the signals they read through the columns (no kill, no failed
   * query).
   */
  private columnsReady(columns: SignalColumns): ColumnsReady | undefined {
    const history = this.history;
    const known = this.facts;
    const input = this.quietInput;
    if (!history || !known || !input || known.size !== this.size) return undefined;
    const { facts } = known;
    if (!facts.eventsQuiet || facts.floor === "unknown" || history.blockedReport) return undefined;
    // (A negative window would forget each round's own recommendation: quietRun's putInWindow does not.)
    if (!(this.policy.scaleDown.stabilizationWindowMs >= 0)) return undefined;
    for (const _ in history.overThresholdSince) return undefined;
    let check = this.columnCheck;
    if (check?.size !== this.size || check.columns !== columns)
      this.columnCheck = check = columnCheck(this.size, columns, input, this.engine);
    const { read, bounds } = check;
    if (!read || !bounds) return undefined;
    input.current = input.observed = this.size;
    input.history = history;
    input.signals = this.columnSignals;
    return { history, input, facts, floor: facts.floor, read, bounds };
  }

  /** Whether step i reads the tenant's size (its fresh node, object and watcher counts) as the known facts do. */
  private sameTenantSize(m: SignalColumns["measured"], i: number): boolean {
    const known = this.facts as NonNullable<OfflineReplay["facts"]>;
    return (
      Object.is(known.nodes, valueAt(m.clusterNodes, i)) &&
      Object.is(known.objects, valueAt(m.storedObjects, i)) &&
      Object.is(known.watchers, valueAt(m.apiserverWatchers, i))
    );
  }
}

/** What OfflineReplay.columnsReady finds. */
interface ColumnsReady {
  history: History;
  input: DecisionInput;
  facts: TenantFacts;
  floor: RecommendationFloor;
  read: Float64Array[];
  bounds: number[];
}

/** Whether every column a sustained scaler reads is under its bound at step i (a missing value, NaN, always is). */
function underBounds(ready: { read: Float64Array[]; bounds: number[] }, i: number): boolean {
  const { read, bounds } = ready;
  for (let k = 0; k < read.length; k++)
    if (((read[k] as Float64Array)[i] as number) >= (bounds[k] as number)) return false;
  return true;
}

/** The value of a column at step i, undefined where it has none (as a fresh measurement's value, or none). */
function valueAt(column: Float64Array | undefined, i: number): number | undefined {
  const v = column?.[i];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

/** A round's OOM kills where it has none. */
const noOom: OomEvent[] = Object.freeze([]) as unknown as OomEvent[];

/** The columns the sustained scalers read at `size`, and their bounds (quietBounds): a ColumnCheck. */
function columnCheck(size: Size, columns: SignalColumns, input: DecisionInput, engine: EngineOptions): ColumnCheck {
  const bounds =
    engine.staleAfterMs >= 0 ? quietBounds({ ...input, current: size, observed: size }, engine) : undefined;
  if (!bounds) return { size, columns };
  const read: Float64Array[] = [];
  const under: number[] = [];
  const add = (column: Float64Array | undefined, bound: number) => {
    if (!column || bound === Number.POSITIVE_INFINITY) return;
    read.push(column);
    under.push(bound);
  };
  for (const name of Object.keys(bounds.below) as MeasuredSignal[])
    add(columns.measured[name], bounds.below[name] as number);
  if (bounds.latency) for (const [key, column] of columns.requestLatencyP99) add(column, bounds.latency(key));
  return { size, columns, read, bounds: under };
}

/** Step i of `columns` as the live poll gives it: each value a measurement observed at the step's clock. */
export function signalsOfColumns(columns: SignalColumns, i: number): Signals {
  const now = columns.steps[i] as number;
  const signals: Signals = { oom: columns.oom[i] ?? [] };
  for (const name of Object.keys(columns.measured) as MeasuredSignal[]) {
    const value = valueAt(columns.measured[name], i);
    if (value !== undefined) signals[name] = { value, observedAt: now, source: "prometheus" };
  }
  for (const [key, column] of columns.requestLatencyP99) {
    const value = valueAt(column, i);
    if (value !== undefined) (signals.requestLatencyP99 ??= {})[key] = { value, observedAt: now, source: "prometheus" };
  }
  const reason = columns.unavailableReason?.[i];
  if (reason !== undefined) signals.unavailableReason = reason;
  return signals;
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
