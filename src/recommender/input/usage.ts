// Usage samples per (pod, container), read in batches: one range query per metric for one namespace or for a
// group of namespaces (`namespace=~"a|b|..."`), `max by (namespace, pod, container)`, never one per workload.
// Metric and label names are those the kubelet's cAdvisor gives (as kube-prometheus scrapes them), configurable
// for Prometheus setups that relabel cAdvisor.
import { parseDuration } from "../../api/index.js";
import { PrometheusError, type PrometheusClient, type RangeSeries } from "../../prometheus/client.js";

export interface ContainerSeries {
  pod: string;
  container: string;
  /** [ms since epoch, value] */
  points: Array<[number, number]>;
}

export interface UsageBatch {
  source: string;
  /** Cores, one point per step: each stands for `stepSeconds` of usage. */
  cpu: ContainerSeries[];
  /** Bytes: the maximum working set within each step. */
  memory: ContainerSeries[];
  stepSeconds: number;
  startMs: number;
  endMs: number;
}

/**
 * Where a read of a range puts its points.
 * - `epoch` (live reads): on the step's grid counted from the epoch, strictly after the start and at or before the
 *   end, so that consecutive reads neither skip nor repeat a point and a read with nothing new asks nothing.
 * - `fromEnd` (history bootstraps): at the end and back by whole steps down to the start, the start included, as
 *   VPA's Prometheus history provider reads (start = now - history length, end = now): the first and last points
 *   are exactly the history apart, and the last is the usage at the moment of the read, not up to a step earlier.
 *   Points at or before a model's coverage are dropped when the batch is fed (feedBatch), so a repeat costs nothing.
 */
export type ReadGrid = "epoch" | "fromEnd";

/** The first and last point of a read of [startMs, endMs] at `stepMs` on `grid`; undefined when it has none. */
export function gridBounds(
  startMs: number,
  endMs: number,
  stepMs: number,
  grid: ReadGrid,
): { firstMs: number; lastMs: number } | undefined {
  if (grid === "fromEnd") {
    if (endMs < startMs) return undefined;
    return { firstMs: endMs - Math.floor((endMs - startMs) / stepMs) * stepMs, lastMs: endMs };
  }
  const firstMs = Math.floor(startMs / stepMs) * stepMs + stepMs;
  const lastMs = Math.floor(endMs / stepMs) * stepMs;
  return lastMs < firstMs ? undefined : { firstMs, lastMs };
}

export interface UsageSource {
  readonly name: string;
  /** Whether it can serve history (a range), or only the current sample. */
  readonly history: boolean;
  fetch(
    namespace: string,
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid?: ReadGrid,
  ): Promise<UsageBatch>;
  /**
   * The same range for several namespaces with one query per metric; every namespace asked for is in the answer
   * (with no series when it has no data). Sources that cannot batch leave it out.
   */
  fetchMany?(
    namespaces: readonly string[],
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid?: ReadGrid,
  ): Promise<Map<string, UsageBatch>>;
}

export interface MetricNames {
  cpuUsageSeconds: string;
  memoryWorkingSet: string;
  namespaceLabel: string;
  podLabel: string;
  containerLabel: string;
  /** Extra label matchers, e.g. `job="kubelet"`, to pick one of several cAdvisor scrapes. */
  extraSelector: string;
  /**
   * The rate() window for CPU, at least twice the scrape interval. A read at a coarser step uses the step instead,
   * so that each point is the usage of its own step: a shorter window would skip the usage between points, a
   * longer one would average a point with its neighbours (fewer high values: a lower percentile on noisy usage).
   * At the controller's defaults (5m; history at a 300 s step, live reads at 60 s) a history point is one step of
   * usage, and a live point the average of the last 5 minutes, taken every minute: smoother than VPA's live
   * samples, which are metrics-server's rates over its resolution (15 s in its default manifest). Where cAdvisor is
   * scraped every 30 s or faster, METAPILOT_RECOMMENDER_RATE_WINDOW=1m makes each live point its own minute.
   */
  rateWindow: string;
}

export const defaultMetricNames: MetricNames = {
  cpuUsageSeconds: "container_cpu_usage_seconds_total",
  memoryWorkingSet: "container_memory_working_set_bytes",
  namespaceLabel: "namespace",
  podLabel: "pod",
  containerLabel: "container",
  extraSelector: "",
  rateWindow: "5m",
};

