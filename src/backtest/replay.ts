// One workload's rounds, rebuilt from the signal history as the live scaler would have seen them at each poll
// (src/scaler/signals/workload.ts: the worst pod of the workload's main container, the tenant's namespace-wide
// signals, OOM kills of its pods, the last poll's error), then replayed through the engine that runs live, once per
// workload per policy: as engine-form rounds built step by step (workloadSignals), or as the recorded JSON that
// decideOffline reads (workloadSteps, the reference both are tested equal against).
import type { RecordedMeasurement, RecordedOomKill, RecordedRound, SignalColumns } from "../scaler/offline.js";
import type { Measurement, OomEvent, Signals } from "../scaler/types.js";
import type { BacktestWorkload } from "./inventory.js";
import { namespaceMetrics, type HistoryMetric, type SignalHistory } from "./signals.js";
import { usageQueryOrder } from "../scaler/signals/prometheus.js";

/** The signals coverage is counted for, as the report names them. */
export const coverageSignals = [
  "cpuUsage",
  "memoryWorkingSet",
  "cpuThrottledRatio",
  "apiserver429Rate",
  "clusterNodes",
  "storedObjects",
  "oomKills",
] as const;
export type CoverageSignal = (typeof coverageSignals)[number];

export interface Coverage {
  /** Steps the signal was expected at (apiserver429Rate: kube-apiserver workloads only). */
  expected: number;
  present: number;
  /** Runs of missing steps after the signal had had a value (interruptions; stale or gone series). */
  gaps: number;
}

export interface OomKill {
  id: string;
  pod: string;
  container: string;
  /** The first step the kill was seen at. */
  stepIndex: number;
  at: number;
  /** The memory limit it was killed at, where kube-state-metrics had it. */
  limitBytes?: number;
}

export interface WorkloadSteps {
  rounds: RecordedRound[];
  cpuUsage: Float64Array;
  memoryUsage: Float64Array;
  /** The sizes the workload really had per step (its pods' largest, per kube-state-metrics), NaN where unknown. */
  real: { cpuRequest: Float64Array; memoryRequest: Float64Array; memoryLimit: Float64Array };
  kills: OomKill[];
  coverage: Record<CoverageSignal, Coverage>;
}

/** The pod names a workload's pods have: <name>-<hash>-<suffix> (Deployment) or <name>-<ordinal> (StatefulSet). */
export function podPattern(kind: "Deployment" | "StatefulSet", name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return kind === "StatefulSet" ? new RegExp(`^${escaped}-\\d+$`) : new RegExp(`^${escaped}-[a-z0-9]+-[a-z0-9]+$`);
}

const containerMetrics = [
  "cpu",
  "memory",
  "throttledRatio",
  "oomKills",
  "cpuRequest",
  "memoryRequest",
  "memoryLimit",
] as const;

/** Per history: each container-keyed metric's series keys by namespace, built once, not once per workload. */
const keysByNamespace = new WeakMap<SignalHistory, Map<string, Map<string, string[]>>>();

function namespaceIndex(history: SignalHistory, metric: string): Map<string, string[]> {
  let byMetric = keysByNamespace.get(history);
  if (!byMetric) keysByNamespace.set(history, (byMetric = new Map()));
  let index = byMetric.get(metric);
  if (!index) {
    index = new Map();
    for (const key of history.series[metric as HistoryMetric].keys()) {
      const ns = key.slice(0, key.indexOf("/"));
      const keys = index.get(ns);
      if (keys) keys.push(key);
      else index.set(ns, [key]);
    }
    byMetric.set(metric, index);
  }
  return index;
}

/** For each container-keyed metric, the series keys of this workload's pods' main container. */
function keysOf(history: SignalHistory, w: BacktestWorkload): Record<(typeof containerMetrics)[number], string[]> {
  const pods = podPattern(w.ref.kind, w.ref.name);
  const out = {} as Record<(typeof containerMetrics)[number], string[]>;
  for (const metric of containerMetrics) {
    out[metric] = (namespaceIndex(history, metric).get(w.ref.namespace) ?? []).filter((key) => {
      const [, pod, container] = key.split("/");
      return container === w.ref.container && !!pod && pods.test(pod);
    });
  }
  return out;
}

