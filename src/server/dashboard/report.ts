// The decision digest over a period, shared by `metapilot report` and the dashboard's /api/report, so both give
// the same JSON for the same decisions. Periods are durations back from now ("24h", "90m") or RFC 3339 times. The
// dry-run plan's "today" comes from the workloads and its bounds from the governing ClusterScaler; the HTML page
// carries the dashboard's own charts (ui/charts.js and chart.js, inlined so the file stands alone).
import { contractScript } from "./contract.js";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { parseClusterScaler, parseDuration, type ClusterScaler } from "../../api/index.js";
import type { KubeObject } from "../../kube/resources.js";
import { resolvePolicy, selectClusterScaler } from "../../scaler/policy.js";
import {
  buildDigest,
  isoSeconds,
  renderDigestHtml,
  type Digest,
  type PlanContext,
  type ReportableDecision,
  type SizeBounds,
  type SizeFields,
} from "../../scaler/reports.js";
import { tenantSelectionLabels } from "../../scaler/tenancy.js";
import type { ComponentName } from "../../scaler/types.js";
import { chartFromEvidence, type EvidenceChart } from "./evidence.js";
import { componentLabel, tenantLabel } from "../../api/labels.js";
import type { Workload } from "../../scaler/reconciler.js";

export interface ReportQuery {
  /** Duration back from now ("24h") or an RFC 3339 time. Default 24h. */
  since?: string;
  /** Same forms as `since`; default now. */
  until?: string;
  dryRunOnly?: boolean;
  tenant?: string;
}

/** A point in time from "24h" or "7d" (that long before `now`) or from an RFC 3339 timestamp. */
export function parseTimeArg(text: string, now: number, what: string): Date {
  const s = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new Error(`${what}: "${text}" is not a valid RFC 3339 time`);
    return new Date(t);
  }
  // Whole days ("7d") read better than "168h" in a report period; Go durations have no day unit.
  const days = /^([0-9]{1,4})d$/.exec(s);
  if (days) return new Date(now - Number(days[1]) * 86_400_000);
  try {
    return new Date(now - parseDuration(s));
  } catch {
    throw new Error(`${what}: "${text}" is neither a duration (24h, 90m, 7d) nor an RFC 3339 time`);
  }
}

export function reportWindow(query: ReportQuery, now: number): { from: Date; to: Date } {
  const from = parseTimeArg(query.since ?? "24h", now, "since");
  const to = query.until ? parseTimeArg(query.until, now, "until") : new Date(now);
  if (from.getTime() > to.getTime())
    throw new Error(`since (${from.toISOString()}) is after until (${to.toISOString()})`);
  return { from, to };
}

export function tenantOf(d: ReportableDecision): string {
  const target = d.spec?.target as { tenant?: string } | undefined;
  return target?.tenant ?? d.metadata?.labels?.[tenantLabel] ?? "";
}

/** The digest for a query: the one JSON shape of `metapilot report -o json` and GET /api/report?format=json. */
export function reportDigest(
  decisions: readonly ReportableDecision[],
  query: ReportQuery,
  now: number,
  ctx: PlanContext = {},
): Digest {
  const { from, to } = reportWindow(query, now);
  const selected = query.tenant ? decisions.filter((d) => tenantOf(d) === query.tenant) : decisions;
  return buildDigest(selected, from, to, { dryRunOnly: query.dryRunOnly, ...ctx });
}

// --- plan context ---------------------------------------------------------------------------------------------

/** A workload's size as the scaler reads it: replicas and its main container (named after the component, else the first). */
export function workloadSizeOf(w: Workload): SizeFields {
  const containers = w.spec?.template?.spec?.containers ?? [];
  const component = w.metadata?.labels?.[componentLabel];
  const c = containers.find((x) => x.name === component) ?? containers[0];
  return {
    replicas: w.spec?.replicas ?? 1,
    requests: { ...c?.resources?.requests },
    limits: { ...c?.resources?.limits },
  };
}

export interface PlanSources {
  /** A Deployment or StatefulSet by kind, namespace and name. */
  workload: (kind: string, namespace: string, name: string) => Workload | undefined;
  clusterScalers: readonly KubeObject[];
  tenant: (name: string) => KubeObject | undefined;
}

