// metapilot dashboard: a read-only single page over /api/. Hash routes: #/ (fleet), #/decisions, #/decision/ns/name,
// #/nodes, #/report. Charts use chart.js (served from node_modules by the controller). No build step.
/* global Chart, window, document, location, fetch, URLSearchParams, FormData, setTimeout, clearTimeout */
"use strict";

const view = document.getElementById("view");
const categories = [
  "OOMKilled",
  "CPUSaturation",
  "MemoryPressure",
  "Throttling",
  "ClusterGrowth",
  "ProbeFailure",
  "Underutilized",
];
/** Chart instances by name, for tests and for destroying them on navigation. */
window.metapilotCharts = {};
let refreshTimer;

function esc(v) {
  return String(v ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = (await res.json()).error || msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return res.json();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query || "") };
}

function quantity(q) {
  if (q === undefined || q === null || q === "") return undefined;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return undefined;
  const mult = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return mult[m[2]] === undefined ? undefined : Number(m[1]) * mult[m[2]];
}

function fmt(v, unit) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  if (unit === "bytes") {
    if (Math.abs(v) >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(2)}Gi`;
    return `${Math.round(v / 1024 ** 2)}Mi`;
  }
  if (unit === "cores") return v >= 1 ? `${v.toFixed(2)}` : `${Math.round(v * 1000)}m`;
  if (unit === "per-second") return `${v.toFixed(2)}/s`;
  if (unit === "ratio") return v.toFixed(2);
  return String(Math.round(v * 100) / 100);
}

function time(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { hour12: false });
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 129600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function badge(text, cls) {
  return `<span class="badge ${esc(cls ?? text)}">${esc(text)}</span>`;
}

function decisionLink(r) {
  return `#/decision/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`;
}

function sizeCell(res) {
  const r = res?.requests ?? {};
  const l = res?.limits ?? {};
  return [
    r.cpu && `cpu ${r.cpu}`,
    r.memory && `mem ${r.memory}`,
    l.cpu && `cpu lim ${l.cpu}`,
    l.memory && `mem lim ${l.memory}`,
  ]
    .filter(Boolean)
    .map(esc)
    .join("<br>");
}

function recCell(current, target, key) {
  if (!target || target[key] === undefined) return '<span class="muted">–</span>';
  const c = quantity(current?.[key]);
  const t = quantity(target[key]);
  let cls = "";
  if (c !== undefined && t !== undefined && c > 0) {
    if (t > c * 1.1) cls = "rec-higher";
    else if (t < c * 0.9) cls = "rec-lower";
  }
  return `<span class="${cls}">${esc(target[key])}</span>`;
}

function destroyCharts() {
  for (const c of Object.values(window.metapilotCharts)) c.destroy();
  window.metapilotCharts = {};
}

function setActive(name) {
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.view === name);
}

// --- fleet ----------------------------------------------------------------------------------------------------

