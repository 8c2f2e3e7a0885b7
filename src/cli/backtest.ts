// `metapilot backtest`: what would this ClusterScaler have done to my fleet over the last two weeks? Every signal
// the live scaler reads is rebuilt from Prometheus history at the poll interval (a bounded number of range
// queries, counted in the report), fed through the engine that runs live (decideOffline), and summed up per
// policy, several side by side. It writes nothing to any cluster: the meta-cluster is only read (three LISTs, and
// a GET with --name), and not at all with --tenants-file.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { parseAllDocuments } from "yaml";
import { parseDuration } from "../api/common.js";
import { evaluateFailIf, failIfMetrics, parseFailIf, type FailIf } from "../backtest/fail-if.js";
import { backtestFormats, renderBacktest, type BacktestFormat } from "../backtest/format.js";
import { listInventory, readTenantsFile, type BacktestWorkload, type Inventory } from "../backtest/inventory.js";
import { Backtest, type BacktestReport, type Policy } from "../backtest/run.js";
import { fetchHistory, lookbackOf, stepsOf, type SignalHistory } from "../backtest/signals.js";
import { SeriesPool } from "../backtest/shared-series.js";
import { defaultReplayWorkers, minStepsForWorkers, replayThreads, type ReplayWorkers } from "../backtest/workers.js";
import { KubeClient } from "../kube/client.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { PrometheusClient, type PrometheusOptions } from "../prometheus/client.js";
import { parseTimeArg } from "../server/dashboard/report.js";
import { userAgent } from "../version.js";
import { duration, positiveInteger } from "./args.js";
import {
  addApiserverTimeoutFlag,
  addKubeFlags,
  addPrometheusFlags,
  prometheusOptions,
  waitForApiserverFlag,
  type KubeFlags,
  type PrometheusFlags,
} from "./common-flags.js";
import { loadKubeConfig } from "./kubeconfig.js";

/** The controller's defaults (--poll-interval, and the rate window of src/scaler/controller.ts). */
export const defaultStep = "15s";
export const liveRateWindow = "1m";

/** The exit code when a --fail-if threshold holds (1 is any other error). */
export const failIfExitCode = 3;

export interface BacktestFlags extends KubeFlags, PrometheusFlags {
  file: string[];
  name?: string;
  from: string;
  to?: string;
  step: string;
  tenantsFile?: string;
  output: BacktestFormat;
  failIf: FailIf[];
  apiserverTimeout: string;
  /** Replay threads (a positive integer, as text); default defaultReplayWorkers. */
  workers?: string;
}

/** RFC 3339, or a duration back from now with or without a leading minus: -14d, 14d, -36h, 90m. */
export function parseWhen(text: string, now: number, what: string): number {
  return parseTimeArg(text.trim().replace(/^-(?=\d)/, ""), now, what).getTime();
}

/** The ClusterScaler documents of one file (YAML or JSON; several documents allowed). */
export function readPolicyFile(path: string, text = readFileSync(path, "utf8")): Policy[] {
  const docs = parseAllDocuments(text);
  const out: Policy[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) throw new Error(`${path}: not YAML or JSON: ${doc.errors[0]?.message}`);
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) continue;
    out.push({ source: docs.length > 1 ? `${path}#${i + 1}` : path, raw });
  }
  if (out.length === 0) throw new Error(`${path}: no ClusterScaler in it`);
  return out;
}

export interface BacktestRun {
  policies: Policy[];
  inventory: Inventory;
  prometheus: PrometheusOptions;
  from: number;
  to: number;
  stepMs: number;
  /** The rate() window of the live poll replayed (the controller's; default liveRateWindow). */
  rateWindow?: string;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Tenant namespaces read and replayed together (default: as many as namespaceBatches allows). */
  namespacesPerBatch?: number;
  /**
   * Threads the replay runs on (default defaultReplayWorkers); 1, or a run smaller than minStepsForWorkers
   * workload-steps, replays in this thread (replayThreads).
   */
  workers?: number;
  /** The smallest run replayed on threads (default minStepsForWorkers). */
  minStepsForWorkers?: number;
}

/**
 * Values held per namespace and step: about ten pods of four components, six per-pod metrics, and the namespace's
 * own series. A batch of namespaces is read and replayed at a time so that its history stays near
 * `historyPointsPerBatch` values (8 bytes each, 256 MiB), whatever the fleet and the range.
 */
const valuesPerNamespace = 64;
export const historyPointsPerBatch = 32 * 1024 * 1024;

