// `metapilot recommend`: one-shot recommendations vs current requests and limits, as a table, JSON, YAML, CSV or an
// HTML page. No new dependencies: the table is a dozen lines, CSV is the report's RFC 4180 writer (tested in
// src/scaler/reports.test.ts), and the progress line is written to stderr on a TTY only.
import { Command, Option } from "commander";
import { KubeClient } from "../kube/client.js";
import { PrometheusClient } from "../prometheus/client.js";
import { defaultMetricNames, PrometheusUsageSource } from "../recommender/input/usage.js";
import { availableAlgorithms } from "../recommender/logic/index.js";
import { change, formatRows, note, recommendOnce, type RecommendationRow } from "../recommender/oneshot.js";
import { csvLine } from "../scaler/reports.js";
import { loadKubeConfig } from "./kubeconfig.js";
import {
  addApiserverTimeoutFlag,
  addKubeFlags,
  addPrometheusFlags,
  waitForApiserverFlag,
  prometheusOptions,
  type KubeFlags,
  type PrometheusFlags,
} from "./common-flags.js";

interface RecommendFlags extends KubeFlags, PrometheusFlags {
  allNamespaces?: boolean;
  selector?: string;
  algorithm: string;
  historyDays: string;
  step: string;
  output: RecommendFormat;
  apiserverTimeout: string;
}

export const recommendFormats = ["table", "json", "yaml", "csv", "html"] as const;
export type RecommendFormat = (typeof recommendFormats)[number];

const csvColumns: Array<[string, (r: RecommendationRow) => string | number | undefined]> = [
  ["namespace", (r) => r.namespace],
  ["kind", (r) => r.kind],
  ["workload", (r) => r.workload],
  ["container", (r) => r.container],
  ["reason", (r) => r.reason],
  ["cpu_request", (r) => r.cpuRequest],
  ["cpu_request_target", (r) => r.cpuTarget],
  ["cpu_request_lower", (r) => r.cpuLower],
  ["cpu_request_upper", (r) => r.cpuUpper],
  ["memory_request", (r) => r.memoryRequest],
  ["memory_request_target", (r) => r.memoryTarget],
  ["memory_request_lower", (r) => r.memoryLower],
  ["memory_request_upper", (r) => r.memoryUpper],
  ["cpu_limit", (r) => r.cpuLimit],
  ["cpu_limit_target", () => "none"],
  ["memory_limit", (r) => r.memoryLimit],
  ["memory_limit_target", (r) => r.memoryLimitTarget],
  ["confidence_days", (r) => r.confidenceDays.toFixed(2)],
  ["oom_kills", (r) => r.oomKills],
  ["memory_target_without_oom_kills", (r) => r.memoryTargetWithoutOomKills],
];

