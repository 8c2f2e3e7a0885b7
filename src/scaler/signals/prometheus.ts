// Usage and load signals from Prometheus, read in batches: one instant query per metric per poll for all tenant
// namespaces, never one per workload. The load signals are the tenant apiserver's own metrics (watchers, API
// Priority and Fairness seats and rejections, request latency, etcd database size, stored objects). Every value keeps its timestamp; when Prometheus is unreachable or answers
// garbage, the signals go stale and the reason is kept, so nothing downstream mistakes silence for zero.
import { sleep } from "../../kube/backoff.js";
import { RepeatedFailureLog, type Logger } from "../../kube/logger.js";
import type { PrometheusClient } from "../../prometheus/client.js";
import { PrometheusError, type InstantSample } from "../../prometheus/client.js";
import type { Measurement } from "../types.js";

export interface MetricNames {
  cpu: string;
  memory: string;
  throttledPeriods: string;
  periods: string;
  apiserverRequests: string;
  storageObjects: string;
  longrunningRequests: string;
  flowcontrolExecutingSeats: string;
  flowcontrolNominalSeats: string;
  flowcontrolRejected: string;
  requestDuration: string;
  storageSize: string;
  namespaceLabel: string;
  podLabel: string;
  containerLabel: string;
}

export const defaultMetricNames: MetricNames = {
  cpu: "container_cpu_usage_seconds_total",
  memory: "container_memory_working_set_bytes",
  throttledPeriods: "container_cpu_cfs_throttled_periods_total",
  periods: "container_cpu_cfs_periods_total",
  apiserverRequests: "apiserver_request_total",
  storageObjects: "apiserver_storage_objects",
  // kube-apiserver 1.35 has no apiserver_registered_watchers (removed); its open watches are long-running requests.
  longrunningRequests: "apiserver_longrunning_requests",
  flowcontrolExecutingSeats: "apiserver_flowcontrol_current_executing_seats",
  flowcontrolNominalSeats: "apiserver_flowcontrol_nominal_limit_seats",
  flowcontrolRejected: "apiserver_flowcontrol_rejected_requests_total",
  requestDuration: "apiserver_request_duration_seconds_bucket",
  // The apiserver's own view of its etcd's database file (etcd_mvcc_db_total_size_in_bytes needs etcd scraped).
  storageSize: "apiserver_storage_size_bytes",
  namespaceLabel: "namespace",
  podLabel: "pod",
  containerLabel: "container",
};

export interface UsageSnapshot {
  /** ns/pod/container → value */
  cpu: Map<string, Measurement>;
  memory: Map<string, Measurement>;
  throttledRatio: Map<string, Measurement>;
  /** namespace → value */
  apiserver429: Map<string, Measurement>;
  nodes: Map<string, Measurement>;
  /** Objects the tenant apiserver stores, all resources (the fleet-regression estimator's second size). */
  objects: Map<string, Measurement>;
  /** Open WATCH requests on the tenant's busiest apiserver pod. */
  watchers: Map<string, Measurement>;
  /** APF seats executing (exempt level left out) over the pod's nominal seats, busiest pod. */
  apfSeats: Map<string, Measurement>;
  /** Requests per second APF rejected, all apiserver pods. */
  apfRejected: Map<string, Measurement>;
  /** namespace/verb/scope → p99 request latency, seconds (WATCH and CONNECT left out). */
  latencyP99: Map<string, Measurement>;
  /** The etcd database size the tenant apiserver reports, bytes. */
  etcdDbSize: Map<string, Measurement>;
}

export interface PrometheusSignalsOptions {
  client: PrometheusClient;
  intervalMs: number;
  rateWindow: string;
  metrics?: Partial<MetricNames>;
  logger: Logger;
  /** Namespaces to ask about; all when it returns undefined (large fleets). */
  namespaces: () => string[] | undefined;
  onUpdate: () => void;
}

