// metapilot dashboard: a read-only single page over /api/. Hash routes: #/ (fleet), #/tenant/name, #/decisions,
// #/decision/ns/name, #/plan (dry-run plan), #/nodes, #/report, #/whatif (a backtest beside what happened). Charts
// are drawn by charts.js (shared with the HTML report) on chart.js (served from node_modules by the controller). No
// build step. Times are ISO 8601 in UTC.
/* global window, document, location, fetch, URLSearchParams, FormData, setTimeout, clearTimeout, performance */
"use strict";

const view = document.getElementById("view");
const draw = window.metapilotDraw;
const categories = draw.categories;
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

/** ISO 8601 with its zone (UTC), to the second. */
function time(iso) {
  return draw.iso(iso);
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

/** "2x cpu 500m mem 1024Mi lim mem 2048Mi" from a structured size (replicas, requests, limits). */
function sizeText(s) {
  if (!s) return "";
  const r = s.requests ?? {};
  const l = s.limits ?? {};
  const lim = [l.cpu && `cpu ${l.cpu}`, l.memory && `mem ${l.memory}`].filter(Boolean).join(" ");
  return [`${s.replicas ?? "?"}x`, r.cpu && `cpu ${r.cpu}`, r.memory && `mem ${r.memory}`, lim && `lim ${lim}`]
    .filter(Boolean)
    .join(" ");
}

/** The phase badge, and "dry-run" only where the phase does not already say it (a Blocked dry-run decision). */
function phaseBadges(phase, dryRun) {
  return badge(phase) + (dryRun && phase !== "DryRun" ? " " + badge("dry-run", "DryRun") : "");
}

function changesText(changes) {
  if (!changes.length) return "no change";
  return changes.map((c) => `${c.field} ${c.today ?? "unset"} → ${c.wouldBe}`).join(", ");
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

const healthOrder = ["Degraded", "Progressing", "Unknown", "Paused", "Healthy"];

async function renderFleet(params) {
  setActive("fleet");
  const started = performance.now();
  const q = params.get("q") || "";
  const sort = params.get("sort") || "tenant";
  const health = params.get("health") || "";
  const page = Number(params.get("page") || 1);
  const query = new URLSearchParams({ sort, page: String(page), pageSize: "50" });
  if (q) query.set("q", q);
  if (health) query.set("health", health);
  const fleet = await api(`/api/fleet?${query}`);
  const s = fleet.summary;
  const link = (over) => {
    const next = new URLSearchParams({ q, sort, health, page: String(page), ...over });
    for (const [k, v] of [...next]) if (!v || (k === "page" && v === "1")) next.delete(k);
    return `#/?${next}`;
  };
  const healthChips = healthOrder
    .filter((h) => s.byHealth[h])
    .map(
      (h) =>
        `<a class="chip${health === h ? " active" : ""}" href="${esc(link({ health: health === h ? "" : h, page: "1" }))}">${badge(h, `health-${h}`)} ${esc(s.byHealth[h])}</a>`,
    )
    .join(" ");
  const rows = fleet.tenants
    .map(
      (t) => `<tr class="tenant-row" data-tenant="${esc(t.name)}" tabindex="0">
        <td><a href="#/tenant/${encodeURIComponent(t.name)}"><b>${esc(t.name)}</b></a>${t.managed ? "" : " " + badge("foreign (by label)", "foreign")}<br><span class="muted">${esc(t.namespace)}</span></td>
        <td>${badge(t.health, `health-${t.health}`)}${t.healthReason ? `<br><span class="muted">${esc(t.healthReason)}</span>` : ""}</td>
        <td>${t.phase ? badge(t.phase) : '<span class="muted">–</span>'}</td>
        <td>${esc(t.version ?? "–")}</td>
        <td class="num">${esc(t.ready)}</td>
        <td class="num">${esc(t.decisions.last24h)}</td>
        <td>${t.decisions.last ? `<a href="${decisionLink(t.decisions.last)}">${esc(time(t.decisions.lastDecidedAt))}</a><br><span class="muted">${esc(t.decisions.last.direction)} ${esc(t.decisions.last.category)} · ${esc(t.decisions.last.phase)}</span>` : '<span class="muted">none</span>'}</td>
      </tr>`,
    )
    .join("");
  const sortLink = (key, label) =>
    sort === key ? `<b>${esc(label)} ▾</b>` : `<a href="${esc(link({ sort: key, page: "1" }))}">${esc(label)}</a>`;
  const pager =
    fleet.pages > 1
      ? `<nav class="pager" aria-label="pages">${page > 1 ? `<a id="prev-page" href="${esc(link({ page: String(page - 1) }))}">← previous</a>` : ""}
        <span id="page-info">page ${esc(fleet.page)} of ${esc(fleet.pages)}</span>
        ${page < fleet.pages ? `<a id="next-page" href="${esc(link({ page: String(page + 1) }))}">next →</a>` : ""}</nav>`
      : "";
  view.innerHTML = `<h1>Fleet</h1>
    <div class="card summary" id="fleet-summary">
      <span><b id="tenant-count">${esc(s.tenants)}</b> tenants</span>
      <span class="muted">(${esc(s.managed)} TenantControlPlanes, ${esc(s.foreign)} found by label)</span>
      <span>${healthChips}</span>
      <span><b>${esc(s.decisionsLast24h)}</b> decisions in 24h on ${esc(s.tenantsWithDecisionsLast24h)} tenants</span>
    </div>
    <form class="filters" id="fleet-filters" role="search">
      <label>search<input type="search" name="q" id="fleet-search" value="${esc(q)}" placeholder="tenant or namespace" autocomplete="off"></label>
      <span class="muted">sort by ${sortLink("tenant", "tenant")} · ${sortLink("lastDecision", "last decision")} · ${sortLink("health", "health (worst first)")}</span>
    </form>
    <p class="muted" id="fleet-matching">${esc(fleet.matching)} of ${esc(s.tenants)} tenants${q ? ` match “${esc(q)}”` : ""}${health ? ` with health ${esc(health)}` : ""}</p>
    <table id="fleet-table"><thead><tr><th>tenant</th><th>health</th><th>phase</th><th>version</th><th>components ready</th><th>decisions 24h</th><th>last decision</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="7" class="muted">no tenant matches</td></tr>'}</tbody></table>${pager}`;
  const search = document.getElementById("fleet-search");
  let typing;
  const apply = () => {
    location.hash = link({ q: search.value.trim(), page: "1" });
  };
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(apply, 250);
  });
  document.getElementById("fleet-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(typing);
    apply();
  });
  for (const tr of view.querySelectorAll("tr.tenant-row")) {
    const open = () => (location.hash = `#/tenant/${encodeURIComponent(tr.dataset.tenant)}`);
    tr.addEventListener("click", (e) => {
      if (e.target.closest("a")) return;
      open();
    });
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter") open();
    });
  }
  if (params.has("q")) {
    search.focus();
    search.setSelectionRange(search.value.length, search.value.length);
  }
  window.metapilotFleetRenderMs = performance.now() - started;
}

