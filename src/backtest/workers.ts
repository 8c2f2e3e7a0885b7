// The backtest's replay on worker threads: each workload's replay is independent of the others (the rounds of one
// workload under one policy), so N threads replay N workloads at once, each running replayWorkload, the code
// Backtest.add runs in the main thread. The batch's history is posted to each thread once, its series on
// SharedArrayBuffers (shared, not copied); the workloads go out one by one to whichever thread is free, and their
// results are recorded in the workloads' order, so the report is the same as the single-threaded one.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, type ResourceLimits } from "node:worker_threads";
import type { BacktestWorkload } from "./inventory.js";
import type { FromWorker, ReplayWorkerData, ToWorker } from "./replay-worker.js";
import type { Policy } from "./workload-replay.js";
import type { WorkloadRecord } from "./workload-record.js";
import type { SignalHistory } from "./signals.js";

/** Threads by default: one per core, at most 8 (a replay thread holds its own heap of rounds and plans). */
export const defaultReplayWorkers = Math.max(1, Math.min(8, availableParallelism()));

/**
 * Below this many workload-steps (workloads × steps) a backtest replays in the main thread: starting a thread
 * (loading the engine's modules: about 0.4 CPU-s each, tsc's output on this project's 2-core machine) costs more
 * than the replay it would share (about 3 µs per workload-step and policy).
 */
export const minStepsForWorkers = 500_000;

/** Threads for a replay of `workloads` × `steps`, `requested` at most: 1 (the main thread) for a small run. */
export function replayThreads(
  requested: number,
  workloads: number,
  steps: number,
  minSteps = minStepsForWorkers,
): number {
  if (workloads * steps < minSteps) return 1;
  return Math.max(1, Math.min(requested, workloads));
}

export interface ReplayWorkerOptions {
  /** Each thread's heap limits (node:worker_threads); default none. */
  resourceLimits?: ResourceLimits;
}

/**
 * The worker module: tsc's output beside this one (dist/, as the CLI ships), else the TypeScript source through
 * tsx's loader (vitest and tsx run the sources, where there is no .js beside this file).
 */
