// `metapilot backtest` at fleet scale (issue 20): N tenants (500 at full size) × 4 control-plane components, D days
// (14) of history at the live poll's 30 s step, two policies side by side (5- and 30-minute stabilization windows).
// The history (src/backtest/synthetic-fleet.ts: five usage shapes, OOM storms, growing clusters) is written as OpenMetrics
// and backfilled with promtool into a Prometheus of its own; then the CLI, compiled with tsc as it ships (dist/),
// runs as a child process against it with a tenants file, and the benchmark records its wall time (median of runs),
// workload-rounds per second, its PromQL range queries (from Prometheus' query log), its peak RSS (VmHWM) and
// Prometheus' peak RSS. In the same run, the replay alone (no Prometheus) over the same synthetic history of a subset of
// tenants, through the backtest's replay (in the main thread, and on threads as the CLI runs it by default: the
// same report) and through its reference path (recorded JSON rounds through
// decideOffline, what the backtest ran before), gives the baseline ratio; with BENCH_BACKTEST_BASELINE_REF, also the
// replay of that commit's tree (compiled the same way), e.g. the engine before its scale-down window skip, with a
// check that it gives the same report.
// Run alone: `npx tsx bench/backtest.ts [--quick]`, or through bench/run.ts as "backtest".
// Sizes: BENCH_BACKTEST_TENANTS (500; --quick 5), BENCH_BACKTEST_DAYS (14; --quick 1), BENCH_BACKTEST_RUNS (3; --quick 1),
// BENCH_BACKTEST_BASELINE_TENANTS (10), BENCH_BACKTEST_BASELINE_REF (a git commit; none by default),
// BENCH_BACKTEST_HISTORY (a directory that keeps the backfilled history for the next run of the same size).
import { execFile, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { HistoryPrometheus } from "../test/recommender/history.js";
import type * as RunModuleType from "../src/backtest/run.js";
import type * as FleetModuleType from "./backtest-fleet.js";
import {
  fleetComponents,
  fleetPods,
  fleetPolicy,
  namespaceOf,
  podCpu,
  podMemory,
  podOomRestarts,
  shapeOf,
  shapes,
  tenant429,
  tenantNodes,
  tenantObjects,
  tenantsFile,
} from "./backtest-fleet.js";
import { cpuSeconds, median, repoRoot, round, writeResults, type BenchOptions, type Benchmark } from "./lib.js";

const dayMs = 86_400_000;
const stepMs = 30_000;
const workDir = path.join(repoRoot, ".cache", "bench-backtest");

/** What BENCH_BACKTEST_HISTORY's directory holds: the history's size and range, and what writing it took. */
interface Manifest {
  tenants: number;
  days: number;
  from: number;
  to: number;
  samples: number;
  writeSeconds: number;
  backfillSeconds: number;
}

/** The two policies compared: the 5-minute and 30-minute stabilization windows, same bounds. */
export const policies = [
  { name: "down-5m", raw: fleetPolicy("down-5m", "5m") },
  { name: "down-30m", raw: fleetPolicy("down-30m", "30m") },
];

/**
 * The raw series of the fleet from `from` to `to`, as exporters would have scraped them: CPU and the 429 counter
 * every 30 s (the live rate window is 1m: two samples in it), usage gauges and apiserver_storage_objects every 2 min,
 * kube-state-metrics every 10 min (Prometheus runs with an 11-minute lookback). Samples sit 15 s off the step grid,
 * so no sample is on a range selector's edge.
 */
export async function writeHistory(file: string, tenants: number, from: number, to: number): Promise<number> {
  const out = createWriteStream(file);
  let buffer = "";
  let samples = 0;
  const write = async (s: string) => {
    buffer += s;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await new Promise<void>((r) => out.once("drain", () => r()));
      buffer = "";
    }
  };
  const start = from - 10 * 60_000 + 15_000;
  const end = to + 60_000;
  const every = async (ms: number, line: (t: number) => string | undefined) => {
    for (let t = start; t <= end; t += ms) {
      const l = line(t);
      if (l === undefined) continue;
      await write(`${l} ${t / 1000}\n`);
      samples++;
    }
  };
  const pods = fleetPods(tenants);
  const podLabels = (p: (typeof pods)[number]) =>
    `namespace="${p.namespace}",pod="${p.pod}",container="${p.container}"`;
  await write("# TYPE container_cpu_usage_seconds counter\n");
  for (const p of pods) {
    let total = 0;
    const l = `container_cpu_usage_seconds_total{${podLabels(p)}}`;
    await every(30_000, (t) => {
      total += podCpu(p, t, from) * 30;
      return `${l} ${total.toFixed(3)}`;
    });
  }
  await write("# TYPE container_memory_working_set_bytes gauge\n");
  for (const p of pods) {
    const l = `container_memory_working_set_bytes{${podLabels(p)}}`;
    await every(120_000, (t) => `${l} ${Math.round(podMemory(p, t, from))}`);
  }
  await write("# TYPE apiserver_request counter\n");
  for (let n = 0; n < tenants; n++) {
    if (shapeOf(n) !== "diurnal") continue;
    let total = 0;
    const l = `apiserver_request_total{namespace="${namespaceOf(n)}",code="429"}`;
    await every(30_000, (t) => {
      total += tenant429(n, t) * 30;
      return `${l} ${total.toFixed(1)}`;
    });
  }
  await write("# TYPE apiserver_storage_objects gauge\n");
  for (let n = 0; n < tenants; n++) {
    const ns = namespaceOf(n);
    await every(
      120_000,
      (t) => `apiserver_storage_objects{namespace="${ns}",resource="nodes"} ${tenantNodes(n, t, from)}`,
    );
    await every(
      120_000,
      (t) =>
        `apiserver_storage_objects{namespace="${ns}",resource="pods"} ${tenantObjects(n, t, from) - tenantNodes(n, t, from)}`,
    );
  }
  await write("# TYPE kube_pod_container_resource_requests gauge\n");
  for (const p of pods) {
    const c = p.component;
    await every(600_000, () => `kube_pod_container_resource_requests{${podLabels(p)},resource="cpu"} ${c.cpuRequest}`);
    await every(
      600_000,
      () => `kube_pod_container_resource_requests{${podLabels(p)},resource="memory"} ${c.memoryRequest}`,
    );
  }
  await write("# TYPE kube_pod_container_resource_limits gauge\n");
  for (const p of pods)
    await every(
      600_000,
      () => `kube_pod_container_resource_limits{${podLabels(p)},resource="memory"} ${p.component.memoryLimit}`,
    );
  await write("# TYPE kube_pod_container_status_restarts counter\n");
  for (const p of pods)
    await every(
      600_000,
      (t) => `kube_pod_container_status_restarts_total{${podLabels(p)}} ${podOomRestarts(p, t, from) ?? 0}`,
    );
  await write("# TYPE kube_pod_container_status_last_terminated_reason gauge\n");
  for (const p of pods)
    await every(600_000, (t) =>
      podOomRestarts(p, t, from) === undefined
        ? undefined
        : `kube_pod_container_status_last_terminated_reason{${podLabels(p)},reason="OOMKilled"} 1`,
    );
  await write("# EOF\n");
  out.end(buffer);
  await new Promise<void>((r) => out.once("finish", () => r()));
  return samples;
}

