// Policies replayed over a rebuilt history (built here directly, as fetchHistory leaves it): the engine's
// decisions, the figures of the summary, coverage, and that a step without data never gives a scale-down.
import type { DisruptionReason } from "../api/index.js";
import { describe, expect, it } from "vitest";
import { MiB } from "../scaler/quantity.js";
import { input } from "../scaler/testing.js";
import type { BacktestWorkload } from "./inventory.js";
import { budgetHitsOf, changeMethod, parsePolicies, runBacktest, type Policy } from "./run.js";
import { renderBacktestTable } from "./format.js";
import { historyMetrics, stepsOf, type HistoryMetric, type SignalHistory } from "./signals.js";

const t0 = Date.parse("2026-12-01T00:00:00Z");
const stepMs = 30_000;
const steps = stepsOf(t0, t0 + 2 * 3_600_000 - stepMs, stepMs); // 2 hours, 240 steps
const podKey = "tcp-a/kube-apiserver-5d9f-abcde/kube-apiserver";

function history(
  series: Partial<Record<HistoryMetric, Record<string, (i: number) => number | undefined>>>,
): SignalHistory {
  const h: SignalHistory = {
    steps,
    stepMs,
    series: Object.fromEntries(historyMetrics.map((m) => [m, new Map()])) as SignalHistory["series"],
    failedAt: Object.fromEntries(historyMetrics.map((m) => [m, new Array(steps.length)])) as SignalHistory["failedAt"],
    failures: [],
    queries: 11,
    rejectedSteps: 0,
  };
  for (const [metric, byKey] of Object.entries(series)) {
    for (const [key, f] of Object.entries(byKey)) {
      h.series[metric as HistoryMetric].set(
        key,
        Float64Array.from(steps, (_, i) => f(i) ?? Number.NaN),
      );
    }
  }
  return h;
}

const policy = (name: string, spec: Record<string, unknown>): Policy => ({
  source: `${name}.yaml`,
  raw: {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      components: [{ name: "kube-apiserver", replicas: { min: 1, max: 1 } }],
      scaleUp: { cooldown: "1m" },
      ...spec,
    },
  },
});
const downFast = policy("down-5m", { scaleDown: { enabled: true, stabilizationWindow: "5m", maxStepPercent: 20 } });
const downSlow = policy("down-30m", { scaleDown: { enabled: true, stabilizationWindow: "30m", maxStepPercent: 20 } });
const noDown = policy("no-down", { scaleDown: { enabled: false } });

const workload: BacktestWorkload = {
  ref: input().workload, // the engine tests' kube-apiserver Deployment in tcp-a
  tenantLabels: { "metapilot.io/tenant": "a" },
  start: { replicas: 1, cpuRequest: 1, memoryRequest: 1024 * MiB, memoryLimit: 2048 * MiB },
  inPlaceResize: false,
};

const idle = { cpu: { [podKey]: () => 0.1 }, memory: { [podKey]: () => 300 * MiB } };
const run = (h: SignalHistory, policies: Policy[]) =>
  runBacktest({ policies, workloads: [workload], history: h, from: t0, to: t0 + 2 * 3_600_000 });

