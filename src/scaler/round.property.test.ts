// decideWithHistory's quiet path (quietPlan) against the round asked of every scaler (decideInFull): on random
// rounds (every signal, fresh, stale or missing; sustained scalers already over or not; OOM kills handled or not; a
// recorded Blocked condition; paused; ladders keyed on nodes, objects or watchers), the same plan and the same
// history after it; and the same again with the TenantFacts of another round that reads the same tenant size. And
// the rules quietPlan rests on, for every registered sustained scaler and for the event scalers.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScalerName } from "../api/index.js";
import { defaultEngineOptions } from "./engine-options.js";
import { MiB } from "./quantity.js";
import { decideInFull, decideWithHistory, quietPlan, tenantFacts } from "./round.js";
import { availableScalers, eventScalers, scalerByName } from "./scalers/index.js";
import { input, policy } from "./testing.js";
import type { ClusterSizeStep, DecisionInput, Measurement, Size, WorkloadHistory } from "./types.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;

const sizeArb = fc
  .record({
    replicas: fc.integer({ min: 1, max: 5 }),
    cpuRequest: fc.option(fc.double({ min: 0.05, max: 10, noNaN: true }), { nil: undefined }),
    memoryRequest: fc.double({ min: 64 * MiB, max: 20000 * MiB, noNaN: true }),
    memoryLimit: fc.option(fc.double({ min: 64 * MiB, max: 20000 * MiB, noNaN: true }), { nil: undefined }),
  })
  .map((s): Size => ({
    ...s,
    memoryLimit: s.memoryLimit === undefined ? undefined : Math.max(s.memoryLimit, s.memoryRequest),
  }));

/** Fresh (most often), stale or missing. */
const measurementArb = (max: number): fc.Arbitrary<Measurement | undefined> =>
  fc.option(
    fc.record({
      value: fc.double({ min: 0, max, noNaN: true }),
      observedAt: fc.oneof(
        { weight: 4, arbitrary: fc.constant(now) },
        { weight: 1, arbitrary: fc.integer({ min: now - 20 * min, max: now }) },
      ),
      source: fc.constant("prometheus"),
    }),
    { nil: undefined, freq: 4 },
  );

const since = fc.option(fc.integer({ min: now - 30 * min, max: now }), { nil: undefined, freq: 2 });

