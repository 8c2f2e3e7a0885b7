// The replay on worker threads gives the report the main thread gives (the threads run the same code, and their
// results are recorded in the workloads' order), and a thread that fails or an abort rejects the backtest and
// ends the threads, never a hang.
import { afterEach, describe, expect, it } from "vitest";
import { fleetPolicy, fleetWorkloads, syntheticHistory } from "./synthetic-fleet.js";
import { Backtest, type Policy } from "./run.js";
import { newSeries } from "./shared-series.js";
import { minStepsForWorkers, replayThreads, sharedHistory, type ReplayWorkers } from "./workers.js";

const stepMs = 30_000;
const to = Date.parse("2026-12-01T00:00:00Z");
const from = to - 86_400_000;

/** bench/backtest.ts's two policies: 5- and 30-minute stabilization windows, the same bounds. */
const policy = (name: string, window: string): Policy => ({ source: `${name}.yaml`, raw: fleetPolicy(name, window) });
const policies = [policy("down-5m", "5m"), policy("down-30m", "30m")];

let workers: ReplayWorkers | undefined;
afterEach(async () => {
  await workers?.close();
  workers = undefined;
});

/** Until every thread has exited (terminate() is asynchronous; 10 s at most, for a loaded machine). */
async function allExited(w: ReplayWorkers): Promise<number> {
  for (let i = 0; i < 250 && w.running > 0; i++) await new Promise((r) => setTimeout(r, 40));
  return w.running;
}

describe("the replay on worker threads", () => {
  it("gives the report of the replay in the main thread, batch after batch", { timeout: 60_000 }, async () => {
    // 5 tenants × 1 day, 20 workloads × 2,881 steps × 2 policies, read in two batches as the CLI does.
    const history = syntheticHistory(5, from, to, stepMs);
    const all = fleetWorkloads(5);
    const batches = [all.slice(0, 8), all.slice(8)];
    const here = new Backtest(policies);
    for (const batch of batches) here.add(history, batch);
    const there = new Backtest(policies);
    workers = there.startWorkers(2);
    for (const batch of batches) await there.addOn(workers, history, batch);
    expect(workers.size).toBe(2);
    const a = here.report(from, to);
    const b = there.report(from, to);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // Not a trivial report: changes, OOM kills, a timeline per tenant.
    expect(a.policies[0]?.summary.changes).toBeGreaterThan(0);
    expect(a.policies[0]?.summary.oomKills).toBeGreaterThan(0);
    expect(Object.keys(a.policies[0]?.timeline ?? {})).toHaveLength(5);
    await workers.close();
    expect(await allExited(workers)).toBe(0);
  });

  it("gives the reference path's report too (exact)", { timeout: 60_000 }, async () => {
    const history = syntheticHistory(1, from, from + 6 * 3_600_000, stepMs);
    const here = new Backtest(policies, true);
    here.add(history, fleetWorkloads(1));
    const there = new Backtest(policies, true);
    workers = there.startWorkers(2);
    await there.addOn(workers, history, fleetWorkloads(1));
    expect(there.report(from, to)).toEqual(here.report(from, to));
  });

  it("rejects with the error a thread's replay throws, and ends the threads", { timeout: 60_000 }, async () => {
    const history = syntheticHistory(2, from, from + 3_600_000, stepMs);
    // A history without its failed steps: the replay throws in the main thread, and so it does in a thread.
    const broken = { ...history, failedAt: undefined as never };
    expect(() => new Backtest(policies).add(broken, fleetWorkloads(2))).toThrow(TypeError);
    const b = new Backtest(policies);
    workers = b.startWorkers(2);
    await expect(b.addOn(workers, broken, fleetWorkloads(2))).rejects.toThrow(
      /^backtest replay of tcp-\S+\/\S+ failed: Cannot read properties of undefined/,
    );
    expect(await allExited(workers)).toBe(0);
    // The threads are gone: a later batch rejects at once.
    await expect(b.addOn(workers, history, fleetWorkloads(2))).rejects.toThrow(/closed/);
  });

  it("rejects when a thread crashes (out of memory)", { timeout: 60_000 }, async () => {
    const history = syntheticHistory(2, from, from + 3_600_000, stepMs);
    const b = new Backtest(policies);
    // Too small a heap for the engine's modules (below 4 MiB V8 aborts the whole process instead).
    workers = b.startWorkers(2, { resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } });
    await expect(b.addOn(workers, history, fleetWorkloads(2))).rejects.toThrow(
      /^backtest replay thread \d failed: .*out of memory/i,
    );
    expect(await allExited(workers)).toBe(0);
  });

  it("rejects with the abort's reason and ends the threads", { timeout: 60_000 }, async () => {
    const history = syntheticHistory(5, from, to, stepMs);
    const b = new Backtest(policies);
    workers = b.startWorkers(2);
    const abort = new AbortController();
    const replay = b.addOn(workers, history, fleetWorkloads(5), abort.signal);
    abort.abort(new Error("stopped by the test"));
    await expect(replay).rejects.toThrow("stopped by the test");
    expect(await allExited(workers)).toBe(0);
  });
});

describe("replayThreads", () => {
  it("replays a small run in the main thread, a large one on as many threads as asked, at most one per workload", () => {
    const twoWeeks = 14 * 2880 + 1;
    expect(replayThreads(4, 500 * 4, twoWeeks)).toBe(4);
    expect(replayThreads(1, 500 * 4, twoWeeks)).toBe(1);
    expect(replayThreads(8, 3, 1_000_000)).toBe(3);
    // One tenant's 4 workloads over a day at 30 s: 11,524 workload-steps, not worth a thread.
    expect(replayThreads(2, 4, 2881)).toBe(1);
    expect(replayThreads(2, 1, minStepsForWorkers - 1)).toBe(1);
    expect(replayThreads(2, 1, minStepsForWorkers)).toBe(1);
    expect(replayThreads(2, 2, minStepsForWorkers / 2)).toBe(2);
  });
});

describe("sharedHistory", () => {
  it("copies the series that are not on a SharedArrayBuffer into one, once, and leaves a shared history as is", () => {
    const history = syntheticHistory(1, from, from + 3_600_000, stepMs);
    const shared = sharedHistory(history);
    expect(shared).not.toBe(history);
    for (const [metric, byKey] of Object.entries(shared.series))
      for (const [key, values] of byKey) {
        expect(values.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect([...values]).toEqual([...(history.series[metric as keyof typeof history.series].get(key) ?? [])]);
      }
    expect(sharedHistory(shared)).toBe(shared);
    const series = newSeries(3);
    expect(series.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...series]).toEqual([Number.NaN, Number.NaN, Number.NaN]);
  });
});
