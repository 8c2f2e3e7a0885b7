// The scale-down's window (windowMax, and the round whose own recommendation already allows no step down, where the
// window is not read) against the plain rule it replaced: a filter, map and Math.max over the whole window, on
// many random inputs: recommendations with missing, NaN, zero and negative-zero values, sizes with and without
// each field, bounds that clamp, stale and missing usage, profile floors, windows and changes at any time.
import { describe, expect, it } from "vitest";
import type { Evidence } from "../../api/index.js";
import { defaultEngineOptions, type EngineOptions } from "../engine-options.js";
import { seeded } from "../estimators/fleet-testing.js";
import { evidenceOf, freshness, iso } from "../freshness.js";
import { formatCpu, formatMemory, MiB } from "../quantity.js";
import { clamp, describeSize, sameSize } from "../sizes.js";
import { input, policy } from "../testing.js";
import type { DecisionInput, Plan, Recommendation, Size } from "../types.js";
import { heldForDataReason, recommendation, scaleDownPlan } from "./scale-down.js";

/** scaleDownPlan as it was before windowMax: every round reads the whole window. */
function reference(input: DecisionInput, o: EngineOptions, notes: string[]): Plan {
  const { policy, current, history, now, signals } = input;
  const sd = policy.scaleDown;
  const none = (reason: string): Plan => ({ action: "none", reason, notes });
  const held = (why: string): Plan => ({
    action: "none",
    reason: `${heldForDataReason}: ${why}`,
    heldForData: why,
    notes,
  });
  if (!sd.enabled) return none("scale-down disabled");
  if (signals.unavailableReason) return held(signals.unavailableReason);
  const missing: string[] = [];
  for (const [name, m] of [
    ["cpu usage", signals.cpuUsage],
    ["memory working set", signals.memoryWorkingSet],
  ] as const) {
    const f = freshness(m, now, o.staleAfterMs);
    if (f !== "fresh") missing.push(`${name} ${f}${m ? ` (last seen ${iso(m.observedAt)})` : ""}`);
  }
  if (missing.length)
    return held(`${missing.join(", ")}${signals.unavailableReason ? `; ${signals.unavailableReason}` : ""}`);
  if (now - history.observingSince < sd.stabilizationWindowMs)
    return none("no scale-down before a full stabilization window of observation");
  if (
    history.lastChangeAt !== undefined &&
    now - history.lastChangeAt < Math.max(sd.cooldownMs, sd.stabilizationWindowMs)
  )
    return none("no scale-down within the stabilization window after a change");
  const windowStart = now - sd.stabilizationWindowMs;
  const inWindow = history.recommendations.filter((r) => r.at >= windowStart);
  const rec = recommendation(input, o);
  if (rec) inWindow.push(rec);
  if (inWindow.length === 0) return none("no recommendations in the stabilization window");
  const cpuMax = Math.max(...inWindow.map((r) => r.cpu ?? Infinity));
  const memMax = Math.max(...inWindow.map((r) => r.memory ?? Infinity));
  const step = sd.maxStepPercent / 100;
  const target: Size = { ...current };
  const changes: Evidence[] = [];
  if (current.cpuRequest !== undefined && cpuMax < current.cpuRequest * (1 - o.minDownChange)) {
    target.cpuRequest = Math.max(cpuMax, current.cpuRequest * (1 - step));
    changes.push({
      signal: "cpu_recommendation_max_in_window",
      value: formatCpu(cpuMax),
      threshold: `request ${formatCpu(current.cpuRequest)}`,
      source: "engine",
    });
  }
  const memBase = current.memoryRequest;
  if (memBase !== undefined && memMax < memBase * (1 - o.minDownChange)) {
    const newRequest = Math.max(memMax, memBase * (1 - step));
    target.memoryRequest = newRequest;
    if (current.memoryLimit !== undefined) {
      const request = clamp({ ...current, memoryRequest: newRequest }, input).memoryRequest ?? newRequest;
      target.memoryLimit = Math.max(request, current.memoryLimit * (request / memBase));
    }
    changes.push({
      signal: "memory_recommendation_max_in_window",
      value: formatMemory(memMax),
      threshold: `request ${formatMemory(memBase)}`,
      source: "engine",
    });
  }
  const after = clamp(target, input);
  for (const k of ["cpuRequest", "memoryRequest", "memoryLimit", "cpuLimit"] as const) {
    const c = current[k];
    const a = after[k];
    if (c !== undefined && a !== undefined && a > c) after[k] = c;
  }
  if (sameSize(after, current)) return none("recommendations within the window do not allow a scale-down");
  const cpu = signals.cpuUsage;
  const mem = signals.memoryWorkingSet;
  const evidence: Evidence[] = [...changes];
  if (cpu) evidence.push(evidenceOf("cpu_usage", cpu, formatCpu(cpu.value)));
  if (mem) evidence.push(evidenceOf("memory_working_set", mem, formatMemory(mem.value)));
  return {
    action: "change",
    direction: "Down",
    scaler: "cpu",
    category: "Underutilized",
    summary: `${input.workload.component} of ${input.workload.tenant} used less than its size for the whole ${Math.round(sd.stabilizationWindowMs / 60_000)}m window: ${describeSize(current)} → ${describeSize(after)} (at most ${sd.maxStepPercent}% per step)`,
    evidence,
    before: current,
    after,
    oomIds: [],
    notes,
  };
}

