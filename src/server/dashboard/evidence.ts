// The evidence chart of one decision: the signal that caused it, over time around the decision, with the threshold
// it crossed. With Prometheus it is a range query for the target's containers (memory working set for OOM kills
// and memory pressure, CPU rate for saturation and scale-downs, 429 rate for throttling, node count for growth).
// Without Prometheus, or when the query fails or finds nothing, the chart is built from the evidence recorded in
// the decision itself, and says so in `source` and `note`.
import { parseQuantity } from "../../api/index.js";
import type { RangeQueryClient, RangeSeries } from "../../prometheus/client.js";
import { observedSizeOf } from "../../scaler/reports.js";
import type { DeepPartial, Evidence, ScalingDecisionObject } from "../../api/index.js";

/** Range queries; PrometheusClient is one, and it is what a backtest (the what-if page) reads too. */
export type SeriesSource = RangeQueryClient;

export type Unit = "bytes" | "cores" | "per-second" | "ratio" | "count";

export interface EvidenceChart {
  /** "prometheus": series from a range query; "decision-evidence": only the points recorded in the decision. */
  source: "prometheus" | "decision-evidence";
  /** Why the chart fell back to the decision's own evidence. */
  note?: string;
  metric: string;
  unit: Unit;
  query?: string;
  threshold?: { value: number; label: string };
  decidedAt: string;
  start: string;
  end: string;
  series: Array<{ label: string; points: Array<{ t: number; v: number }> }>;
}

export interface ChartPlan {
  metric: string;
  unit: Unit;
  query?: string;
  threshold?: { value: number; label: string };
}

function quantity(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  try {
    return parseQuantity(q.trim());
  } catch {
    return undefined;
  }
}

