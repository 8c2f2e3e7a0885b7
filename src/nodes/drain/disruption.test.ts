// The drain's view of the ClusterScalers' disruption budgets: which ClusterScaler governs a pod (the scaler's own
// rule), and when a spent budget covering Drain holds an eviction back, with the message the NodeDrain shows.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/resources.js";
import { FleetBudget } from "../../scaler/fleet-budget.js";
import { DrainDisruptionBudgets } from "./disruption.js";

const key = randomBytes(32);
const t0 = Date.parse("2026-12-01T00:00:00Z");

const scaler = (name: string, spec: Record<string, unknown>): KubeObject =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: { components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }], ...spec },
  }) as KubeObject;

const pod = (tenant: string, namespace = `tcp-${tenant}`, component = "kube-apiserver"): KubeObject => ({
  metadata: {
    name: `${component}-x`,
    namespace,
    labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": component, team: "blue" },
  },
});

function budgetsOver(scalers: KubeObject[], tenants: KubeObject[] = []) {
  const budget = new FleetBudget();
  const byName = new Map(tenants.map((t) => [t.metadata?.name ?? "", t]));
  return {
    budget,
    d: new DrainDisruptionBudgets({
      clusterScalers: { list: () => scalers },
      tenants: { get: (n) => byName.get(n), list: () => tenants },
      budget,
      signingKey: () => Promise.resolve(key),
    }),
  };
}

describe("DrainDisruptionBudgets", () => {
  it("a pod is governed as its workload is: by the highest-priority matching ClusterScaler, in its tenant's home", () => {
    const { d } = budgetsOver(
      [scaler("low", { tenantSelector: { matchLabels: { team: "blue" } } }), scaler("high", { priority: 5 })],
      [{ metadata: { name: "b", labels: { team: "blue" } } }],
    );
    expect(d.governing(pod("a"))?.clusterScaler.metadata?.name).toBe("high");
    expect(d.governing(pod("b"))?.tenant).toBe("b");
    // A pod labelled with a tenant whose TenantControlPlane runs elsewhere is nobody's.
    expect(d.governing(pod("b", "elsewhere"))).toBeUndefined();
    expect(d.governing({ metadata: { name: "web", namespace: "x", labels: { app: "web" } } })).toBeUndefined();
    expect(d.governing(pod("a", "tcp-a", "sidecar"))).toBeUndefined();
  });

  it("holds an eviction while a budget covering Drain is spent, and says until when", () => {
    const { d, budget } = budgetsOver([
      scaler("fleet", {
        disruption: {
          budgets: [
            { limit: "1", interval: "5m", reasons: ["Drain"] },
            { limit: "0", interval: "5m", reasons: ["ScaleUp"] },
          ],
        },
      }),
    ]);
    const g = d.governing(pod("a"));
    if (!g) throw new Error("not governed");
    // A spent ScaleUp budget does not hold a drain.
    expect(d.hold(g, t0, key)).toBeUndefined();
    budget.reserveDrain(
      "d1",
      { namespace: "tcp-a", name: "kube-apiserver-x" },
      {
        clusterScaler: "fleet",
        tenant: "a",
        at: t0,
      },
    );
    const hold = d.hold(g, t0 + 1000, key);
    expect(hold).toEqual({
      clusterScaler: "fleet",
      budget: "spec.disruption.budgets[0]",
      roomAt: t0 + 5 * 60_000,
      message:
        "held back by ClusterScaler fleet's disruption budget spec.disruption.budgets[0] (Drain): 1 of 1 changes " +
        "made in the last 5m; room again at 2026-12-01T00:05:00.000Z",
    });
    expect(d.hold(g, t0 + 5 * 60_000, key)).toBeUndefined();
  });

  it("the controller's default budgets apply to a ClusterScaler that sets none; budgets without Drain hold nothing", () => {
    const defaults = [{ limit: "1", interval: "1m" }];
    const budget = new FleetBudget(() => [], defaults);
    const d = new DrainDisruptionBudgets({
      clusterScalers: {
        list: () => [
          scaler("none", { tenantSelector: { matchLabels: { "metapilot.io/tenant": "a" } } }),
          scaler("scaleonly", {
            tenantSelector: { matchLabels: { "metapilot.io/tenant": "b" } },
            disruption: { budgets: [{ limit: "0", interval: "1m", reasons: ["ScaleUp", "ScaleDown"] }] },
          }),
        ],
      },
      tenants: { get: () => undefined, list: () => [] },
      budget,
      signingKey: () => Promise.resolve(key),
    });
    const a = d.governing(pod("a"));
    const b = d.governing(pod("b"));
    if (!a || !b) throw new Error("not governed");
    budget.reserveDrain("d1", { namespace: "tcp-a", name: "p" }, { clusterScaler: "none", tenant: "a", at: t0 });
    expect(d.hold(a, t0 + 1, key)?.budget).toBe("default[0]");
    expect(d.hold(b, t0 + 1, key)).toBeUndefined();
  });
});
