// The ClusterScaler's isolation checks: which workloads belong to a tenant, and which interrupted decisions may
// still be applied (signed by metapilot, fresh, within the current policy, target not paused).
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signDecision, verifyDecision, type SignedDecision } from "./signature.js";
import {
  interruptedVerdict,
  outsidePolicy,
  tenantSelectionLabels,
  workloadTenancy,
  type InterruptedInput,
} from "./tenancy.js";
import type { ResolvedPolicy, Size } from "./types.js";
import { scalerDefaults } from "./policy.js";
import { signatureAnnotation } from "../api/labels.js";

const Gi = 2 ** 30;

const workload = (namespace: string, managed = true) => ({
  metadata: {
    namespace,
    labels: {
      "metapilot.io/tenant": "victim",
      "metapilot.io/component": "kube-apiserver",
      ...(managed ? { "app.kubernetes.io/managed-by": "metapilot" } : {}),
    },
  },
});

describe("workloadTenancy", () => {
  const victim = { metadata: { name: "victim" }, status: { namespace: "tcp-victim" } };

  it("governs a TenantControlPlane's workload only in its namespace", () => {
    expect(workloadTenancy(workload("tcp-victim"), "victim", victim)).toEqual({
      governed: true,
      ownedByTenantControlPlane: true,
    });
    const forged = workloadTenancy(workload("attacker"), "victim", victim);
    expect(forged.governed).toBe(false);
    expect(!forged.governed && forged.reason).toMatch(
      /TenantControlPlane victim runs in namespace tcp-victim, not attacker: not governed/,
    );
  });

  it("writes to the TenantControlPlane only for a workload metapilot manages there", () => {
    expect(workloadTenancy(workload("tcp-victim", false), "victim", victim)).toEqual({
      governed: true,
      ownedByTenantControlPlane: false,
    });
  });

  it("governs a control plane no TenantControlPlane names where it runs, changing only the workload", () => {
    expect(workloadTenancy(workload("anywhere"), "victim", undefined)).toEqual({
      governed: true,
      ownedByTenantControlPlane: false,
    });
  });
});

describe("tenantSelectionLabels", () => {
  it("is a TenantControlPlane's labels plus its name, so a tenant is selected by name without a label", () => {
    expect(tenantSelectionLabels("acme", { metadata: {} })).toEqual({ "metapilot.io/tenant": "acme" });
    expect(tenantSelectionLabels("acme", { metadata: { labels: { tier: "prod" } } })).toEqual({
      tier: "prod",
      "metapilot.io/tenant": "acme",
    });
    // The name wins over a label that claims another tenant.
    expect(tenantSelectionLabels("acme", { metadata: { labels: { "metapilot.io/tenant": "other" } } })).toEqual({
      "metapilot.io/tenant": "acme",
    });
  });

  it("never takes the workload's labels for a TenantControlPlane's tenant: they are the operator's, not the user's", () => {
    const workload = { metadata: { labels: { "metapilot.io/tenant": "acme", "metapilot.io/component": "etcd" } } };
    expect(tenantSelectionLabels("acme", { metadata: {} }, workload)).not.toHaveProperty(["metapilot.io/component"]);
  });

  it("is the workload's labels for a control plane without a TenantControlPlane", () => {
    const workload = { metadata: { labels: { "metapilot.io/tenant": "acme", team: "a" } } };
    expect(tenantSelectionLabels("acme", undefined, workload)).toEqual(workload.metadata.labels);
    expect(tenantSelectionLabels("acme", undefined)).toEqual({});
  });
});

describe("decision signatures", () => {
  const key = randomBytes(32);
  const decision = (): SignedDecision => ({
    metadata: { name: "kube-apiserver-up-1", namespace: "tcp-a", annotations: {} },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-a", tenant: "a" },
      component: "kube-apiserver",
      direction: "Up",
      dryRun: false,
      after: { replicas: 2, resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } } },
      decidedAt: "2026-12-05T10:00:00.000Z",
      clusterScaler: "gold",
    },
  });
  const signed = () => {
    const d = decision();
    d.metadata!.annotations![signatureAnnotation] = signDecision(key, d);
    return d;
  };

  it("verifies metapilot's own signature, whatever the key order", () => {
    const d = signed();
    expect(verifyDecision(key, d)).toBe(true);
    const reordered = {
      ...d,
      spec: { ...d.spec, after: { resources: (d.spec?.after as { resources: unknown }).resources, replicas: 2 } },
    };
    expect(verifyDecision(key, reordered)).toBe(true);
  });

  it.each([
    ["no signature", (d: SignedDecision) => delete d.metadata!.annotations![signatureAnnotation]],
    ["a bigger size", (d: SignedDecision) => ((d.spec!.after as { replicas: number }).replicas = 50)],
    ["another target", (d: SignedDecision) => ((d.spec!.target as { name: string }).name = "other")],
    ["another namespace", (d: SignedDecision) => (d.metadata!.namespace = "tcp-b")],
    ["a later decidedAt", (d: SignedDecision) => (d.spec!.decidedAt = "2026-12-05T11:00:00.000Z")],
    ["live instead of dry-run", (d: SignedDecision) => (d.spec!.dryRun = true)],
    ["a garbage signature", (d: SignedDecision) => (d.metadata!.annotations![signatureAnnotation] = "v1:00")],
  ])("refuses %s", (_, change) => {
    const d = signed();
    change(d);
    expect(verifyDecision(key, d)).toBe(false);
  });

  it("refuses a signature made with another key", () => {
    const d = decision();
    d.metadata!.annotations![signatureAnnotation] = signDecision(randomBytes(32), d);
    expect(verifyDecision(key, d)).toBe(false);
  });
});