export function recommendationsCsv(rows: readonly RecommendationRow[]): string {
  return csvLine(csvColumns.map(([h]) => h)) + rows.map((r) => csvLine(csvColumns.map(([, f]) => f(r)))).join("");
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

export function recommendationsHtml(rows: readonly RecommendationRow[], generatedAt: Date): string {
  const body = rows
    .map(
      (r) =>
        `<tr data-workload="${esc(`${r.namespace}/${r.workload}/${r.container}`)}"><td>${esc(r.namespace)}</td><td>${esc(`${r.kind}/${r.workload}`)}</td><td>${esc(r.container)}</td>` +
        `<td>${esc(change(r.cpuRequest, r.cpuTarget))}</td><td>${esc(change(r.memoryRequest, r.memoryTarget))}</td>` +
        `<td>${esc(r.cpuLimit ? `${r.cpuLimit} → none` : "none")}</td><td>${esc(change(r.memoryLimit, r.memoryLimitTarget))}</td>` +
        `<td class="muted">${esc(`${r.cpuLower ?? "?"} … ${r.cpuUpper ?? "?"}`)}<br>${esc(`${r.memoryLower ?? "?"} … ${r.memoryUpper ?? "?"}`)}</td>` +
        `<td>${r.confidenceDays.toFixed(1)}d</td><td>${esc(note(r))}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>metapilot recommendations</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}.muted{color:#666}</style></head>
<body><h1>metapilot recommendations</h1><p>${esc(generatedAt.toISOString())}: ${rows.length} containers. Requests from the recommender's target; limits as KRR recommends them: no CPU limit, a memory limit at the upper bound (never below the target).</p>
<table><thead><tr><th>namespace</th><th>workload</th><th>container</th><th>cpu request</th><th>memory request</th><th>cpu limit</th><th>memory limit</th><th>bounds (cpu, memory)</th><th>confidence</th><th>note</th></tr></thead><tbody>
${body}
</tbody></table></body></html>
`;
}

export function formatRecommendations(
  rows: readonly RecommendationRow[],
  format: RecommendFormat,
  now = new Date(),
): string {
  if (format === "csv") return recommendationsCsv(rows);
  if (format === "html") return recommendationsHtml(rows, now);
  return formatRows(rows, format);
}

export function recommendCommand(): Command {
  const cmd = addKubeFlags(
    new Command("recommend").description(
      "recommend CPU and memory requests and limits from Prometheus history and OOM kills, as the WorkloadProfile controller " +
        "does (one shot; writes nothing). OOM kills are read from pod status and, for pods that are gone, from " +
        "OOMKilled ScalingDecisions; a row whose memory they raised says so in NOTE",
    ),
    "namespace of the workloads",
  )
    .option("-A, --all-namespaces", "workloads of every namespace")
    .option("-l, --selector <selector>", "label selector, e.g. metapilot.io/tenant,metapilot.io/component");
  return addApiserverTimeoutFlag(addPrometheusFlags(cmd, "Prometheus HTTP API to read the history from (required)"))
    .addOption(
      new Option("--algorithm <name>", "recommendation algorithm")
        .choices(availableAlgorithms())
        .default("vpa-histogram"),
    )
    .option("--history-days <days>", "days of history to read", "8")
    .option("--step <seconds>", "resolution of the history, in seconds", "300")
    .addOption(
      new Option(
        "-o, --output <format>",
        "output format: table, json, yaml, csv or html; each has request and limit recommendations (no CPU limit, " +
          "a memory limit at the upper bound)",
      )
        .choices(recommendFormats)
        .default("table"),
    )
    .action(async (flags: RecommendFlags) => {
      if (!flags.namespace && !flags.allNamespaces && !flags.selector) {
        throw new Error("pass --namespace, --all-namespaces or --selector");
      }
      const prometheusConfig = prometheusOptions(flags);
      if (!prometheusConfig)
        throw new Error("--prometheus-url is required: pass --prometheus-url URL or set PROMETHEUS_URL");
      const kc = loadKubeConfig(flags);
      const client = new KubeClient(kc, { qps: 20, burst: 40, maxRetries: 3 });
      await waitForApiserverFlag(client, kc, flags);
      const prometheus = new PrometheusClient(prometheusConfig);
      const tty = process.stderr.isTTY;
      const rows = await recommendOnce({
        client,
        source: new PrometheusUsageSource(prometheus, defaultMetricNames),
        namespace: flags.allNamespaces ? undefined : flags.namespace,
        labelSelector: flags.selector,
        algorithm: flags.algorithm,
        historyDays: Number(flags.historyDays),
        stepSeconds: Number(flags.step),
        now: new Date(),
        onProgress: tty
          ? (done, total, ns) => {
              const width = 30;
              const filled = Math.round((done / Math.max(1, total)) * width);
              process.stderr.write(
                `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${ns}\x1b[K`,
              );
              if (done === total) process.stderr.write("\n");
            }
          : undefined,
        onWarning: (message) => process.stderr.write(`metapilot: warning: ${message}\n`),
      });
      process.stdout.write(formatRecommendations(rows, flags.output));
    });
}
