// Shared helpers for the benchmarks: statistics, per-process RSS/CPU from /proc, machine information and the
// results files in bench/results/. Figures are recorded, never asserted: a benchmark reports what it measured.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(benchDir, "..");
export const resultsDir = path.join(benchDir, "results");

export interface BenchOptions {
  /** Small sizes and short windows, for checking the harness; results go to <name>.quick.json (not committed). */
  quick: boolean;
  /** metacluster: also time a cold build of the Kubernetes binaries (about ten minutes of both cores). */
  coldBuild: boolean;
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  description: string;
  /** Returns the figures; the runner adds machine information and writes bench/results/<name>.json. */
  run(opts: BenchOptions): Promise<Record<string, unknown>>;
  /** Writes the results when they do not simply replace bench/results/<name>.json; returns the file. */
  write?(quick: boolean, body: Record<string, unknown>): string;
}

// --- statistics ---------------------------------------------------------------------------------------------

/** Linear-interpolated percentile (p in 0..100) of `values`; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p90: number;
}

export function summarize(values: readonly number[], digits = 3): Summary {
  return {
    n: values.length,
    median: round(median(values), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    p90: round(percentile(values, 90), digits),
  };
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a / b, or null when b is zero (JSON has no Infinity). */
export function ratio(a: number, b: number, digits = 2): number | null {
  return b === 0 ? null : round(a / b, digits);
}

export const seconds = (ms: number, digits = 2) => round(ms / 1000, digits);
export const mib = (kb: number, digits = 1) => round(kb / 1024, digits);

// --- /proc sampling -----------------------------------------------------------------------------------------

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Resident set size of `pid` in kB, or undefined when it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) `pid` has used so far, in seconds, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, i.e. 11 and 12 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
function systemJiffies(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((s, x) => s + x, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** CPU time of processes and of the whole machine over an interval: start() … stop(). */
export class CpuWindow {
  private readonly startedAt = performance.now();
  private readonly start: Map<string, number>;
  private readonly sysStart = systemJiffies();

  constructor(private readonly pids: Record<string, number>) {
    this.start = new Map(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) ?? 0]));
  }

  /** Cores used on average by each process (CPU seconds / wall seconds), plus the machine's busy share. */
  stop(): { wallSeconds: number; coresByProcess: Record<string, number>; machineBusyFraction: number } {
    const wall = (performance.now() - this.startedAt) / 1000;
    const coresByProcess: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = cpuSeconds(pid);
      if (now !== undefined) coresByProcess[name] = round((now - (this.start.get(name) ?? 0)) / wall, 3);
    }
    const sys = systemJiffies();
    const machineBusyFraction = round(
      (sys.busy - this.sysStart.busy) / Math.max(1, sys.total - this.sysStart.total),
      3,
    );
    return { wallSeconds: round(wall, 1), coresByProcess, machineBusyFraction };
  }
}

/** Samples the RSS of one pid at a fixed interval until stopped. */
export class RssSampler {
  readonly samplesKb: number[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 500,
  ) {}

  start(): this {
    const take = () => {
      const kb = rssKb(this.pid);
      if (kb !== undefined) this.samplesKb.push(kb);
    };
    take();
    this.timer = setInterval(take, this.intervalMs);
    return this;
  }

  stop(): { samples: number; medianMiB: number; maxMiB: number; minMiB: number } {
    clearInterval(this.timer);
    const s = this.samplesKb;
    return {
      samples: s.length,
      medianMiB: mib(median(s)),
      maxMiB: mib(Math.max(...s)),
      minMiB: mib(Math.min(...s)),
    };
  }
}

/** Takes `count` samples of `fn` `intervalMs` apart and returns the per-key median. */
export async function medianOfSamples(
  fn: () => Record<string, number>,
  count: number,
  intervalMs: number,
): Promise<Record<string, number>> {
  const samples: Array<Record<string, number>> = [];
  for (let i = 0; i < count; i++) {
    if (i) await sleep(intervalMs);
    samples.push(fn());
  }
  const keys = new Set(samples.flatMap((s) => Object.keys(s)));
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = median(samples.map((s) => s[k]).filter((v): v is number => v !== undefined));
  return out;
}

// --- concurrency --------------------------------------------------------------------------------------------

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// --- machine information and results ------------------------------------------------------------------------

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  gitCommit: string | undefined;
  /** Uncommitted changes in bench/ when the run started (the benchmark code is committed with its results). */
  benchDirty: boolean;
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    gitCommit: git(["rev-parse", "HEAD"]),
    benchDirty: Boolean(git(["status", "--porcelain", "--", "bench"])),
    loadAverage1m: round(os.loadavg()[0] ?? 0, 2),
  };
}

export function resultsPath(name: string, quick: boolean): string {
  return path.join(resultsDir, quick ? `${name}.quick.json` : `${name}.json`);
}

export function readResults(name: string, quick = false): Record<string, unknown> | undefined {
  const file = resultsPath(name, quick);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function writeResults(name: string, quick: boolean, body: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = resultsPath(name, quick);
  writeFileSync(file, JSON.stringify(body, null, 2) + "\n");
  return file;
}

/** Elapsed milliseconds of an async step. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** `promise`, or a rejection after `ms`; the timer is cleared either way, so it never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Per-key difference of two counter snapshots (a key missing on one side counts as 0). */
export function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(after), ...Object.keys(before)])) out[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return out;
}

/** Counts over a window as rates per minute. */
export function perMinute(counts: Record<string, number>, windowMs: number, digits = 2): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round((v * 60_000) / windowMs, digits)]));
}

export const sum = (r: Record<string, number>) => Object.values(r).reduce((s, v) => s + v, 0);
