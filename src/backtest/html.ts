// The backtest as one standalone HTML page, drawn with the dashboard's pieces (chart.js and ui/charts.js, inlined
// as the `report -o html` page inlines them): the policies side by side, coverage and what is missing, and each
// policy's decisions on the dashboard's timeline chart.
import { readFileSync } from "node:fs";
import { chartJsFile, jsonForScript, scriptText, uiFile } from "../server/dashboard/report.js";
import { summaryRows } from "./summary-rows.js";
import { coverageSignals } from "./replay.js";
import type { BacktestReport } from "./run.js";

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const table = (head: string[], rows: string[][]) =>
  `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
  rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n") +
  "</tbody></table>";

export function renderBacktestHtml(r: BacktestReport, assets: { chartJs?: string; charts?: string } = {}): string {
  const chartJs = assets.chartJs ?? readFileSync(chartJsFile(), "utf8");
  const charts = assets.charts ?? readFileSync(uiFile("charts.js"), "utf8");
  // The timeline chart's decisions, as the digest's rows name their fields.
  const timelines = r.policies.map((p, i) => ({
    id: `timeline-${i}`,
    from: r.from,
    to: r.to,
    decisions: Object.entries(p.timeline).flatMap(([tenant, entries]) =>
      entries.map((e) => ({
        decidedAt: e.at,
        tenant,
        component: e.component,
        direction: e.direction,
        category: e.category,
        summary: e.action === "blocked" ? `BLOCKED ${e.summary}` : e.summary,
      })),
    ),
  }));
  const summary = table(
    ["", ...r.policies.map((p) => p.name)],
    summaryRows.map(([label, f]) => [label.trim(), ...r.policies.map((p) => f(p.summary))]),
  );
  const coverage = table(
    ["signal", "coverage", "gaps"],
    coverageSignals.map((s) => [s, `${r.coverage[s].percent}%`, String(r.coverage[s].gaps)]),
  );
  const missing = r.missing.length
    ? `<h2>Missing</h2><p class="warn">Partial report: these queries failed; their metric is missing over the range, ` +
      `and no scale-down was made on it.</p>` +
      table(
        ["metric", "from", "to", "error"],
        r.missing.map((m) => [m.metric, m.from, m.to, m.error]),
      )
    : "";
  const policies = r.policies
    .map(
      (p, i) =>
        `<h2>${esc(p.name)}</h2><p class="note">${esc(p.source)}: ${timelines[i]?.decisions.length ?? 0} decisions` +
        `${p.notGoverned ? `; ${p.notGoverned} workloads it does not govern` : ""}</p>` +
        `<div class="chart"><canvas id="timeline-${i}" aria-label="${esc(p.name)} decision timeline"></canvas></div>`,
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>metapilot backtest</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}.chart{position:relative;height:260px}.note{color:#555}.warn{color:#a04000}</style>
<script>${scriptText(chartJs)}</script>
<script>${scriptText(charts)}</script>
<script id="backtest-data" type="application/json">${jsonForScript(timelines)}</script>
<script>window.addEventListener("DOMContentLoaded",function(){var d=JSON.parse(document.getElementById("backtest-data").textContent);window.metapilotCharts={};d.forEach(function(t){window.metapilotCharts[t.id]=window.metapilotDraw.timeline(document.getElementById(t.id),t);});document.body.dataset.ready="backtest";});</script>
</head><body>
<h1>metapilot backtest</h1>
<p>${esc(r.from)} → ${esc(r.to)}: ${r.steps} steps of ${r.stepSeconds}s, ${r.queries} Prometheus queries${r.partial ? ' <strong class="warn">(partial)</strong>' : ""}.</p>
<h2>Policies side by side</h2>
${summary}
<h2>Coverage</h2>
<p class="note">Steps with data, per signal; gaps are interruptions of a series. A step without data never gives a scale-down.</p>
${coverage}
${missing}
${policies}
<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>
</body></html>
`;
}
