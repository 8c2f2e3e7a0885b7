// Every signal the live scaler reads, rebuilt from Prometheus history step by step at the poll interval: the poll's
// own queries (src/scaler/signals/prometheus.ts usageQueries) evaluated over a range instead of at one instant,
// plus kube-state-metrics for OOM kills and for the sizes the workloads really had. The number of queries is
// bounded: one range query per metric per chunk of the range, for all tenants at once (grouped by
// namespace/pod/container or namespace), never one per tenant or per step. A query that fails leaves its metric
// missing over its chunk, with the reason kept; the rest of the history is still used (a partial history, never
// a crash), and a step without a value is missing, never zero.
import type { Lookback, RangeColumns, RangeQueryClient } from "../prometheus/client.js";
import {
  ownSeries,
  type LabelMatcher,
  type RawSeries,
  type RemoteQuery,
  type SeriesVisitor,
} from "../prometheus/remote-read.js";
import { PrometheusError, rangeColumnsOf } from "../prometheus/client.js";
import { rateAtSteps, type RateWindow } from "../prometheus/rate.js";
import { parseDuration } from "../api/common.js";
import { newSeries, type SeriesPool } from "./shared-series.js";
import {
  defaultMetricNames,
  escapeRegex,
  namespaceSelector,
  seriesKey,
  usageQueries,
  usageQueryOrder,
  type MetricNames,
} from "../scaler/signals/prometheus.js";

/** The live poll's signals, then kube-state-metrics' OOM kills, the tenant's pods seen by it, and sizes. */
export const historyMetrics = [
  ...usageQueryOrder,
  "oomKills",
  "kubeStateMetrics",
  "cpuRequest",
  "memoryRequest",
  "memoryLimit",
] as const;
export type HistoryMetric = (typeof historyMetrics)[number];

/** Metrics keyed by namespace alone; latencyP99 by namespace/verb/scope; the others by namespace/pod/container. */
export const namespaceMetrics: ReadonlySet<HistoryMetric> = new Set([
  "apiserver429",
  "nodes",
  "objects",
  "watchers",
  "apfSeats",
  "apfRejected",
  "etcdDbSize",
  "kubeStateMetrics",
]);

/** The PromQL of every metric the backtest reads, for the tenant namespaces. */
export function historyQueries(
  namespaces: readonly string[] | undefined,
  rateWindow: string,
  metrics: Partial<MetricNames> = {},
  stepMs?: number,
): Record<HistoryMetric, string> {
  const n = { ...defaultMetricNames, ...metrics };
  const sel = (extra?: string) => namespaceSelector(n, namespaces, extra);
  const by = `${n.namespaceLabel},${n.podLabel},${n.containerLabel}`;
  // Over a range, the largest value within each step: a kill's series can live shorter than a step (its pod
  // replaced at once, as by the rollout of the scale-up that answered it), and the live scaler, which watches pod
  // status, saw it; at one instant per step it would be missed.
  const withinStep = (series: string) => (stepMs ? `max_over_time(${series}[${stepMs}ms])` : series);
  return {
    ...usageQueries(n, sel, rateWindow),
    // While a container's last termination was an OOM kill, its restart count: each count is one kill, as the
    // live scaler's id of a kill is the pod, container and restart count.
    oomKills:
      `max by (${by}) (${withinStep(`kube_pod_container_status_last_terminated_reason${sel('reason="OOMKilled"')}`)}) ` +
      `* on (${by}) max by (${by}) (${withinStep(`kube_pod_container_status_restarts_total${sel()}`)})`,
    kubeStateMetrics: `count by (${n.namespaceLabel}) (kube_pod_container_status_restarts_total${sel()})`,
    cpuRequest: `max by (${by}) (kube_pod_container_resource_requests${sel('resource="cpu"')})`,
    memoryRequest: `max by (${by}) (kube_pod_container_resource_requests${sel('resource="memory"')})`,
    memoryLimit: `max by (${by}) (kube_pod_container_resource_limits${sel('resource="memory"')})`,
  };
}

/**
 * The metrics read as raw samples where the Prometheus' lookback is known (FetchHistoryOptions.lookback), each by
 * its bare selector: kube-state-metrics' sizes, which its exporter changes only when a pod changes and which
 * Prometheus would otherwise evaluate at every step (most of its work in a backtest). They feed the report's
 * "before" figures and a kill's limit (the OOM estimator starts from it), which is read from the killed pod's own
 * series at the step before the kill, while that pod still has it: a series that ended is not read there.
 */
