// A worker thread of the backtest's replay (./workers.ts): given a batch's history (its series shared, not copied)
// and then workloads one by one, it runs replayWorkload and workloadRecord, the code Backtest.add runs in the main
// thread, and posts back each workload's record (numbers, OOM outcomes and the rounds that acted; no column of
// steps). The main thread adds them up in the workloads' order.
import { parentPort, workerData } from "node:worker_threads";
import type { BacktestWorkload } from "./inventory.js";
import { workloadRecord, type WorkloadRecord } from "./workload-record.js";
import { parsePolicies, replayWorkload, type Policy } from "./workload-replay.js";
import type { SignalHistory } from "./signals.js";

export interface ReplayWorkerData {
  policies: Policy[];
  exact: boolean;
}

export type ToWorker =
  { type: "history"; history: SignalHistory } | { type: "replay"; index: number; workload: BacktestWorkload };

export type FromWorker =
  | { type: "replayed"; index: number; record: WorkloadRecord }
  | { type: "failed"; index: number; message: string; stack?: string };

const port = parentPort;
if (!port) throw new Error("replay-worker: not in a worker thread");
const { policies: raw, exact } = workerData as ReplayWorkerData;
const policies = parsePolicies(raw);
let history: SignalHistory | undefined;

port.on("message", (m: ToWorker) => {
  if (m.type === "history") {
    history = m.history;
    return;
  }
  try {
    if (!history) throw new Error("no history posted before the workloads");
    const record = workloadRecord(m.workload, replayWorkload(policies, history, m.workload, exact), history);
    port.postMessage({ type: "replayed", index: m.index, record } satisfies FromWorker);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    port.postMessage({ type: "failed", index: m.index, message: e.message, stack: e.stack } satisfies FromWorker);
  }
});