describe("interruptedVerdict", () => {
  const policy: ResolvedPolicy = {
    clusterScaler: "gold",
    scalers: scalerDefaults,
    estimators: [],
    minAllowed: { memory: 0.25 * Gi },
    maxAllowed: { memory: 4 * Gi },
    replicas: { min: 1, max: 5 },
    ladder: [],
    scaleUpCooldownMs: 60_000,
    scaleDown: { enabled: true, stabilizationWindowMs: 0, maxStepPercent: 20, cooldownMs: 0 },
    dryRun: false,
  };
  const observed: Size = { replicas: 2, memoryRequest: 1 * Gi, memoryLimit: 2 * Gi };
  const now = Date.parse("2026-12-05T10:05:00Z");
  const base: InterruptedInput = {
    signed: true,
    dryRun: false,
    decidedAt: now - 60_000,
    after: { replicas: 2, memoryRequest: 2 * Gi, memoryLimit: 3 * Gi },
    observed,
    latest: true,
    paused: false,
    policy,
    now,
    maxAgeMs: 10 * 60_000,
  };

  it("applies a signed, fresh, latest decision within the policy of an unpaused target", () => {
    expect(interruptedVerdict(base)).toEqual({ action: "apply" });
  });

  it.each<[string, Partial<InterruptedInput>, RegExp]>([
    ["unsigned", { signed: false }, /not recorded by metapilot/],
    ["stale", { decidedAt: now - 11 * 60_000 }, /too old to apply/],
    ["without a decision time", { decidedAt: NaN }, /too old to apply/],
    ["paused", { paused: true }, /paused/],
    [
      "above maxAllowed",
      { after: { replicas: 2, memoryRequest: 2 * Gi, memoryLimit: 40 * Gi } },
      /memoryLimit outside/,
    ],
    ["above replicas.max", { after: { ...observed, replicas: 9 } }, /replicas outside/],
    ["superseded", { latest: false }, /superseded/],
  ])("does not apply one that is %s", (_, change, message) => {
    const v = interruptedVerdict({ ...base, ...change });
    expect(v.action).not.toBe("apply");
    expect(v.action === "ignore" ? v.reason : v.action === "finish" ? v.message : "").toMatch(message);
    if (v.action === "finish") expect(v.phase).toBe("Failed");
  });

  it("finishes one recorded as held back as Blocked, never applying what it wanted", () => {
    // The budgets test's failover: a leader stopped between creating a held-back decision and writing its phase;
    // the next leader applied it, one change over the budget.
    const held = { ...base, blocked: { reason: "held back by disruption budget default[1]" } };
    expect(interruptedVerdict(held)).toEqual({
      action: "finish",
      phase: "Blocked",
      message: "held back by disruption budget default[1] (finished after a controller restart): not applied",
    });
    // Whatever else holds: dry-run, or already at the size (another change made it meanwhile).
    expect(interruptedVerdict({ ...held, dryRun: true })).toMatchObject({ phase: "Blocked" });
    expect(interruptedVerdict({ ...held, after: observed })).toMatchObject({ phase: "Blocked" });
    // An unsigned one is still ignored: its annotations prove nothing.
    expect(interruptedVerdict({ ...held, signed: false }).action).toBe("ignore");
  });

  it("finishes dry-run and already-applied ones without actuating", () => {
    expect(interruptedVerdict({ ...base, dryRun: true })).toMatchObject({ action: "finish", phase: "DryRun" });
    expect(interruptedVerdict({ ...base, after: observed })).toMatchObject({ action: "finish", phase: "Applied" });
    // But an unsigned one gets no phase at all, not even DryRun.
    expect(interruptedVerdict({ ...base, signed: false, dryRun: true }).action).toBe("ignore");
  });

  it("does not blame a decision for a value it left as someone else set it", () => {
    const big: Size = { replicas: 2, memoryRequest: 5 * Gi, memoryLimit: 6 * Gi };
    expect(outsidePolicy({ ...big, replicas: 3 }, big, policy)).toBeUndefined();
    expect(outsidePolicy({ ...big, memoryLimit: 7 * Gi }, big, policy)).toMatch(/memoryLimit/);
  });
});