// --- one tenant -----------------------------------------------------------------------------------------------

function componentTable(t) {
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
  return `<table><thead><tr><th>component</th><th>ready</th><th>container</th><th>current</th><th>rec. cpu</th><th>rec. memory</th><th>lower bound</th><th>upper bound</th><th>profile</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="9" class="muted">no labelled workloads</td></tr>'}</tbody></table>`;
}

function planTable(plan) {
  const rows = plan
    .map(
      (p) => `<tr class="plan-row" data-tenant="${esc(p.tenant)}" data-component="${esc(p.component)}">
        <td>${esc(p.tenant)}</td><td>${esc(p.component)}<br><span class="muted">${esc(p.workload)}</span></td>
        <td class="num">${esc(sizeText(p.today))}${p.todaySource === "workload" ? "" : `<br>${badge(p.todaySource === "decision" ? "as recorded at the decision" : "unknown", "foreign")}`}</td>
        <td class="num"><b>${esc(sizeText(p.wouldBe))}</b></td>
        <td class="change">${esc(changesText(p.changes))}</td>
        <td class="num"><a href="${decisionLink(p.lastDecision)}">${esc(p.decisions)}</a><br><span class="muted">${esc(time(p.firstAt))} – ${esc(time(p.lastAt))}</span></td>
        <td>${p.categories.map((c) => badge(c, "")).join(" ")}</td>
        <td>${p.simulatedBaselines ? badge(`${p.simulatedBaselines} from a simulated baseline`, "simulated") : ""} ${p.boundsHit.map((b) => badge(b, "bound")).join(" ")}</td>
      </tr>`,
    )
    .join("");
  return `<table id="plan-table"><thead><tr><th>tenant</th><th>component</th><th>today (real)</th><th>would be</th><th>net change</th><th>decisions</th><th>root causes</th><th>notes</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="8" class="muted">no dry-run decisions in this period</td></tr>'}</tbody></table>`;
}