/** Escapes a label value for a PromQL string literal. */
export function promString(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Escapes a value for an RE2 regular expression in a PromQL string literal. */
function promRegexAlternative(values: readonly string[]): string {
  return promString(values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"));
}

export function usageQueries(
  namespaces: string | readonly string[],
  stepSeconds: number,
  names: MetricNames = defaultMetricNames,
) {
  const n = names;
  const list = typeof namespaces === "string" ? [namespaces] : namespaces;
  // cAdvisor also reports the pod's own cgroup and its sandbox (pause) container: container="" for both on
  // containerd and CRI-O, "POD" for the sandbox under dockershim. None is a container of the workload.
  const matchers = [
    list.length === 1
      ? `${n.namespaceLabel}=${promString(list[0] ?? "")}`
      : `${n.namespaceLabel}=~${promRegexAlternative(list)}`,
    `${n.containerLabel}!=""`,
    `${n.containerLabel}!="POD"`,
    ...(n.extraSelector ? [n.extraSelector] : []),
  ].join(",");
  const by = `${n.namespaceLabel}, ${n.podLabel}, ${n.containerLabel}`;
  const rateWindow = stepSeconds * 1000 > parseDuration(n.rateWindow) ? `${stepSeconds}s` : n.rateWindow;
  // Several series of one (namespace, pod, container) are one container seen more than once: the kubelet serves
  // its usage at /metrics/cadvisor and again at /metrics/resource (kube-prometheus scrapes both as job="kubelet",
  // the resource series without id and image), and two jobs may scrape one kubelet. Their maximum is the
  // container's usage; their sum would count it twice. (A restarted container's old and new cgroup overlap for one
  // step: its memory is the larger, which is right, and its CPU the larger share, a slight under-read there.)
  return {
    cpu: `max by (${by}) (rate(${n.cpuUsageSeconds}{${matchers}}[${rateWindow}]))`,
    // The peak within each step, so that a short spike between two steps is not lost.
    memory: `max by (${by}) (max_over_time(${n.memoryWorkingSet}{${matchers}}[${stepSeconds}s]))`,
  };
}

/** Prometheus allows 11,000 points per series in one answer; longer ranges are read in chunks. */
export const maxPointsPerQuery = 10_000;

export class PrometheusUsageSource implements UsageSource {
  readonly name = "prometheus";
  readonly history = true;

  constructor(
    private readonly client: PrometheusClient,
    private readonly names: MetricNames = defaultMetricNames,
  ) {}

  /** namespace → series of that namespace, for one query read in chunks of at most maxPointsPerQuery. */
  private async range(promql: string, startMs: number, endMs: number, step: number, signal?: AbortSignal) {
    const out = new Map<string, Map<string, ContainerSeries>>();
    const chunkMs = maxPointsPerQuery * step * 1000;
    for (let from = startMs; from <= endMs; from += chunkMs + step * 1000) {
      const to = Math.min(endMs, from + chunkMs);
      const series: RangeSeries[] = await this.client.queryRange(promql, new Date(from), new Date(to), step, signal);
      for (const s of series) {
        const namespace = s.labels[this.names.namespaceLabel];
        const pod = s.labels[this.names.podLabel];
        const container = s.labels[this.names.containerLabel];
        if (!namespace || !pod || !container) {
          throw new PrometheusError(
            `series without ${this.names.namespaceLabel}/${this.names.podLabel}/${this.names.containerLabel} labels: ${JSON.stringify(s.labels)}`,
            "malformed",
          );
        }
        let byKey = out.get(namespace);
        if (!byKey) out.set(namespace, (byKey = new Map()));
        const key = `${pod}/${container}`;
        const existing = byKey.get(key);
        if (existing) existing.points.push(...s.points);
        else byKey.set(key, { pod, container, points: [...s.points] });
      }
    }
    return out;
  }

  async fetch(
    namespace: string,
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid: ReadGrid = "epoch",
  ) {
    const batches = await this.fetchMany([namespace], startMs, endMs, stepSeconds, signal, grid);
    return batches.get(namespace) as UsageBatch;
  }

  async fetchMany(
    namespaces: readonly string[],
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid: ReadGrid = "epoch",
  ): Promise<Map<string, UsageBatch>> {
    const q = usageQueries(namespaces, stepSeconds, this.names);
    const bounds = gridBounds(startMs, endMs, stepSeconds * 1000, grid);
    const out = new Map<string, UsageBatch>();
    if (!bounds) {
      for (const ns of namespaces)
        out.set(ns, { source: this.name, cpu: [], memory: [], stepSeconds, startMs, endMs: startMs });
      return out;
    }
    const { firstMs: alignedStart, lastMs: alignedEnd } = bounds;
    const cpu = await this.range(q.cpu, alignedStart, alignedEnd, stepSeconds, signal);
    const memory = await this.range(q.memory, alignedStart, alignedEnd, stepSeconds, signal);
    for (const ns of namespaces) {
      out.set(ns, {
        source: this.name,
        cpu: [...(cpu.get(ns)?.values() ?? [])],
        memory: [...(memory.get(ns)?.values() ?? [])],
        stepSeconds,
        startMs: alignedStart,
        endMs: alignedEnd,
      });
    }
    return out;
  }
}

/**
 * Prometheus first; when it fails with a transport error, timeout or 5xx and the request is a live one (not a
 * history bootstrap), the fallback's current sample. Both errors are reported if both fail.
 */
export class FallbackUsageSource implements UsageSource {
  readonly history = true;
  lastFallbackError?: Error;

  constructor(
    private readonly primary: UsageSource,
    private readonly fallback: UsageSource | undefined,
    /** Requests spanning more than this are history and never fall back. */
    private readonly liveWindowMs = 15 * 60_000,
  ) {}

  get name(): string {
    return this.primary.name;
  }

  async fetchMany(
    namespaces: readonly string[],
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid: ReadGrid = "epoch",
  ): Promise<Map<string, UsageBatch>> {
    if (!this.primary.fetchMany || namespaces.length === 1) {
      const out = new Map<string, UsageBatch>();
      for (const ns of namespaces) out.set(ns, await this.fetch(ns, startMs, endMs, stepSeconds, signal, grid));
      return out;
    }
    try {
      return await this.primary.fetchMany(namespaces, startMs, endMs, stepSeconds, signal, grid);
    } catch (err) {
      // The batch failed on a live read: the fallback serves each namespace, and Prometheus is not asked again
      // namespace by namespace (that would multiply the load on a Prometheus that is already failing).
      return this.fallBack(err, startMs, endMs, signal, (fallback) =>
        readNamespaces(fallback, namespaces, startMs, endMs, stepSeconds, signal, grid),
      );
    }
  }

  async fetch(
    namespace: string,
    startMs: number,
    endMs: number,
    stepSeconds: number,
    signal?: AbortSignal,
    grid: ReadGrid = "epoch",
  ) {
    try {
      return await this.primary.fetch(namespace, startMs, endMs, stepSeconds, signal, grid);
    } catch (err) {
      return this.fallBack(err, startMs, endMs, signal, (fallback) =>
        fallback.fetch(namespace, startMs, endMs, stepSeconds, signal, grid),
      );
    }
  }

  /** The primary failed with `err`: the fallback's answer for a live read of a retryable failure, else `err`. */
  private async fallBack<T>(
    err: unknown,
    startMs: number,
    endMs: number,
    signal: AbortSignal | undefined,
    read: (fallback: UsageSource) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) throw err;
    const live = endMs - startMs <= this.liveWindowMs;
    if (!this.fallback || !live || !(err instanceof PrometheusError) || !err.retryable) throw err;
    try {
      return await read(this.fallback);
    } catch (fallbackErr) {
      this.lastFallbackError = fallbackErr as Error;
      throw new Error(`${err.message}; fallback ${this.fallback.name}: ${(fallbackErr as Error).message}`, {
        cause: err,
      });
    }
  }
}

/**
 * One read of several namespaces: a single query per metric when the source can batch and there is more than one,
 * else namespace by namespace.
 */
export async function readNamespaces(
  source: UsageSource,
  namespaces: readonly string[],
  startMs: number,
  endMs: number,
  stepSeconds: number,
  signal?: AbortSignal,
  grid: ReadGrid = "epoch",
): Promise<Map<string, UsageBatch>> {
  if (source.fetchMany && namespaces.length > 1)
    return source.fetchMany(namespaces, startMs, endMs, stepSeconds, signal, grid);
  const out = new Map<string, UsageBatch>();
  for (const ns of namespaces) out.set(ns, await source.fetch(ns, startMs, endMs, stepSeconds, signal, grid));
  return out;
}
