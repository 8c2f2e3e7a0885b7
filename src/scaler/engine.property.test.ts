// Properties of the decision engine and estimators over random inputs (fast-check).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "./engine.js";
import { input, policy } from "./testing.js";
import { leastSquares } from "./estimators/fleet-fit.js";
import { ladderStep, oomMemory } from "./estimators/index.js";
import { MiB } from "./quantity.js";
import type { DecisionInput, OomEvent, Size } from "./types.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;

const sizeArb = fc
  .record({
    replicas: fc.integer({ min: 1, max: 5 }),
    cpuRequest: fc.double({ min: 0.1, max: 8, noNaN: true }),
    memoryRequest: fc.double({ min: 128 * MiB, max: 8192 * MiB, noNaN: true }),
    memoryLimit: fc.double({ min: 128 * MiB, max: 16384 * MiB, noNaN: true }),
  })
  .map((s): Size => ({ ...s, memoryLimit: Math.max(s.memoryLimit, s.memoryRequest) }));

const measurement = (maxAgeMs: number, max: number) =>
  fc.option(
    fc.record({
      value: fc.double({ min: 0, max, noNaN: true }),
      observedAt: fc.integer({ min: now - maxAgeMs, max: now }),
      source: fc.constant("prometheus"),
    }),
    { nil: undefined },
  );

const oomArb = fc.array(
  fc.record({
    id: fc.string({ minLength: 1, maxLength: 8 }),
    pod: fc.constant("p"),
    container: fc.constant("kube-apiserver"),
    finishedAt: fc.constant(now),
    limitBytes: fc.option(fc.double({ min: 64 * MiB, max: 16384 * MiB, noNaN: true }), { nil: undefined }),
  }),
  { maxLength: 4 },
);

const inputArb = fc
  .record({
    current: sizeArb,
    oom: oomArb,
    cpu: measurement(20 * min, 10),
    mem: measurement(20 * min, 20000 * MiB),
    r429: measurement(20 * min, 100),
    nodes: measurement(20 * min, 5000),
    cpuSince: fc.option(fc.integer({ min: now - 30 * min, max: now }), { nil: undefined }),
    memSince: fc.option(fc.integer({ min: now - 30 * min, max: now }), { nil: undefined }),
    observingFor: fc.integer({ min: 0, max: 10 * 60 * min }),
    lastChangeAgo: fc.option(fc.integer({ min: 0, max: 10 * 60 * min }), { nil: undefined }),
    recs: fc.array(
      fc.record({
        at: fc.integer({ min: now - 4 * 60 * min, max: now }),
        cpu: fc.double({ min: 0, max: 10, noNaN: true }),
        memory: fc.double({ min: 0, max: 20000 * MiB, noNaN: true }),
      }),
      { maxLength: 10 },
    ),
    budget: fc.integer({ min: 0, max: 3 }),
    oomFloor: fc.integer({ min: 0, max: 2 }),
    maxStep: fc.integer({ min: 1, max: 100 }),
    unavailable: fc.option(fc.constant("Prometheus unreachable"), { nil: undefined }),
  })
  .map((r): DecisionInput => {
    const p = policy({
      scaleDown: { enabled: true, stabilizationWindowMs: 180 * min, maxStepPercent: r.maxStep, cooldownMs: 0 },
      ladder: [
        { nodes: 0, cpu: 0.25, memory: 512 * MiB, replicas: 2 },
        { nodes: 500, cpu: 2, memory: 4096 * MiB, replicas: 3 },
      ],
    });
    const base = input();
    return {
      ...base,
      policy: p,
      current: r.current,
      signals: {
        oom: r.oom,
        cpuUsage: r.cpu,
        memoryWorkingSet: r.mem,
        apiserver429Rate: r.r429,
        clusterNodes: r.nodes,
        unavailableReason: r.unavailable,
      },
      history: {
        handledOomIds: new Set(),
        overThresholdSince: { cpu: r.cpuSince, memory: r.memSince },
        recommendations: r.recs.sort((a, b) => a.at - b.at),
        observingSince: now - r.observingFor,
        lastChangeAt: r.lastChangeAgo === undefined ? undefined : now - r.lastChangeAgo,
      },
      fleetBudgetRemaining: r.budget,
      oomFloorRemaining: r.oomFloor,
    };
  });

const within = (s: Size, i: DecisionInput) => {
  const { minAllowed: lo, maxAllowed: hi, replicas } = i.policy;
  const ok = (v: number | undefined, a?: number, b?: number) =>
    v === undefined || ((a === undefined || v >= a - 1e-6) && (b === undefined || v <= b + 1e-6));
  return (
    ok(s.cpuRequest, lo.cpu, hi.cpu) &&
    ok(s.memoryRequest, lo.memory, hi.memory) &&
    ok(s.memoryLimit, lo.memory, hi.memory) &&
    ok(s.replicas, replicas.min, replicas.max)
  );
};