/** The CLI as it ships: tsc's output of the tree, in the benchmark's own directory. */
async function compile(outDir: string, root = repoRoot): Promise<void> {
  // Emits even where another part of the tree does not typecheck (the backtest's own files must).
  await promisify(execFile)(
    path.join(repoRoot, "node_modules", ".bin", "tsc"),
    ["-p", "tsconfig.json", "--outDir", outDir],
    {
      cwd: root,
      maxBuffer: 64 << 20,
    },
  ).catch((err: { stdout?: string }) => {
    const errors = (err.stdout ?? "").split("\n").filter((l) => /error TS/.test(l));
    if (errors.some((l) => /^(src\/(backtest|scaler|cli)|bench\/backtest)/.test(l)))
      throw new Error(`tsc: ${errors.join("\n")}`);
  });
  writeFileSync(path.join(outDir, "package.json"), JSON.stringify({ type: "module" }));
}

interface CliRun {
  wallSeconds: number;
  peakRssMiB: number;
  cpuSeconds: number;
  stdout: string;
  /** Prometheus' CPU seconds during the run (it answers nobody else), and the queries it logged. */
  prometheusCpuSeconds?: number;
  rangeQueries?: number;
  rawQueries?: number;
  /** Remote read requests (POST /api/v1/read), by Prometheus' own request counter: the query log has none. */
  remoteReads?: number;
}