export const rawMetrics = ["cpuRequest", "memoryRequest", "memoryLimit"] as const;
export type RawMetric = (typeof rawMetrics)[number];

/** The selectors whose samples the max by (namespace, pod, container) of historyQueries' raw metrics reads. */
export function rawSelectors(
  namespaces: readonly string[] | undefined,
  metrics: Partial<MetricNames> = {},
): Record<RawMetric, string> {
  const n = { ...defaultMetricNames, ...metrics };
  const sel = (extra: string) => namespaceSelector(n, namespaces, extra);
  return {
    cpuRequest: `kube_pod_container_resource_requests${sel('resource="cpu"')}`,
    memoryRequest: `kube_pod_container_resource_requests${sel('resource="memory"')}`,
    memoryLimit: `kube_pod_container_resource_limits${sel('resource="memory"')}`,
  };
}

/**
 * An instant vector selector at steps `first`..`last` of `steps`, evaluated from one series' raw samples (ascending
 * times) as Prometheus evaluates it: at each step, the newest sample at or before it, if it is within the
 * lookback. Calls `put` for each step that has one. A raw answer has no stale markers, so a series that ended
 * keeps its last value up to the lookback where Prometheus would end it at its marker.
 */
export function selectAtSteps(
  times: Float64Array,
  values: Float64Array,
  steps: readonly number[],
  first: number,
  last: number,
  lookback: Lookback,
  put: (i: number, value: number) => void,
  stale?: Uint8Array,
): void {
  let p = -1;
  for (let i = first; i <= last; i++) {
    const t = steps[i] as number;
    while (p + 1 < times.length && (times[p + 1] as number) <= t) p++;
    // The newest sample a stale marker: the series has ended there (PromQL's vectorSelectorSingle).
    if (p < 0 || stale?.[p] === 1) continue;
    const age = t - (times[p] as number);
    if (lookback.leftOpen ? age < lookback.deltaMs : age <= lookback.deltaMs) put(i, values[p] as number);
  }
}

/**
 * max_over_time(series[windowMs]) at steps `first`..`last` of `steps`, from one series' raw samples (ascending
 * times), as PromQL evaluates it: the samples in [t − w, t] (before Prometheus 3) or (t − w, t] (from 3 on), stale
 * markers left out; the first one's value, then any larger one or any after a NaN; no value without a sample.
 */
export function maxOverTimeAtSteps(
  times: Float64Array,
  values: Float64Array,
  steps: readonly number[],
  first: number,
  last: number,
  window: { windowMs: number; leftOpen: boolean },
  put: (i: number, value: number) => void,
  stale?: Uint8Array,
): void {
  let lo = 0;
  let hi = 0;
  for (let i = first; i <= last; i++) {
    const t = steps[i] as number;
    const start = t - window.windowMs;
    while (lo < times.length && (window.leftOpen ? (times[lo] as number) <= start : (times[lo] as number) < start))
      lo++;
    if (hi < lo) hi = lo;
    while (hi < times.length && (times[hi] as number) <= t) hi++;
    let max = Number.NaN;
    let any = false;
    for (let p = lo; p < hi; p++) {
      if (stale?.[p] === 1) continue;
      const v = values[p] as number;
      if (!any || v > max || Number.isNaN(max)) max = v;
      any = true;
    }
    if (any) put(i, max);
  }
}

/**
 * historyQueries' oomKills at steps `first`..`last`, from the raw samples of its two sides: per container (max by
 * namespace, pod, container), the largest `kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}`
 * within the step times the largest restart count within it (max_over_time over the step, `window`), where both
 * have one: PromQL's `*` on (namespace, pod, container), one to one.
 */
