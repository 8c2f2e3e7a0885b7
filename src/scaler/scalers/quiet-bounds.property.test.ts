// Scaler.quietBelow is conservative: over random rounds whose every measurement is fresh or missing (sizes, thresholds
// and values at and around each threshold's edge, tiny and huge ones), a round whose every fresh listed signal is
// under its bound is never over the scaler's threshold, whatever the unlisted signals are. The merged bounds
// (quietBounds) keep anyOverThreshold false in the same way. OfflineReplay.quietRun and quietAt rely on it to decide
// rounds from the backtest's columns without asking the scalers.
import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { seeded } from "../estimators/fleet-testing.js";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import type { DecisionInput, Measurement, Signals, Size } from "../types.js";
import {
  anyOverThreshold,
  availableScalers,
  measuredSignals,
  quietBounds,
  scalerByName,
  type QuietBounds,
} from "./index.js";
import { ratioBound } from "./types.js";

const options = defaultEngineOptions;
const measured = measuredSignals;
const latencyKeys = ["GET/resource", "LIST/namespace", "LIST/cluster", "POST/resource", "DELETE/namespace"];

const sustained = availableScalers()
  .map(scalerByName)
  .filter((s) => s.overThreshold !== undefined);

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** A number around `edge`: on it, a rounding step either side, a little or far either side, 0, or anything. */
function around(rnd: () => number, edge: number): number {
  const ulp = Math.abs(edge) * Number.EPSILON || Number.MIN_VALUE;
  return pick(rnd, [
    () => edge,
    () => edge - ulp,
    () => edge + ulp,
    () => edge * (1 - 1e-10),
    () => edge * (1 + 1e-10),
    () => edge * rnd(),
    () => edge * (1 + rnd()),
    () => 0,
    () => -rnd(),
    () => rnd() * 1e12,
  ])();
}

function sizeOf(rnd: () => number): Size {
  const q = (x: number) => pick(rnd, [undefined, 0, 1e-300, x, x * 1e-6, x * 1e9]);
  return {
    replicas: 1 + Math.floor(rnd() * 3),
    cpuRequest: q(0.1 + rnd() * 3),
    memoryRequest: q((64 + rnd() * 4000) * MiB),
    memoryLimit: q((64 + rnd() * 8000) * MiB),
  };
}

/**
 * A round at random (each signal there at `present`): thresholds that may be 0, tiny or huge, and values near each
 * scaler's edge at that size.
 */
function round(rnd: () => number, present = 0.8): DecisionInput {
  const base = input({
    workload: { ...input().workload, component: pick(rnd, ["kube-apiserver", "etcd", "kube-scheduler"]) },
    current: sizeOf(rnd),
  });
  for (const s of Object.values(base.policy.scalers))
    s.threshold = pick(rnd, [s.threshold, 0, 1e-300, 0.5, 1, 3, 1e300, s.threshold * (1 + rnd())]);
  const now = base.now;
  const signals: Signals = { oom: [] };
  const edge = (name: string): number => {
    const t = base.policy.scalers;
    const c = base.current;
    switch (name) {
      case "cpuUsage":
        return t.cpu.threshold * (c.cpuRequest ?? 1);
      case "memoryWorkingSet":
        return t.memory.threshold * (c.memoryLimit ?? c.memoryRequest ?? 1);
      case "etcdDatabaseBytes":
        return t["etcd-db-size"].threshold * (c.memoryRequest ?? c.memoryLimit ?? 1);
      case "cpuThrottledRatio":
        return pick(rnd, [0.25, t.throttling.threshold]);
      case "apiserver429Rate":
      case "apfRejectedRate":
        return t.throttling.threshold;
      case "apfSeatsRatio":
        return t.apf.threshold;
      case "probeFailures":
        return t.probe.threshold;
      default:
        return 1000 * rnd();
    }
  };
  const m = (value: number): Measurement => ({ value, observedAt: now, source: "prometheus" });
  for (const name of measured) if (rnd() < present) signals[name] = m(around(rnd, edge(name)));
  if (rnd() < present) {
    const latency: Record<string, Measurement> = {};
    for (const key of latencyKeys) {
      const slo = key.startsWith("LIST/cluster") ? 30 : key.startsWith("LIST/namespace") ? 5 : 1;
      if (rnd() < 0.7) latency[key] = m(around(rnd, slo * base.policy.scalers.latency.threshold));
    }
    signals.requestLatencyP99 = latency;
  }
  return { ...base, signals };
}

/** Whether every fresh signal `bounds` lists is under its bound. */
function under(bounds: QuietBounds, signals: Signals): boolean {
  for (const [name, bound] of Object.entries(bounds.below)) {
    const m = signals[name as (typeof measured)[number]];
    if (m && !(m.value < (bound as number))) return false;
  }
  if (bounds.latency && signals.requestLatencyP99)
    for (const [key, m] of Object.entries(signals.requestLatencyP99))
      if (!(m.value < bounds.latency(key))) return false;
  return true;
}

describe("Scaler.quietBelow", { timeout: 60_000 }, () => {
  it("every sustained scaler has one", () => {
    expect(sustained.map((s) => [s.name, typeof s.quietBelow])).toEqual(sustained.map((s) => [s.name, "function"]));
  });

  it("a round under a scaler's bounds is not over its threshold, whatever it does not list", () => {
    for (const s of sustained) {
      const rnd = seeded(s.name.length * 7919);
      let quiet = 0;
      let over = 0;
      for (let n = 0; n < 20_000; n++) {
        const r = round(rnd);
        const bounds = s.quietBelow!(r, options);
        const isOver = s.overThreshold!(r, options);
        if (isOver) over++;
        if (!under(bounds, r.signals)) continue;
        quiet++;
        expect(isOver, `${s.name}, round ${n}: ${JSON.stringify({ size: r.current, signals: r.signals })}`).toBe(false);
      }
      // Both sides are reached: the bounds are not vacuous, and the rounds do cross the thresholds.
      expect(quiet, s.name).toBeGreaterThan(2_000);
      expect(over, s.name).toBeGreaterThan(1_000);
    }
  });

  it("under the merged bounds no sustained scaler is over its threshold", () => {
    const rnd = seeded(42);
    let quiet = 0;
    for (let n = 0; n < 50_000; n++) {
      const r = round(rnd, 0.4);
      const bounds = quietBounds(r, options);
      expect(bounds).toBeDefined();
      if (!under(bounds!, r.signals)) continue;
      quiet++;
      expect(anyOverThreshold(r, options), `round ${n}`).toBe(false);
    }
    expect(quiet).toBeGreaterThan(2_000);
  });

  it("a ratio's bound is under the edge, and nothing is quiet where it cannot be said", () => {
    expect(ratioBound(0.9, 2)).toBeLessThan(1.8);
    expect(ratioBound(0.9, 2)).toBeGreaterThan(1.8 * (1 - 1e-8));
    for (const [t, b] of [
      [0.9, 0],
      [0.9, -1],
      [Number.NaN, 1],
      [1e300, 1e300],
      [0, 1],
      [-1e-300, 1e-300],
    ])
      expect(ratioBound(t as number, b as number), `${t}, ${b}`).toBe(Number.NEGATIVE_INFINITY);
    expect(ratioBound(1e-300, 1e-300)).toBe(0);
  });
});