/** Where the plan reads today's size (the workloads) and the bounds (the decision's ClusterScaler's policy). */
export function planContext(s: PlanSources): PlanContext {
  const parsed: ClusterScaler[] = s.clusterScalers.flatMap((raw) => {
    const r = parseClusterScaler(raw);
    return r.ok ? [r.value] : [];
  });
  return {
    workloadSize: (kind, namespace, name) => {
      const w = s.workload(kind, namespace, name);
      return w ? workloadSizeOf(w) : undefined;
    },
    bounds: (d): SizeBounds | undefined => {
      const spec = d.spec as { clusterScaler?: string; target?: { kind?: string; name?: string } } | undefined;
      const tenant = tenantOf(d);
      const w = s.workload(spec?.target?.kind ?? "Deployment", d.metadata?.namespace ?? "", spec?.target?.name ?? "");
      const labels = tenantSelectionLabels(tenant, s.tenant(tenant), w);
      const cs = parsed.find((c) => c.metadata?.name === spec?.clusterScaler) ?? selectClusterScaler(parsed, labels);
      if (!cs) return undefined;
      try {
        const p = resolvePolicy(cs, String(d.spec?.component ?? "") as ComponentName, labels);
        return p ? { minAllowed: p.minAllowed, maxAllowed: p.maxAllowed, replicas: p.replicas } : undefined;
      } catch {
        return undefined; // an invalid policy gives no bounds; the ClusterScaler's status says why
      }
    },
  };
}

// --- HTML -----------------------------------------------------------------------------------------------------

const here = path.dirname(fileURLToPath(import.meta.url));

export function uiFile(name: string): string {
  const candidates = [path.join(here, "ui", name), path.resolve(here, "../../../../src/server/dashboard/ui", name)];
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new Error(`dashboard UI file ${name} not found in ${candidates.join(" or ")}`);
  return found;
}

export function chartJsFile(): string {
  // chart.js's exports map has no entry for its UMD build; resolve the package and take the file beside it.
  const main = createRequire(import.meta.url).resolve("chart.js");
  return path.join(path.dirname(main), "chart.umd.min.js");
}

/** Text for inside a <script> element: no "</script" can end it early. */
export const scriptText = (s: string) => s.replace(/<\/(script)/gi, "<\\/$1");
export const jsonForScript = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

/** At most this many evidence charts in one page; the rest are in the dashboard. */
export const maxEvidenceCharts = 30;

/**
 * The digest as a standalone HTML page with the dashboard's charts: the decision timeline, and the recorded
 * evidence of the newest decisions (each chart as the dashboard draws it without Prometheus).
 */
export function renderReportHtml(
  digest: Digest,
  decisions: readonly ReportableDecision[],
  title: string,
  assets: { chartJs?: string; charts?: string } = {},
): string {
  const byName = new Map(decisions.map((d) => [`${d.metadata?.namespace}/${d.metadata?.name}`, d]));
  const newest = [...digest.rows].reverse().slice(0, maxEvidenceCharts);
  const evidence: Array<{ id: string; title: string; chart: EvidenceChart }> = [];
  for (const r of newest) {
    const d = byName.get(`${r.namespace}/${r.name}`);
    if (!d) continue;
    const chart = chartFromEvidence(d, "the evidence recorded in the decision");
    if (chart.series.length === 0) continue;
    evidence.push({
      id: `evidence-${evidence.length}`,
      title: `${isoSeconds(r.decidedAt)} ${r.tenant} ${r.component} ${r.direction} ${r.category}: ${chart.metric}`,
      chart,
    });
  }
  const esc = (s: string) =>
    s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
  const chartJs = assets.chartJs ?? readFileSync(chartJsFile(), "utf8");
  const charts = assets.charts ?? readFileSync(uiFile("charts.js"), "utf8");
  const data = {
    timeline: { from: digest.from, to: digest.to, decisions: digest.rows },
    evidence: evidence.map((e) => ({ id: e.id, chart: e.chart })),
  };
  const more = digest.rows.length - newest.length;
  const section =
    `<h2>Timeline</h2><div class="chart"><canvas id="timeline" aria-label="decision timeline"></canvas></div>` +
    (evidence.length
      ? `<h2>Evidence of the newest decisions</h2>${more > 0 ? `<p class="note">${more} older decisions have their evidence in the dashboard.</p>` : ""}` +
        evidence
          .map((e) => `<h3>${esc(e.title)}</h3><div class="chart"><canvas id="${e.id}"></canvas></div>`)
          .join("\n")
      : "");
  const head =
    `<script>${scriptText(chartJs)}</script>\n<script>${scriptText(contractScript())}</script>\n` +
    `<script>${scriptText(charts)}</script>\n` +
    `<script id="report-data" type="application/json">${jsonForScript(data)}</script>\n` +
    `<script>window.addEventListener("DOMContentLoaded",function(){var d=JSON.parse(document.getElementById("report-data").textContent);` +
    `window.metapilotCharts={timeline:window.metapilotDraw.timeline(document.getElementById("timeline"),d.timeline)};` +
    `d.evidence.forEach(function(e){window.metapilotCharts[e.id]=window.metapilotDraw.evidence(document.getElementById(e.id),e.chart);});` +
    `document.body.dataset.ready="report";});</script>`;
  return renderDigestHtml(digest, title, { head, charts: section });
}
