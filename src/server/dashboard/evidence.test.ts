// Which metric and threshold tell each root cause's story.
import { describe, expect, it } from "vitest";
import type { Evidence, RootCauseCategory } from "../../api/index.js";
import { chartPlan } from "./evidence.js";
import { decisionFixture } from "./api/testing.js";

describe("evidence chart plan", () => {
  it("picks the metric and threshold per root cause", () => {
    const base = decisionFixture("x", { tenant: "alpha", category: "CPUSaturation", ago: 0 });
    const cpu = chartPlan(base, "kube-apiserver", "1m");
    expect(cpu.query).toBe(
      'max by (pod) (rate(container_cpu_usage_seconds_total{namespace="tcp-alpha",container="kube-apiserver"}[1m]))',
    );
    expect(cpu.threshold?.value).toBeCloseTo(0.4); // 0.8 x 500m
    const planFor = (category: RootCauseCategory, evidence: Evidence[]) => {
      const decision = structuredClone(base);
      decision.spec = { ...decision.spec, rootCause: { category, summary: "s", evidence } };
      return chartPlan(decision, "kube-apiserver", "1m");
    };
    expect(
      planFor("MemoryPressure", [{ signal: "memory_working_set_ratio", value: "0.95", threshold: "0.9" }]),
    ).toMatchObject({ unit: "bytes", threshold: { value: 0.9 * 2 ** 30 } });
    expect(planFor("Throttling", [{ signal: "apiserver_429_rate", value: "3.00", threshold: "1" }])).toMatchObject({
      unit: "per-second",
      query: 'sum(rate(apiserver_request_total{namespace="tcp-alpha",code="429"}[1m]))',
      threshold: { value: 1 },
    });
    expect(planFor("ClusterGrowth", []).query).toContain('resource="nodes"');
    expect(
      planFor("ClusterGrowth", [{ signal: "apiserver_storage_objects", value: "20012", threshold: "10000" }]),
    ).toMatchObject({
      metric: "stored objects",
      query: 'sum(max by (resource) (apiserver_storage_objects{namespace="tcp-alpha"}))',
      threshold: { value: 10000 },
    });
    expect(
      planFor("ClusterGrowth", [
        { signal: 'apiserver_longrunning_requests{verb="WATCH"}', value: "400", threshold: "300" },
      ]).query,
    ).toBe('max(sum by (pod) (apiserver_longrunning_requests{namespace="tcp-alpha",verb="WATCH"}))');
    expect(planFor("Underutilized", [{ signal: "memory_recommendation_max_in_window", value: "300Mi" }])).toMatchObject(
      {
        unit: "bytes",
        threshold: { value: 512 * 2 ** 20 },
      },
    );
    expect(planFor("ProbeFailure", []).query).toBeUndefined();
  });
});