export function evaluateOomKills(
  reasons: readonly RawSeries[],
  restarts: readonly RawSeries[],
  steps: readonly number[],
  first: number,
  last: number,
  window: { windowMs: number; leftOpen: boolean },
  metrics: Partial<MetricNames> = {},
): RangeColumns[] {
  const n = { ...defaultMetricNames, ...metrics };
  const width = last - first + 1;
  const names = [n.namespaceLabel, n.podLabel, n.containerLabel];
  /** Each side's max by (namespace, pod, container) of max_over_time, per step (NaN where none). */
  const side = (series: readonly RawSeries[]) => {
    const groups = new Map<string, { labels: Record<string, string>; acc: Float64Array; seen: Uint8Array }>();
    for (const s of series) {
      const key = names.map((name) => s.labels[name] ?? "").join("\u0000");
      let g = groups.get(key);
      if (!g) {
        const labels: Record<string, string> = {};
        for (const name of names) if (s.labels[name]) labels[name] = s.labels[name];
        groups.set(key, (g = { labels, acc: new Float64Array(width).fill(Number.NaN), seen: new Uint8Array(width) }));
      }
      const group = g;
      maxOverTimeAtSteps(
        s.timestampsMs,
        s.values,
        steps,
        first,
        last,
        window,
        (i, v) => {
          const k = i - first;
          const old = group.acc[k] as number;
          // PromQL's max aggregation: the first value, then any larger one or any after a NaN.
          if (!group.seen[k] || old < v || Number.isNaN(old)) group.acc[k] = v;
          group.seen[k] = 1;
        },
        s.stale,
      );
    }
    return groups;
  };
  const right = side(restarts);
  const out: RangeColumns[] = [];
  for (const [key, l] of side(reasons)) {
    const r = right.get(key);
    if (!r) continue;
    let count = 0;
    for (let k = 0; k < width; k++) if (l.seen[k] && r.seen[k]) count++;
    if (count === 0) continue;
    const timestampsMs = new Float64Array(count);
    const values = new Float64Array(count);
    let p = 0;
    for (let k = 0; k < width; k++) {
      if (!l.seen[k] || !r.seen[k]) continue;
      const v = (l.acc[k] as number) * (r.acc[k] as number);
      if (!Number.isFinite(v))
        throw new PrometheusError(`non-finite sample ${v} in ${JSON.stringify(l.labels)}`, "malformed");
      timestampsMs[p] = steps[first + k] as number;
      values[p++] = v;
    }
    out.push({ labels: l.labels, timestampsMs, values });
  }
  return out;
}

/**
 * The metrics evaluated here from the remote read API's raw samples, stale markers included, where the Prometheus
 * has that API (FetchHistoryOptions.lookback and RangeQueryClient.remoteRead): each is an aggregation of instant
 * vector selectors that evaluateRemote computes as historyQueries' PromQL does (RemoteForm), so a step's value is
 * the range query's. The gauges are most of Prometheus' work in a backtest (each evaluated at every step over
 * samples scraped far less often). CPU usage, a `max by` of rate(), is evaluated here too where the Prometheus'
 * rate() arithmetic is known (Lookback.rateRule; src/prometheus/rate.ts): it is the largest answer of all. The
 * ratios and sums of rates (whose additions Prometheus orders its own way) and the quantiles stay range queries. The
 * OOM kills' join, each container's largest last-termination-by-OOM within the step times its largest restart
 * count within it, is evaluated here too (evaluateOomKills): it was most of Prometheus' work of a backtest.
 */
export const remoteMetrics = [
  "cpu",
  "oomKills",
  "memory",
  "nodes",
  "objects",
  "etcdDbSize",
  "kubeStateMetrics",
  "cpuRequest",
  "memoryRequest",
  "memoryLimit",
] as const;
export type RemoteMetric = (typeof remoteMetrics)[number];

/**
 * How a remote metric's series become its value at a step, as historyQueries' PromQL aggregates them: `max by`
 * (namespace, pod, container) or (namespace) takes the largest value that is not NaN (NaN only if all are);
 * `count by (namespace)` the series that have a sample; `sum by (namespace) (max by (namespace, resource) ...)`
 * adds up each resource's largest (apiserver_storage_objects, whole counts: the order of the additions does not
 * change the sum). `maxRateByContainer` is `max by (namespace, pod, container)` of each series' rate().
 */
export type RemoteForm =
  | "maxByContainer"
  | "maxRateByContainer"
  | "maxByNamespace"
  | "sumOfMaxByResource"
  | "countByNamespace"
  | "oomKillJoin";

export interface RemoteSelector {
  matchers: LabelMatcher[];
  form: RemoteForm;
  /** oomKillJoin: the right-hand side's matchers (the restart counts), read in the same request. */
  joined?: LabelMatcher[];
}