async function renderFleet() {
  setActive("fleet");
  const { tenants } = await api("/api/tenants");
  if (tenants.length === 0) {
    view.innerHTML = "<h1>Fleet</h1><p class='muted'>No tenant control planes found.</p>";
    return;
  }
  const cards = tenants.map((t) => {
    const rows = t.components
      .flatMap((c) =>
        c.containers.map(
          (k, i) => `<tr data-component="${esc(c.component)}">
            ${i === 0 ? `<td rowspan="${c.containers.length}"><b>${esc(c.component)}</b><br><span class="muted">${esc(c.kind)}/${esc(c.name)}</span>${c.paused ? " " + badge("paused", "foreign") : ""}</td><td class="num" rowspan="${c.containers.length}">${esc(c.readyReplicas ?? 0)}/${esc(c.replicas ?? "?")}</td>` : ""}
            <td>${esc(k.name)}</td>
            <td class="num">${sizeCell(k.current)}</td>
            <td class="num">${recCell(k.current.requests, k.recommended?.target, "cpu")}</td>
            <td class="num">${recCell(k.current.requests, k.recommended?.target, "memory")}</td>
            <td class="num muted">${k.recommended?.lowerBound ? esc(`${k.recommended.lowerBound.cpu ?? "?"} / ${k.recommended.lowerBound.memory ?? "?"}`) : "–"}</td>
            <td class="num muted">${k.recommended?.upperBound ? esc(`${k.recommended.upperBound.cpu ?? "?"} / ${k.recommended.upperBound.memory ?? "?"}`) : "–"}</td>
            <td>${c.profile ? esc(c.profile.name) + (c.profile.confidence !== undefined ? ` <span class="muted">(${esc(Math.round(c.profile.confidence * 100))}%)</span>` : "") : '<span class="muted">no profile</span>'}</td>
          </tr>`,
        ),
      )
      .join("");
    return `<section class="card tenant" data-tenant="${esc(t.name)}">
      <h2>${esc(t.name)} ${t.managed ? badge("TenantControlPlane", "ok") : badge("foreign (by label)", "foreign")}
        ${t.phase ? badge(t.phase) : ""} ${t.paused ? badge("paused", "foreign") : ""}</h2>
      <p class="muted">namespace <code>${esc(t.namespace)}</code>${t.version ? ` · version ${esc(t.version)}` : ""}
        · <a href="#/decisions?tenant=${encodeURIComponent(t.name)}&since=7d">${esc(t.decisions.last24h)} decisions in 24h</a>
        ${t.decisions.lastDecidedAt ? `· last ${esc(ago(t.decisions.lastDecidedAt))}` : ""}</p>
      <table><thead><tr><th>component</th><th>ready</th><th>container</th><th>current</th><th>rec. cpu</th><th>rec. memory</th><th>lower bound</th><th>upper bound</th><th>profile</th></tr></thead>
      <tbody>${rows || '<tr><td colspan="9" class="muted">no labelled workloads</td></tr>'}</tbody></table>
    </section>`;
  });
  view.innerHTML = `<h1>Fleet <span class="muted">(${tenants.length} tenants)</span></h1>${cards.join("")}`;
}

// --- decision timeline ----------------------------------------------------------------------------------------

async function renderDecisions(params) {
  setActive("decisions");
  const since = params.get("since") || "24h";
  const q = new URLSearchParams({ since });
  for (const k of ["tenant", "category", "dryRun"]) if (params.get(k)) q.set(k, params.get(k));
  const [list, { tenants }] = await Promise.all([api(`/api/decisions?${q}`), api("/api/tenants")]);
  const opt = (v, cur, label) => `<option value="${esc(v)}"${v === cur ? " selected" : ""}>${esc(label ?? v)}</option>`;
  const filters = `<form class="filters" id="filters">
    <label>period<select name="since">${["1h", "6h", "24h", "72h", "7d"].map((s) => opt(s, since, `last ${s}`)).join("")}</select></label>
    <label>tenant<select name="tenant">${opt("", params.get("tenant") || "", "all")}${tenants.map((t) => opt(t.name, params.get("tenant") || "")).join("")}</select></label>
    <label>root cause<select name="category">${opt("", params.get("category") || "", "all")}${categories.map((c) => opt(c, params.get("category") || "")).join("")}</select></label>
    <label>mode<select name="dryRun">${opt("", params.get("dryRun") || "", "all")}${opt("true", params.get("dryRun") || "", "dry-run only")}${opt("false", params.get("dryRun") || "", "applied only")}</select></label>
  </form>`;
  const rows = list.decisions
    .map(
      (r) => `<tr class="decision" data-name="${esc(r.name)}" data-tenant="${esc(r.tenant)}">
        <td class="num">${esc(time(r.decidedAt))}<br><span class="muted">${esc(ago(r.decidedAt))}</span></td>
        <td>${esc(r.tenant)}</td><td>${esc(r.component)}</td>
        <td class="dir-${esc(r.direction)}">${r.direction === "Up" ? "▲" : "▼"} ${esc(r.direction)}</td>
        <td>${badge(r.category, "")}</td><td>${badge(r.phase)}${r.dryRun ? " " + badge("dry-run", "DryRun") : ""}</td>
        <td class="num">${esc(r.before)}</td><td class="num">${esc(r.after)}</td>
        <td><a href="${decisionLink(r)}">${esc(r.summary)}</a></td></tr>`,
    )
    .join("");
  view.innerHTML = `<h1>Decisions <span class="muted">${esc(time(list.from))} – ${esc(time(list.to))}</span></h1>${filters}
    <div class="card"><div class="chart-box small"><canvas id="timeline" aria-label="decision timeline"></canvas></div></div>
    <p class="muted">${esc(list.total)} decision${list.total === 1 ? "" : "s"}${list.total > list.decisions.length ? `, newest ${list.decisions.length} shown` : ""}</p>
    <table><thead><tr><th>time</th><th>tenant</th><th>component</th><th>dir</th><th>root cause</th><th>phase</th><th>before</th><th>after</th><th>summary</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="9" class="muted">no decisions in this period</td></tr>'}</tbody></table>`;
  document.getElementById("filters").addEventListener("change", (e) => {
    const f = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const [k, v] of f) if (v) next.set(k, String(v));
    location.hash = `#/decisions?${next}`;
  });
  drawTimeline(list);
}