const roundArb = fc
  .record({
    current: sizeArb,
    oom: fc.array(
      fc.record({
        id: fc.constantFrom("k1", "k2", "k3"),
        pod: fc.constant("p"),
        container: fc.constant("kube-apiserver"),
        finishedAt: fc.integer({ min: now - 60 * min, max: now }),
        limitBytes: fc.option(fc.double({ min: 64 * MiB, max: 20000 * MiB, noNaN: true }), { nil: undefined }),
        replaceable: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
    handled: fc.subarray(["k1", "k2", "k3"]),
    signals: fc.record({
      cpuUsage: measurementArb(12),
      memoryWorkingSet: measurementArb(24000 * MiB),
      cpuThrottledRatio: measurementArb(0.5),
      apiserver429Rate: measurementArb(4),
      clusterNodes: measurementArb(1200),
      storedObjects: measurementArb(200_000),
      apiserverWatchers: measurementArb(5000),
      apfSeatsRatio: measurementArb(1.2),
      apfRejectedRate: measurementArb(2),
      etcdDatabaseBytes: measurementArb(8000 * MiB),
      probeFailures: fc.option(measurementArb(4), { nil: undefined }),
      latency: fc.option(fc.record({ "GET/resource": measurementArb(3), "LIST/cluster": measurementArb(60) }), {
        nil: undefined,
      }),
      unavailableReason: fc.option(fc.constant("Prometheus unreachable"), { nil: undefined, freq: 8 }),
    }),
    since: fc.record({
      probe: since,
      throttling: since,
      apf: since,
      latency: since,
      cpu: since,
      memory: since,
      "etcd-db-size": since,
    }),
    blocked: fc.option(
      fc.record({
        reason: fc.constantFrom("MaxAllowed" as const, "ExceedsNodeCapacity" as const),
        key: fc.constant("k"),
        message: fc.constant("m"),
        at: fc.constant(now - 10 * min),
        oom: fc.boolean(),
      }),
      { nil: undefined, freq: 4 },
    ),
    recs: fc.array(
      fc.record({
        at: fc.integer({ min: now - 40 * min, max: now - 1 }),
        cpu: fc.double({ min: 0, max: 12, noNaN: true }),
        memory: fc.double({ min: 0, max: 24000 * MiB, noNaN: true }),
      }),
      { maxLength: 8 },
    ),
    observingFor: fc.integer({ min: 0, max: 90 * min }),
    lastChangeAgo: fc.option(fc.integer({ min: 0, max: 90 * min }), { nil: undefined }),
    lastScaleUpAgo: fc.option(fc.integer({ min: 0, max: 10 * min }), { nil: undefined }),
    paused: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
    component: fc.constantFrom("kube-apiserver", "etcd", "kube-scheduler"),
    ladder: fc.constantFrom<ClusterSizeStep[]>(
      [],
      [
        { nodes: 0, cpu: 0.25, memory: 512 * MiB, replicas: 1 },
        { nodes: 500, cpu: 2, memory: 4096 * MiB, replicas: 3 },
      ],
      [
        { nodes: 0, cpu: 0.25, memory: 512 * MiB },
        { nodes: 100, objects: 50_000, watchers: 2000, cpu: 1, memory: 2048 * MiB },
      ],
    ),
    estimators: fc.subarray(["oom-memory", "profile", "cluster-size", "fleet-regression"]),
    window: fc.constantFrom(0, 5 * min, 30 * min),
    scaleDownEnabled: fc.boolean(),
    thresholds: fc.record({
      cpu: fc.constantFrom(0.5, 0.8, 1),
      memory: fc.constantFrom(0.8, 0.9),
      throttling: fc.constantFrom(0, 0.5, 1),
    }),
  })
  .map((r): DecisionInput => {
    const base = input();
    const p = policy({
      estimators: r.estimators,
      ladder: r.ladder,
      scaleDown: {
        enabled: r.scaleDownEnabled,
        stabilizationWindowMs: r.window,
        maxStepPercent: 20,
        cooldownMs: 2 * min,
      },
    });
    p.scalers.cpu.threshold = r.thresholds.cpu;
    p.scalers.memory.threshold = r.thresholds.memory;
    p.scalers.throttling.threshold = r.thresholds.throttling;
    const { latency, ...signals } = r.signals;
    const overThresholdSince: WorkloadHistory["overThresholdSince"] = {};
    for (const [k, v] of Object.entries(r.since)) if (v !== undefined) overThresholdSince[k as ScalerName] = v;
    const history: WorkloadHistory = {
      handledOomIds: new Set(r.handled),
      overThresholdSince,
      recommendations: r.recs.sort((a, b) => a.at - b.at),
      observingSince: now - r.observingFor,
      ...(r.lastChangeAgo !== undefined ? { lastChangeAt: now - r.lastChangeAgo } : {}),
      ...(r.lastScaleUpAgo !== undefined ? { lastScaleUpAt: now - r.lastScaleUpAgo } : {}),
      ...(r.blocked ? { blockedReport: r.blocked } : {}),
    };
    return {
      ...base,
      workload: { ...base.workload, component: r.component, name: r.component, container: r.component },
      policy: p,
      current: r.current,
      signals: {
        ...signals,
        oom: r.oom,
        ...(latency ? { requestLatencyP99: latency as Record<string, Measurement> } : {}),
      },
      history,
      paused: r.paused,
    };
  });

/** A round and its history as a second, separate copy (the history is what a round changes). */
const copy = (i: DecisionInput): DecisionInput => ({ ...i, history: structuredClone(i.history) });

describe("the quiet path of a round", { timeout: 60_000 }, () => {
  it("plans as asking every scaler does, and leaves the same history", () => {
    let quiet = 0;
    let all = 0;
    fc.assert(
      fc.property(roundArb, (i) => {
        const full = copy(i);
        const fast = copy(i);
        const expected = decideInFull(full, defaultEngineOptions);
        const probe = copy(i);
        const q = quietPlan(probe, defaultEngineOptions);
        all++;
        if (q && "action" in q) quiet++;
        else expect(probe.history).toEqual(i.history); // not quiet: nothing changed
        expect(decideWithHistory(fast, defaultEngineOptions)).toEqual(expected);
        expect(fast.history).toEqual(full.history);
      }),
      { numRuns: 2000 },
    );
    // Both paths are taken often enough to be compared.
    expect(quiet).toBeGreaterThan(all / 10);
    expect(all - quiet).toBeGreaterThan(all / 10);
  });

  it("plans as without them with TenantFacts found on another round that reads the same tenant size", () => {
    let quiet = 0;
    let all = 0;
    // The round the facts are found on: other signals, kills and history, the same size, policy and workload, and
    // the same fresh node, object and watcher counts (a count that is not fresh there: missing, or stale).
    const sameTenant = (i: DecisionInput, other: DecisionInput, stale: boolean): DecisionInput => {
      const count = (m: Measurement | undefined) =>
        m && i.now - m.observedAt <= defaultEngineOptions.staleAfterMs
          ? { ...m, observedAt: i.now - (stale ? 1_000 : 0) }
          : stale
            ? { value: 7, observedAt: i.now - 60 * min, source: "prometheus" }
            : undefined;
      return {
        ...other,
        workload: i.workload,
        policy: i.policy,
        current: i.current,
        signals: {
          ...other.signals,
          clusterNodes: count(i.signals.clusterNodes),
          storedObjects: count(i.signals.storedObjects),
          apiserverWatchers: count(i.signals.apiserverWatchers),
        },
      };
    };
    fc.assert(
      fc.property(roundArb, roundArb, fc.boolean(), (i, other, stale) => {
        const facts = tenantFacts(copy(sameTenant(i, other, stale)), defaultEngineOptions);
        const without = copy(i);
        const expected = quietPlan(without, defaultEngineOptions);
        const withFacts = copy(i);
        all++;
        const got = quietPlan(withFacts, defaultEngineOptions, facts);
        if (got && "action" in got) quiet++;
        expect(got).toEqual(expected);
        expect(withFacts.history).toEqual(without.history);
      }),
      { numRuns: 3000 },
    );
    expect(quiet).toBeGreaterThan(all / 10);
    expect(all - quiet).toBeGreaterThan(all / 10);
  });

  it("rests on this: the event scalers are the oom scaler, first, and the cluster-size scaler (TenantFacts)", () => {
    expect(eventScalers().map((s) => s.name)).toEqual(["oom", "cluster-size"]);
  });

  it("rests on this: a sustained scaler not over its threshold, without a start of it, proposes and notes nothing", () => {
    const sustained = availableScalers()
      .map(scalerByName)
      .filter((s) => s.overThreshold);
    expect(sustained.map((s) => s.name)).toContain("cpu");
    fc.assert(
      fc.property(roundArb, (i) => {
        for (const s of sustained) {
          if (s.overThreshold?.(i, defaultEngineOptions)) continue;
          const without = { ...i, history: { ...i.history, overThresholdSince: {} } };
          const notes: string[] = [];
          expect(s.propose(without, defaultEngineOptions, notes)).toBeUndefined();
          expect(notes).toEqual([]);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
