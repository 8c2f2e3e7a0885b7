import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseClusterScaler, type ClusterScaler } from "../api/index.js";
import {
  blockedByFleetBudget,
  budgetsOf,
  builtInDefaultBudgets,
  FleetBudget,
  fleetBudgetCondition,
  limitOf,
  type BudgetDecision,
  type BudgetDrain,
} from "./fleet-budget.js";
import { signDecision } from "./signature.js";
import { blockedByAnnotation, heldByBudgetAnnotation, signatureAnnotation } from "../api/labels.js";

const key = randomBytes(32);
const t0 = Date.parse("2026-12-01T00:00:00Z");
const min = 60_000;

function clusterScaler(fleetBudget?: Record<string, unknown>, name = "fleet"): ClusterScaler {
  const r = parseClusterScaler({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }],
      ...(fleetBudget ? { fleetBudget } : {}),
    },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

let serial = 0;
/** A decision as metapilot records it: signed, with its phase. */
function decision(
  o: {
    at: number;
    tenant?: string;
    phase?: string;
    oom?: boolean;
    byBudget?: boolean;
    clusterScaler?: string;
    signWith?: Buffer | null;
    direction?: "Up" | "Down";
    reasons?: string[];
    heldBy?: string;
  } = { at: t0 },
): BudgetDecision {
  const tenant = o.tenant ?? "a";
  const d: BudgetDecision = {
    metadata: {
      name: `kube-apiserver-up-${serial++}`,
      namespace: `tcp-${tenant}`,
      annotations: {
        ...(o.byBudget ? { [blockedByAnnotation]: blockedByFleetBudget } : {}),
        ...(o.heldBy ? { [heldByBudgetAnnotation]: o.heldBy } : {}),
      },
    },
    spec: {
      target: { name: "kube-apiserver", namespace: `tcp-${tenant}`, tenant },
      component: "kube-apiserver",
      direction: o.direction ?? "Up",
      dryRun: false,
      after: { replicas: 2 },
      rootCause: { category: o.oom ? "OOMKilled" : "CPUSaturation" },
      clusterScaler: o.clusterScaler ?? "fleet",
      decidedAt: new Date(o.at).toISOString(),
      ...(o.reasons ? { disruptionReasons: o.reasons } : {}),
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  };
  if (o.signWith !== null) d.metadata!.annotations![signatureAnnotation] = signDecision(o.signWith ?? key, d);
  return d;
}

/** A budget fed by `recorded` as an informer replays a cache to a new handler: what a new leader starts from. */
function budgetOver(recorded: BudgetDecision[]): FleetBudget {
  const b = new FleetBudget(() => recorded);
  for (const d of recorded) b.observe(d);
  return b;
}

describe("the fleet budget's spec", () => {
  it("is 10 changes per 5 minutes with 2 OOM scale-ups per tenant when unset", () => {
    const first = (cs: ClusterScaler) => {
      const { budgets, oomFloor } = budgetsOf(cs);
      return { limit: budgets[0]?.limitSpec, intervalMs: budgets[0]?.intervalMs, oomFloor, count: budgets.length };
    };
    expect(first(clusterScaler())).toEqual({ limit: "10", intervalMs: 5 * min, oomFloor: 2, count: 1 });
    expect(first(clusterScaler({}))).toEqual({ limit: "10", intervalMs: 5 * min, oomFloor: 2, count: 1 });
    expect(first(clusterScaler({ maxChangesPerInterval: 3 }))).toEqual({
      limit: "3",
      intervalMs: 5 * min,
      oomFloor: 2,
      count: 1,
    });
  });
  it("refuses a floor of 0: the budget may never take every OOM scale-up away", () => {
    const r = parseClusterScaler({
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: "x" },
      spec: { components: [{ name: "etcd" }], fleetBudget: { oomFloorPerTenant: 0 } },
    });
    expect(r.ok).toBe(false);
  });
});