/** The namespaces, in batches read and replayed together: all at once unless the history would be too large. */
export function namespaceBatches(
  namespaces: readonly string[],
  steps: number,
  size = Math.max(1, Math.floor(historyPointsPerBatch / (Math.max(1, steps) * valuesPerNamespace))),
): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < namespaces.length; i += size) out.push(namespaces.slice(i, i + size));
  return out;
}

/** Reads the history batch by batch of tenant namespaces and replays every policy over it. */
export async function backtest(r: BacktestRun): Promise<BacktestReport> {
  const b = new Backtest(r.policies);
  const client = new PrometheusClient(r.prometheus);
  const byNamespace = new Map<string, BacktestWorkload[]>();
  for (const w of r.inventory.workloads) {
    const list = byNamespace.get(w.ref.namespace);
    if (list) list.push(w);
    else byNamespace.set(w.ref.namespace, [w]);
  }
  const namespaces = [...byNamespace.keys()].sort();
  const steps = stepsOf(r.from, r.to, r.stepMs).length;
  const batches = namespaceBatches(namespaces, steps, r.namespacesPerBatch);
  const threads = replayThreads(
    r.workers ?? defaultReplayWorkers,
    r.inventory.workloads.length,
    steps,
    r.minStepsForWorkers,
  );
  // Started now, so that loading the engine in each thread overlaps the first batch's history read.
  const workers: ReplayWorkers | undefined = threads > 1 ? b.startWorkers(threads) : undefined;
  // A read still under way when the run fails is stopped, not left to finish unheard.
  const reading = new AbortController();
  const stop = () => reading.abort(r.signal?.reason);
  r.signal?.addEventListener("abort", stop, { once: true });
  if (r.signal?.aborted) stop();
  // The series of a batch whose replay has ended are the next batches' (SeriesPool).
  const pool = new SeriesPool(steps);
  try {
    // Where Prometheus tells how it looks back, the gauges are read as raw samples (fetchHistory: by remote read, or
    // the sizes by the query API without it) and evaluated here; else evaluated there.
    const lookback = await lookbackOf(client, reading.signal);
    const read = (batch: readonly string[]) =>
      fetchHistory({
        client,
        from: r.from,
        to: r.to,
        stepMs: r.stepMs,
        rateWindow: r.rateWindow ?? liveRateWindow,
        namespaces: batch,
        // About ten pods per namespace.
        seriesHint: Math.max(1, batch.length * 10),
        seriesPool: pool,
        ...(lookback ? { lookback } : {}),
        onProgress: r.onProgress,
        signal: reading.signal,
      });
    const list = batches.length > 0 ? batches : [[]];
    let next: Promise<SignalHistory> | undefined;
    for (let k = 0; k < list.length; k++) {
      const history = await (next ?? read(list[k] as string[]));
      // With threads, the next batch's history is read while this one replays (two batches held at once). A replay
      // in this thread holds the event loop, so the read could not go on meanwhile: it waits for the batch's end.
      next = workers && k + 1 < list.length ? read(list[k + 1] as string[]) : undefined;
      next?.catch(() => undefined); // its failure is met where it is awaited; one after the run's end is not
      const workloads = (list[k] as string[]).flatMap((ns) => byNamespace.get(ns) ?? []);
      if (workers) await b.addOn(workers, history, workloads, r.signal);
      else b.add(history, workloads);
      // Nothing reads the batch's series any more: the report keeps figures, not columns, and the threads have
      // answered for every workload of it (the next batch's history replaces theirs before any workload of it).
      pool.release(history);
    }
  } finally {
    reading.abort(new Error("the backtest ended"));
    r.signal?.removeEventListener("abort", stop);
    await workers?.close();
  }
  return b.report(r.from, r.to);
}