describe("runBacktest", () => {
  it("replays an idle tenant: scale-downs, less slack after than before, a restart per change", () => {
    const r = run(history(idle), [downFast]);
    const s = r.policies[0]!.summary;
    expect(s.workloads).toBe(1);
    expect(s.scaleDowns).toBeGreaterThan(0);
    // Not the operator's: every resource change rolls the pods.
    expect(s.restarts).toBe(s.changes);
    expect(s.restartsRolling).toBe(s.changes);
    expect(s.restartsInPlace).toBe(0);
    // A TenantControlPlane's component with in-place resize: the same changes, none of them a restart.
    const owned = runBacktest({
      policies: [downFast],
      workloads: [{ ...workload, ref: { ...workload.ref, ownedByTenantControlPlane: true }, inPlaceResize: true }],
      history: history(idle),
      from: t0,
      to: t0 + 2 * 3_600_000,
    }).policies[0]!.summary;
    expect(owned).toMatchObject({ changes: s.changes, restarts: 0, restartsRolling: 0, restartsInPlace: s.changes });
    // 0.9 idle cores for 2 hours before.
    expect(s.slackCpuHoursBefore).toBeCloseTo(1.8, 1);
    expect(s.slackCpuHoursAfter).toBeLessThan(s.slackCpuHoursBefore);
    expect(s.slackGiBHoursAfter).toBeLessThan(s.slackGiBHoursBefore);
    expect(s.underProvisionedHours).toBe(0);
    expect(s.coverage).toBe(100);
    expect(r.coverage.cpuUsage).toEqual({ percent: 100, gaps: 0 });
    const timeline = r.policies[0]!.timeline.a!;
    expect(timeline.every((e) => e.direction === "Down" && e.workload === "Deployment/kube-apiserver")).toBe(true);
  });

  it("never scales down at a step without data: none when memory is never there, none at a missing step", () => {
    const never = run(history({ cpu: idle.cpu }), [downFast]).policies[0]!;
    expect(never.summary.scaleDowns).toBe(0);
    expect(never.summary.heldForData).toBeGreaterThan(0);
    expect(never.summary.coverage).toBe(50);
    // Memory missing at every third step, and for ten minutes in the middle.
    const holey = (i: number) => (i % 3 === 0 || (i >= 100 && i < 120) ? undefined : 300 * MiB);
    const r = run(history({ cpu: idle.cpu, memory: { [podKey]: holey } }), [downFast]);
    const downs = Object.values(r.policies[0]!.timeline)
      .flat()
      .filter((e) => e.direction === "Down");
    expect(downs.length).toBeGreaterThan(0);
    for (const d of downs) expect(holey(steps.indexOf(Date.parse(d.at)))).toBeDefined();
    expect(r.coverage.memoryWorkingSet.percent).toBeLessThan(70);
    expect(r.coverage.memoryWorkingSet.gaps).toBeGreaterThan(70);
  });

  it("answers the first OOM kill at once and counts the second, at the old limit, as prevented", () => {
    const r = run(
      history({
        ...idle,
        // Restart count while the last termination was an OOM kill: kill 1 seen from step 20, kill 2 from step 100.
        oomKills: { [podKey]: (i) => (i >= 100 ? 2 : i >= 20 && i < 60 ? 1 : undefined) },
        memoryLimit: { [podKey]: () => 2048 * MiB },
        kubeStateMetrics: { "tcp-a": () => 1 },
      }),
      [noDown],
    );
    const p = r.policies[0]!;
    expect(p.oomKills.map((k) => [k.outcome, k.delayMinutes, k.leadMinutes])).toEqual([
      ["answered", 0, undefined],
      ["prevented", undefined, 40],
    ]);
    expect(p.summary).toMatchObject({ oomKills: 2, oomAnswered: 1, oomPrevented: 1, oomLost: 0, oomLeadMinutes: 40 });
    expect(p.timeline.a!.map((e) => [e.category, e.direction])).toEqual([["OOMKilled", "Up"]]);
    expect(r.coverage.oomKills.percent).toBe(100);
  });

  it("puts two policies on one history side by side, with different figures", () => {
    const r = run(history(idle), [downFast, downSlow]);
    const [fast, slow] = r.policies.map((p) => p.summary);
    expect(fast!.scaleDowns).toBeGreaterThan(slow!.scaleDowns);
    expect(fast!.slackCpuHoursAfter).toBeLessThan(slow!.slackCpuHoursAfter);
    const table = renderBacktestTable(r);
    const header = table.split("\n").find((l) => l.includes("down-5m"));
    expect(header).toMatch(/down-5m\s+down-30m/);
    expect(table).toMatch(
      new RegExp(`changes \\(up / down\\)\\s+${fast!.changes} \\(0 / ${fast!.scaleDowns}\\)\\s+${slow!.changes}`),
    );
    expect(table).toContain("11 Prometheus queries");
  });

  it("leaves out tenants the policy does not select", () => {
    const other = policy("others", { tenantSelector: { matchLabels: { tier: "gold" } } });
    const r = run(history(idle), [other]);
    expect(r.policies[0]).toMatchObject({ notGoverned: 1, summary: { workloads: 0, changes: 0 } });
  });

  it("names the field of a ClusterScaler that does not parse", () => {
    expect(() => parsePolicies([{ source: "bad.yaml", raw: { spec: { components: "all" } } }])).toThrow(
      /^bad\.yaml: invalid ClusterScaler: .*spec\.components/,
    );
  });
});

