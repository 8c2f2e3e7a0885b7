// The dry-run chain on a signal that a simulated change cannot affect: a constant 429 rate. The signal comes from the
// real, unchanged workload, so after the scale-up cooldown the next decision starts from the real size again and
// never compounds the simulated one (before this, 2 replicas became 6 in a few cooldowns on demo windows).
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { emptyUsageSnapshot, type PrometheusSignals } from "./signals/prometheus.js";
import { dryRunBaselineHoldMs, ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { decisionsClient, policy, storeCaches } from "./testing.js";
import { componentLabel, tenantLabel } from "../api/labels.js";

type Decision = KubeObject & {
  spec: { before: unknown; after: unknown; decidedAt: string; direction: string };
  status?: { phase?: string };
};

const ns = "chain";
const labels = { [tenantLabel]: "chain", [componentLabel]: "kube-apiserver" };

function setup(cooldown: string) {
  const deployment = {
    metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
    spec: {
      replicas: 2,
      template: {
        spec: { containers: [{ name: "kube-apiserver", resources: { requests: { cpu: "500m", memory: "1Gi" } } }] },
      },
    },
  } as KubeObject;
  let clock = Date.parse("2026-12-05T12:00:00Z");
  const snapshot = emptyUsageSnapshot();
  const prometheus = { snapshot, lastError: undefined } as unknown as PrometheusSignals;
  const caches = storeCaches({
    clusterScalers: [
      {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: "all", uid: "cs", resourceVersion: "1" },
        spec: {
          dryRun: true,
          components: [{ name: "kube-apiserver", scalers: [{ name: "throttling", window: "10s" }] }],
          scaleUp: { cooldown },
          scaleDown: { enabled: false },
        },
      } as KubeObject,
    ],
    deployments: [deployment],
  });
  const decisions = caches.decisions;
  const reconciler = new ScalerReconciler({
    caches: caches as unknown as ScalerCaches,
    client: decisionsClient(decisions) as never,
    actuator: { dryRun: true, apply: async () => undefined },
    recorder: { record: () => undefined } as never,
    prometheus,
    dryRun: false,
    now: () => clock,
  });
  const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
  return {
    decisions: () => decisions.items as Decision[],
    async runFor(ms: number, stepMs = 5_000) {
      for (const end = clock + ms; clock < end; clock += stepMs) {
        snapshot.apiserver429.set(ns, { value: 20, observedAt: clock, source: "test" });
        await reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
      }
    },
  };
}

describe("dry-run chain", () => {
  it("starts again from the real workload after each simulated change's cooldown on a constant 429 rate", async () => {
    const t = setup("1m");
    await t.runFor(10 * 60_000);
    const made = t.decisions().filter((d) => d.status?.phase === "DryRun");
    // One decision per cooldown (the first after the 10 s window), each from the real 500m to 750m, never
    // 500m → 750m → 1125m → ….
    expect(made.length).toBeGreaterThanOrEqual(8);
    expect(made.length).toBeLessThanOrEqual(10);
    for (const d of made) {
      expect(d.spec.direction).toBe("Up");
      expect(d.spec.before).toEqual({
        replicas: 2,
        resources: { requests: { cpu: "500m", memory: "1024Mi" }, limits: {} },
      });
      expect(d.spec.after).toEqual({
        replicas: 2,
        resources: { requests: { cpu: "750m", memory: "1024Mi" }, limits: {} },
      });
    }
    const gaps = made.slice(1).map((d, i) => Date.parse(d.spec.decidedAt) - Date.parse(made[i]!.spec.decidedAt));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(60_000);
  });

  it("holds a simulated change for the scale-up cooldown after an Up, and the longer scale-down wait after a Down", () => {
    const p = policy({
      scaleUpCooldownMs: 60_000,
      scaleDown: { enabled: true, stabilizationWindowMs: 600_000, maxStepPercent: 20, cooldownMs: 120_000 },
    });
    expect(dryRunBaselineHoldMs("Up", p)).toBe(60_000);
    expect(dryRunBaselineHoldMs("Down", p)).toBe(600_000);
  });
});