describe("FleetBudget", () => {
  // The scaler had its own parser that read anything but <integer><unit> as 60 s.
  it.each([
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["2h45m30s", 9_930_000],
    ["90s", 90_000],
    ["1m", 60_000],
  ])("holds a change for the whole interval %s (%d ms)", (interval, ms) => {
    const cs = clusterScaler({ maxChangesPerInterval: 1, interval });
    const budget = budgetOver([decision({ at: t0, phase: "Applied" })]);
    expect(budget.usage(cs, t0 - 1, key).remaining).toBe(1);
    expect(budget.usage(cs, t0, key).remaining).toBe(0);
    expect(budget.usage(cs, t0 + ms - 1, key).remaining).toBe(0);
    expect(budget.usage(cs, t0 + ms, key).remaining).toBe(1);
  });

  it("counts Applied, DryRun and unfinished decisions of its own ClusterScaler only", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 10, interval: "5m" });
    const budget = budgetOver([
      decision({ at: t0, phase: "Applied" }),
      decision({ at: t0, phase: "DryRun" }),
      decision({ at: t0 }), // a leader died before writing its phase: it may have applied it
      decision({ at: t0, phase: "Blocked" }),
      decision({ at: t0, phase: "Failed" }),
      decision({ at: t0, phase: "Applied", clusterScaler: "other" }),
      decision({ at: t0 - 5 * min, phase: "Applied" }), // just out of the interval
    ]);
    const u = budget.usage(cs, t0 + 1000, key);
    expect(u.changes).toBe(3);
    expect(u.remaining).toBe(7);
    expect(u.nextChangeAt).toBeUndefined();
  });

  it("does not count a decision metapilot did not sign: no one else can spend the fleet's budget", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 2, interval: "5m" });
    const budget = budgetOver([
      decision({ at: t0, phase: "Applied", signWith: null }),
      decision({ at: t0, phase: "Applied", signWith: randomBytes(32) }),
      decision({ at: t0, phase: "Applied" }),
    ]);
    expect(budget.usage(cs, t0, key).changes).toBe(1);
  });

  it("a new leader that reads the same decisions holds the same budget as the one that made them", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 4, interval: "10m" });
    const leader = new FleetBudget();
    const recorded: BudgetDecision[] = [];
    for (let i = 0; i < 4; i++) {
      const at = t0 + i * min;
      const d = decision({ at, tenant: `t${i}`, phase: "Applied" });
      const k = `${d.metadata?.namespace}/${d.metadata?.name}`;
      leader.reserve("fleet", k, { tenant: `t${i}`, workload: "x", at, oom: false, heldByBudget: false });
      leader.settle("fleet", k, "Applied");
      recorded.push(d);
    }
    const at = t0 + 5 * min;
    const before = leader.usage(cs, at, key);
    expect(before.remaining).toBe(0);
    // The leader dies; a fresh process (nothing in memory) is handed the decisions by its informer.
    const next = budgetOver(recorded);
    expect(next.usage(cs, at, key)).toEqual(before);
    expect(next.usage(cs, at, key).nextChangeAt).toBe(t0 + 10 * min);
  });

  it("counts its own change from the moment it is planned, once, whatever the cache shows of it", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 2, interval: "5m" });
    const budget = new FleetBudget();
    const d = decision({ at: t0 });
    const k = `${d.metadata?.namespace}/${d.metadata?.name}`;
    budget.reserve("fleet", k, {
      tenant: "a",
      workload: "tcp-a/kube-apiserver",
      at: t0,
      oom: false,
      heldByBudget: false,
    });
    expect(budget.usage(cs, t0, key).changes).toBe(1);
    budget.observe(d); // created, no phase yet
    expect(budget.usage(cs, t0, key).changes).toBe(1);
    budget.settle("fleet", k, "Applied");
    budget.observe({ ...d, status: { phase: "Applied" } });
    expect(budget.usage(cs, t0, key).changes).toBe(1);
  });

  it("a planned change that was held back or never recorded frees its place", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 2, interval: "5m" });
    const budget = new FleetBudget();
    budget.reserve("fleet", "tcp-a/x", {
      tenant: "a",
      workload: "tcp-a/kube-apiserver",
      at: t0,
      oom: false,
      heldByBudget: true,
    });
    budget.reserve("fleet", "tcp-b/y", {
      tenant: "b",
      workload: "tcp-b/kube-apiserver",
      at: t0,
      oom: false,
      heldByBudget: false,
    });
    budget.settle("fleet", "tcp-a/x", "Blocked");
    budget.settle("fleet", "tcp-b/y", "Failed");
    const u = budget.usage(cs, t0, key);
    expect(u.changes).toBe(0);
    expect(u.heldBack).toEqual(["tcp-a/kube-apiserver"]);
  });

  it("gives each tenant its OOM floor, counted per tenant, while OOM scale-ups still spend the budget", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 3, interval: "5m", oomFloorPerTenant: 2 });
    const budget = budgetOver([
      decision({ at: t0, tenant: "a", phase: "Applied", oom: true }),
      decision({ at: t0, tenant: "a", phase: "Applied", oom: true }),
      decision({ at: t0, tenant: "b", phase: "Applied", oom: true }),
      decision({ at: t0, tenant: "c", phase: "Applied" }),
    ]);
    const a = budget.usage(cs, t0 + 1, key, "a");
    expect(a.changes).toBe(4);
    expect(a.remaining).toBe(0);
    expect(a.oomFloorRemaining).toBe(0);
    expect(budget.usage(cs, t0 + 1, key, "b").oomFloorRemaining).toBe(1);
    expect(budget.usage(cs, t0 + 1, key, "c").oomFloorRemaining).toBe(2);
    // Four changes against three: the second oldest must leave the interval before one is free.
    expect(a.nextChangeAt).toBe(t0 + 5 * min);
  });

  it("lists what it held back in the interval, the most recent first, each workload once", () => {
    const cs = clusterScaler({ maxChangesPerInterval: 1, interval: "5m" });
    const budget = budgetOver([
      decision({ at: t0, tenant: "a", phase: "Applied" }),
      decision({ at: t0 + 1, tenant: "b", phase: "Blocked", byBudget: true }),
      decision({ at: t0 + 2, tenant: "c", phase: "Blocked", byBudget: true }),
      decision({ at: t0 + 3, tenant: "b", phase: "Blocked", byBudget: true }),
      decision({ at: t0 + 4, tenant: "d", phase: "Blocked" }), // held by a bound, not by the budget
    ]);
    expect(budget.usage(cs, t0 + 10, key).heldBack).toEqual(["tcp-b/kube-apiserver", "tcp-c/kube-apiserver"]);
  });

  it("reads older decisions again when the interval grows, and forgets deleted ones", () => {
    const recorded = [decision({ at: t0, phase: "Applied" }), decision({ at: t0 + 20 * min, phase: "Applied" })];
    const budget = budgetOver(recorded);
    const now = t0 + 25 * min;
    expect(budget.usage(clusterScaler({ interval: "10m" }), now, key).changes).toBe(1);
    expect(budget.usage(clusterScaler({ interval: "1h" }), now, key).changes).toBe(2);
    budget.forget(recorded[1] as BudgetDecision);
    expect(budget.usage(clusterScaler({ interval: "1h" }), now, key).changes).toBe(1);
  });
});