/** Each remote metric's selector, as label matchers, and its aggregation: historyQueries' PromQL of it. */
export function remoteSelectors(
  namespaces: readonly string[] | undefined,
  metrics: Partial<MetricNames> = {},
): Record<RemoteMetric, RemoteSelector> {
  const n = { ...defaultMetricNames, ...metrics };
  const sel = (name: string, form: RemoteForm, ...extra: LabelMatcher[]): RemoteSelector => ({
    matchers: [
      { type: "=", name: "__name__", value: name },
      ...(namespaces && namespaces.length > 0
        ? [{ type: "=~" as const, name: n.namespaceLabel, value: namespaces.map(escapeRegex).join("|") }]
        : []),
      ...extra,
    ],
    form,
  });
  const container: LabelMatcher[] = [
    { type: "!=", name: n.containerLabel, value: "" },
    { type: "!=", name: n.containerLabel, value: "POD" },
  ];
  const resource = (value: string): LabelMatcher => ({ type: "=", name: "resource", value });
  return {
    cpu: sel(n.cpu, "maxRateByContainer", ...container),
    oomKills: {
      ...sel("kube_pod_container_status_last_terminated_reason", "oomKillJoin", {
        type: "=",
        name: "reason",
        value: "OOMKilled",
      }),
      joined: sel("kube_pod_container_status_restarts_total", "oomKillJoin").matchers,
    },
    memory: sel(n.memory, "maxByContainer", ...container),
    nodes: sel(n.storageObjects, "maxByNamespace", resource("nodes")),
    objects: sel(n.storageObjects, "sumOfMaxByResource"),
    etcdDbSize: sel(n.storageSize, "maxByNamespace"),
    kubeStateMetrics: sel("kube_pod_container_status_restarts_total", "countByNamespace"),
    cpuRequest: sel("kube_pod_container_resource_requests", "maxByContainer", resource("cpu")),
    memoryRequest: sel("kube_pod_container_resource_requests", "maxByContainer", resource("memory")),
    memoryLimit: sel("kube_pod_container_resource_limits", "maxByContainer", resource("memory")),
  };
}

/**
 * A remote metric at steps `first`..`last`, from its series' raw samples: each series' instant value per step
 * (selectAtSteps: lookback and stale markers), aggregated by `form`; one column set per output series, as a range
 * query answers (labels by the aggregation's grouping, a point at each step that has a value). A value that is not
 * a finite number is refused as the range query's answer would be (PrometheusClient refuses non-finite samples).
 * The query API's raw samples of the sizes (no stale markers) are evaluated here too.
 */
export function evaluateRemote(...args: Parameters<typeof evaluateRemoteSteps>): RangeColumns[] {
  const [, , steps, first] = args;
  return evaluateRemoteSteps(...args).flatMap((g) => {
    let count = 0;
    for (let k = 0; k < g.seen.length; k++) count += g.seen[k] as number;
    if (count === 0) return [];
    // Filled in place: a number array per output series, grown a step at a time, cost more than the evaluation.
    const timestampsMs = new Float64Array(count);
    const values = new Float64Array(count);
    let p = 0;
    for (let k = 0; k < g.seen.length; k++) {
      if (!g.seen[k]) continue;
      timestampsMs[p] = steps[first + k] as number;
      values[p++] = g.acc[k] as number;
    }
    return [{ labels: g.labels, timestampsMs, values }];
  });
}

/** An output series of evaluateRemoteSteps: its labels, and its value at each step of first..last. */
export interface StepColumn {
  labels: Record<string, string>;
  /**
   * The value at step first + k, where seen[k] is 1 (a finite number there): the largest non-NaN value, or the sum,
   * or the count, of the aggregated series; `seen` is 1 where any of them had a sample.
   */
  acc: Float64Array;
  seen: Uint8Array;
}

/**
 * evaluateRemote's series as they are evaluated, a value per step of first..last (not compacted into a point per
 * step that has one: fetchHistory writes them into its per-step series as they are). Output series without a value
 * at any step are left out, as a range query leaves them out; a value that is not finite is refused.
 */
export function evaluateRemoteSteps(
  form: RemoteForm,
  series: readonly EvaluatedSeries[],
  ...range: EvaluationRange
): StepColumn[] {
  const evaluation = remoteEvaluation(form, ...range);
  for (const s of series) evaluation.add(s);
  return evaluation.columns();
}

/** A series evaluateRemoteSteps reads: raw samples, with their stale markers where the answer has them. */
type EvaluatedSeries = RangeColumns & Partial<Pick<RawSeries, "stale">>;

/** Where and how a remote metric is evaluated: steps first..last of `steps`, the lookback, the names, rate()'s window. */
type EvaluationRange = [
  steps: readonly number[],
  first: number,
  last: number,
  lookback: Lookback,
  metrics?: Partial<MetricNames>,
  rate?: RateWindow,
];

