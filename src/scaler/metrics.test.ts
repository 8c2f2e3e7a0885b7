import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
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