async function renderTenant(name) {
  setActive("fleet");
  const { tenant: t, decisions, plan } = await api(`/api/tenants/${encodeURIComponent(name)}`);
  const rows = decisions.decisions
    .map(
      (
        r,
      ) => `<tr class="decision" data-name="${esc(r.name)}"><td class="num">${esc(time(r.decidedAt))}</td><td>${esc(r.component)}</td>
        <td class="dir-${esc(r.direction)}">${r.direction === "Up" ? "▲" : "▼"} ${esc(r.direction)}</td><td>${badge(r.category, "")}</td>
        <td>${phaseBadges(r.phase, r.dryRun)}</td><td><a href="${decisionLink(r)}">${esc(r.summary)}</a></td></tr>`,
    )
    .join("");
  view.innerHTML = `<p><a href="#/">← fleet</a></p>
    <h1 id="tenant-title">${esc(t.name)} ${t.managed ? badge("TenantControlPlane", "ok") : badge("foreign (by label)", "foreign")}
      ${badge(t.health, `health-${t.health}`)} ${t.phase ? badge(t.phase) : ""} ${t.paused ? badge("paused", "foreign") : ""}</h1>
    <p class="muted">namespace <code>${esc(t.namespace)}</code>${t.version ? ` · version ${esc(t.version)}` : ""}${t.endpoint ? ` · ${esc(t.endpoint)}` : ""}${t.healthReason ? ` · ${esc(t.healthReason)}` : ""}</p>
    <div class="card">${componentTable(t)}</div>
    <h2>Dry-run plan (7 days)</h2>${planTable(plan)}
    <h2>Decisions (7 days) <a class="muted" href="#/decisions?tenant=${encodeURIComponent(t.name)}&since=7d">timeline →</a></h2>
    <table><thead><tr><th>time</th><th>component</th><th>dir</th><th>root cause</th><th>phase</th><th>summary</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6" class="muted">no decisions</td></tr>'}</tbody></table>`;
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
        <td>${badge(r.category, "")}</td><td>${phaseBadges(r.phase, r.dryRun)}</td>
        <td class="num">${esc(sizeText(r.before))}${r.baseline === "simulated" ? " " + badge("simulated", "simulated") : ""}</td><td class="num">${esc(sizeText(r.after))}</td>
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
  const chart = draw.timeline(document.getElementById("timeline"), list, (d) => (location.hash = decisionLink(d)));
  if (chart) window.metapilotCharts.timeline = chart;
}

// --- one decision ---------------------------------------------------------------------------------------------

async function renderDecision(ns, name, params) {
  setActive("decisions");
  const span = params.get("window") || "15m";
  const path = `/api/decisions/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
  const { decision: d, chart, opsCenter, row } = await api(`${path}?window=${encodeURIComponent(span)}`);
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
      ${badge(s.rootCause?.category ?? "", "")} ${phaseBadges(d.status?.phase ?? "Pending", s.dryRun)}</h1>
    <div class="card"><h2>Root cause</h2><p id="summary">${esc(s.rootCause?.summary)}</p>
      <dl class="kv"><dt>decided</dt><dd>${esc(time(s.decidedAt))} (${esc(ago(s.decidedAt))})</dd>
      <dt>target</dt><dd>${esc(s.target?.kind)}/${esc(s.target?.name)} in <code>${esc(s.target?.namespace)}</code></dd>
      <dt>scaler</dt><dd>${esc(s.scaler ?? "–")}${s.clusterScaler ? ` (ClusterScaler ${esc(s.clusterScaler)})` : ""}</dd>
      ${d.status?.message ? `<dt>message</dt><dd>${esc(d.status.message)}</dd>` : ""}
      ${opsCenter ? `<dt>report</dt><dd id="delivery">${esc(d.status?.delivery?.state ?? "Pending")}${d.status?.delivery?.attempts ? ` after ${esc(d.status.delivery.attempts)} attempts` : ""}</dd>` : ""}</dl>
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
    <div class="grid"><div class="card" id="before"><h2>Before ${row?.baseline === "simulated" ? badge("simulated baseline", "simulated") : ""}</h2>${size(s.before)}
      ${row?.baseline === "simulated" ? `<p class="note">Dry-run: this size is an earlier dry-run decision's, not the workload's. The workload really had: ${esc(sizeText(row.observed))}.</p>` : ""}</div>
      <div class="card" id="after"><h2>After${s.dryRun ? " (would be)" : ""}</h2>${size(s.after)}</div></div>`;
  document.getElementById("window-form")?.addEventListener("change", (e) => {
    const w = new FormData(e.currentTarget).get("window");
    location.hash = `#/decision/${encodeURIComponent(ns)}/${encodeURIComponent(name)}?window=${encodeURIComponent(w)}`;
  });
  drawEvidence(chart);
}