/**
 * evaluateRemoteSteps a series at a time: `add` folds one series into the output series at once (it keeps none of
 * the series' columns, which a SeriesVisitor is only lent), and `columns` gives the output series once all are in.
 */
export function remoteEvaluation(
  form: RemoteForm,
  ...[steps, first, last, lookback, metrics = {}, rate]: EvaluationRange
): { add(s: EvaluatedSeries): void; columns(): StepColumn[] } {
  const n = { ...defaultMetricNames, ...metrics };
  const width = last - first + 1;
  if (form === "maxRateByContainer" && !rate) throw new Error("maxRateByContainer needs the rate window");
  if (form === "oomKillJoin") throw new Error("oomKillJoin is a join of two reads: evaluateOomKills");
  const groups = new Map<string, StepColumn>();
  const group = (key: string, labels: Record<string, string>): StepColumn => {
    let g = groups.get(key);
    if (!g)
      groups.set(key, (g = { labels, acc: new Float64Array(width).fill(Number.NaN), seen: new Uint8Array(width) }));
    return g;
  };
  const label = (s: RangeColumns, name: string) => s.labels[name] ?? "";
  const grouped = (s: RangeColumns, names: readonly string[]) => {
    const labels: Record<string, string> = {};
    for (const name of names) if (label(s, name) !== "") labels[name] = label(s, name);
    return { key: names.map((name) => label(s, name)).join("\u0000"), labels };
  };
  const max = (g: StepColumn, k: number, v: number) => {
    g.seen[k] = 1;
    const old = g.acc[k] as number;
    if (Number.isNaN(old) || old < v) g.acc[k] = v;
  };
  const byContainer = [n.namespaceLabel, n.podLabel, n.containerLabel];
  const byNamespace = [n.namespaceLabel];
  const add = (s: EvaluatedSeries) => {
    let put: (i: number, v: number) => void;
    if (form === "maxByContainer" || form === "maxRateByContainer" || form === "maxByNamespace") {
      const { key, labels } = grouped(s, form === "maxByNamespace" ? byNamespace : byContainer);
      const g = group(key, labels);
      put = (i, v) => max(g, i - first, v);
    } else if (form === "countByNamespace") {
      const { key, labels } = grouped(s, byNamespace);
      const g = group(key, labels);
      put = (i) => {
        const k = i - first;
        g.acc[k] = g.seen[k] ? (g.acc[k] as number) + 1 : 1;
        g.seen[k] = 1;
      };
    } else {
      const { key, labels } = grouped(s, [n.namespaceLabel, "resource"]);
      const g = group(key, labels);
      put = (i, v) => max(g, i - first, v);
    }
    if (form === "maxRateByContainer")
      rateAtSteps(s.timestampsMs, s.values, steps, first, last, rate as RateWindow, put, s.stale);
    else selectAtSteps(s.timestampsMs, s.values, steps, first, last, lookback, put, s.stale);
  };
  const columns = (): StepColumn[] => {
    let outputs = [...groups.values()];
    if (form === "sumOfMaxByResource") {
      // The inner max by (namespace, resource), then sum by (namespace).
      const sums = new Map<string, StepColumn>();
      for (const g of outputs) {
        const ns = g.labels[n.namespaceLabel] ?? "";
        let sum = sums.get(ns);
        if (!sum) {
          const labels: Record<string, string> = ns ? { [n.namespaceLabel]: ns } : {};
          sums.set(ns, (sum = { labels, acc: new Float64Array(width), seen: new Uint8Array(width) }));
        }
        for (let k = 0; k < width; k++) {
          if (!g.seen[k]) continue;
          sum.acc[k] = (sum.acc[k] as number) + (g.acc[k] as number);
          sum.seen[k] = 1;
        }
      }
      outputs = [...sums.values()];
    }
    return outputs.filter((g) => {
      let any = false;
      for (let k = 0; k < width; k++) {
        if (!g.seen[k]) continue;
        any = true;
        const v = g.acc[k] as number;
        if (!Number.isFinite(v))
          throw new PrometheusError(`non-finite sample ${v} in ${JSON.stringify(g.labels)}`, "malformed");
      }
      return any;
    });
  };
  return { add, columns };
}

/** One metric's series: key → value per step (NaN where the step has none). */
export type SeriesByKey = Map<string, Float64Array>;

