import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "./engine-options.js";
import type { DecisionObject } from "./decisions.js";
import {
  afterDecision,
  baselineSize,
  emptyHistory,
  historyFromDecisions,
  HistoryModel,
  nextWindowEndMs,
  rememberRecommendation,
  trackThresholds,
} from "./history.js";
import { input, policy } from "./testing.js";
import type { Plan, Size } from "./types.js";
import { blockedKeyAnnotation, observedSizeAnnotation, oomIdsAnnotation, signatureAnnotation } from "../api/labels.js";
import { signDecision, verifyDecision, type SignedDecision } from "./signature.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const decision = (over: {
  phase?: string;
  at: number;
  direction?: "Up" | "Down";
  oomIds?: string;
  observed?: string;
}): DecisionObject => ({
  metadata: {
    annotations: {
      ...(over.oomIds ? { [oomIdsAnnotation]: over.oomIds } : {}),
      ...(over.observed ? { [observedSizeAnnotation]: over.observed } : {}),
    },
  },
  spec: {
    direction: over.direction ?? "Up",
    decidedAt: iso(over.at),
    after: { replicas: 2, resources: { requests: { cpu: "750m" } } },
  },
  ...(over.phase ? { status: { phase: over.phase } } : {}),
});

describe("historyFromDecisions", () => {
  it("rebuilds the last OOM bump, and a lasting Blocked condition only while its decision is the latest", () => {
    const blocked: DecisionObject = {
      metadata: { annotations: { [oomIdsAnnotation]: "k1", [blockedKeyAnnotation]: "max-allowed/1/1/1" } },
      spec: { direction: "Up", decidedAt: iso(now - min) },
      status: { phase: "Blocked", reason: "MaxAllowed", message: "already at maxAllowed" },
    };
    const bump: DecisionObject = {
      metadata: { annotations: { [oomIdsAnnotation]: "k0" } },
      spec: {
        direction: "Up",
        decidedAt: iso(now - 3 * min),
        rootCause: { category: "OOMKilled" },
        after: { replicas: 1, resources: { requests: { memory: "512Mi" }, limits: { memory: "1Gi" } } },
      },
      status: { phase: "Applied" },
    };
    const h = historyFromDecisions([blocked, bump], () => true, now);
    expect(h.lastOomBump).toEqual({ at: now - 3 * min, memoryLimit: 1024 * 2 ** 20, memoryRequest: 512 * 2 ** 20 });
    expect(h.blockedReport).toEqual({
      reason: "MaxAllowed",
      key: "max-allowed/1/1/1",
      message: "already at maxAllowed",
      at: now - min,
      oom: true,
    });
    // A later change (the bound was raised and the kill answered) ends it; so does a fleet-budget block.
    expect(
      historyFromDecisions([blocked, decision({ phase: "Applied", at: now })], () => true, now).blockedReport,
    ).toBe(undefined);
    const budget = { ...decision({ phase: "Blocked", at: now }), status: { phase: "Blocked", reason: "FleetBudget" } };
    expect(historyFromDecisions([blocked, budget], () => true, now).blockedReport).toBe(undefined);
    // Decisions metapilot did not sign say nothing of either, phase or not.
    const unsigned = historyFromDecisions([blocked, bump], () => false, now);
    expect(unsigned.blockedReport).toBe(undefined);
    expect(unsigned.lastOomBump).toBe(undefined);
  });

  it("reads no OOM bump from one of metapilot's own v2 decisions whose category was edited to OOMKilled", () => {
    const key = randomBytes(32);
    const trusted = (d: DecisionObject) => verifyDecision(key, d as SignedDecision);
    const growth = (): DecisionObject => {
      const d: DecisionObject = {
        metadata: { name: "kube-apiserver-up-1", namespace: "tcp-a", annotations: {} },
        spec: {
          direction: "Up",
          decidedAt: iso(now - 3 * min),
          rootCause: { category: "ClusterGrowth" },
          after: { replicas: 1, resources: { requests: { memory: "512Mi" }, limits: { memory: "1Gi" } } },
        },
        status: { phase: "Applied" },
      };
      d.metadata!.annotations![signatureAnnotation] = signDecision(key, d as SignedDecision);
      return d;
    };
    expect(historyFromDecisions([growth()], trusted, now).lastOomBump).toBe(undefined);
    const forged = growth();
    forged.spec!.rootCause!.category = "OOMKilled";
    const h = historyFromDecisions([forged], trusted, now);
    expect(h.lastOomBump).toBe(undefined);
    // Still an Applied change (its phase is status, which no signature covers): the cooldown counts from it.
    expect(h.lastScaleUpAt).toBe(now - 3 * min);
    // The same edit of a decision metapilot really recorded as an OOM bump is read as that bump.
    const real = growth();
    real.spec!.rootCause!.category = "OOMKilled";
    real.metadata!.annotations![signatureAnnotation] = signDecision(key, real as SignedDecision);
    expect(historyFromDecisions([real], trusted, now).lastOomBump?.at).toBe(now - 3 * min);
  });

  it("rebuilds cooldowns and handled kills, and trusts a decision without a phase only when it is signed", () => {
    const signed = decision({ at: now - 3 * min, oomIds: "a,b" });
    const forged = decision({ at: now - 2 * min, oomIds: "c" });
    const h = historyFromDecisions(
      [
        decision({ phase: "Applied", at: now - 10 * min, direction: "Up" }),
        decision({ phase: "Applied", at: now - 5 * min, direction: "Down" }),
        decision({ phase: "Blocked", at: now - min, oomIds: "d" }),
        signed,
        forged,
      ],
      (d) => d === signed,
      now,
    );
    expect(h.lastScaleUpAt).toBe(now - 10 * min);
    expect(h.lastChangeAt).toBe(now - 5 * min);
    expect([...h.handledOomIds].sort()).toEqual(["a", "b", "d"]);
    expect(h.observingSince).toBe(now);
    expect(h.shadow).toBeUndefined();
  });

  it("keeps the latest dry-run decision as the shadow, and loses only the shadow to an unreadable annotation", () => {
    const observed: Size = { replicas: 2, cpuRequest: 0.5 };
    const h = historyFromDecisions(
      [
        decision({ phase: "DryRun", at: now - 2 * min, observed: JSON.stringify(observed) }),
        decision({ phase: "DryRun", at: now - 3 * min, observed: JSON.stringify({ replicas: 9 }) }),
      ],
      () => false,
      now,
    );
    expect(h.shadow).toEqual({
      observed,
      after: { replicas: 2, cpuRequest: 0.75 },
      at: now - 2 * min,
      direction: "Up",
    });
    const broken = historyFromDecisions([decision({ phase: "DryRun", at: now, observed: "{" })], () => false, now);
    expect(broken.shadow).toBeUndefined();
    expect(broken.lastChangeAt).toBe(now);
  });
});