/** The largest value of `keys` at step i (the worst pod), NaN when none has one. */
function worst(series: Map<string, Float64Array>, keys: readonly string[], i: number): number {
  let v = Number.NaN;
  for (const key of keys) {
    const x = series.get(key)?.[i] ?? Number.NaN;
    if (!Number.isNaN(x) && !(x <= v)) v = x;
  }
  return v;
}

/** The tenant's p99 latency series by "VERB/scope" (the history keys them namespace/verb/scope). */
function latencySeries(history: SignalHistory, ns: string): Array<[string, Float64Array]> {
  const prefix = `${ns}/`;
  const out: Array<[string, Float64Array]> = [];
  for (const [key, values] of history.series.latencyP99)
    if (key.startsWith(prefix)) out.push([key.slice(prefix.length), values]);
  return out;
}

/** The rounds of one workload over the history, and what the report needs beside them. */
export function workloadSteps(history: SignalHistory, w: BacktestWorkload): WorkloadSteps {
  const n = history.steps.length;
  const keys = keysOf(history, w);
  const ns = w.ref.namespace;
  const apiserver = w.ref.component === "kube-apiserver";
  const col = (metric: HistoryMetric, i: number): number =>
    namespaceMetrics.has(metric)
      ? (history.series[metric].get(ns)?.[i] ?? Number.NaN)
      : worst(history.series[metric], keys[metric as (typeof containerMetrics)[number]], i);
  const cpuUsage = new Float64Array(n);
  const memoryUsage = new Float64Array(n);
  const real = {
    cpuRequest: new Float64Array(n),
    memoryRequest: new Float64Array(n),
    memoryLimit: new Float64Array(n),
  };
  const coverage = Object.fromEntries(coverageSignals.map((s) => [s, { expected: 0, present: 0, gaps: 0 }])) as Record<
    CoverageSignal,
    Coverage
  >;
  const seen: Partial<Record<CoverageSignal, boolean>> = {};
  const lastPresent: Partial<Record<CoverageSignal, boolean>> = {};
  const count = (signal: CoverageSignal, present: boolean) => {
    const c = coverage[signal];
    c.expected++;
    if (present) c.present++;
    else if (seen[signal] && lastPresent[signal]) c.gaps++;
    if (present) seen[signal] = true;
    lastPresent[signal] = present;
  };
  // Each kill: its series and restart count, first seen at one step; seen again while the pod status says so.
  const kills = new Map<string, OomKill>();
  const rounds: RecordedRound[] = [];
  for (let i = 0; i < n; i++) {
    const t = history.steps[i] as number;
    const at = new Date(t).toISOString();
    const m = (value: number): RecordedMeasurement | undefined =>
      Number.isNaN(value) ? undefined : { value, observedAt: at, source: "prometheus" };
    const signals: RecordedRound["signals"] = {};
    const cpu = col("cpu", i);
    const memory = col("memory", i);
    cpuUsage[i] = cpu;
    memoryUsage[i] = memory;
    real.cpuRequest[i] = col("cpuRequest", i);
    real.memoryRequest[i] = col("memoryRequest", i);
    real.memoryLimit[i] = col("memoryLimit", i);
    const put = (name: keyof RecordedRound["signals"], signal: CoverageSignal, value: number) => {
      const measured = m(value);
      count(signal, measured !== undefined);
      if (measured) (signals as Record<string, RecordedMeasurement>)[name] = measured;
    };
    put("cpuUsage", "cpuUsage", cpu);
    put("memoryWorkingSet", "memoryWorkingSet", memory);
    put("cpuThrottledRatio", "cpuThrottledRatio", col("throttledRatio", i));
    if (apiserver) put("apiserver429Rate", "apiserver429Rate", col("apiserver429", i));
    put("clusterNodes", "clusterNodes", col("nodes", i));
    put("storedObjects", "storedObjects", col("objects", i));
    // The tenant apiserver's load, as workloadSignals in src/scaler/signals/workload.ts reads it (not in coverage).
    const load = (name: keyof RecordedRound["signals"], value: number) => {
      const measured = m(value);
      if (measured) (signals as Record<string, RecordedMeasurement>)[name] = measured;
    };
    load("apiserverWatchers", col("watchers", i));
    load("etcdDatabaseBytes", col("etcdDbSize", i));
    if (apiserver) {
      load("apfSeatsRatio", col("apfSeats", i));
      load("apfRejectedRate", col("apfRejected", i));
      const latency: Record<string, RecordedMeasurement> = {};
      for (const [key, values] of latencySeries(history, ns)) {
        const measured = m(values[i] ?? Number.NaN);
        if (measured) latency[key] = measured;
      }
      if (Object.keys(latency).length > 0) signals.requestLatencyP99 = latency;
    }
    count("oomKills", !Number.isNaN(col("kubeStateMetrics", i)));
    const oom: RecordedOomKill[] = [];
    for (const key of keys.oomKills) {
      const restarts = history.series.oomKills.get(key)?.[i] ?? Number.NaN;
      if (Number.isNaN(restarts)) continue;
      const [, pod = "", container = ""] = key.split("/");
      const id = `${ns}/${pod}/${container}/${restarts}`;
      let kill = kills.get(id);
      if (!kill) {
        // The limit it died at: the pod's limit just before the kill was seen, or at it.
        const limit = history.series.memoryLimit.get(key);
        const before = limit?.[Math.max(0, i - 1)] ?? Number.NaN;
        const limitBytes = Number.isNaN(before) ? limit?.[i] : before;
        kill = { id, pod, container, stepIndex: i, at: t };
        if (limitBytes !== undefined && !Number.isNaN(limitBytes)) kill.limitBytes = limitBytes;
        kills.set(id, kill);
      }
      oom.push({
        id,
        pod,
        container,
        finishedAt: new Date(kill.at).toISOString(),
        ...(kill.limitBytes !== undefined ? { limitBytes: kill.limitBytes } : {}),
        // A Deployment's or StatefulSet's pod: its controller replaces it on a rollout.
        replaceable: true,
      });
    }
    if (oom.length > 0) signals.oom = oom;
    // As the live poll's lastError: a usage query that failed at this step makes the signals unavailable.
    const failed = usageQueryOrder.map((metric) => history.failedAt[metric][i]).find((e) => e !== undefined);
    if (failed !== undefined) signals.unavailableReason = failed;
    rounds.push({ at, signals });
  }
  return { rounds, cpuUsage, memoryUsage, real, kills: [...kills.values()], coverage };
}