export interface QueryFailure {
  metric: HistoryMetric;
  from: string;
  to: string;
  error: string;
}

export interface SignalHistory {
  /** The steps, ms since epoch, `stepMs` apart. */
  steps: number[];
  stepMs: number;
  series: Record<HistoryMetric, SeriesByKey>;
  /** Per metric, the reason a step's value is unknown because its query failed (undefined where it did not). */
  failedAt: Record<HistoryMetric, Array<string | undefined>>;
  failures: QueryFailure[];
  /** Range queries sent (each one counted once, whatever its retries). */
  queries: number;
  /** Steps whose usage answer had a negative value: the live poll rejects such an answer whole, and so does this. */
  rejectedSteps: number;
  /** Range selectors of rawMetrics read as raw samples and evaluated here (0 without a lookback). */
  rawQueries?: number;
  /** Remote metrics read by the remote read API and evaluated here, one request each per chunk (in `queries`). */
  remoteReads?: number;
}

export interface FetchHistoryOptions {
  /** Only its range queries are read. */
  client: RangeQueryClient;
  from: number;
  to: number;
  stepMs: number;
  rateWindow: string;
  namespaces?: readonly string[];
  metrics?: Partial<MetricNames>;
  /**
   * Steps per range query; default: as many as keep one answer near `pointsPerQuery` points for `seriesHint`
   * series, at most 11,000 (Prometheus' limit per series).
   */
  chunkSteps?: number;
  seriesHint?: number;
  pointsPerQuery?: number;
  /** Where the history's series come from (SeriesPool.take); default: a new SharedArrayBuffer each (newSeries). */
  seriesPool?: SeriesPool;
  /**
   * The Prometheus' lookback (PrometheusClient.lookback). Where it is given and the client has the remote read API
   * (remoteRead), the remoteMetrics are read as raw samples with their stale markers and evaluated here, step by
   * step, as Prometheus would (evaluateRemote); a Prometheus without that API, or an answer over the size limit,
   * gets the query API's requests instead. There, where the client reads range selectors (queryMatrixColumns), the
   * rawMetrics are read as raw samples (without stale markers) and evaluated here. Without a lookback every metric
   * is a range query.
   */
  lookback?: Lookback;
  /** Range queries in flight at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The window of the history's rate() queries as rateAtSteps reads it, where the Prometheus' rate() arithmetic is
 * known (Lookback.rateRule) and the window is a whole number of ms that both PromQL and parseDuration read alike.
 */
export function rateWindowOf(rateWindow: string, lookback: Lookback | undefined): RateWindow | undefined {
  if (!lookback?.rateRule || !/^(\d+(ms|s|m|h))+$/.test(rateWindow)) return undefined;
  const windowMs = parseDuration(rateWindow);
  return windowMs > 0 ? { windowMs, leftOpen: lookback.leftOpen, rule: lookback.rateRule } : undefined;
}

/**
 * The client's Prometheus' lookback (RangeQueryClient.lookback), for FetchHistoryOptions.lookback: undefined where
 * the client cannot tell (no such method, or the status endpoints do not answer), so that Prometheus evaluates
 * everything; an abort by `signal` is thrown, not taken for that.
 */
export async function lookbackOf(client: RangeQueryClient, signal?: AbortSignal): Promise<Lookback | undefined> {
  return client.lookback?.(signal).catch((err: unknown) => {
    if (signal?.aborted) throw err;
    return undefined;
  });
}

/** The steps of [from, to]: multiples of stepMs, as the poll sees them at its interval. */
export function stepsOf(from: number, to: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(from / stepMs) * stepMs; t <= to; t += stepMs) out.push(t);
  return out;
}

/** The steps of one range query each: [first, last] step indexes. */
export function chunksOf(steps: number, chunkSteps: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < steps; i += chunkSteps) out.push([i, Math.min(steps, i + chunkSteps) - 1]);
  return out;
}