function withBudgets(disruption: Record<string, unknown>, extra: Record<string, unknown> = {}): ClusterScaler {
  const r = parseClusterScaler({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "fleet" },
    spec: { components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }], disruption, ...extra },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

describe("disruption budgets", () => {
  it.each([
    ["10", 0, 10],
    ["0", 100, 0],
    ["10%", 100, 10],
    ["10%", 5, 1], // 0.5 rounded up, as Karpenter rounds
    ["1%", 1, 1],
    ["33%", 10, 4], // 3.3 rounded up
    ["0%", 100, 0],
    ["100%", 7, 7],
    ["50%", 0, 0], // no tenant governed: nothing to change
  ])("a limit of %s with %d tenants is %d changes", (limit, tenants, want) =>
    expect(limitOf(limit, tenants)).toBe(want),
  );

  it("are the controller's defaults when a ClusterScaler sets none, and spec.fleetBudget counts as one", () => {
    const defaults = [{ limit: "5%", interval: "1m" }];
    expect(budgetsOf(clusterScaler(), defaults).budgets.map((b) => b.id)).toEqual(["default[0]"]);
    expect(budgetsOf(clusterScaler(), defaults).oomFloor).toBe(2);
    const both = budgetsOf(withBudgets({ budgets: [{ limit: "3", interval: "1m" }] }, { fleetBudget: {} }), defaults);
    expect(both.budgets.map((b) => [b.id, b.limitSpec, b.intervalMs])).toEqual([
      ["spec.disruption.budgets[0]", "3", min],
      ["spec.fleetBudget", "10", 5 * min],
    ]);
    expect(budgetsOf(withBudgets({ oomFloorPerTenant: 4 }, { fleetBudget: { oomFloorPerTenant: 3 } })).oomFloor).toBe(
      4,
    );
    // spec.disruption without budgets leaves the defaults in force.
    expect(budgetsOf(withBudgets({ oomFloorPerTenant: 1 }), defaults).budgets[0]?.id).toBe("default[0]");
  });

  it("refuses bad limits, schedules and durations", () => {
    const bad = (budget: Record<string, unknown>) =>
      parseClusterScaler({
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: "x" },
        spec: { components: [{ name: "kube-apiserver" }], disruption: { budgets: [budget] } },
      });
    expect(bad({ limit: "101%", interval: "1m" }).ok).toBe(false);
    expect(bad({ limit: "-1", interval: "1m" }).ok).toBe(false);
    expect(bad({ limit: "ten", interval: "1m" }).ok).toBe(false);
    expect(bad({ limit: "1", interval: "0" }).ok).toBe(false);
    expect(bad({ limit: "1", interval: "1m", schedule: "0 9 * * *" }).ok).toBe(false); // no duration
    expect(bad({ limit: "1", interval: "1m", duration: "1h" }).ok).toBe(false); // no schedule
    expect(bad({ limit: "1", interval: "1m", schedule: "0 25 * * *", duration: "1h" }).ok).toBe(false);
    expect(bad({ limit: "1", interval: "1m", schedule: "0 9 * * *", duration: "0s" }).ok).toBe(false);
    expect(bad({ limit: "1", interval: "1m", reasons: ["Evict"] }).ok).toBe(false);
    expect(bad({ limit: "1", interval: "1m", reasons: ["Drain"] }).ok).toBe(true);
    expect(bad({ limit: "10%", interval: "1m", schedule: "@daily", duration: "1h", reasons: ["ScaleDown"] }).ok).toBe(
      true,
    );
  });

  it("the most restrictive active budget wins, per reason; a budget counts only changes with one of its reasons", () => {
    const cs = withBudgets({
      budgets: [
        { limit: "4", interval: "5m" },
        { limit: "1", interval: "5m", reasons: ["ScaleDown"] },
        { limit: "2", interval: "10m", reasons: ["RestartRequiring"] },
      ],
    });
    const budget = budgetOver([
      decision({ at: t0, tenant: "a", phase: "Applied", direction: "Down", reasons: ["ScaleDown"] }),
      decision({ at: t0, tenant: "b", phase: "Applied", direction: "Up", reasons: ["ScaleUp", "RestartRequiring"] }),
      // Decided 8 minutes before: only the 10-minute budget still counts it.
      decision({
        at: t0 - 8 * min,
        tenant: "c",
        phase: "Applied",
        direction: "Up",
        reasons: ["ScaleUp", "RestartRequiring"],
      }),
    ]);
    const u = budget.usage(cs, t0 + 1, key);
    expect(u.budgets.map((b) => [b.id, b.changes, b.remaining])).toEqual([
      ["spec.disruption.budgets[0]", 2, 2],
      ["spec.disruption.budgets[1]", 1, 0],
      ["spec.disruption.budgets[2]", 2, 0],
    ]);
    expect(u.remainingByReason).toEqual({
      ScaleUp: { remaining: 2, budget: "spec.disruption.budgets[0]" },
      ScaleDown: { remaining: 0, budget: "spec.disruption.budgets[1]" },
      RestartRequiring: { remaining: 0, budget: "spec.disruption.budgets[2]" },
      // A budget without reasons covers Drain too.
      Drain: { remaining: 2, budget: "spec.disruption.budgets[0]" },
    });
    // The flat fields and the condition follow the most restrictive one.
    expect(u.remaining).toBe(0);
    expect(u.interval).toBe("5m");
    const c = fleetBudgetCondition(u);
    expect(c).toMatchObject({ status: "False", reason: "BudgetSpent" });
    expect(c.message).toContain("spec.disruption.budgets[1] (ScaleDown)");
    expect(c.message).toContain("spec.disruption.budgets[2] (RestartRequiring)");
  });

  it("counts a decision recorded before reasons existed under its direction and RestartRequiring", () => {
    const cs = withBudgets({ budgets: [{ limit: "5", interval: "5m", reasons: ["RestartRequiring"] }] });
    const budget = budgetOver([decision({ at: t0, phase: "Applied", direction: "Down" })]);
    expect(budget.usage(cs, t0, key).budgets[0]?.changes).toBe(1);
  });

  it("turns percentages into counts of the governed tenants", () => {
    const cs = withBudgets({ budgets: [{ limit: "10%", interval: "5m" }] });
    const budget = budgetOver([decision({ at: t0, phase: "Applied" })]);
    expect(budget.usage(cs, t0, key, undefined, 25).budgets[0]).toMatchObject({ limit: 3, remaining: 2 });
    expect(budget.usage(cs, t0, key, undefined, 0).budgets[0]).toMatchObject({ limit: 0, remaining: 0 });
  });

  it("applies a scheduled budget only inside its window (UTC), and says when the window changes", () => {
    // A freeze: no change at all on weekdays 09:00-17:00 UTC; 5 per 5 minutes always.
    const cs = withBudgets({
      budgets: [
        { limit: "5", interval: "5m" },
        { limit: "0", interval: "5m", schedule: "0 9 * * 1-5", duration: "8h" },
      ],
    });
    const budget = new FleetBudget();
    const monday = Date.parse("2026-12-07T12:00:00Z");
    const inside = budget.usage(cs, monday, key);
    expect(inside.budgets[1]).toMatchObject({ active: true, limit: 0, remaining: 0 });
    expect(inside.budgets[1]?.windowChangesAt).toBe(Date.parse("2026-12-07T17:00:00Z"));
    expect(inside.remainingByReason.ScaleUp).toEqual({ remaining: 0, budget: "spec.disruption.budgets[1]" });
    // The status is looked at again when the window closes.
    expect(inside.nextExpiryAt).toBe(Date.parse("2026-12-07T17:00:00Z"));
    const evening = budget.usage(cs, Date.parse("2026-12-07T18:00:00Z"), key);
    expect(evening.budgets[1]).toMatchObject({ active: false });
    expect(evening.budgets[1]?.windowChangesAt).toBe(Date.parse("2026-12-08T09:00:00Z"));
    expect(evening.remainingByReason.ScaleUp).toEqual({ remaining: 5, budget: "spec.disruption.budgets[0]" });
    expect(fleetBudgetCondition(evening)).toMatchObject({ status: "True", reason: "WithinBudget" });
  });

  it("keeps the OOM floor over the longest active interval that can hold a scale-up back, a budget of 0 included", () => {
    const cs = withBudgets({
      budgets: [
        { limit: "0", interval: "10m", reasons: ["ScaleUp"] },
        { limit: "5", interval: "1m", reasons: ["ScaleDown"] },
      ],
      oomFloorPerTenant: 1,
    });
    const budget = budgetOver([decision({ at: t0, tenant: "a", phase: "Applied", oom: true, reasons: ["ScaleUp"] })]);
    expect(budget.usage(cs, t0 + 9 * min, key, "a").oomFloorRemaining).toBe(0);
    expect(budget.usage(cs, t0 + 9 * min, key, "b").oomFloorRemaining).toBe(1);
    expect(budget.usage(cs, t0 + 10 * min, key, "a").oomFloorRemaining).toBe(1);
  });

  it("attributes what it held back to the budget recorded on the decision", () => {
    const cs = withBudgets({
      budgets: [
        { limit: "1", interval: "5m", reasons: ["ScaleDown"] },
        { limit: "1", interval: "5m", reasons: ["RestartRequiring"] },
      ],
    });
    const budget = budgetOver([
      decision({
        at: t0,
        tenant: "a",
        phase: "Blocked",
        byBudget: true,
        direction: "Down",
        reasons: ["ScaleDown", "RestartRequiring"],
        heldBy: "spec.disruption.budgets[1]",
      }),
      // Recorded before budgets were named: every budget that covers it shows it.
      decision({ at: t0, tenant: "b", phase: "Blocked", byBudget: true, direction: "Down", reasons: ["ScaleDown"] }),
    ]);
    const u = budget.usage(cs, t0 + 1, key);
    expect(u.budgets[0]?.heldBack).toEqual(["tcp-b/kube-apiserver"]);
    expect(u.budgets[1]?.heldBack).toEqual(["tcp-a/kube-apiserver"]);
    expect(new Set(u.heldBack)).toEqual(new Set(["tcp-a/kube-apiserver", "tcp-b/kube-apiserver"]));
  });
});