describe("baselineSize", () => {
  const observed: Size = { replicas: 2, cpuRequest: 0.5 };
  const after: Size = { replicas: 2, cpuRequest: 0.75 };
  const h = { ...emptyHistory(now), shadow: { observed, after, at: now - 30_000, direction: "Up" as const } };
  it.each<[string, boolean, Size, number, Size]>([
    ["dry-run within the cooldown: the simulated size", true, observed, now, after],
    ["after the cooldown: the real one", true, observed, now + min, observed],
    [
      "the real workload changed: the real one",
      true,
      { replicas: 3, cpuRequest: 0.5 },
      now,
      { replicas: 3, cpuRequest: 0.5 },
    ],
    ["live: the real one", false, observed, now, observed],
  ])("%s", (_name, dryRun, real, at, expected) => {
    expect(baselineSize(h, real, dryRun, policy({ scaleUpCooldownMs: min }), at)).toEqual(expected);
  });
});

describe("the history fed by rounds", () => {
  it("tracks since when a sustained signal is over its threshold, and forgets it when it goes under", () => {
    const h = emptyHistory(now);
    const cpu = (value: number, at: number) =>
      input({ now: at }, { cpuUsage: { value, observedAt: at, source: "test" } });
    trackThresholds(h, cpu(0.9, now), defaultEngineOptions);
    trackThresholds(h, cpu(0.9, now + 90_000), defaultEngineOptions);
    expect(h.overThresholdSince.cpu).toBe(now);
    // The cpu scaler's window is 2 minutes: look again when it ends (at most a minute away).
    expect(nextWindowEndMs(h, policy(), now + 90_000)).toBe(30_000);
    expect(nextWindowEndMs(h, policy(), now)).toBe(60_000);
    trackThresholds(h, cpu(0.1, now + 60_000), defaultEngineOptions);
    expect(h.overThresholdSince.cpu).toBeUndefined();
    expect(nextWindowEndMs(h, policy(), now + 60_000)).toBe(60_000);
  });

  it("looks again when a scale-down may first be made: after a full window of observation, and after a change", () => {
    const sd = { enabled: true, stabilizationWindowMs: 5 * min, maxStepPercent: 20, cooldownMs: 0 };
    const p = policy({ scaleDown: sd });
    const h = emptyHistory(now);
    expect(nextWindowEndMs(h, p, now + 4.5 * min)).toBe(30_000);
    h.lastChangeAt = now + 5 * min;
    expect(nextWindowEndMs(h, p, now + 9.75 * min)).toBe(15_000);
    // Past both moments, nothing to wait for but the next minute.
    expect(nextWindowEndMs(h, p, now + 11 * min)).toBe(60_000);
    // A cooldown longer than the window is waited out too; a disabled scale-down is not waited for.
    expect(nextWindowEndMs(h, policy({ scaleDown: { ...sd, cooldownMs: 8 * min } }), now + 12.5 * min)).toBe(30_000);
    expect(nextWindowEndMs(h, policy({ scaleDown: { ...sd, enabled: false } }), now + 9.75 * min)).toBe(60_000);
  });

  it("keeps recommendations for the stabilization window only", () => {
    const h = emptyHistory(now);
    for (const at of [now - 20 * min, now - 5 * min, now]) rememberRecommendation(h, { at, cpu: 1 }, 10 * min, now);
    expect(h.recommendations.map((r) => r.at)).toEqual([now - 5 * min, now]);
  });

  it("learns of a decision by its phase", () => {
    const plan = {
      action: "change",
      direction: "Down",
      oomIds: ["k"],
    } as unknown as Exclude<Plan, { action: "none" }>;
    const size: Size = { replicas: 1 };
    const blocked = { ...emptyHistory(now), recommendations: [{ at: now }] };
    afterDecision(blocked, plan, "Blocked", size, size, now);
    expect([blocked.lastChangeAt, blocked.recommendations.length, [...blocked.handled]]).toEqual([undefined, 1, ["k"]]);
    const dry = { ...emptyHistory(now), recommendations: [{ at: now }] };
    afterDecision(dry, plan, "DryRun", size, { replicas: 2 }, now);
    expect(dry).toMatchObject({
      lastChangeAt: now,
      recommendations: [],
      shadow: { after: { replicas: 2 }, direction: "Down" },
    });
    expect(dry.lastScaleUpAt).toBeUndefined();
  });
});

describe("HistoryModel", () => {
  it("builds a workload's history once, until it is forgotten", () => {
    const model = new HistoryModel();
    let built = 0;
    const rebuild = () => (built++, emptyHistory(now));
    const first = model.get("ns/w", rebuild);
    expect(model.get("ns/w", rebuild)).toBe(first);
    model.forget("ns/w");
    expect(model.get("ns/w", rebuild)).not.toBe(first);
    expect(built).toBe(2);
  });
});
