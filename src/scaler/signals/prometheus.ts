// Usage signals from Prometheus, read in batches: one instant query per metric per poll for all tenant
// namespaces, never one per workload. Every value keeps its timestamp; when Prometheus is unreachable or answers
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
  };
}

/** The live poll's six signals, in the order poll() sends them. */
export const usageQueryOrder = ["cpu", "memory", "throttledRatio", "apiserver429", "nodes", "objects"] as const;
export type UsageQueryName = (typeof usageQueryOrder)[number];

/**
 * The PromQL of the live poll's six signals, one query each for all tenants: the scaler's poll evaluates them at
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
  };
}

/** Label matchers in braces: namespace=~"a|b" when `namespaces` is given and not empty, and `extra`. */
export function namespaceSelector(n: MetricNames, namespaces: readonly string[] | undefined, extra = ""): string {
  const parts: string[] = [];
  if (namespaces && namespaces.length > 0) {
    parts.push(`${n.namespaceLabel}=~"${namespaces.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}"`);
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

  constructor(private readonly o: PrometheusSignalsOptions) {
    this.names = { ...defaultMetricNames, ...o.metrics };
    this.failureLog = new RepeatedFailureLog(o.logger, "Prometheus poll failed; usage signals will go stale");
  }

  private selector(extra = ""): string {
    return namespaceSelector(this.names, this.o.namespaces(), extra);
  }

  private byContainer(samples: InstantSample[], into: Map<string, Measurement>, now: number): void {
    const n = this.names;
    into.clear();
    for (const s of samples) {
      const ns = s.labels[n.namespaceLabel];
      const pod = s.labels[n.podLabel];
      const container = s.labels[n.containerLabel];
      if (!ns || !pod || !container) continue;
      into.set(`${ns}/${pod}/${container}`, {
        value: s.value,
        observedAt: Math.min(now, s.timestampMs),
        source: "prometheus",
      });
    }
  }

  private byNamespace(samples: InstantSample[], into: Map<string, Measurement>, now: number): void {
    into.clear();
    for (const s of samples) {
      const ns = s.labels[this.names.namespaceLabel];
      if (!ns) continue;
      into.set(ns, { value: s.value, observedAt: Math.min(now, s.timestampMs), source: "prometheus" });
    }
  }

  /** One poll: six batched queries. On any failure the previous values stay, aging into staleness. */
  async poll(signal?: AbortSignal): Promise<void> {
    const q = usageQueries(this.names, (extra) => this.selector(extra), this.o.rateWindow);
    const now = Date.now();
    try {
      const answers = await Promise.all(usageQueryOrder.map((name) => this.o.client.query(q[name], undefined, signal)));
      const [cpu = [], memory = [], throttled = [], rejected = [], nodes = [], objects = []] = answers;
      this.queries += 6;
      // Usage, ratios, rates and counts are never negative: an answer that says so is garbage, and the whole poll
      // is rejected (the previous values age into staleness) rather than letting one bad series look like idleness.
      const bad = answers.flat().find((s) => s.value < 0);
      if (bad) throw new PrometheusError(`negative value ${bad.value} for ${JSON.stringify(bad.labels)}`, "malformed");
      this.byContainer(cpu, this.snapshot.cpu, now);
      this.byContainer(memory, this.snapshot.memory, now);
      this.byContainer(throttled, this.snapshot.throttledRatio, now);
      this.byNamespace(rejected, this.snapshot.apiserver429, now);
      this.byNamespace(nodes, this.snapshot.nodes, now);
      this.byNamespace(objects, this.snapshot.objects, now);
      this.lastSuccessAt = now;
      this.lastError = undefined;
      this.failureLog.recovered();
    } catch (err) {
      this.queries += 6;
      const kind = err instanceof PrometheusError ? err.kind : "unreachable";
      this.lastError = `Prometheus ${kind}: ${(err as Error).message}`;
      this.failureLog.failed(err);
    }
    this.o.onUpdate();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll(signal).catch(() => undefined);
      // Wakes at once on abort, so a SIGTERM never waits out a poll interval.
      await sleep(this.o.intervalMs, signal).catch(() => undefined);
    }
  }
}
