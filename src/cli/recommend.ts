// `metapilot recommend`: one-shot recommendations vs current requests, as a table, JSON or YAML. No new
// dependencies: the table is a dozen lines and the progress line is written to stderr on a TTY only.
import { Command, Option } from "commander";
import { KubeClient } from "../kube/client.js";
import { PrometheusClient } from "../prometheus/client.js";
import { defaultMetricNames, PrometheusUsageSource } from "../recommender/input/usage.js";
import { availableAlgorithms } from "../recommender/logic/index.js";
import { formatRows, recommendOnce } from "../recommender/oneshot.js";
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
  output: "table" | "json" | "yaml";
  apiserverTimeout: string;
}

export function recommendCommand(): Command {
  const cmd = addKubeFlags(
    new Command("recommend").description(
      "recommend CPU and memory requests from Prometheus history and OOM kills, as the WorkloadProfile controller " +
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
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table"))
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
      process.stdout.write(formatRows(rows, flags.output));
    });
}