function drawTimeline(list) {
  if (typeof Chart === "undefined") return;
  const cats = [...new Set([...categories, ...list.decisions.map((d) => d.category)])];
  const point = (d) => ({ x: Date.parse(d.decidedAt), y: d.category, d });
  const from = Date.parse(list.from);
  const to = Date.parse(list.to);
  const pad = (to - from) * 0.02;
  const canvas = document.getElementById("timeline");
  const chart = new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: ["Up", "Down"].map((dir) => ({
        label: `scale ${dir.toLowerCase()}`,
        data: list.decisions.filter((d) => d.direction === dir).map(point),
        backgroundColor: dir === "Up" ? "#c0392b" : "#1e8449",
        pointRadius: 5,
        pointHoverRadius: 7,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: {
          type: "linear",
          min: from - pad,
          max: to + pad,
          ticks: { callback: (v) => new Date(v).toLocaleTimeString(undefined, { hour12: false }), maxTicksLimit: 8 },
        },
        y: { type: "category", labels: cats, offset: true },
      },
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.raw.d.tenant} ${ctx.raw.d.component}: ${ctx.raw.d.summary}` } },
      },
      onClick: (_e, els) => {
        const el = els[0];
        if (el) location.hash = decisionLink(chart.data.datasets[el.datasetIndex].data[el.index].d);
      },
    },
  });
  window.metapilotCharts.timeline = chart;
}

// --- one decision ---------------------------------------------------------------------------------------------

async function renderDecision(ns, name, params) {
  setActive("decisions");
  const span = params.get("window") || "15m";
  const path = `/api/decisions/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
  const { decision: d, chart } = await api(`${path}?window=${encodeURIComponent(span)}`);
  const s = d.spec ?? {};
  const evidence = (s.rootCause?.evidence ?? [])
    .map(
      (e) =>
        `<tr><td><code>${esc(e.signal)}</code></td><td class="num">${esc(e.value)}</td><td class="num">${esc(e.threshold ?? "–")}</td><td>${esc(time(e.observedAt))}</td><td>${esc(e.source ?? "")}</td></tr>`,
    )
    .join("");
  const size = (w) =>
    `<dl class="kv"><dt>replicas</dt><dd>${esc(w?.replicas ?? "–")}</dd>${["requests", "limits"]
      .map((k) =>
        Object.entries(w?.resources?.[k] ?? {})
          .map(([r, v]) => `<dt>${esc(r)} ${esc(k.slice(0, -1))}</dt><dd>${esc(v)}</dd>`)
          .join(""),
      )
      .join("")}</dl>`;
  const points = chart.series.reduce((n, x) => n + x.points.length, 0);
  view.innerHTML = `<p><a href="#/decisions">← decisions</a></p>
    <h1 class="dir-${esc(s.direction)}">${s.direction === "Up" ? "▲" : "▼"} ${esc(s.component)} of ${esc(s.target?.tenant)}
      ${badge(s.rootCause?.category ?? "", "")} ${badge(d.status?.phase ?? "Pending")} ${s.dryRun ? badge("dry-run", "DryRun") : ""}</h1>
    <div class="card"><h2>Root cause</h2><p id="summary">${esc(s.rootCause?.summary)}</p>
      <dl class="kv"><dt>decided</dt><dd>${esc(time(s.decidedAt))} (${esc(ago(s.decidedAt))})</dd>
      <dt>target</dt><dd>${esc(s.target?.kind)}/${esc(s.target?.name)} in <code>${esc(s.target?.namespace)}</code></dd>
      <dt>scaler</dt><dd>${esc(s.scaler ?? "–")}${s.clusterScaler ? ` (ClusterScaler ${esc(s.clusterScaler)})` : ""}</dd>
      ${d.status?.message ? `<dt>message</dt><dd>${esc(d.status.message)}</dd>` : ""}
      <dt>report</dt><dd>${esc(d.status?.delivery?.state ?? "Pending")}${d.status?.delivery?.attempts ? ` after ${esc(d.status.delivery.attempts)} attempts` : ""}</dd></dl>
    </div>
    <div class="card"><h2>Evidence: ${esc(chart.metric)} ${chart.source === "prometheus" ? badge("Prometheus", "ok") : badge("recorded evidence only", "foreign")}</h2>
      ${
        chart.source === "prometheus"
          ? `<form class="filters" id="window-form"><label>before the decision<select name="window">${[
              "5m",
              "15m",
              "1h",
              "6h",
              "24h",
            ]
              .map((w) => `<option${w === span ? " selected" : ""}>${w}</option>`)
              .join("")}</select></label></form>`
          : ""
      }
      ${chart.note ? `<p class="note" id="chart-note">${esc(chart.note)}</p>` : ""}
      <div class="chart-box"><canvas id="evidence-chart" data-source="${esc(chart.source)}" data-points="${points}" data-series="${chart.series.length}" data-threshold="${esc(chart.threshold?.value ?? "")}" aria-label="evidence chart"></canvas></div>
      ${chart.query ? `<p class="muted">query: <code>${esc(chart.query)}</code></p>` : ""}
      <table><thead><tr><th>signal</th><th>value</th><th>threshold</th><th>observed</th><th>source</th></tr></thead><tbody>${evidence || '<tr><td colspan="5" class="muted">none recorded</td></tr>'}</tbody></table>
    </div>
    <div class="grid"><div class="card"><h2>Before</h2>${size(s.before)}</div><div class="card"><h2>After</h2>${size(s.after)}</div></div>`;
  document.getElementById("window-form")?.addEventListener("change", (e) => {
    const w = new FormData(e.currentTarget).get("window");
    location.hash = `#/decision/${encodeURIComponent(ns)}/${encodeURIComponent(name)}?window=${encodeURIComponent(w)}`;
  });
  drawEvidence(chart);
}

const palette = ["#2457c5", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#7f8c8d"];

function drawEvidence(c) {
  if (typeof Chart === "undefined") return;
  const start = Date.parse(c.start);
  const end = Date.parse(c.end);
  const at = Date.parse(c.decidedAt);
  const values = c.series.flatMap((s) => s.points.map((p) => p.v));
  if (c.threshold) values.push(c.threshold.value);
  const top = Math.max(1e-9, ...values) * 1.15;
  // Zoom onto the samples when they start well inside the window (a young workload, a short retention).
  const times = c.series.flatMap((s) => s.points.map((p) => p.t));
  const first = Math.min(...times, at);
  let left = Math.max(Math.min(start, at), first - (Math.max(end, at) - first) * 0.1);
  let right = Math.max(end, at);
  if (right - left < 60000) {
    // A single recorded point: give it a minute of room.
    left -= 30000;
    right += 30000;
  }
  const datasets = c.series.map((s, i) => ({
    label: s.label,
    data: s.points.map((p) => ({ x: p.t, y: p.v })),
    borderColor: palette[i % palette.length],
    backgroundColor: palette[i % palette.length],
    pointRadius: c.source === "prometheus" ? 2 : 6,
    showLine: c.source === "prometheus",
    borderWidth: 2,
    tension: 0,
  }));
  if (c.threshold) {
    datasets.push({
      label: c.threshold.label,
      data: [
        { x: left, y: c.threshold.value },
        { x: right, y: c.threshold.value },
      ],
      borderColor: "#c0392b",
      borderDash: [6, 4],
      pointRadius: 0,
      borderWidth: 2,
      metapilotRole: "threshold",
    });
  }
  datasets.push({
    label: "decision",
    data: [
      { x: at, y: 0 },
      { x: at, y: top },
    ],
    borderColor: "#b9770e",
    borderDash: [2, 3],
    pointRadius: 0,
    borderWidth: 1.5,
    metapilotRole: "decision",
  });
  const chart = new Chart(document.getElementById("evidence-chart"), {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: {
          type: "linear",
          min: left,
          max: right,
          ticks: { callback: (v) => new Date(v).toLocaleTimeString(undefined, { hour12: false }), maxTicksLimit: 10 },
        },
        y: { beginAtZero: true, max: top, ticks: { callback: (v) => fmt(v, c.unit) } },
      },
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.parsed.y, c.unit)}` } },
      },
    },
  });
  window.metapilotCharts.evidence = chart;
}

// --- nodes ----------------------------------------------------------------------------------------------------

async function renderNodes() {
  setActive("nodes");
  const [{ nodePools }, { nodeDrains }] = await Promise.all([api("/api/nodepools"), api("/api/nodedrains")]);
  const pools = nodePools
    .map(
      (
        p,
      ) => `<tr data-pool="${esc(p.name)}"><td><b>${esc(p.name)}</b> ${p.dryRun ? badge("dry-run", "DryRun") : ""}</td><td>${esc(p.provider ?? "")}</td>
        <td class="num">${esc(p.readyNodes)}/${esc(p.nodes)} ready</td>
        <td><progress max="${esc(Math.max(p.desiredNodes, p.nodes, 1))}" value="${esc(p.readyNodes)}"></progress> → ${esc(p.desiredNodes)}</td>
        <td class="num">${esc(p.minNodes ?? "–")}…${esc(p.maxNodes ?? "–")}</td><td class="num">${esc(p.pendingPods)}</td>
        <td>${p.activeDrain ? esc(p.activeDrain) : "–"}${p.scaleDownCandidates.length ? `<br><span class="muted">candidates: ${esc(p.scaleDownCandidates.join(", "))}</span>` : ""}</td>
        <td>${p.conditions.map((c) => badge(`${c.type}=${c.status}`, c.status === "True" ? "ok" : "")).join(" ")}</td></tr>`,
    )
    .join("");
  const drains = nodeDrains
    .map(
      (
        d,
      ) => `<tr data-drain="${esc(d.name)}"><td><b>${esc(d.name)}</b> ${d.dryRun ? badge("dry-run", "DryRun") : ""}</td><td>${badge(d.phase)}</td>
        <td><progress max="100" value="${esc(d.percent)}"></progress> ${esc(d.percent)}%</td>
        <td>${Object.entries(d.nodes.byState)
          .map(([k, v]) => `${esc(k)} ${esc(v)}`)
          .join(", ")} <span class="muted">of ${esc(d.nodes.total)}</span></td>
        <td>${Object.entries(d.pods.byState)
          .map(([k, v]) => `${esc(k)} ${esc(v)}`)
          .join(
            ", ",
          )} <span class="muted">of ${esc(d.pods.total)}</span>${d.pods.blocked.map((b) => `<br><span class="error">${esc(b.pod)}: ${esc(b.message ?? "")}</span>`).join("")}</td>
        <td>${esc(time(d.startTime))}</td><td>${esc(d.message ?? "")}</td></tr>`,
    )
    .join("");
  view.innerHTML = `<h1>Node pools</h1>
    <table><thead><tr><th>pool</th><th>provider</th><th>nodes</th><th>progress → desired</th><th>min…max</th><th>pending pods</th><th>scale-down</th><th>conditions</th></tr></thead>
    <tbody>${pools || '<tr><td colspan="8" class="muted">no NodePools</td></tr>'}</tbody></table>
    <h1 class="spaced">Node drains</h1>
    <table><thead><tr><th>drain</th><th>phase</th><th>progress</th><th>nodes</th><th>pods</th><th>started</th><th>message</th></tr></thead>
    <tbody>${drains || '<tr><td colspan="7" class="muted">no NodeDrains</td></tr>'}</tbody></table>`;
}

// --- dry-run report -------------------------------------------------------------------------------------------

async function renderReport(params) {
  setActive("report");
  const since = params.get("since") || "24h";
  const dryRunOnly = params.get("dryRunOnly") !== "false";
  const q = new URLSearchParams({ since, dryRunOnly: String(dryRunOnly) });
  const digest = await api(`/api/report?${q}&format=json`);
  const counts = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${badge(k, "")} ${esc(v)}`)
      .join(" &nbsp; ") || '<span class="muted">none</span>';
  const rows = digest.rows
    .map(
      (r) => `<tr><td class="num">${esc(time(r.decidedAt))}</td><td>${esc(r.tenant)}</td><td>${esc(r.component)}</td>
      <td class="dir-${esc(r.direction)}">${esc(r.direction)}</td><td>${esc(r.category)}</td><td>${badge(r.phase)}</td>
      <td class="num">${esc(r.before)}</td><td class="num">${esc(r.after)}</td><td><a href="${decisionLink(r)}">${esc(r.summary)}</a></td></tr>`,
    )
    .join("");
  view.innerHTML = `<h1>${dryRunOnly ? "Dry-run report" : "Decision report"}</h1>
    <form class="filters" id="report-filters">
      <label>period<select name="since">${["1h", "6h", "24h", "72h", "7d"].map((s) => `<option${s === since ? " selected" : ""}>${s}</option>`).join("")}</select></label>
      <label>decisions<select name="dryRunOnly"><option value="true"${dryRunOnly ? " selected" : ""}>dry-run only</option><option value="false"${dryRunOnly ? "" : " selected"}>all</option></select></label>
      <span class="muted">download: <a href="/api/report?${q}&format=html">HTML</a> · <a href="/api/report?${q}&format=json">JSON</a> · or <code>metapilot report --since ${esc(since)}${dryRunOnly ? " --dry-run-only" : ""}</code></span>
    </form>
    <div class="card"><p>${esc(time(digest.from))} – ${esc(time(digest.to))}: <b id="report-total">${esc(digest.total)}</b> decision${digest.total === 1 ? "" : "s"}</p>
      <p>by root cause: ${counts(digest.byCategory)}</p><p>by phase: ${counts(digest.byPhase)}</p></div>
    <table><thead><tr><th>time</th><th>tenant</th><th>component</th><th>dir</th><th>root cause</th><th>phase</th><th>before</th><th>after</th><th>summary</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="9" class="muted">no decisions in this period</td></tr>'}</tbody></table>`;
  document.getElementById("report-filters").addEventListener("change", (e) => {
    const f = new FormData(e.currentTarget);
    location.hash = `#/report?since=${encodeURIComponent(f.get("since"))}&dryRunOnly=${encodeURIComponent(f.get("dryRunOnly"))}`;
  });
}

// --- router ---------------------------------------------------------------------------------------------------

async function route() {
  clearTimeout(refreshTimer);
  destroyCharts();
  const { parts, params } = parseHash();
  let refresh = true;
  try {
    if (parts[0] === "decisions") await renderDecisions(params);
    else if (parts[0] === "decision" && parts[1] && parts[2]) {
      refresh = false;
      await renderDecision(decodeURIComponent(parts[1]), decodeURIComponent(parts[2]), params);
    } else if (parts[0] === "nodes") await renderNodes();
    else if (parts[0] === "report") await renderReport(params);
    else await renderFleet();
    document.getElementById("updated").textContent =
      `· updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
    document.body.dataset.ready = location.hash || "#/";
  } catch (err) {
    view.innerHTML = `<p class="error">Could not load: ${esc(err.message)}</p>`;
    document.body.dataset.ready = "error";
  }
  // Live views refresh themselves; a decision is a record and does not change.
  if (refresh) refreshTimer = setTimeout(route, 15000);
}

window.addEventListener("hashchange", route);
route();