/** A snapshot with no series yet: what a PrometheusSignals holds before its first poll. */
export function emptyUsageSnapshot(): UsageSnapshot {
  return {
    cpu: new Map(),
    memory: new Map(),
    throttledRatio: new Map(),
    apiserver429: new Map(),
    nodes: new Map(),
    objects: new Map(),
    watchers: new Map(),
    apfSeats: new Map(),
    apfRejected: new Map(),
    latencyP99: new Map(),
    etcdDbSize: new Map(),
  };
}

/** The live poll's signals, in the order poll() sends them: one query each. */
export const usageQueryOrder = [
  "cpu",
  "memory",
  "throttledRatio",
  "apiserver429",
  "nodes",
  "objects",
  "watchers",
  "apfSeats",
  "apfRejected",
  "latencyP99",
  "etcdDbSize",
] as const;
export type UsageQueryName = (typeof usageQueryOrder)[number];

/** How a signal's series are keyed: by namespace/pod/container, by namespace/verb/scope, or by namespace. */
export const usageQueryKeys: Record<UsageQueryName, "container" | "verb" | "namespace"> = {
  cpu: "container",
  memory: "container",
  throttledRatio: "container",
  apiserver429: "namespace",
  nodes: "namespace",
  objects: "namespace",
  watchers: "namespace",
  apfSeats: "namespace",
  apfRejected: "namespace",
  latencyP99: "verb",
  etcdDbSize: "namespace",
};

/** A series' key in its signal's map (usageQueryKeys); undefined when a label it needs is missing. */
export function seriesKey(
  n: MetricNames,
  keyedBy: "container" | "verb" | "namespace",
  labels: Record<string, string>,
): string | undefined {
  const ns = labels[n.namespaceLabel];
  if (!ns) return undefined;
  if (keyedBy === "namespace") return ns;
  const [a, b] =
    keyedBy === "container" ? [labels[n.podLabel], labels[n.containerLabel]] : [labels.verb, labels.scope ?? ""];
  return a && (b || keyedBy === "verb") ? `${ns}/${a}/${b}` : undefined;
}

/**
 * The PromQL of the live poll's signals, one query each for all tenants: the scaler's poll evaluates them at
 * one instant, `metapilot backtest` over a range, so both read exactly the same series. `selector(extra)` gives
 * the label matchers in braces (the tenant namespaces, and `extra`).
 */
export function usageQueries(
  n: MetricNames,
  selector: (extra?: string) => string,
  rateWindow: string,
): Record<UsageQueryName, string> {
  // Not the pod's own cgroup nor its sandbox (container="" on containerd, "POD" under dockershim). One container
  // can have several series (the kubelet's /metrics/cadvisor and /metrics/resource, both job="kubelet" in
  // kube-prometheus; two jobs scraping one kubelet): usage is their maximum, never their sum.
  const c = `${n.containerLabel}!="",${n.containerLabel}!="POD"`;
  const by = `${n.namespaceLabel},${n.podLabel},${n.containerLabel}`;
  const w = rateWindow;
  return {
    cpu: `max by (${by}) (rate(${n.cpu}${selector(c)}[${w}]))`,
    memory: `max by (${by}) (${n.memory}${selector(c)})`,
    throttledRatio: `sum by (${by}) (rate(${n.throttledPeriods}${selector(c)}[${w}])) / sum by (${by}) (rate(${n.periods}${selector(c)}[${w}]))`,
    apiserver429: `sum by (${n.namespaceLabel}) (rate(${n.apiserverRequests}${selector('code="429"')}[${w}]))`,
    nodes: `max by (${n.namespaceLabel}) (${n.storageObjects}${selector('resource="nodes"')})`,
    // Each resource's count once (the maximum over the tenant's apiserver pods, which all report it), summed.
    objects: `sum by (${n.namespaceLabel}) (max by (${n.namespaceLabel},resource) (${n.storageObjects}${selector()}))`,
    // Watches are per connection, so per pod: each pod is sized by the watchers it serves (the busiest one).
    watchers: `max by (${n.namespaceLabel}) (sum by (${n.namespaceLabel},${n.podLabel}) (${n.longrunningRequests}${selector('verb="WATCH"')}))`,
    // The exempt level (system:masters, health checks) has no seats of its own and is never queued.
    apfSeats:
      `max by (${n.namespaceLabel}) (sum by (${n.namespaceLabel},${n.podLabel}) (${n.flowcontrolExecutingSeats}${selector('priority_level!="exempt"')}) ` +
      `/ sum by (${n.namespaceLabel},${n.podLabel}) (${n.flowcontrolNominalSeats}${selector('priority_level!="exempt"')}))`,
    apfRejected: `sum by (${n.namespaceLabel}) (rate(${n.flowcontrolRejected}${selector()}[${w}]))`,
    // Per verb and scope, as the SIG-scalability latency SLO is stated; a verb with no request in the window has no
    // quantile (NaN), and is left out rather than read as fast.
    latencyP99:
      `histogram_quantile(0.99, sum by (${n.namespaceLabel},verb,scope,le) ` +
      `(rate(${n.requestDuration}${selector('verb!~"WATCH|CONNECT"')}[${w}]))) >= 0`,
    etcdDbSize: `max by (${n.namespaceLabel}) (${n.storageSize}${selector()})`,
  };
}