function drawEvidence(c) {
  const chart = draw.evidence(document.getElementById("evidence-chart"), c);
  if (chart) window.metapilotCharts.evidence = chart;
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
      (d) => `<tr data-drain="${esc(d.name)}"><td><b>${esc(d.name)}</b></td><td>${phaseBadges(d.phase, d.dryRun)}</td>
        <td><progress max="100" value="${esc(d.percent)}"></progress> ${esc(d.percent)}%</td>
        <td>${Object.entries(d.nodes.byState)
          .map(([k, v]) => `${esc(k)} ${esc(v)}`)
          .join(", ")} <span class="muted">of ${esc(d.nodes.total)}</span></td>
        <td>${Object.entries(d.pods.byState)
          .map(([k, v]) => `${esc(k)} ${esc(v)}`)
          .join(
            ", ",
          )} <span class="muted">of ${esc(d.pods.total)}</span>${d.pods.blocked.map((b) => `<br><span class="error">${esc(b.pod)}${b.node ? ` on ${esc(b.node)}` : ""}: ${esc(b.message ?? "")}</span>`).join("")}
          ${d.rows
            .map(
              (n) =>
                `<div class="drain-node" data-node="${esc(n.node)}"><b>${esc(n.node)}</b> ${badge(n.state)}${n.pods.length ? ` pods: ${esc(n.pods.join(", "))}` : ""}${n.blockingPDBs.length ? ` <span class="error">blocked by PDB ${esc(n.blockingPDBs.join(", "))}</span>` : ""}</div>`,
            )
            .join("")}</td>
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

// --- dry-run plan and report ---------------------------------------------------------------------------------

async function renderPlan(params) {
  setActive("plan");
  const since = params.get("since") || "24h";
  const q = new URLSearchParams({ since, dryRunOnly: "true" });
  const digest = await api(`/api/report?${q}&format=json`);
  view.innerHTML = `<h1>Dry-run plan <span class="muted">today → would be</span></h1>
    <form class="filters" id="plan-filters">
      <label>period<select name="since">${["1h", "6h", "24h", "72h", "7d"].map((s) => `<option${s === since ? " selected" : ""}>${s}</option>`).join("")}</select></label>
      <span class="muted">${esc(time(digest.from))} – ${esc(time(digest.to))} · <span id="plan-count">${esc(digest.plan.length)}</span> workloads from ${esc(digest.total)} dry-run decisions</span>
    </form>
    <p class="note" id="dry-run-semantics">${esc(digest.dryRunSemantics)}</p>
    ${planTable(digest.plan)}
    <p class="muted">Today is read from the Deployment or StatefulSet now; “would be” is the newest dry-run decision's after. Each row links its newest decision.</p>`;
  document.getElementById("plan-filters").addEventListener("change", (e) => {
    location.hash = `#/plan?since=${encodeURIComponent(new FormData(e.currentTarget).get("since"))}`;
  });
}

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
      <td class="dir-${esc(r.direction)}">${esc(r.direction)}</td><td>${esc(r.category)}</td><td>${phaseBadges(r.phase, r.dryRun)}</td>
      <td class="num">${esc(sizeText(r.before))}${r.baseline === "simulated" ? " " + badge("simulated", "simulated") : ""}</td><td class="num">${esc(sizeText(r.after))}</td><td><a href="${decisionLink(r)}">${esc(r.summary)}</a></td></tr>`,
    )
    .join("");
  view.innerHTML = `<h1>${dryRunOnly ? "Dry-run report" : "Decision report"}</h1>
    <form class="filters" id="report-filters">
      <label>period<select name="since">${["1h", "6h", "24h", "72h", "7d"].map((s) => `<option${s === since ? " selected" : ""}>${s}</option>`).join("")}</select></label>
      <label>decisions<select name="dryRunOnly"><option value="true"${dryRunOnly ? " selected" : ""}>dry-run only</option><option value="false"${dryRunOnly ? "" : " selected"}>all</option></select></label>
      <span class="muted">download: <a href="/api/report?${q}&format=html">HTML</a> · <a href="/api/report?${q}&format=json">JSON</a> · <a href="/api/report?${q}&format=csv">CSV</a> · or <code>metapilot report --since ${esc(since)}${dryRunOnly ? " --dry-run-only" : ""}</code></span>
    </form>
    <div class="card"><p>${esc(time(digest.from))} – ${esc(time(digest.to))}: <b id="report-total">${esc(digest.total)}</b> decision${digest.total === 1 ? "" : "s"}</p>
      <p>by root cause: ${counts(digest.byCategory)}</p><p>by phase: ${counts(digest.byPhase)}</p></div>
    ${digest.plan.length ? `<h2>Dry-run plan <a class="muted" href="#/plan?since=${encodeURIComponent(since)}">→</a></h2>${planTable(digest.plan)}<p class="note">${esc(digest.dryRunSemantics)}</p>` : ""}
    <h2>Decisions</h2>
    <table><thead><tr><th>time</th><th>tenant</th><th>component</th><th>dir</th><th>root cause</th><th>phase</th><th>before</th><th>after</th><th>summary</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="9" class="muted">no decisions in this period</td></tr>'}</tbody></table>`;
  document.getElementById("report-filters").addEventListener("change", (e) => {
    const f = new FormData(e.currentTarget);
    location.hash = `#/report?since=${encodeURIComponent(f.get("since"))}&dryRunOnly=${encodeURIComponent(f.get("dryRunOnly"))}`;
  });
}