/** What the report needs of one workload beside its rounds. */
export type WorkloadFigures = Omit<WorkloadSteps, "rounds">;

/**
 * The same rounds as workloadSteps, in the engine's own form (numbers, not ISO strings) and built on demand, one
 * step at a time, from columns computed once per workload: what the backtest replays (workloadSteps' RecordedRound
 * form, the JSON decideOffline reads, stays the reference it is tested against, and the baseline of bench/backtest).
 */
export interface WorkloadSignals extends WorkloadFigures {
  /** The signals the live poll would have given at step i (a new object each call). */
  signalsAt(i: number): Signals;
  /**
   * The same signals as signalsAt(i), written into one object (and its measurements) that every call returns again:
   * for a reader that keeps nothing of them past the next call (OfflineReplay.quietRound).
   */
  signalsInPlaceAt(i: number): Signals;
  /**
   * The same signals as columns (signalsOfColumns(columns, i) equals signalsAt(i)), for OfflineReplay.quietRun and
   * quietAt.
   */
  columns: SignalColumns;
}

const nothing = new Float64Array(0);

/** A round's OOM kills where it has none: one array for every such round (the engine only reads it). */
const noOom: OomEvent[] = Object.freeze([]) as unknown as OomEvent[];

/**
 * Per history, the reason each step's signals are unavailable (the first usage query, in usageQueryOrder, that
 * failed there), or undefined where none failed at any step (most histories): computed once per history, not read
 * from every metric's array at every round of every workload.
 */
const unavailableAt = new WeakMap<SignalHistory, { reasons: Array<string | undefined> | undefined }>();

function unavailableReasons(history: SignalHistory): Array<string | undefined> | undefined {
  let known = unavailableAt.get(history);
  if (!known) {
    let reasons: Array<string | undefined> | undefined;
    for (const metric of usageQueryOrder) {
      // forEach: only the steps that have a reason (the arrays are sparse).
      history.failedAt[metric].forEach((reason, i) => {
        if (reason === undefined) return;
        reasons ??= Array.from({ length: history.steps.length }, () => undefined);
        reasons[i] ??= reason;
      });
    }
    unavailableAt.set(history, (known = { reasons }));
  }
  return known.reasons;
}