/** `s` as a regular expression that matches only it. */
export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Label matchers in braces: namespace=~"a|b" when `namespaces` is given and not empty, and `extra`. */
export function namespaceSelector(n: MetricNames, namespaces: readonly string[] | undefined, extra = ""): string {
  const parts: string[] = [];
  if (namespaces && namespaces.length > 0) {
    parts.push(`${n.namespaceLabel}=~"${namespaces.map(escapeRegex).join("|")}"`);
  }
  if (extra) parts.push(extra);
  return `{${parts.join(",")}}`;
}

export class PrometheusSignals {
  readonly snapshot: UsageSnapshot = emptyUsageSnapshot();
  lastSuccessAt?: number;
  lastError?: string;
  queries = 0;
  private readonly names: MetricNames;
  private readonly failureLog: RepeatedFailureLog;

  constructor(private readonly options: PrometheusSignalsOptions) {
    this.names = { ...defaultMetricNames, ...options.metrics };
    this.failureLog = new RepeatedFailureLog(options.logger, "Prometheus poll failed; usage signals will go stale");
  }

  private selector(extra = ""): string {
    return namespaceSelector(this.names, this.options.namespaces(), extra);
  }

  private store(name: UsageQueryName, samples: InstantSample[], now: number): void {
    const into = this.snapshot[name];
    into.clear();
    for (const s of samples) {
      const key = seriesKey(this.names, usageQueryKeys[name], s.labels);
      if (key) into.set(key, { value: s.value, observedAt: Math.min(now, s.timestampMs), source: "prometheus" });
    }
  }

  /** One poll: one batched query per signal. On any failure the previous values stay, aging into staleness. */
  async poll(signal?: AbortSignal): Promise<void> {
    const q = usageQueries(this.names, (extra) => this.selector(extra), this.options.rateWindow);
    const now = Date.now();
    try {
      const answers = await Promise.all(
        usageQueryOrder.map((name) => this.options.client.query(q[name], undefined, signal)),
      );
      this.queries += usageQueryOrder.length;
      // Usage, ratios, rates and counts are never negative: an answer that says so is garbage, and the whole poll
      // is rejected (the previous values age into staleness) rather than letting one bad series look like idleness.
      const bad = answers.flat().find((s) => s.value < 0);
      if (bad) throw new PrometheusError(`negative value ${bad.value} for ${JSON.stringify(bad.labels)}`, "malformed");
      usageQueryOrder.forEach((name, i) => this.store(name, answers[i] ?? [], now));
      this.lastSuccessAt = now;
      this.lastError = undefined;
      this.failureLog.recovered();
    } catch (err) {
      this.queries += usageQueryOrder.length;
      const kind = err instanceof PrometheusError ? err.kind : "unreachable";
      this.lastError = `Prometheus ${kind}: ${(err as Error).message}`;
      this.failureLog.failed(err);
    }
    this.options.onUpdate();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll(signal).catch(() => undefined);
      // Wakes at once on abort, so a SIGTERM never waits out a poll interval.
      await sleep(this.options.intervalMs, signal).catch(() => undefined);
    }
  }
}
