// The dashboard's charts, shared by the single page (app.js) and the HTML report (the report inlines this file and
// chart.js), so both draw the same charts from the same data. Times are shown in UTC, ISO 8601.
/* global Chart, window */
"use strict";

(function () {
  // The root-cause categories of the CRD, in its order (window.metapilotContract: /ui/contract.js, src/server/dashboard/contract.ts).
  const categories = (window.metapilotContract && window.metapilotContract.categories) || [];

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

  /** 2026-12-05T19:20:03Z: ISO 8601 in UTC, to the second. */
  function iso(t) {
    if (t === undefined || t === null || t === "") return "–";
    const d = new Date(typeof t === "number" ? t : Date.parse(t));
    return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** An axis label: the time of day in UTC, with the date when the range spans days. */
  function tick(v, spanMs) {
    const s = iso(v);
    return spanMs > 86_400_000 ? s.slice(5, 16).replace("T", " ") + "Z" : s.slice(11);
  }

  /**
   * The x range of the timeline: the decisions' own span with a margin, so 13 decisions of 3 minutes spread over
   * the chart instead of one column of a 24 h axis; a lone decision gets 5 minutes either side.
   */
  function timelineRange(decisions, from, to) {
    const times = decisions.map((d) => Date.parse(d.decidedAt)).filter((t) => !Number.isNaN(t));
    if (times.length === 0) return { min: Date.parse(from), max: Date.parse(to) };
    let min = Math.min(...times);
    let max = Math.max(...times);
    const pad = Math.max((max - min) * 0.05, 60_000);
    if (max - min < 60_000) return { min: min - 5 * 60_000, max: max + 5 * 60_000 };
    min -= pad;
    max += pad;
    return { min, max };
  }

  function timeline(canvas, list, onClick) {
    if (typeof Chart === "undefined") return undefined;
    const cats = [...new Set([...categories, ...list.decisions.map((d) => d.category)])];
    const point = (d) => ({ x: Date.parse(d.decidedAt), y: d.category, d });
    const range = timelineRange(list.decisions, list.from, list.to);
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
            min: range.min,
            max: range.max,
            ticks: { callback: (v) => tick(v, range.max - range.min), maxTicksLimit: 8 },
          },
          y: { type: "category", labels: cats, offset: true },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) =>
                `${iso(ctx.raw.d.decidedAt)} ${ctx.raw.d.tenant} ${ctx.raw.d.component}: ${ctx.raw.d.summary}`,
            },
          },
        },
        onClick: (_e, els) => {
          const el = els[0];
          if (el && onClick) onClick(chart.data.datasets[el.datasetIndex].data[el.index].d);
        },
      },
    });
    return chart;
  }

  const palette = ["#2457c5", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#7f8c8d"];

  function evidence(canvas, c) {
    if (typeof Chart === "undefined") return undefined;
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
    return new Chart(canvas, {
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
            ticks: { callback: (v) => tick(v, right - left), maxTicksLimit: 10 },
          },
          y: { beginAtZero: true, max: top, ticks: { callback: (v) => fmt(v, c.unit) } },
        },
        plugins: {
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.parsed.y, c.unit)}` } },
        },
      },
    });
  }

  window.metapilotDraw = { categories, fmt, iso, timelineRange, timeline, evidence };
})();