/** A value read from Prometheus at `now`, or undefined for none (NaN). */
function measurement(value: number, now: number): Measurement | undefined {
  return Number.isNaN(value) ? undefined : { value, observedAt: now, source: "prometheus" };
}

/** The workload's value of `metric` per step: the namespace's series, or the worst of its pods' (NaN for none). */
function column(history: SignalHistory, metric: HistoryMetric, ns: string, keys: readonly string[]): Float64Array {
  const n = history.steps.length;
  if (namespaceMetrics.has(metric)) return history.series[metric].get(ns) ?? new Float64Array(n).fill(Number.NaN);
  const series = keys.map((k) => history.series[metric].get(k) ?? nothing);
  if (series.length === 1 && series[0]!.length === n) return series[0]!;
  const out = new Float64Array(n).fill(Number.NaN);
  for (const values of series) {
    for (let i = 0; i < n; i++) {
      const x = values[i] ?? Number.NaN;
      const v = out[i] as number;
      // As worst(): the first value, then any larger one.
      if (!Number.isNaN(x) && !(x <= v)) out[i] = x;
    }
  }
  return out;
}

export function workloadSignals(history: SignalHistory, w: BacktestWorkload): WorkloadSignals {
  const n = history.steps.length;
  const keys = keysOf(history, w);
  const ns = w.ref.namespace;
  const apiserver = w.ref.component === "kube-apiserver";
  const col = (metric: HistoryMetric) =>
    column(history, metric, ns, namespaceMetrics.has(metric) ? [] : keys[metric as (typeof containerMetrics)[number]]);
  const cpuUsage = col("cpu");
  const memoryUsage = col("memory");
  const throttled = col("throttledRatio");
  const rate429 = apiserver ? col("apiserver429") : undefined;
  const nodes = col("nodes");
  const objects = col("objects");
  const watchers = col("watchers");
  const etcdDbSize = col("etcdDbSize");
  const apfSeats = apiserver ? col("apfSeats") : undefined;
  const apfRejected = apiserver ? col("apfRejected") : undefined;
  const latency = apiserver ? latencySeries(history, ns) : [];
  const kubeStateMetrics = col("kubeStateMetrics");
  const real = { cpuRequest: col("cpuRequest"), memoryRequest: col("memoryRequest"), memoryLimit: col("memoryLimit") };
  const coverage = Object.fromEntries(coverageSignals.map((s) => [s, { expected: 0, present: 0, gaps: 0 }])) as Record<
    CoverageSignal,
    Coverage
  >;
  const count = (signal: CoverageSignal, values: Float64Array) => {
    const c = coverage[signal];
    let seen = false;
    let lastPresent = false;
    for (let i = 0; i < n; i++) {
      const present = !Number.isNaN(values[i] as number);
      c.expected++;
      if (present) c.present++;
      else if (seen && lastPresent) c.gaps++;
      if (present) seen = true;
      lastPresent = present;
    }
  };
  count("cpuUsage", cpuUsage);
  count("memoryWorkingSet", memoryUsage);
  count("cpuThrottledRatio", throttled);
  if (rate429) count("apiserver429Rate", rate429);
  count("clusterNodes", nodes);
  count("storedObjects", objects);
  count("oomKills", kubeStateMetrics);
  // The OOM kills, as workloadSteps finds them: per step, the kills its pods show.
  const kills = new Map<string, OomKill>();
  const oomAt: Array<OomEvent[] | undefined> = new Array(n);
  const oomSeries = keys.oomKills.map((key) => {
    const [, pod = "", container = ""] = key.split("/");
    return { key, pod, container, restarts: history.series.oomKills.get(key) ?? nothing };
  });
  for (let i = 0; i < n; i++) {
    let oom: OomEvent[] | undefined;
    for (const s of oomSeries) {
      const restarts = s.restarts[i] ?? Number.NaN;
      if (Number.isNaN(restarts)) continue;
      const id = `${ns}/${s.pod}/${s.container}/${restarts}`;
      let kill = kills.get(id);
      if (!kill) {
        const limit = history.series.memoryLimit.get(s.key);
        const before = limit?.[Math.max(0, i - 1)] ?? Number.NaN;
        const limitBytes = Number.isNaN(before) ? limit?.[i] : before;
        kill = { id, pod: s.pod, container: s.container, stepIndex: i, at: history.steps[i] as number };
        if (limitBytes !== undefined && !Number.isNaN(limitBytes)) kill.limitBytes = limitBytes;
        kills.set(id, kill);
      }
      (oom ??= []).push({
        id,
        pod: s.pod,
        container: s.container,
        finishedAt: kill.at,
        ...(kill.limitBytes !== undefined ? { limitBytes: kill.limitBytes } : {}),
        replaceable: true,
      });
    }
    oomAt[i] = oom;
  }
  const unavailable = unavailableReasons(history);
  // One object shape for every round (the properties in one order, undefined where a signal is missing, as the live
  // poll builds them in src/scaler/signals/workload.ts): the engine's reads of it stay monomorphic.
  const fill = (i: number, out: Signals, at: (value: number, now: number, slot: number) => Measurement | undefined) => {
    const now = history.steps[i] as number;
    let p99: Record<string, Measurement> | undefined;
    for (const [key, values] of latency) {
      const measured = measurement(values[i] as number, now);
      if (measured) (p99 ??= {})[key] = measured;
    }
    out.oom = oomAt[i] ?? noOom;
    out.cpuUsage = at(cpuUsage[i] as number, now, 0);
    out.memoryWorkingSet = at(memoryUsage[i] as number, now, 1);
    out.cpuThrottledRatio = at(throttled[i] as number, now, 2);
    out.apiserver429Rate = rate429 ? at(rate429[i] as number, now, 3) : undefined;
    out.clusterNodes = at(nodes[i] as number, now, 4);
    out.storedObjects = at(objects[i] as number, now, 5);
    out.apiserverWatchers = at(watchers[i] as number, now, 6);
    out.apfSeatsRatio = apfSeats ? at(apfSeats[i] as number, now, 7) : undefined;
    out.apfRejectedRate = apfRejected ? at(apfRejected[i] as number, now, 8) : undefined;
    out.requestLatencyP99 = p99;
    out.etcdDatabaseBytes = at(etcdDbSize[i] as number, now, 9);
    out.probeFailures = undefined;
    out.unavailableReason = unavailable?.[i];
    return out;
  };
  const emptySignals = (): Signals => ({
    oom: noOom,
    cpuUsage: undefined,
    memoryWorkingSet: undefined,
    cpuThrottledRatio: undefined,
    apiserver429Rate: undefined,
    clusterNodes: undefined,
    storedObjects: undefined,
    apiserverWatchers: undefined,
    apfSeatsRatio: undefined,
    apfRejectedRate: undefined,
    requestLatencyP99: undefined,
    etcdDatabaseBytes: undefined,
    probeFailures: undefined,
    unavailableReason: undefined,
  });
  const signalsAt = (i: number): Signals => fill(i, emptySignals(), measurement);
  // signalsInPlaceAt's object, and one measurement per signal in it.
  const inPlace = emptySignals();
  const slots: Measurement[] = Array.from({ length: 10 }, () => ({ value: 0, observedAt: 0, source: "prometheus" }));
  const inSlot = (value: number, now: number, slot: number): Measurement | undefined => {
    if (Number.isNaN(value)) return undefined;
    const m = slots[slot] as Measurement;
    m.value = value;
    m.observedAt = now;
    return m;
  };
  const signalsInPlaceAt = (i: number): Signals => fill(i, inPlace, inSlot);
  const measured: SignalColumns["measured"] = {
    cpuUsage,
    memoryWorkingSet: memoryUsage,
    cpuThrottledRatio: throttled,
    clusterNodes: nodes,
    storedObjects: objects,
    apiserverWatchers: watchers,
    etcdDatabaseBytes: etcdDbSize,
  };
  if (rate429) measured.apiserver429Rate = rate429;
  if (apfSeats) measured.apfSeatsRatio = apfSeats;
  if (apfRejected) measured.apfRejectedRate = apfRejected;
  const columns: SignalColumns = {
    steps: history.steps,
    measured,
    requestLatencyP99: latency,
    oom: oomAt,
    unavailableReason: unavailable,
  };
  return { signalsAt, signalsInPlaceAt, columns, cpuUsage, memoryUsage, real, kills: [...kills.values()], coverage };
}