/** Prometheus' count of answered remote read requests (prometheus_http_requests_total of /api/v1/read). */
async function remoteReadsServed(prom: HistoryPrometheus): Promise<number> {
  const text = await (await fetch(`${prom.url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^prometheus_http_requests_total\{[^}]*handler="\/api\/v1\/read"[^}]*\} (\S+)$/gm))
    total += Number(m[1]);
  return total;
}

/**
 * The table without its notes, its header's "range queries" read as "queries": the figures two trees are checked
 * equal on (a note may be new, and the header no longer says every query is a range query).
 */
const withoutNotes = (table: string) =>
  table.replace(/\nNotes:\n[\s\S]*$/, "").replace(" Prometheus range queries", " Prometheus queries");

/** runCli, with what Prometheus did meanwhile: its CPU seconds and its queries, range, raw (no step) and remote reads. */
async function runCliMeasured(prom: HistoryPrometheus, outDir: string, args: string[]): Promise<CliRun> {
  const before = prom.rangeQueries();
  const reads0 = await remoteReadsServed(prom);
  const cpu0 = (prom.pid && cpuSeconds(prom.pid)) || 0;
  const r = await runCli(outDir, args);
  const cpu1 = (prom.pid && cpuSeconds(prom.pid)) || 0;
  const logged = prom.rangeQueries().slice(before.length);
  return {
    ...r,
    prometheusCpuSeconds: cpu1 - cpu0,
    rangeQueries: logged.filter((q) => q.step > 0).length,
    rawQueries: logged.filter((q) => !q.step).length,
    remoteReads: (await remoteReadsServed(prom)) - reads0,
  };
}

/** One `metapilot backtest` process: its wall time, peak RSS (VmHWM, sampled every 200 ms) and output. */
async function runCli(outDir: string, args: string[]): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=8192", path.join(outDir, "src", "cli", "main.js"), "backtest", ...args],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  let cpu = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // gone
    }
    cpu = (child.pid && cpuSeconds(child.pid)) || cpu;
  };
  const timer = setInterval(sample, 200);
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  clearInterval(timer);
  const wallSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`metapilot backtest exited ${code}: ${stderr.slice(-2000)}`);
  return { wallSeconds, peakRssMiB: peakKb / 1024, cpuSeconds: cpu, stdout };
}

type RunModule = typeof RunModuleType;
type FleetModule = typeof FleetModuleType;

/** The tree of git commit `ref`, compiled as compile() does, in the benchmark's directory: its dist directory. */
async function compileRef(ref: string): Promise<string> {
  const src = path.join(workDir, "baseline-src");
  const outDir = path.join(workDir, "baseline-dist");
  rmSync(src, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  // Inside the repository, so that its node_modules resolve as the tree's own.
  await promisify(execFile)("sh", ["-c", `git archive "$0" | tar -x -C "$1"`, ref, src], {
    cwd: repoRoot,
    maxBuffer: 64 << 20,
  });
  await compile(outDir, src);
  return outDir;
}

/** Workload-rounds per second of the replay alone over the same synthetic history, both paths, compiled code. */
async function replayBaseline(
  outDir: string,
  tenants: number,
  days: number,
  log: (s: string) => void,
  baseline?: { ref: string; commit: string; outDir: string },
) {
  const run = (await import(pathToFileURL(path.join(outDir, "src", "backtest", "run.js")).href)) as RunModule;
  const before = baseline
    ? ((await import(pathToFileURL(path.join(baseline.outDir, "src", "backtest", "run.js")).href)) as RunModule)
    : undefined;
  const fleet = (await import(pathToFileURL(path.join(outDir, "bench", "backtest-fleet.js")).href)) as FleetModule;
  const to = Math.floor(Date.now() / stepMs) * stepMs;
  const from = to - days * dayMs;
  const history = fleet.syntheticHistory(tenants, from, to, stepMs);
  const workloads = fleet.fleetWorkloads(tenants);
  const rounds = workloads.length * history.steps.length * policies.length;
  const time = (exact: boolean, module: RunModule = run) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const b = new module.Backtest(
      policies.map((p) => ({ source: p.name, raw: p.raw })),
      exact,
    );
    b.add(history, workloads);
    const report = b.report(from, to);
    const c = process.cpuUsage(cpu);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (c.user + c.system) / 1e6, report };
  };
  // The same replay on threads (Backtest.addOn, as the CLI runs it by default), their start-up included.
  const threads = Math.max(2, Math.min(8, os.availableParallelism()));
  const timeThreads = async () => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const b = new run.Backtest(policies.map((p) => ({ source: p.name, raw: p.raw })));
    const workers = b.startWorkers(threads);
    try {
      await b.addOn(workers, history, workloads);
    } finally {
      await workers.close();
    }
    const report = b.report(from, to);
    const c = process.cpuUsage(cpu);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (c.user + c.system) / 1e6, report };
  };
  const exact = time(true);
  log(`baseline (reference path): ${rounds} rounds in ${exact.seconds.toFixed(1)} s`);
  const fast = time(false);
  log(`replay: ${rounds} rounds in ${fast.seconds.toFixed(1)} s`);
  const onThreads = await timeThreads();
  log(`replay on ${threads} threads: ${rounds} rounds in ${onThreads.seconds.toFixed(1)} s`);
  const old = before && time(false, before);
  if (old) log(`replay of ${baseline?.ref}: ${rounds} rounds in ${old.seconds.toFixed(1)} s`);
  const figures = (t: { seconds: number; cpuSeconds: number }) => ({
    seconds: round(t.seconds, 2),
    cpuSeconds: round(t.cpuSeconds, 2),
    roundsPerSecond: Math.round(rounds / t.seconds),
    roundsPerCpuSecond: Math.round(rounds / t.cpuSeconds),
  });
  return {
    tenants,
    days,
    workloadRounds: rounds,
    sameReport: JSON.stringify(exact.report) === JSON.stringify(fast.report),
    referencePath: figures(exact),
    replay: figures(fast),
    speedup: round(exact.cpuSeconds / fast.cpuSeconds, 2),
    replayOnThreads: {
      threads,
      sameReport: JSON.stringify(onThreads.report) === JSON.stringify(fast.report),
      ...figures(onThreads),
      wallSpeedup: round(fast.seconds / onThreads.seconds, 2),
    },
    ...(old
      ? {
          baselineRef: {
            ref: baseline?.ref,
            commit: baseline?.commit,
            sameReport: JSON.stringify(old.report) === JSON.stringify(fast.report),
            replay: figures(old),
            speedup: round(old.cpuSeconds / fast.cpuSeconds, 2),
          },
        }
      : {}),
  };
}

async function run(opts: BenchOptions): Promise<Record<string, unknown>> {
  const num = (name: string, fallback: number) => {
    const v = Number(process.env[name] ?? fallback);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: a positive number`);
    return v;
  };
  const tenants = num("BENCH_BACKTEST_TENANTS", opts.quick ? 5 : 500);
  const days = num("BENCH_BACKTEST_DAYS", opts.quick ? 1 : 14);
  const runs = num("BENCH_BACKTEST_RUNS", opts.quick ? 1 : 3);
  const baselineTenants = num("BENCH_BACKTEST_BASELINE_TENANTS", Math.min(tenants, 10));
  const baselineRef = process.env.BENCH_BACKTEST_BASELINE_REF || undefined;
  mkdirSync(workDir, { recursive: true });
  const outDir = path.join(workDir, "dist");
  let t = performance.now();
  await compile(outDir);
  opts.log(`compiled the CLI in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const baseline = baselineRef
    ? {
        ref: baselineRef,
        commit: (await promisify(execFile)("git", ["rev-parse", baselineRef], { cwd: repoRoot })).stdout.trim(),
        outDir: await compileRef(baselineRef),
      }
    : undefined;
  if (baseline) opts.log(`compiled ${baseline.ref} (${baseline.commit})`);

  // BENCH_BACKTEST_HISTORY: a directory that keeps the backfilled history for the next run of the same size (its
  // manifest.json says which), instead of a temporary one written and backfilled every run.
  const keptDir = process.env.BENCH_BACKTEST_HISTORY ? path.resolve(process.env.BENCH_BACKTEST_HISTORY) : undefined;
  const manifestPath = keptDir && path.join(keptDir, "manifest.json");
  const kept =
    manifestPath && existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest) : undefined;
  const reused = kept?.tenants === tenants && kept.days === days ? kept : undefined;
  if (keptDir && !reused) rmSync(keptDir, { recursive: true, force: true });
  const prom = new HistoryPrometheus(workDir, keptDir);
  try {
    let manifest: Manifest;
    if (reused) {
      manifest = reused;
      opts.log(`reusing the history in ${keptDir} (${reused.samples} samples, ${new Date(reused.from).toISOString()})`);
    } else {
      const to = Math.floor((Date.now() - 5 * 60_000) / stepMs) * stepMs;
      const from = to - days * dayMs;
      const file = path.join(prom.dir, "history.om");
      t = performance.now();
      const samples = await writeHistory(file, tenants, from, to);
      const writeSeconds = (performance.now() - t) / 1000;
      opts.log(`wrote ${samples} samples in ${writeSeconds.toFixed(1)} s`);
      t = performance.now();
      await prom.backfill(file);
      const backfillSeconds = (performance.now() - t) / 1000;
      rmSync(file);
      opts.log(`promtool backfill in ${backfillSeconds.toFixed(1)} s`);
      manifest = { tenants, days, from, to, samples, writeSeconds, backfillSeconds };
      if (manifestPath) writeFileSync(manifestPath, JSON.stringify(manifest));
    }
    const { from, to, samples, writeSeconds, backfillSeconds } = manifest;
    await prom.start(["--query.lookback-delta=11m", "--query.max-samples=200000000"]);
    const promRssAtStartMiB = prom.peakRssBytes() / 2 ** 20;

    const tenantsPath = path.join(prom.dir, "tenants.json");
    writeFileSync(tenantsPath, JSON.stringify(tenantsFile(tenants)));
    const policyFiles = policies.map((p) => {
      const f = path.join(prom.dir, `${p.name}.json`);
      writeFileSync(f, JSON.stringify(p.raw));
      return f;
    });
    const args = [
      ...policyFiles.flatMap((f) => ["-f", f]),
      "--prometheus-url",
      prom.url,
      "--tenants-file",
      tenantsPath,
      "--from",
      new Date(from).toISOString(),
      "--to",
      new Date(to).toISOString(),
      "--step",
      "30s",
      "-o",
      "table",
    ];
    const steps = Math.floor((to - from) / stepMs) + 1;
    const workloads = tenants * fleetComponents.length;
    const rounds = workloads * steps * policies.length;
    const cliRuns: CliRun[] = [];
    const queriesPerRun: number[] = [];
    // The baseline commit's CLI, run after each of this tree's against the same Prometheus: the same load.
    const baselineRuns: CliRun[] = [];
    // This tree's CLI with the replay in its main thread (--workers 1), after each default run: what threads give.
    const mainThreadRuns: CliRun[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await runCliMeasured(prom, outDir, args);
      queriesPerRun.push((r.rangeQueries ?? 0) + (r.rawQueries ?? 0) + (r.remoteReads ?? 0));
      cliRuns.push(r);
      const m = await runCliMeasured(prom, outDir, [...args, "--workers", "1"]);
      mainThreadRuns.push(m);
      opts.log(`run ${i + 1} with --workers 1: ${m.wallSeconds.toFixed(1)} s, ${m.cpuSeconds.toFixed(1)} CPU-s`);
      opts.log(
        `run ${i + 1}: ${r.wallSeconds.toFixed(1)} s, ${(rounds / r.wallSeconds).toFixed(0)} rounds/s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${queriesPerRun.at(-1)} queries`,
      );
      if (!baseline) continue;
      const b = await runCliMeasured(prom, baseline.outDir, args);
      baselineRuns.push(b);
      opts.log(`run ${i + 1} of ${baseline.ref}: ${b.wallSeconds.toFixed(1)} s, ${b.cpuSeconds.toFixed(1)} CPU-s`);
    }
    const wall = median(cliRuns.map((r) => r.wallSeconds));
    const report = cliRuns[0]?.stdout ?? "";
    const promPeakMiB = prom.peakRssBytes() / 2 ** 20;
    await prom.stop();

    t = performance.now();
    const replay = await replayBaseline(outDir, baselineTenants, days, opts.log, baseline);
    opts.log(`baseline in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const fullRounds = 500 * fleetComponents.length * (14 * 2880 + 1) * policies.length;
    return {
      config: {
        tenants,
        days,
        stepSeconds: stepMs / 1000,
        workloads,
        steps,
        policies: policies.map((p) => p.name),
        shapes,
        runs,
        samplesWritten: samples,
        scrape:
          "CPU and apiserver 429 counters every 30 s, usage gauges and apiserver_storage_objects every 2 min, kube-state-metrics every 10 min (Prometheus --query.lookback-delta=11m)",
        cli: "tsc output (dist/src/cli/main.js), a child process, --tenants-file, -o table",
      },
      // Written and backfilled in an earlier run (BENCH_BACKTEST_HISTORY): its figures are that run's.
      historyReused: reused !== undefined,
      historyWriteSeconds: round(writeSeconds, 1),
      promtoolBackfillSeconds: round(backfillSeconds, 1),
      wallSeconds: { median: round(wall, 2), runs: cliRuns.map((r) => round(r.wallSeconds, 2)) },
      cliCpuSeconds: cliRuns.map((r) => round(r.cpuSeconds, 1)),
      workloadRounds: rounds,
      workloadRoundsPerSecond: Math.round(rounds / wall),
      // Every run of this tree printed the same report (an engine's replay is deterministic; see bench/README).
      sameOutputEveryRun: cliRuns.every((r) => r.stdout === cliRuns[0]?.stdout),
      cliWorkers1: {
        sameOutput: mainThreadRuns.every((m) => m.stdout === cliRuns[0]?.stdout),
        wallSeconds: {
          median: round(median(mainThreadRuns.map((r) => r.wallSeconds)), 2),
          runs: mainThreadRuns.map((r) => round(r.wallSeconds, 2)),
        },
        cliCpuSeconds: mainThreadRuns.map((r) => round(r.cpuSeconds, 1)),
        peakRssMiB: round(Math.max(...mainThreadRuns.map((r) => r.peakRssMiB)), 1),
      },
      promqlQueries: queriesPerRun,
      promqlRangeQueries: cliRuns.map((r) => r.rangeQueries),
      promqlRawSampleQueries: cliRuns.map((r) => r.rawQueries),
      remoteReads: cliRuns.map((r) => r.remoteReads),
      prometheusCpuSeconds: cliRuns.map((r) => round(r.prometheusCpuSeconds ?? 0, 1)),
      backtestPeakRssMiB: round(Math.max(...cliRuns.map((r) => r.peakRssMiB)), 1),
      prometheusRssAtStartMiB: round(promRssAtStartMiB, 1),
      prometheusPeakRssMiB: round(promPeakMiB, 1),
      ...(baseline
        ? {
            baselineCli: {
              ref: baseline.ref,
              commit: baseline.commit,
              sameOutput: baselineRuns.every((b, i) => b.stdout === cliRuns[i]?.stdout),
              sameFiguresButNotes: baselineRuns.every(
                (b, i) => withoutNotes(b.stdout) === withoutNotes(cliRuns[i]?.stdout ?? ""),
              ),
              peakRssMiB: round(Math.max(...baselineRuns.map((r) => r.peakRssMiB)), 1),
              prometheusCpuSeconds: baselineRuns.map((r) => round(r.prometheusCpuSeconds ?? 0, 1)),
              promqlRangeQueries: baselineRuns.map((r) => r.rangeQueries),
              promqlRawSampleQueries: baselineRuns.map((r) => r.rawQueries),
              remoteReads: baselineRuns.map((r) => r.remoteReads),
              wallSeconds: {
                median: round(median(baselineRuns.map((r) => r.wallSeconds)), 2),
                runs: baselineRuns.map((r) => round(r.wallSeconds, 2)),
              },
              cliCpuSeconds: baselineRuns.map((r) => round(r.cpuSeconds, 1)),
              workloadRoundsPerSecond: Math.round(rounds / median(baselineRuns.map((r) => r.wallSeconds))),
              cpuSpeedup: round(
                median(baselineRuns.map((r) => r.cpuSeconds)) / median(cliRuns.map((r) => r.cpuSeconds)),
                2,
              ),
            },
          }
        : {}),
      replayBaseline: replay,
      fullSizeWorkloadRounds: fullRounds,
      fullSizeSecondsAtThisRate: Math.round(fullRounds / (rounds / wall)),
      reportHead: report.split("\n").slice(0, 40).join("\n"),
    };
  } finally {
    if (keptDir) await prom.stop();
    else await prom.cleanup();
  }
}

export const backtestBenchmark: Benchmark = {
  name: "backtest",
  description:
    "metapilot backtest over N tenants × D days at 30 s (500 × 14 full size) from a backfilled Prometheus: time, rounds/s, queries, peak RSS",
  run,
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} backtest] ${line}\n`);
  const figures = await run({ quick, coldBuild: false, log });
  log(
    `wrote ${writeResults("backtest", quick, { benchmark: "backtest", quick, loadAverage1m: os.loadavg()[0], ...figures })}`,
  );
}
