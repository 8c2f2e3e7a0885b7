import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseScalingDecision } from "../api/index.js";
import { decisionName, decisionObject, recordedBlock, sizeBlock, sizeOf, type ActionPlan } from "./decisions.js";
import { MiB } from "./quantity.js";
import { verifyDecision } from "./signature.js";
import { input } from "./testing.js";
import { blockedByAnnotation, observedSizeAnnotation, oomIdsAnnotation } from "../api/labels.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const ref = input().workload;
const plan = (over: Partial<ActionPlan> = {}): ActionPlan => ({
  action: "change",
  direction: "Up",
  scaler: "cpu",
  category: "CPUSaturation",
  summary: "more CPU",
  evidence: [{ signal: "cpu_usage_ratio", value: "0.90", source: "prometheus" }],
  before: { replicas: 2, cpuRequest: 1, memoryRequest: 1024 * MiB },
  after: { replicas: 2, cpuRequest: 1.5, memoryRequest: 1024 * MiB },
  oomIds: [],
  notes: [],
  ...over,
});

describe("decisionName", () => {
  it("is the same for the same plan within a minute, and differs across minutes, sizes and a budget hold", () => {
    const name = decisionName(plan(), ref, now);
    expect(name).toMatch(/^kube-apiserver-up-[0-9a-f]{10}$/);
    expect(decisionName(plan(), ref, now + 59_000)).toBe(name);
    expect(decisionName(plan(), ref, now + 60_000)).not.toBe(name);
    expect(decisionName(plan({ after: { replicas: 3 } }), ref, now)).not.toBe(name);
    expect(decisionName(plan({ action: "blocked" }), ref, now)).not.toBe(name);
  });

  it("is one per set of OOM kills, whatever the minute", () => {
    const oom = plan({ oomIds: ["p/c/1"] });
    expect(decisionName(oom, ref, now)).toBe(decisionName(oom, ref, now + 3_600_000));
  });
});

describe("sizeBlock and sizeOf", () => {
  it("round-trip a size as the workload reads it back (whole millicores and MiB)", () => {
    const size = { replicas: 3, cpuRequest: 0.3333, cpuLimit: 1, memoryRequest: 1000.4 * MiB, memoryLimit: 2048 * MiB };
    expect(sizeBlock(size)).toEqual({
      replicas: 3,
      resources: { requests: { cpu: "334m", memory: "1001Mi" }, limits: { cpu: "1000m", memory: "2048Mi" } },
    });
    expect(sizeOf(sizeBlock(size))).toEqual({
      replicas: 3,
      cpuRequest: 0.334,
      cpuLimit: 1,
      memoryRequest: 1001 * MiB,
      memoryLimit: 2048 * MiB,
    });
  });
});

describe("decisionObject", () => {
  it("is a valid, signed ScalingDecision that carries the kills, the observed size in dry-run and a budget hold", () => {
    const key = randomBytes(32);
    const observed = { replicas: 2, cpuRequest: 1 };
    const d = decisionObject(
      plan({ action: "blocked", heldByFleetBudget: true, oomIds: ["a", "b"], estimator: "oom-memory" }),
      ref,
      { name: "n", now },
      { clusterScaler: "cs", dryRun: true, observed },
      key,
    );
    expect(parseScalingDecision(d).ok).toBe(true);
    expect(verifyDecision(key, d)).toBe(true);
    expect(verifyDecision(randomBytes(32), d)).toBe(false);
    expect(d.metadata?.annotations).toMatchObject({
      [oomIdsAnnotation]: "a,b",
      [observedSizeAnnotation]: JSON.stringify(observed),
      [blockedByAnnotation]: "fleet-budget",
    });
    expect(d).toMatchObject({
      spec: { estimator: "oom-memory", clusterScaler: "cs", decidedAt: new Date(now).toISOString() },
    });
  });
});

describe("recordedBlock", () => {
  // What the next leader reads from a decision a stopped or killed leader created but left without a phase.
  const recorded = (over: Partial<ActionPlan>) =>
    decisionObject(
      plan(over),
      ref,
      { name: "n", now },
      { clusterScaler: "cs", dryRun: false, observed: { replicas: 2 } },
      key,
    );
  const key = randomBytes(32);

  it("tells a change a disruption budget held back, naming the budget", () => {
    expect(recordedBlock(recorded({ action: "blocked", heldByFleetBudget: true, heldByBudget: "default[1]" }))).toEqual(
      {
        reason: "FleetBudget",
        message: "held back by disruption budget default[1]",
      },
    );
    expect(recordedBlock(recorded({ action: "blocked", heldByFleetBudget: true }))?.reason).toBe("FleetBudget");
  });

  it("tells the lasting conditions by their blocked-key", () => {
    expect(recordedBlock(recorded({ action: "blocked", blockedKey: "max-allowed/1/2/3" }))?.reason).toBe("MaxAllowed");
    expect(recordedBlock(recorded({ action: "blocked", blockedKey: "capacity/1/2/n:4:8" }))?.reason).toBe(
      "ExceedsNodeCapacity",
    );
  });

  it("is undefined for a change that was to be made", () => {
    expect(recordedBlock(recorded({}))).toBeUndefined();
  });
});
