import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import { checkRateWindow, recommenderConfigFromEnv, workloadChanged } from "./controller.js";
import { defaultMetricNames, usageQueries } from "./input/usage.js";
import { recommenderAnnotation } from "../api/labels.js";

const deployment = (generation: number, extra: Partial<NonNullable<KubeObject["metadata"]>> = {}): KubeObject => ({
  metadata: { name: "kube-apiserver", namespace: "tcp-a", uid: "u1", generation, resourceVersion: "1", ...extra },
});

describe("workloadChanged (which workload updates re-profile at once)", () => {
  it("ignores status churn: same generation, uid and annotation", () => {
    expect(workloadChanged(deployment(3, { resourceVersion: "9" }), deployment(3))).toBe(false);
  });

  it.each([
    ["a spec change (generation)", deployment(4)],
    ["a re-created workload (uid)", deployment(3, { uid: "u2" })],
    ["another algorithm (annotation)", deployment(3, { annotations: { [recommenderAnnotation]: "p98" } })],
    ["a deletion", deployment(3, { deletionTimestamp: new Date(0) })],
  ])("reacts to %s", (_what, next) => {
    expect(workloadChanged(next, deployment(3))).toBe(true);
  });
});

describe("METAPILOT_RECOMMENDER_RATE_WINDOW (the CPU rate window)", () => {
  const cpuAt = (step: number, env: NodeJS.ProcessEnv) =>
    usageQueries("x", step, { ...defaultMetricNames, ...recommenderConfigFromEnv(env).metricNames }).cpu;

  it("is 5m by default: live reads at the 60 s step average 5 minutes, history reads at 300 s one step", () => {
    expect(recommenderConfigFromEnv({}).metricNames?.rateWindow).toBeUndefined();
    expect(cpuAt(60, {})).toContain("}[5m]))");
    expect(cpuAt(300, {})).toContain("}[5m]))");
  });

  it("sets the window of live reads; a coarser step still reads over the step", () => {
    const env = { METAPILOT_RECOMMENDER_RATE_WINDOW: "1m" };
    expect(cpuAt(60, env)).toContain("}[1m]))");
    expect(cpuAt(300, env)).toContain("}[300s]))");
  });

  it.each(["1m", "90s", "1m30s", "2h"])("accepts %s", (w) => {
    expect(() => checkRateWindow(w)).not.toThrow();
  });

  it.each(["1.5m", "1d", "0s", "500ms", "", "5", "5 m"])("refuses %j at start-up", (w) => {
    expect(() => checkRateWindow(w)).toThrow(/METAPILOT_RECOMMENDER_RATE_WINDOW/);
  });
});