describe("changeMethod", () => {
  const base = { replicas: 1, cpuRequest: 1, memoryRequest: 1024 * MiB, memoryLimit: 2048 * MiB };
  const inPlace = { ...workload, inPlaceResize: true };
  it.each([
    ["CPU only, in-place resize", inPlace, { ...base, cpuRequest: 1.2 }, "InPlace"],
    ["CPU only, no in-place resize", workload, { ...base, cpuRequest: 1.2 }, "Rolling"],
    ["replicas and CPU", inPlace, { ...base, replicas: 2, cpuRequest: 1.2 }, "Rolling"],
    ["replicas only", inPlace, { ...base, replicas: 2 }, "None"],
    ["to Guaranteed (QoS class change)", inPlace, { ...base, cpuLimit: 1, memoryRequest: 2048 * MiB }, "Rolling"],
  ] as const)("%s: %s", (_what, w, after, want) => {
    expect(changeMethod(w, base, after)).toBe(want);
  });
});

describe("budgetHitsOf", () => {
  const at = (min: number, o: { oom?: boolean; tenant?: string; reasons?: DisruptionReason[] } = {}) => ({
    at: t0 + min * 60_000,
    tenant: o.tenant ?? "a",
    oom: o.oom ?? false,
    reasons: o.reasons ?? (o.oom ? ["ScaleUp" as const] : ["ScaleDown" as const]),
  });

  it("counts the changes over the budget in a sliding interval; an OOM scale-up within the floor is never held", () => {
    const [cs] = parsePolicies([policy("b", { fleetBudget: { maxChangesPerInterval: 2, interval: "5m" } })]);
    // Three in the first minute (one held), an OOM scale-up (the floor), then room again after 5 minutes.
    expect(budgetHitsOf(cs!.value, [at(0), at(0.5), at(1), at(1.5, { oom: true }), at(6), at(6.5)], 1)).toBe(1);
  });

  it("holds an OOM scale-up once its tenant's floor is spent", () => {
    const [cs] = parsePolicies([
      policy("b", { disruption: { budgets: [{ limit: "0", interval: "10m" }], oomFloorPerTenant: 1 } }),
    ]);
    const ooms = [at(0, { oom: true }), at(1, { oom: true }), at(2, { oom: true, tenant: "b" })];
    expect(budgetHitsOf(cs!.value, ooms, 2)).toBe(1);
  });

  it("counts only the reasons a budget covers, a percentage of the tenants, and only inside its cron window", () => {
    const [cs] = parsePolicies([
      policy("b", {
        disruption: {
          budgets: [
            { limit: "10%", interval: "1h", reasons: ["ScaleDown"] },
            // 00:00-01:00 UTC every day: no restart at all.
            { limit: "0", interval: "1h", reasons: ["RestartRequiring"], schedule: "0 0 * * *", duration: "1h" },
          ],
        },
      }),
    ]);
    const restart = (min: number) => at(min, { reasons: ["ScaleUp", "RestartRequiring"] });
    // 20 tenants: 10% is 2 scale-downs an hour; scale-ups are not covered by it.
    const downs = [at(0), at(1), at(2), at(3)];
    expect(budgetHitsOf(cs!.value, downs, 20)).toBe(2);
    expect(budgetHitsOf(cs!.value, [at(0, { reasons: ["ScaleUp"] }), at(1, { reasons: ["ScaleUp"] })], 20)).toBe(0);
    // Restarts inside the window (t0 is midnight UTC) are held, after it not.
    expect(budgetHitsOf(cs!.value, [restart(10), restart(50), restart(70)], 20)).toBe(2);
    // 10% of 5 tenants rounds up to 1.
    expect(budgetHitsOf(cs!.value, downs, 5)).toBe(3);
  });
});