// fast-check runs hundreds of cases per property: CPU-bound work whose wall time grows with the machine's load (it
// took up to 1 s idle and passed 5 s at load 38 on 2 cores). The limit is for a hang, not for speed.
const propertyTimeout = { timeout: 60_000 };

describe("decision engine properties", propertyTimeout, () => {
  it("a scale-down never exceeds the max step, and never grows anything", () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const plan = decide(i);
        if (plan.action === "none" || plan.direction !== "Down") return;
        const step = i.policy.scaleDown.maxStepPercent / 100;
        for (const k of ["cpuRequest", "memoryRequest", "memoryLimit"] as const) {
          const before = plan.before[k];
          const after = plan.after[k];
          if (before === undefined || after === undefined) continue;
          expect(after).toBeLessThanOrEqual(before + 1e-6);
          // Clamping up to minAllowed may leave it higher, never lower than the step allows.
          expect(after).toBeGreaterThanOrEqual(Math.min(before, before * (1 - step)) - 1e-6);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("with the fleet budget spent, makes no change but an OOM scale-up within the tenant's floor", () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const plan = decide(i);
        if (i.fleetBudgetRemaining > 0 || plan.action !== "change") return;
        expect(plan.category).toBe("OOMKilled");
        expect(i.oomFloorRemaining).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });
  it("never leaves minAllowed/maxAllowed when it starts inside them", () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        fc.pre(within(i.current, i));
        const plan = decide(i);
        if (plan.action !== "none") expect(within(plan.after, i)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("never scales down when a needed signal is stale, missing or the source failed", () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const stale = (m?: { observedAt: number }) => !m || now - m.observedAt > 90_000;
        fc.pre(
          stale(i.signals.cpuUsage) || stale(i.signals.memoryWorkingSet) || i.signals.unavailableReason !== undefined,
        );
        const plan = decide(i);
        expect(plan.action !== "none" && plan.direction === "Down").toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it("plans the same in dry-run and live mode", () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const live = decide({ ...i, policy: { ...i.policy, dryRun: false } });
        const dry = decide({ ...i, policy: { ...i.policy, dryRun: true } });
        expect(dry).toEqual(live);
      }),
      { numRuns: 2000 },
    );
  });

  it("is unchanged under reordering of identical signals", () => {
    fc.assert(
      fc.property(inputArb, fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), (i, perm) => {
        const shuffled: OomEvent[] = [...i.signals.oom].sort(
          (a, b) => (perm[i.signals.oom.indexOf(a) % 4] ?? 0) - (perm[i.signals.oom.indexOf(b) % 4] ?? 0),
        );
        const a = decide(i);
        const b = decide({
          ...i,
          signals: { ...i.signals, oom: shuffled },
          history: { ...i.history, recommendations: [...i.history.recommendations].reverse() },
        });
        const norm = (p: ReturnType<typeof decide>) =>
          p.action === "none"
            ? p
            : {
                ...p,
                oomIds: [...p.oomIds].sort(),
                evidence: [...p.evidence].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
              };
        expect(norm(b)).toEqual(norm(a));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("estimator properties", propertyTimeout, () => {
  it("the OOM bump is at least +100Mi and x1.2 of its base", () => {
    fc.assert(
      fc.property(sizeArb, fc.double({ min: 64 * MiB, max: 16384 * MiB, noNaN: true }), (current, limit) => {
        const i = input(
          { current },
          { oom: [{ id: "x", pod: "p", container: "c", finishedAt: now, limitBytes: limit }] },
        );
        const r = oomMemory(i);
        const base = Math.max(limit, current.memoryLimit ?? 0, current.memoryRequest ?? 0);
        expect(r?.size.memoryLimit).toBeGreaterThanOrEqual(Math.max(base + 100 * MiB, base * 1.2) - 1);
      }),
    );
  });

  it("the ladder picks the highest step not above the node count", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 8 }),
        fc.nat({ max: 6000 }),
        (steps, nodes) => {
          const s = ladderStep(
            steps.map((n) => ({ nodes: n })),
            nodes,
          );
          const eligible = steps.filter((n) => n <= nodes);
          expect(s?.nodes).toBe(eligible.length ? Math.max(...eligible) : undefined);
        },
      ),
    );
  });

  it("the fleet regression recovers a line", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        (a, b) => {
          const xs = [10, 50, 100, 400, 1000];
          const fit = leastSquares(
            xs.map((x) => [1, x]),
            xs.map((x) => a + b * x),
          );
          expect(fit?.beta[0]).toBeCloseTo(a, 4);
          expect(fit?.beta[1]).toBeCloseTo(b, 6);
        },
      ),
    );
  });
});