export function backtestCommand(): Command {
  const cmd = addKubeFlags(
    new Command("backtest").description(
      "replay Prometheus history through one or more ClusterScalers with the engine that runs live, and report " +
        "what each would have done: OOM kills prevented, slack, restarts, time under-provisioned, bound and " +
        "budget hits, coverage. Writes nothing to any cluster",
    ),
    "only the workloads in this namespace (one tenant's control plane); default: every tenant",
  );
  return addApiserverTimeoutFlag(addPrometheusFlags(cmd, "Prometheus HTTP API to read the history from (required)"))
    .option(
      "-f, --file <path>",
      "a ClusterScaler file (YAML or JSON); repeat for side-by-side columns",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--name <clusterscaler>", "a ClusterScaler read from the meta-cluster instead of (or beside) the files")
    .requiredOption("--from <when>", "start: an RFC 3339 time, or a duration back from now (-14d, 36h)")
    .option("--to <when>", "end, same forms as --from (default: now)")
    .option(
      "--step <duration>",
      "the poll interval replayed (the controller's --poll-interval default)",
      duration,
      defaultStep,
    )
    .option(
      "--tenants-file <path>",
      "tenants and current sizes from a file (a List of TenantControlPlanes, Deployments and StatefulSets, " +
        "JSON or YAML) instead of the meta-cluster",
    )
    .addOption(
      new Option(
        "-o, --output <format>",
        "table (policies side by side), json (with each tenant's timeline) or html (a page with the dashboard's timeline chart per policy)",
      )
        .choices(backtestFormats)
        .default("table"),
    )
    .option(
      "--fail-if <expr>",
      `exit ${failIfExitCode} when a threshold holds for any policy, e.g. 'restarts>10' or 'oomPrevented<3' (quoted) ` +
        `(repeatable; metrics: ${failIfMetrics.join(", ")})`,
      (v: string, acc: FailIf[]) => {
        try {
          return [...acc, parseFailIf(v)];
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
      [] as FailIf[],
    )
    .option(
      "--workers <n>",
      "threads the replay runs on (default: the cores, at most 8); 1 replays in the " +
        `main thread, as does a run of fewer than ${minStepsForWorkers.toLocaleString("en-US")} workload-steps ` +
        "(workloads × steps), where starting threads costs more than they save. The report is the same either way",
      positiveInteger,
    )
    .action(async (flags: BacktestFlags) => {
      const code = await runBacktestCommand(
        flags,
        (s) => process.stdout.write(s),
        (s) => process.stderr.write(s),
      );
      if (code !== 0) process.exitCode = code;
    });
}

/** The command without the process around it: the exit code it should end with. */
export async function runBacktestCommand(
  flags: BacktestFlags,
  out: (s: string) => void,
  err: (s: string) => void,
  now = Date.now(),
  run: (r: BacktestRun) => Promise<BacktestReport> = backtest,
): Promise<number> {
  if (flags.file.length === 0 && !flags.name) throw new Error("pass -f <ClusterScaler file> or --name <ClusterScaler>");
  const prometheus = prometheusOptions(flags);
  if (!prometheus) throw new Error("--prometheus-url is required: pass --prometheus-url URL or set PROMETHEUS_URL");
  const from = parseWhen(flags.from, now, "--from");
  const to = flags.to ? parseWhen(flags.to, now, "--to") : now;
  if (from >= to)
    throw new Error(`--from (${new Date(from).toISOString()}) is not before --to (${new Date(to).toISOString()})`);
  const stepMs = parseDuration(flags.step);
  if (stepMs < 1000) throw new Error("--step: at least 1s");
  const policies = flags.file.flatMap((f) => readPolicyFile(f));
  let client: KubeClient | undefined;
  const kube = async () => {
    if (client) return client;
    const kc = loadKubeConfig(flags);
    client = new KubeClient(kc, { userAgent: `${userAgent} backtest`, maxRetries: 2 });
    await waitForApiserverFlag(client, kc, flags);
    return client;
  };
  if (flags.name) {
    const cs = await (await kube()).get<KubeObject>(Resources.ClusterScaler, flags.name);
    policies.unshift({ source: `clusterscaler/${flags.name}`, raw: cs });
  }
  const inventory = flags.tenantsFile ? readTenantsFile(flags.tenantsFile) : await listInventory(await kube());
  if (flags.namespace) inventory.workloads = inventory.workloads.filter((w) => w.ref.namespace === flags.namespace);
  for (const s of inventory.warnings) err(`metapilot: warning: ${s}\n`);
  for (const s of inventory.skipped) err(`metapilot: warning: skipped ${s}\n`);
  if (inventory.workloads.length === 0) err("metapilot: warning: no tenant control-plane workloads to replay\n");
  const report = await run({
    policies,
    inventory,
    prometheus,
    from,
    to,
    stepMs,
    ...(flags.workers !== undefined ? { workers: Number(flags.workers) } : {}),
  });
  if (
    inventory.workloads.length > 0 &&
    report.coverage.cpuUsage.percent === 0 &&
    report.coverage.memoryWorkingSet.percent === 0
  )
    err("metapilot: warning: no usage history in the range for any workload: every scale-down was held for data\n");
  if (report.partial)
    err(`metapilot: warning: partial report: ${report.missing.length} queries failed (listed under Missing)\n`);
  out(renderBacktest(report, flags.output));
  const reasons = evaluateFailIf(flags.failIf, report.policies);
  for (const r of reasons) err(`metapilot: ${r}\n`);
  return reasons.length > 0 ? failIfExitCode : 0;
}