const esc = (s: string) => s.replace(/["\\]/g, "\\$&");

/** Which metric and threshold tell the story of a decision; pure, so it is unit-tested per category. */
export function chartPlan(d: ScalingDecisionObject, container: string, rateWindow: string): ChartPlan {
  const spec = d.spec ?? {};
  const ns = esc(spec.target?.namespace ?? d.metadata?.namespace ?? "");
  const sel = `namespace="${ns}",container="${esc(container)}"`;
  const evidence = spec.rootCause?.evidence ?? [];
  const find = (signal: string) => evidence.find((e) => e.signal === signal);
  // A dry-run decision's "before" may be an earlier simulated size; the signal was measured on the real workload,
  // so its threshold is drawn from the size the workload really had (recorded on the decision).
  const before = observedSizeOf(d) ?? spec.before?.resources;
  const memory = {
    metric: "memory working set",
    unit: "bytes" as const,
    query: `max by (pod) (container_memory_working_set_bytes{${sel}})`,
  };
  const cpu = {
    metric: "CPU usage",
    unit: "cores" as const,
    // max, as the ClusterScaler reads it: kube-prometheus scrapes a container's CPU from /metrics/cadvisor and
    // /metrics/resource alike, and a sum would chart it twice.
    query: `max by (pod) (rate(container_cpu_usage_seconds_total{${sel}}[${rateWindow}]))`,
  };
  switch (spec.rootCause?.category) {
    case "OOMKilled": {
      const limit =
        quantity(before?.limits?.memory) ??
        quantity(find("container_oom_killed")?.threshold?.replace(/^limit\s+/, "")) ??
        quantity(before?.requests?.memory);
      const text = before?.limits?.memory ?? before?.requests?.memory;
      return { ...memory, threshold: limit ? { value: limit, label: `memory limit ${text ?? ""}`.trim() } : undefined };
    }
    case "MemoryPressure": {
      const ratio = Number(find("memory_working_set_ratio")?.threshold);
      const baseText = before?.limits?.memory ?? before?.requests?.memory;
      const base = quantity(baseText);
      return {
        ...memory,
        threshold:
          base && Number.isFinite(ratio)
            ? { value: base * ratio, label: `${ratio} × ${before?.limits?.memory ? "limit" : "request"} ${baseText}` }
            : undefined,
      };
    }
    case "CPUSaturation": {
      const ratio = Number(find("cpu_usage_ratio")?.threshold);
      const request = quantity(before?.requests?.cpu);
      return {
        ...cpu,
        threshold:
          request && Number.isFinite(ratio)
            ? { value: request * ratio, label: `${ratio} × request ${before?.requests?.cpu}` }
            : undefined,
      };
    }
    case "Underutilized": {
      // The scale-down shows the usage that made the recommendation fall below the request.
      const memoryOnly = !find("cpu_recommendation_max_in_window") && !!find("memory_recommendation_max_in_window");
      if (memoryOnly) {
        const request = quantity(before?.requests?.memory);
        return {
          ...memory,
          threshold: request ? { value: request, label: `memory request ${before?.requests?.memory}` } : undefined,
        };
      }
      const request = quantity(before?.requests?.cpu);
      return {
        ...cpu,
        threshold: request ? { value: request, label: `CPU request ${before?.requests?.cpu}` } : undefined,
      };
    }
    case "Throttling": {
      const e429 = find("apiserver_429_rate");
      if (e429 || !find("container_cpu_cfs_throttled_ratio")) {
        const t = Number(e429?.threshold);
        return {
          metric: "apiserver 429 responses",
          unit: "per-second",
          query: `sum(rate(apiserver_request_total{namespace="${ns}",code="429"}[${rateWindow}]))`,
          threshold: Number.isFinite(t) && e429?.threshold ? { value: t, label: `threshold ${t}/s` } : undefined,
        };
      }
      const t = Number(find("container_cpu_cfs_throttled_ratio")?.threshold);
      return {
        metric: "CPU throttled ratio",
        unit: "ratio",
        query:
          `sum by (pod) (rate(container_cpu_cfs_throttled_periods_total{${sel}}[${rateWindow}])) / ` +
          `sum by (pod) (rate(container_cpu_cfs_periods_total{${sel}}[${rateWindow}]))`,
        threshold: Number.isFinite(t) ? { value: t, label: `threshold ${t}` } : undefined,
      };
    }
    case "ClusterGrowth": {
      // A step reached by stored objects or watchers (src/scaler/ladder.ts) charts that series and the step's bound.
      const objects = find("apiserver_storage_objects");
      const watchers = find('apiserver_longrunning_requests{verb="WATCH"}');
      const bound = (e: { threshold?: string }) => {
        const t = Number(e.threshold);
        return e.threshold && Number.isFinite(t) ? { value: t, label: `ladder step from ${t}` } : undefined;
      };
      if (objects)
        return {
          metric: "stored objects",
          unit: "count",
          query: `sum(max by (resource) (apiserver_storage_objects{namespace="${ns}"}))`,
          threshold: bound(objects),
        };
      if (watchers)
        return {
          metric: "watchers on the busiest apiserver pod",
          unit: "count",
          query: `max(sum by (pod) (apiserver_longrunning_requests{namespace="${ns}",verb="WATCH"}))`,
          threshold: bound(watchers),
        };
      return {
        metric: "tenant nodes",
        unit: "count",
        query: `max(apiserver_storage_objects{namespace="${ns}",resource="nodes"})`,
      };
    }
    default:
      // Probe failures come from black-box probes; there is no series to ask for, only the recorded evidence.
      return { metric: "recorded evidence", unit: "count" };
  }
}

function unitOf(signal: string): Unit {
  if (/ratio/.test(signal)) return "ratio";
  if (/memory|oom/.test(signal)) return "bytes";
  if (/cpu/.test(signal)) return "cores";
  if (/rate/.test(signal)) return "per-second";
  return "count";
}

/** The chart from the decision alone: each evidence item with a time and a number becomes a point. */
export function chartFromEvidence(d: ScalingDecisionObject, note: string, plan?: ChartPlan): EvidenceChart {
  const decidedAt = d.spec?.decidedAt ?? new Date(0).toISOString();
  const evidence: DeepPartial<Evidence>[] = d.spec?.rootCause?.evidence ?? [];
  const bySignal = new Map<string, Array<{ t: number; v: number }>>();
  for (const e of evidence) {
    if (!e.signal) continue; // a hand-written decision may carry an item without one: nothing to draw
    const t = Date.parse(e.observedAt ?? decidedAt);
    // An OOM kill's value names the pod; the memory at the kill is the limit it hit.
    const v = quantity(e.value ?? "") ?? quantity(e.threshold?.replace(/^(limit|request)\s+/, ""));
    if (Number.isNaN(t) || v === undefined) continue;
    const list = bySignal.get(e.signal) ?? [];
    list.push({ t, v });
    bySignal.set(e.signal, list);
  }
  const first = evidence.find((e) => e.signal);
  const thresholdValue = quantity(first?.threshold?.replace(/^(limit|request)\s+/, ""));
  const ts = [...bySignal.values()].flat().map((p) => p.t);
  const at = Date.parse(decidedAt);
  const start = Math.min(at, ...ts);
  const end = Math.max(at, ...ts);
  return {
    source: "decision-evidence",
    note,
    metric: first?.signal ? first.signal : (plan?.metric ?? "evidence"),
    unit: first?.signal ? unitOf(first.signal) : (plan?.unit ?? "count"),
    threshold:
      thresholdValue !== undefined ? { value: thresholdValue, label: `threshold ${first?.threshold}` } : undefined,
    decidedAt,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    series: [...bySignal].map(([label, points]) => ({ label, points: points.sort((a, b) => a.t - b.t) })),
  };
}

export interface ChartOptions {
  series?: SeriesSource;
  container: string;
  rateWindow: string;
  now: number;
  /** How far before the decision the chart starts; a third of it is shown after. Default 15 minutes. */
  windowMs?: number;
  signal?: AbortSignal;
}

export async function evidenceChart(d: ScalingDecisionObject, o: ChartOptions): Promise<EvidenceChart> {
  const plan = chartPlan(d, o.container, o.rateWindow);
  if (!o.series) return chartFromEvidence(d, "no Prometheus configured: showing the evidence recorded in the decision");
  if (!plan.query) return chartFromEvidence(d, `no Prometheus series for this root cause`, plan);
  const decidedAt = Date.parse(d.spec?.decidedAt ?? "");
  if (Number.isNaN(decidedAt)) return chartFromEvidence(d, "the decision has no decidedAt time", plan);
  const window = o.windowMs ?? 15 * 60_000;
  const start = decidedAt - window;
  const end = Math.max(Math.min(o.now, decidedAt + window / 3), decidedAt);
  // About 600 points, never finer than a second.
  const step = Math.max(1, Math.ceil((end - start) / 1000 / 600));
  let result: RangeSeries[];
  try {
    result = await o.series.queryRange(plan.query, new Date(start), new Date(end), step, o.signal);
  } catch (err) {
    return chartFromEvidence(
      d,
      `Prometheus query failed (${(err as Error).message}): showing the evidence recorded in the decision`,
      plan,
    );
  }
  const series = result
    .map((s) => ({
      label: s.labels.pod ?? (Object.values(s.labels).join(",") || plan.metric),
      points: s.points.map(([t, v]) => ({ t, v })).filter((p) => Number.isFinite(p.v)),
    }))
    .filter((s) => s.points.length > 0)
    .slice(0, 20);
  if (series.length === 0) {
    return chartFromEvidence(
      d,
      "Prometheus has no samples of this signal around the decision: showing the evidence recorded in the decision",
      plan,
    );
  }
  return {
    source: "prometheus",
    metric: plan.metric,
    unit: plan.unit,
    query: plan.query,
    threshold: plan.threshold,
    decidedAt: new Date(decidedAt).toISOString(),
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    series,
  };
}
