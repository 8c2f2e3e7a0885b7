// A worker thread of the backtest's replay (./workers.ts): given a batch's history (its series shared, not copied)
// and then workloads one by one, it runs replayWorkload, the code Backtest.add runs in the main thread, and posts
// back each workload's figures and replays. The main thread records them in the workloads' order.
import { parentPort, workerData } from "node:worker_threads";
import type { BacktestWorkload } from "./inventory.js";
import { parsePolicies, replayWorkload, type Policy, type WorkloadReplay } from "./workload-replay.js";
import type { SignalHistory } from "./signals.js";

export interface ReplayWorkerData {
  policies: Policy[];
  exact: boolean;
}

export type ToWorker =
  { type: "history"; history: SignalHistory } | { type: "replay"; index: number; workload: BacktestWorkload };

export type FromWorker =
  | { type: "replayed"; index: number; replay: WorkloadReplay }
  | { type: "failed"; index: number; message: string; stack?: string };

const port = parentPort;
if (!port) throw new Error("replay-worker: not in a worker thread");
const { policies: raw, exact } = workerData as ReplayWorkerData;
const policies = parsePolicies(raw);
let history: SignalHistory | undefined;

/** `a`, or a copy of it off the history's shared buffers. */
const own = (a: Float64Array) => (a.buffer instanceof SharedArrayBuffer ? new Float64Array(a) : a);

/** Buffers to move back rather than copy: the arrays made here. */
function transferable(r: WorkloadReplay): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: Float64Array) => {
    if (a.buffer instanceof ArrayBuffer && a.byteLength > 0) out.add(a.buffer);
  };
  const f = r.figures;
  for (const a of [f.cpuUsage, f.memoryUsage, f.real.cpuRequest, f.real.memoryRequest, f.real.memoryLimit]) add(a);
  for (const p of r.replayed) if (p) for (const a of [p.cpuRequest, p.memoryRequest, p.memoryLimit, p.replicas]) add(a);
  return [...out];
}

port.on("message", (m: ToWorker) => {
  if (m.type === "history") {
    history = m.history;
    return;
  }
  try {
    if (!history) throw new Error("no history posted before the workloads");
    const { figures, replayed } = replayWorkload(policies, history, m.workload, exact);
    // What the report needs of the workload: not its rounds (the exact path's) or its signalsAt (a closure). A
    // column that is one of the history's own series is sent as a copy, so the main thread reads no shared buffer,
    // as in the single-threaded path: reading them there, 2 fresh processes in about 20 (10 tenants x 14 days, two
    // policies) gave a different "before" slack for the first policy only, for a cause not found.
    const real = figures.real;
    const replay: WorkloadReplay = {
      figures: {
        cpuUsage: own(figures.cpuUsage),
        memoryUsage: own(figures.memoryUsage),
        real: {
          cpuRequest: own(real.cpuRequest),
          memoryRequest: own(real.memoryRequest),
          memoryLimit: own(real.memoryLimit),
        },
        kills: figures.kills,
        coverage: figures.coverage,
      },
      replayed,
    };
    port.postMessage({ type: "replayed", index: m.index, replay } satisfies FromWorker, transferable(replay));
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    port.postMessage({ type: "failed", index: m.index, message: e.message, stack: e.stack } satisfies FromWorker);
  }
});