describe("Drain changes (NodeDrain evictions)", () => {
  const drain = (
    name: string,
    pods: Array<{ pod: string; tenant: string; evictedAt?: number; heldBy?: string; heldSince?: number }>,
  ): BudgetDrain => ({
    metadata: { name },
    status: {
      pods: pods.map((p) => ({
        namespace: `tcp-${p.tenant}`,
        name: p.pod,
        disruption: {
          clusterScaler: "fleet",
          tenant: p.tenant,
          ...(p.evictedAt !== undefined ? { evictedAt: new Date(p.evictedAt).toISOString() } : {}),
          ...(p.heldBy ? { heldBy: p.heldBy } : {}),
          ...(p.heldSince !== undefined ? { heldSince: new Date(p.heldSince).toISOString() } : {}),
        },
      })),
    },
  });
  const cs = withBudgets({
    budgets: [
      { limit: "1", interval: "5m", reasons: ["Drain"] },
      { limit: "3", interval: "5m", reasons: ["ScaleUp"] },
    ],
  });

  it("counts each recorded eviction once, for the budgets covering Drain only, and a held one as held back", () => {
    const b = budgetOver([decision({ at: t0, phase: "Applied", reasons: ["ScaleUp"] })]);
    b.observeDrain(
      drain("d1", [
        { pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 },
        { pod: "kube-apiserver-2", tenant: "b", heldBy: "spec.disruption.budgets[0]", heldSince: t0 },
      ]),
    );
    const u = b.usage(cs, t0 + 1, key);
    expect(u.budgets.map((s) => [s.id, s.changes, s.remaining, s.heldBack])).toEqual([
      ["spec.disruption.budgets[0]", 1, 0, ["tcp-b/kube-apiserver-2"]],
      ["spec.disruption.budgets[1]", 1, 2, []],
    ]);
    expect(u.remainingByReason.Drain).toEqual({ remaining: 0, budget: "spec.disruption.budgets[0]" });
    expect(u.budgets[0]?.nextChangeAt).toBe(t0 + 5 * min);
    // Out of the interval, it frees the budget; a deleted NodeDrain's evictions no longer count.
    expect(b.usage(cs, t0 + 5 * min, key).remainingByReason.Drain?.remaining).toBe(1);
    b.forgetDrain(drain("d1", []));
    expect(b.usage(cs, t0 + 2, key).remainingByReason.Drain?.remaining).toBe(1);
  });

  it("a budget of every reason is spent by decisions and evictions together", () => {
    const every = withBudgets({ budgets: [{ limit: "2", interval: "5m" }] });
    const b = budgetOver([decision({ at: t0, phase: "Applied", reasons: ["ScaleUp"] })]);
    b.observeDrain(drain("d1", [{ pod: "etcd-0", tenant: "a", evictedAt: t0 }]));
    const u = b.usage(every, t0 + 1, key);
    expect(u.remainingByReason.ScaleUp?.remaining).toBe(0);
    expect(u.remainingByReason.Drain?.remaining).toBe(0);
  });

  it("a reserved eviction counts at once and survives an older record of its drain until the record shows it", () => {
    const b = budgetOver([]);
    const pod = { namespace: "tcp-a", name: "kube-apiserver-1" };
    b.reserveDrain("d1", pod, { clusterScaler: "fleet", tenant: "a", at: t0 });
    expect(b.usage(cs, t0 + 1, key).remainingByReason.Drain?.remaining).toBe(0);
    // The cache delivers the status written before the eviction: the reservation stays.
    b.observeDrain(drain("d1", []));
    expect(b.usage(cs, t0 + 1, key).remainingByReason.Drain?.remaining).toBe(0);
    // The record with evictedAt replaces it: still one change, not two.
    b.observeDrain(drain("d1", [{ pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 }]));
    expect(b.usage(cs, t0 + 1, key).budgets[0]?.changes).toBe(1);
    // An eviction that did not happen is released.
    const other = { namespace: "tcp-b", name: "kube-apiserver-1" };
    b.reserveDrain("d1", other, { clusterScaler: "fleet", tenant: "b", at: t0 });
    expect(b.usage(cs, t0 + 1, key).budgets[0]?.changes).toBe(2);
    b.releaseDrain("d1", other);
    expect(b.usage(cs, t0 + 1, key).budgets[0]?.changes).toBe(1);
  });

  it("an older version of a drain than one observed (a cache lagging behind the catch-up's LIST) takes nothing back", () => {
    const b = budgetOver([]);
    const version = (d: BudgetDrain, resourceVersion: string, uid = "uid-d1"): BudgetDrain => ({
      ...d,
      metadata: { ...d.metadata, uid, resourceVersion },
    });
    // The LIST: both evictions of the previous leader.
    const listed = drain("d1", [
      { pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 },
      { pod: "kube-apiserver-2", tenant: "b", evictedAt: t0 + 1000 },
    ]);
    const two = withBudgets({ budgets: [{ limit: "2", interval: "5m", reasons: ["Drain"] }] });
    b.observeDrain(version(listed, "120"));
    expect(b.usage(two, t0 + 2000, key).budgets[0]?.changes).toBe(2);
    // The cache then delivers the versions before it, with the first eviction only, or none.
    b.observeDrain(version(drain("d1", [{ pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 }]), "99"));
    b.observeDrain(version(drain("d1", []), "100"));
    expect(b.usage(two, t0 + 2000, key).budgets[0]?.changes).toBe(2);
    // The same version, a newer one, or a new NodeDrain of the name replace it as before.
    b.observeDrain(version(drain("d1", [{ pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 }]), "121"));
    expect(b.usage(two, t0 + 2000, key).budgets[0]?.changes).toBe(1);
    b.observeDrain(version(drain("d1", []), "5", "uid-new"));
    expect(b.usage(two, t0 + 2000, key).budgets[0]?.changes).toBe(0);
  });

  it("a restarted controller counts the evictions from the recorded NodeDrains", () => {
    const recorded = [drain("d1", [{ pod: "kube-apiserver-1", tenant: "a", evictedAt: t0 }])];
    const b = new FleetBudget(
      () => [],
      builtInDefaultBudgets,
      () => recorded,
    );
    for (const d of recorded) b.observeDrain(d);
    // The default budgets (10 per 5m, every reason) cover Drain for a ClusterScaler that sets none.
    const u = b.usage(clusterScaler(), t0 + 1, key);
    expect(u.budgets[0]).toMatchObject({ id: "default[0]", changes: 1, remaining: 9 });
  });
});