const min = 60_000;

function randomInput(rnd: () => number): DecisionInput {
  const base = input();
  const now = base.now;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const maybe = <T>(p: number, x: () => T): T | undefined => (rnd() < p ? x() : undefined);
  // Values near the request, so that both sides of every threshold are hit, and the odd ones.
  const odd = (x: number) => pick([x, x, x, x, x, x, Number.NaN, 0, -0, undefined as unknown as number]);
  const cpuRequest = maybe(0.9, () => pick([0.05, 0.5, 1, 2, 9]) * (0.5 + rnd()));
  const memoryRequest = maybe(0.9, () => pick([64, 512, 1024, 20000]) * MiB * (0.5 + rnd()));
  const current: Size = {
    replicas: 1 + Math.floor(rnd() * 3),
    ...(cpuRequest !== undefined ? { cpuRequest } : {}),
    ...(memoryRequest !== undefined ? { memoryRequest } : {}),
    ...(rnd() < 0.7 && memoryRequest !== undefined ? { memoryLimit: memoryRequest * (1 + rnd()) } : {}),
    ...(rnd() < 0.2 && cpuRequest !== undefined ? { cpuLimit: cpuRequest * (1 + rnd()) } : {}),
  };
  const windowMs = pick([0, 5, 30, 180]) * min;
  const recs: Recommendation[] = [];
  const count = Math.floor(rnd() * 80);
  for (let i = 0; i < count; i++) {
    const r: Recommendation = { at: now - Math.floor(rnd() * (windowMs + 20 * min)) };
    const c = maybe(0.95, () => odd((cpuRequest ?? 1) * (0.3 + rnd())));
    const m = maybe(0.95, () => odd((memoryRequest ?? 1024 * MiB) * (0.3 + rnd())));
    if (c !== undefined) r.cpu = c;
    if (m !== undefined) r.memory = m;
    recs.push(r);
  }
  recs.sort((a, b) => a.at - b.at);
  const usage = (x: number) => ({ value: x, observedAt: now - pick([0, 0, 0, 10 * min]), source: "test" });
  // cluster-size with a ladder and no node count: no recommendation this round.
  const ladder = rnd() < 0.1;
  const p = policy({
    estimators: ladder ? ["cluster-size"] : pick([[], ["profile"], ["oom-memory", "profile"]]),
    ladder: ladder ? [{ nodes: 0, cpu: 0.1 }] : [],
    minAllowed: pick([{ cpu: 0.1, memory: 128 * MiB }, { cpu: 1, memory: 1024 * MiB }, {}]),
    maxAllowed: pick([{ cpu: 8, memory: 16384 * MiB }, { cpu: 0.5, memory: 256 * MiB }, {}]),
    scaleDown: {
      enabled: rnd() < 0.95,
      stabilizationWindowMs: windowMs,
      maxStepPercent: pick([10, 20, 50, 100]),
      cooldownMs: pick([0, 10 * min]),
    },
  });
  return {
    ...base,
    current,
    policy: p,
    ...(rnd() < 0.3
      ? {
          profile: {
            target: { cpu: rnd() * 2, memory: rnd() * 2048 * MiB },
            upperBound: { memory: rnd() * 4096 * MiB },
          },
        }
      : {}),
    signals: {
      oom: [],
      ...(rnd() < 0.95 ? { cpuUsage: usage((cpuRequest ?? 1) * rnd() * 1.2) } : {}),
      ...(rnd() < 0.95 ? { memoryWorkingSet: usage((memoryRequest ?? 1024 * MiB) * rnd() * 1.2) } : {}),
      ...(rnd() < 0.03 ? { unavailableReason: "Prometheus unavailable: 503" } : {}),
    },
    history: {
      ...base.history,
      recommendations: recs,
      observingSince: now - pick([0, windowMs / 2, windowMs, 10 * windowMs + min]),
      ...(rnd() < 0.4 ? { lastChangeAt: now - Math.floor(rnd() * 2 * (windowMs + 10 * min)) } : {}),
    },
  };
}

describe("scaleDownPlan's window", () => {
  it.each(Array.from({ length: 8 }, (_, i) => 7000 + i))("decides as the whole-window rule (seed %i)", (seed) => {
    const rnd = seeded(seed);
    const seen = new Set<string>();
    for (let i = 0; i < 2500; i++) {
      const x = randomInput(rnd);
      const got = scaleDownPlan(x, defaultEngineOptions, []);
      expect(got).toEqual(reference(x, defaultEngineOptions, []));
      seen.add(got.action === "none" ? got.reason.replace(/:.*/, "") : got.action);
      // The round's own recommendation allows no step down, while an older one in the window would have.
      const rec = recommendation(x, defaultEngineOptions);
      const below = (r: Recommendation) =>
        (r.cpu ?? Infinity) < (x.current.cpuRequest ?? 0) * (1 - defaultEngineOptions.minDownChange);
      if (
        got.action === "none" &&
        rec &&
        !below(rec) &&
        x.history.recommendations.some((r) => r.at >= x.now - x.policy.scaleDown.stabilizationWindowMs && below(r))
      )
        seen.add("window not read");
    }
    // Not vacuous: every way out of the window is taken.
    expect(seen).toContain("change");
    expect(seen).toContain("recommendations within the window do not allow a scale-down");
    expect(seen).toContain("no recommendations in the stabilization window");
    expect(seen).toContain("window not read");
  });
});