function workerEntry(): { url: URL; execArgv?: string[] } {
  const js = new URL("./replay-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { url: new URL("./replay-worker.ts", import.meta.url), execArgv: [...process.execArgv, "--import", tsx] };
}

const isShared = (a: Float64Array) => a.buffer instanceof SharedArrayBuffer;

/**
 * `history` with every series on a SharedArrayBuffer: fetchHistory's already are (newSeries), any other (a test's,
 * the benchmark's synthetic history) is copied into one, once. The other fields are the same objects.
 */
export function sharedHistory(history: SignalHistory): SignalHistory {
  let copied = false;
  const series = Object.fromEntries(
    Object.entries(history.series).map(([metric, byKey]) => {
      if ([...byKey.values()].every(isShared)) return [metric, byKey];
      copied = true;
      const out = new Map<string, Float64Array>();
      for (const [key, values] of byKey) {
        if (isShared(values)) out.set(key, values);
        else {
          const shared = new Float64Array(new SharedArrayBuffer(values.byteLength));
          shared.set(values);
          out.set(key, shared);
        }
      }
      return [metric, out];
    }),
  ) as SignalHistory["series"];
  return copied ? { ...history, series } : history;
}

interface Thread {
  worker: Worker;
  /** Workloads posted to it and not answered yet. */
  inFlight: number;
  exited: boolean;
}

/** Workloads posted to one thread before it answers: the next one is queued while it replays the last. */
const perThread = 2;

/** A pool of replay threads for one backtest's policies; replay() once per batch, close() at the end. */
export class ReplayWorkers {
  private readonly threads: Thread[];
  /** The first failure (a thread that threw, crashed or exited): every replay after it rejects with it. */
  private failure: Error | undefined;
  private closing = false;
  /** The replay under way, told of a failure. */
  private onFailure: ((err: Error) => void) | undefined;
  private onMessage: ((t: Thread, m: FromWorker) => void) | undefined;

  constructor(policies: readonly Policy[], exact: boolean, count: number, options: ReplayWorkerOptions = {}) {
    const entry = workerEntry();
    const workerData: ReplayWorkerData = { policies: [...policies], exact };
    this.threads = Array.from({ length: Math.max(1, count) }, (_, i) => {
      const worker = new Worker(entry.url, {
        workerData,
        name: `backtest-replay-${i}`,
        ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
        ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      });
      const t: Thread = { worker, inFlight: 0, exited: false };
      worker.on("message", (m: FromWorker) => this.onMessage?.(t, m));
      worker.on("error", (err) =>
        this.fail(new Error(`backtest replay thread ${i} failed: ${err.message}`, { cause: err })),
      );
      worker.on("messageerror", (err) =>
        this.fail(new Error(`backtest replay thread ${i}: a message could not be read: ${err.message}`)),
      );
      worker.on("exit", (code) => {
        t.exited = true;
        if (!this.closing)
          this.fail(new Error(`backtest replay thread ${i} exited (code ${code}) before the replay ended`));
      });
      return t;
    });
  }

  /** Threads started, and those not exited yet. */
  get size(): number {
    return this.threads.length;
  }

  get running(): number {
    return this.threads.filter((t) => !t.exited).length;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.onFailure?.(err);
    void this.close();
  }

  /**
   * Replays `workloads` over `history` on the threads and calls `each` with every result in the workloads' order
   * (index into `workloads`). Resolves when all are recorded; rejects on a thread's failure, an error `each` throws
   * or `signal` aborting, and the threads are then terminated.
   */
  replay(
    history: SignalHistory,
    workloads: readonly BacktestWorkload[],
    each: (index: number, r: WorkloadRecord) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error("backtest replay threads already closed"));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.onMessage) return Promise.reject(new Error("a replay is already under way on these threads"));
    const shared = sharedHistory(history);
    for (const t of this.threads) t.worker.postMessage({ type: "history", history: shared } satisfies ToWorker);
    return new Promise<void>((resolve, reject) => {
      // Results that came back before those of earlier workloads: at most `window` are held.
      const ready = new Map<number, WorkloadRecord>();
      const window = this.threads.length * perThread * 2;
      let next = 0;
      let recorded = 0;
      const done = (err?: Error) => {
        this.onMessage = undefined;
        this.onFailure = undefined;
        signal?.removeEventListener("abort", abort);
        if (err) {
          reject(err);
          void this.close();
        } else resolve();
      };
      const abort = () => done(signal?.reason as Error);
      // One workload to each free thread in turn, so that a short batch is spread over them all.
      const dispatch = () => {
        for (let posted = true; posted;) {
          posted = false;
          for (const t of this.threads) {
            if (t.inFlight >= perThread || next >= workloads.length || next >= recorded + window) continue;
            t.worker.postMessage({
              type: "replay",
              index: next,
              workload: workloads[next] as BacktestWorkload,
            } satisfies ToWorker);
            t.inFlight++;
            next++;
            posted = true;
          }
        }
      };
      this.onFailure = (err) => done(err);
      this.onMessage = (t, m) => {
        t.inFlight--;
        if (m.type === "failed") {
          const w = workloads[m.index];
          const err = new Error(
            `backtest replay of ${w ? `${w.ref.namespace}/${w.ref.name}` : `workload ${m.index}`} failed: ${m.message}`,
          );
          if (m.stack) err.stack = `${err.message}\n(in the replay thread) ${m.stack}`;
          return done(err);
        }
        ready.set(m.index, m.record);
        try {
          for (let r = ready.get(recorded); r; r = ready.get(recorded)) {
            ready.delete(recorded);
            each(recorded, r);
            recorded++;
          }
        } catch (err) {
          return done(err as Error);
        }
        if (recorded === workloads.length) return done();
        dispatch();
      };
      signal?.addEventListener("abort", abort, { once: true });
      if (workloads.length === 0) return done();
      dispatch();
    });
  }

  /** Terminates the threads (idempotent); a replay under way rejects. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.onFailure?.(new Error("backtest replay threads closed before the replay ended"));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
