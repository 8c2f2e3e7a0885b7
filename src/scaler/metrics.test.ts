import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { WorkloadReasons } from "./held.js";
import { ScalerMetrics } from "./metrics.js";

describe("ScalerMetrics", () => {
  it("counts a decision by outcome and times it from its oldest evidence", async () => {
    const registry = new Registry();
    const metrics = new ScalerMetrics(registry);
    const decidedAt = Date.parse("2026-11-23T12:00:00Z");
    metrics.decided(
      {
        direction: "Up",
        category: "OOMKilled",
        evidence: [
          { signal: "a", value: "", observedAt: new Date(decidedAt - 2_000).toISOString() },
          { signal: "b", value: "" },
        ],
      } as never,
      "Applied",
      decidedAt + 1_000,
      decidedAt,
    );
    const text = await registry.metrics();
    expect(text).toContain('metapilot_scaling_decisions_total{direction="Up",category="OOMKilled",phase="Applied"} 1');
    expect(text).toContain('metapilot_scaling_decision_latency_seconds_sum{trigger="OOMKilled"} 3');
  });
});

describe("metapilot_scaler_blocked_workloads", () => {
  it("counts the blocked workloads of each ClusterScaler by reason at each scrape", async () => {
    const registry = new Registry();
    const blocked = new WorkloadReasons();
    new ScalerMetrics(registry, blocked);
    blocked.hold("cs", "tcp-a/kube-apiserver", "MaxAllowed: already at maxAllowed");
    blocked.hold("cs", "tcp-b/kube-apiserver", "MaxAllowed: already at maxAllowed");
    blocked.hold("cs", "tcp-c/etcd", "ExceedsNodeCapacity: the requests exceed every node");
    let text = await registry.metrics();
    expect(text).toContain('metapilot_scaler_blocked_workloads{cluster_scaler="cs",reason="MaxAllowed"} 2');
    expect(text).toContain('metapilot_scaler_blocked_workloads{cluster_scaler="cs",reason="ExceedsNodeCapacity"} 1');
    blocked.release("tcp-a/kube-apiserver");
    blocked.release("tcp-c/etcd");
    text = await registry.metrics();
    expect(text).toContain('metapilot_scaler_blocked_workloads{cluster_scaler="cs",reason="MaxAllowed"} 1');
    expect(text).not.toContain('reason="ExceedsNodeCapacity"');
  });
});