export async function fetchHistory(o: FetchHistoryOptions): Promise<SignalHistory> {
  const n = { ...defaultMetricNames, ...o.metrics };
  const steps = stepsOf(o.from, o.to, o.stepMs);
  if (o.seriesPool && o.seriesPool.steps !== steps.length)
    throw new Error(`a pool of ${o.seriesPool.steps}-step series for a history of ${steps.length} steps`);
  const chunkSteps =
    o.chunkSteps ??
    Math.max(60, Math.min(11_000, Math.floor((o.pointsPerQuery ?? 400_000) / Math.max(1, o.seriesHint ?? 100))));
  const queries = historyQueries(o.namespaces, o.rateWindow, o.metrics, o.stepMs);
  const selectors = rawSelectors(o.namespaces, o.metrics);
  const readRaw = o.client.queryMatrixColumns?.bind(o.client);
  const remoteRead = o.client.remoteRead?.bind(o.client);
  const remoteReadEach = o.client.remoteReadEach?.bind(o.client);
  /** The remote read's series, each lent to `visit`: as the client decodes them where it can, else its lists. */
  const readEach = async (queries: readonly RemoteQuery[], visit: SeriesVisitor): Promise<void> => {
    if (remoteReadEach) return remoteReadEach(queries, visit, o.signal);
    const results = await (remoteRead as NonNullable<typeof remoteRead>)(queries, o.signal);
    results.forEach((series, q) => series.forEach((s) => visit(q, s)));
  };
  const remote = remoteSelectors(o.namespaces, o.metrics);
  /** Set once the Prometheus has said it has no remote read API: the query API from then on. */
  let remoteUnsupported = !remoteRead || !o.lookback;
  // CPU usage's rate() is evaluated here only with the Prometheus' own arithmetic, over the window PromQL reads.
  const rate = rateWindowOf(o.rateWindow, o.lookback);
  const history: SignalHistory = {
    steps,
    stepMs: o.stepMs,
    series: Object.fromEntries(historyMetrics.map((m) => [m, new Map()])) as SignalHistory["series"],
    failedAt: Object.fromEntries(historyMetrics.map((m) => [m, new Array(steps.length)])) as SignalHistory["failedAt"],
    failures: [],
    queries: 0,
    rejectedSteps: 0,
    rawQueries: 0,
    remoteReads: 0,
  };
  // No tenant to ask about: an empty selector would read every namespace's series.
  if (steps.length === 0 || o.namespaces?.length === 0) return history;
  const t0 = steps[0] as number;
  const jobs = chunksOf(steps.length, chunkSteps).flatMap(([first, last]) =>
    historyMetrics.map((metric) => ({ metric, first, last })),
  );
  const negative = new Set<number>();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++] as (typeof jobs)[number];
      if (o.signal?.aborted) return;
      const start = steps[job.first] as number;
      const end = steps[job.last] as number;
      history.queries++;
      try {
        const range = [queries[job.metric], new Date(start), new Date(end), o.stepMs / 1000, o.signal] as const;
        const evaluated = async (): Promise<RangeColumns[]> =>
          // Columns where the client reads them (no object per point), else its series.
          o.client.queryRangeColumns
            ? await o.client.queryRangeColumns(...range)
            : rangeColumnsOf(await o.client.queryRange(...range));
        const lookback = o.lookback;
        let result: RangeColumns[] | undefined;
        /** Or, evaluated here from raw samples: a value per step of the chunk. */
        let stepColumns: StepColumn[] | undefined;
        const selector = (remoteMetrics as readonly string[]).includes(job.metric)
          ? remote[job.metric as RemoteMetric]
          : undefined;
        // A rate() is evaluated here only with the Prometheus' own arithmetic (rate).
        const ofRate = selector?.form === "maxRateByContainer";
        if (lookback && remoteRead && !remoteUnsupported && selector && (!ofRate || rate)) {
          // Every sample a step of the chunk can read: from the first step less the lookback (or the rate's
          // window) to the last step.
          // The OOM kills' join reads both its sides over the step's window (max_over_time) in one request.
          const join = selector.form === "oomKillJoin";
          const reach = ofRate && rate ? rate.windowMs : join ? o.stepMs : lookback.deltaMs;
          try {
            const remoteQueries = [selector.matchers, ...(selector.joined ? [selector.joined] : [])].map(
              (matchers) => ({ startMs: start - reach, endMs: end, matchers }),
            );
            if (join) {
              // Both sides whole (kube-state-metrics' few series): the join pairs them up once both are read.
              const [series = [], joined = []] = remoteQueries.map((): RawSeries[] => []);
              await readEach(remoteQueries, (q, s) => (q === 0 ? series : joined).push(ownSeries(s)));
              result = evaluateOomKills(
                series,
                joined,
                steps,
                job.first,
                job.last,
                {
                  windowMs: o.stepMs,
                  leftOpen: lookback.leftOpen,
                },
                o.metrics,
              );
            } else {
              // Each series folded into the chunk's output series as it is decoded: no copy of the samples is kept.
              const evaluation = remoteEvaluation(selector.form, steps, job.first, job.last, lookback, o.metrics, rate);
              await readEach(remoteQueries, (_, s) => evaluation.add(s));
              stepColumns = evaluation.columns();
            }
            history.remoteReads = (history.remoteReads ?? 0) + 1;
          } catch (err) {
            if (!(err instanceof PrometheusError && (err.kind === "unsupported" || err.kind === "too-large")))
              throw err;
            if (err.kind === "unsupported") remoteUnsupported = true;
          }
        }
        const raw = lookback && readRaw && (rawMetrics as readonly string[]).includes(job.metric);
        if (result || stepColumns) {
          // Read by the remote read API and evaluated above.
        } else if (raw) {
          // Every sample a step of the chunk can pick: from the first step less the lookback to the last step.
          const spanMs = end - start + lookback.deltaMs;
          try {
            // Evaluated as a remote metric's samples are, without stale markers (a query API answer has none).
            const samples = await readRaw(
              `${selectors[job.metric as RawMetric]}[${spanMs}ms]`,
              new Date(end),
              o.signal,
            );
            stepColumns = evaluateRemoteSteps(
              "maxByContainer",
              samples,
              steps,
              job.first,
              job.last,
              lookback,
              o.metrics,
            );
            history.rawQueries = (history.rawQueries ?? 0) + 1;
          } catch (err) {
            if (!(err instanceof PrometheusError && err.kind === "too-large")) throw err;
            result = await evaluated();
          }
        } else result = await evaluated();
        const byKey = history.series[job.metric];
        const usage = (usageQueryOrder as readonly string[]).includes(job.metric);
        /** The history's series of an answer's series (undefined: one it does not keep). */
        const seriesOf = (labels: Record<string, string>): Float64Array | undefined => {
          const ns = labels[n.namespaceLabel];
          const key = namespaceMetrics.has(job.metric)
            ? ns
            : job.metric === "latencyP99"
              ? seriesKey(n, "verb", labels)
              : ns && `${ns}/${labels[n.podLabel] ?? ""}/${labels[n.containerLabel] ?? ""}`;
          if (!key) return undefined;
          let values = byKey.get(key);
          if (!values) {
            values = o.seriesPool ? o.seriesPool.take() : newSeries(steps.length);
            byKey.set(key, values);
          }
          return values;
        };
        /** A value at step i; two series of one key (a label the grouping dropped): the larger, as the worst pod. */
        const put = (values: Float64Array, i: number, v: number) => {
          if (v < 0 && usage) negative.add(i);
          const old = values[i] as number;
          values[i] = Number.isNaN(old) ? v : Math.max(old, v);
        };
        for (const s of result ?? []) {
          const values = seriesOf(s.labels);
          if (!values) continue;
          const times = s.timestampsMs;
          const vs = s.values;
          for (let p = 0; p < times.length; p++) {
            const i = Math.round(((times[p] as number) - t0) / o.stepMs);
            if (i < job.first || i > job.last) continue;
            put(values, i, vs[p] as number);
          }
        }
        for (const c of stepColumns ?? []) {
          const values = seriesOf(c.labels);
          if (!values) continue;
          for (let k = 0; k < c.seen.length; k++) if (c.seen[k]) put(values, job.first + k, c.acc[k] as number);
        }
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const kind = err instanceof PrometheusError ? err.kind : "unreachable";
        const error = `Prometheus ${kind}: ${(err as Error).message}`;
        history.failures.push({
          metric: job.metric,
          from: new Date(start).toISOString(),
          to: new Date(end).toISOString(),
          error,
        });
        const failed = history.failedAt[job.metric];
        for (let i = job.first; i <= job.last; i++) failed[i] = error;
      }
      o.onProgress?.(++done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  // As the live poll: an answer with a negative usage, ratio, rate or count is garbage, and the whole poll of
  // that instant is rejected rather than letting one bad series look like idleness.
  for (const i of negative) {
    for (const metric of usageQueryOrder) {
      history.failedAt[metric][i] ??= "Prometheus malformed: negative value";
      for (const values of history.series[metric].values()) values[i] = Number.NaN;
    }
  }
  history.rejectedSteps = negative.size;
  history.failures.sort((a, b) => a.from.localeCompare(b.from) || a.metric.localeCompare(b.metric));
  return history;
}