// --- what if ---------------------------------------------------------------------------------------------------

const whatIfRows = [
  [
    "OOM kills in history (prevented / answered / lost)",
    (s) => `${s.oomKills} (${s.oomPrevented} / ${s.oomAnswered} / ${s.oomLost})`,
  ],
  ["slack CPU-hours before → after", (s) => `${s.slackCpuHoursBefore} → ${s.slackCpuHoursAfter}`],
  ["slack GiB-hours before → after", (s) => `${s.slackGiBHoursBefore} → ${s.slackGiBHoursAfter}`],
  ["under-provisioned hours before → after", (s) => `${s.underProvisionedHoursBefore} → ${s.underProvisionedHours}`],
  ["rolling updates (restarts) / in-place resizes", (s) => `${s.restartsRolling} / ${s.restartsInPlace}`],
  ["bound hits / budget hits", (s) => `${s.boundHits} / ${s.budgetHits}`],
  ["scale-downs held for data", (s) => String(s.heldForData)],
  ["usage coverage %", (s) => String(s.coverage)],
];

/** A backtest of one ClusterScaler beside what really happened; it runs only when asked (run=1), never on refresh. */
async function renderWhatIf(params) {
  setActive("whatif");
  const meta = await api("/api/whatif");
  const cs = params.get("cs") || meta.clusterScalers[0] || "";
  const since = params.get("since") || "24h";
  const step = params.get("step") || meta.limits.defaultStep;
  const option = (v, cur) => `<option${v === cur ? " selected" : ""}>${esc(v)}</option>`;
  const q = new URLSearchParams({ since, step });
  view.innerHTML = `<h1>What if</h1>
    <p class="muted">What the ClusterScaler would have done over the period, replayed from Prometheus with the engine that runs live, beside the decisions it really recorded. At most ${esc(meta.limits.maxRangeHours)}h and ${esc(meta.limits.maxSteps)} steps; one backtest at a time. Nothing is changed.</p>
    <form class="filters" id="whatif-form">
      <label>ClusterScaler<select name="cs">${meta.clusterScalers.map((n) => option(n, cs)).join("")}</select></label>
      <label>period<select name="since">${["1h", "6h", "24h", "72h", "7d"].map((s) => option(s, since)).join("")}</select></label>
      <label>step<select name="step">${["5s", "15s", "30s", "1m", "5m"].map((s) => option(s, step)).join("")}</select></label>
      <button type="submit"${cs && meta.prometheus ? "" : " disabled"}>Run backtest</button>
      ${meta.prometheus ? "" : '<span class="error">no Prometheus configured: the backtest reads its history</span>'}
    </form>
    <div id="whatif-result">${cs ? "" : '<p class="muted">no ClusterScaler in the cluster</p>'}</div>`;
  document.getElementById("whatif-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = new URLSearchParams({
      cs: f.get("cs"),
      since: f.get("since"),
      step: f.get("step"),
      run: String(Date.now()),
    });
    location.hash = `#/whatif?${next}`;
  });
  if (!params.get("run") || !cs) return;
  const out = document.getElementById("whatif-result");
  out.innerHTML = '<p class="muted">Running the backtest…</p>';
  const w = await api(`/api/whatif/${encodeURIComponent(cs)}?${q}`);
  const s = w.policy.summary;
  const timeline = (decisions) => ({ from: w.from, to: w.to, decisions });
  const replayed = Object.entries(w.policy.timeline).flatMap(([tenant, entries]) =>
    entries.map((e) => ({
      decidedAt: e.at,
      tenant,
      component: e.component,
      direction: e.direction,
      category: e.category,
      summary: e.action === "blocked" ? `BLOCKED ${e.summary}` : e.summary,
    })),
  );
  out.innerHTML = `<div class="card"><p>${esc(time(w.from))} – ${esc(time(w.to))}: ${esc(w.backtest.steps)} steps of ${esc(w.stepSeconds)}s over ${esc(w.namespaces.length)} tenant namespace${w.namespaces.length === 1 ? "" : "s"}, ${esc(w.backtest.queries)} Prometheus range queries${w.backtest.partial ? ` <b class="error">partial: ${esc(w.backtest.missing.length)} queries failed</b>` : ""}.
      <a href="/api/whatif/${encodeURIComponent(cs)}?${q}&format=html">HTML report</a> · or <code>metapilot backtest --name ${esc(cs)} --from -${esc(since)} --step ${esc(step)}</code></p></div>
    <h2>Backtest beside what happened</h2>
    <table id="whatif-comparison"><thead><tr><th></th><th>backtest</th><th>recorded</th></tr></thead><tbody>
      ${w.comparison.map(([what, b, r]) => `<tr><td>${esc(what)}</td><td class="num">${esc(b)}</td><td class="num">${esc(r)}</td></tr>`).join("")}
      <tr><td>recorded dry-run / blocked</td><td class="num">–</td><td class="num">${esc(w.real.summary.dryRun)} / ${esc(w.real.summary.blocked)}</td></tr>
    </tbody></table>
    <h2>The backtest's figures</h2>
    <table><tbody>${whatIfRows.map(([label, f]) => `<tr><td>${esc(label)}</td><td class="num">${esc(f(s))}</td></tr>`).join("")}</tbody></table>
    ${s.coverage < 100 ? `<p class="note">Usage history covers ${esc(s.coverage)}% of the steps; a step without data never gives a scale-down.</p>` : ""}
    <h2>Backtest decisions</h2><div class="card"><div class="chart-box small"><canvas id="whatif-backtest" aria-label="backtest decision timeline"></canvas></div></div>
    <h2>Recorded decisions</h2><div class="card"><div class="chart-box small"><canvas id="whatif-real" aria-label="recorded decision timeline"></canvas></div></div>
    <ul class="note">${w.backtest.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`;
  const b = draw.timeline(document.getElementById("whatif-backtest"), timeline(replayed));
  if (b) window.metapilotCharts["whatif-backtest"] = b;
  const r = draw.timeline(
    document.getElementById("whatif-real"),
    timeline(w.real.decisions),
    (d) => (location.hash = decisionLink(d)),
  );
  if (r) window.metapilotCharts["whatif-real"] = r;
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
    } else if (parts[0] === "tenant" && parts[1]) await renderTenant(decodeURIComponent(parts[1]));
    else if (parts[0] === "nodes") await renderNodes();
    else if (parts[0] === "plan") await renderPlan(params);
    else if (parts[0] === "report") await renderReport(params);
    else if (parts[0] === "whatif") {
      // A backtest is run on request, never by the refresh timer.
      refresh = false;
      await renderWhatIf(params);
    } else await renderFleet(params);
    document.getElementById("updated").textContent = `· updated ${time(new Date().toISOString())}`;
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
