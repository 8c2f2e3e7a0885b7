// The fleet page's API at 1,000 tenants: summary, search, sort by tenant, last decision and health, paging, the
// tenant detail, drain rows that name node, pods and blocking PDBs, and the decision detail without an ops center.
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/resources.js";
import {
  decisionDetail,
  fleetPage,
  listNodeDrains,
  tenantDetail,
  type ApiDeps,
  type Cache,
  type DashboardCaches,
} from "./api.js";

const now = Date.parse("2026-12-05T12:00:00Z");

function cache<T extends KubeObject>(items: T[]): Cache<T> {
  const byKey = new Map(
    items.map((o) => [o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata?.name, o]),
  );
  return { list: (f) => (f ? items.filter(f) : [...items]), get: (k) => byKey.get(k) };
}

const name = (i: number) => `tenant-${String(i).padStart(4, "0")}`;

function fleet(n: number, opsCenter = false): ApiDeps {
  const tenants: KubeObject[] = [];
  const deployments: KubeObject[] = [];
  const decisions: KubeObject[] = [];
  for (let i = 0; i < n; i++) {
    const t = name(i);
    tenants.push({
      metadata: { name: t },
      spec: { version: "v1.34.4" },
      status: { phase: i % 100 === 7 ? "Degraded" : i % 50 === 3 ? "Provisioning" : "Ready", namespace: `tcp-${t}` },
    } as KubeObject);
    deployments.push({
      metadata: {
        name: "kube-apiserver",
        namespace: `tcp-${t}`,
        labels: { "metapilot.io/tenant": t, "metapilot.io/component": "kube-apiserver" },
      },
      spec: {
        replicas: 2,
        template: { spec: { containers: [{ name: "kube-apiserver", resources: { requests: { cpu: "500m" } } }] } },
      },
      status: { readyReplicas: i % 100 === 9 ? 1 : 2 },
    } as KubeObject);
    if (i % 10 === 0)
      decisions.push({
        metadata: { name: `d-${t}`, namespace: `tcp-${t}` },
        spec: {
          target: { kind: "Deployment", name: "kube-apiserver", namespace: `tcp-${t}`, tenant: t },
          component: "kube-apiserver",
          direction: "Up",
          dryRun: true,
          decidedAt: new Date(now - i * 60_000).toISOString(),
          rootCause: { category: "Throttling", summary: "429s" },
          before: { replicas: 2, resources: { requests: { cpu: "500m" } } },
          after: { replicas: 3, resources: { requests: { cpu: "500m" } } },
        },
        status: { phase: "DryRun", delivery: { state: "Pending", attempts: 0 } },
      } as KubeObject);
  }
  const caches: DashboardCaches = {
    tenants: cache(tenants),
    deployments: cache(deployments),
    statefulSets: cache([]),
    profiles: cache([]),
    decisions: cache(decisions),
    nodePools: cache([]),
    nodeDrains: cache([
      {
        metadata: { name: "shrink" },
        spec: { nodeNames: ["node-a", "node-b"] },
        status: {
          phase: "Draining",
          nodes: [
            { name: "node-a", state: "Drained" },
            { name: "node-b", state: "Draining" },
          ],
          pods: [
            { namespace: "tcp-x", name: "web-1", node: "node-a", state: "Evicted" },
            {
              namespace: "tcp-x",
              name: "etcd-0",
              node: "node-b",
              state: "Blocked",
              message: "PodDisruptionBudget tcp-x/etcd allows 0 disruptions",
            },
            { namespace: "tcp-x", name: "web-3", node: "node-b", state: "Pending" },
          ],
          plan: [{ node: "node-b", pods: ["tcp-x/etcd-0", "tcp-x/web-3"], blockingPDBs: ["tcp-x/etcd"] }],
        },
      } as KubeObject,
    ]),
  } as DashboardCaches;
  return { caches, now: () => now, opsCenter };
}

describe("fleet page", () => {
  const deps = fleet(1000);

  it("summarises the whole fleet and pages it, 50 tenants at a time", () => {
    const page = fleetPage(deps);
    expect(page.summary).toMatchObject({
      tenants: 1000,
      managed: 1000,
      foreign: 0,
      decisionsLast24h: 100,
      tenantsWithDecisionsLast24h: 100,
    });
    expect(page.summary.byHealth).toEqual({ Degraded: 20, Progressing: 20, Healthy: 960 });
    expect(page).toMatchObject({ matching: 1000, page: 1, pageSize: 50, pages: 20 });
    expect(page.tenants.map((t) => t.name)).toEqual(Array.from({ length: 50 }, (_, i) => name(i)));
    expect(fleetPage(deps, { page: 20 }).tenants.at(-1)?.name).toBe(name(999));
    expect(fleetPage(deps, { page: 99 }).page).toBe(20);
  });

  it("finds one tenant by a part of its name, case-insensitive", () => {
    const page = fleetPage(deps, { q: "ANT-0420" });
    expect(page.matching).toBe(1);
    expect(page.tenants).toEqual([
      expect.objectContaining({ name: "tenant-0420", health: "Healthy", ready: "1/1", components: 1 }),
    ]);
    expect(page.tenants[0]?.decisions.last).toMatchObject({ category: "Throttling", phase: "DryRun", dryRun: true });
  });

  it("sorts by last decision (newest first) and by health (worst first)", () => {
    expect(
      fleetPage(deps, { sort: "lastDecision", pageSize: 3 }).tenants.map((t) => t.decisions.lastDecidedAt),
    ).toEqual([
      new Date(now).toISOString(),
      new Date(now - 600_000).toISOString(),
      new Date(now - 1_200_000).toISOString(),
    ]);
    const byHealth = fleetPage(deps, { sort: "health", pageSize: 500 }).tenants;
    expect(byHealth.slice(0, 20).every((t) => t.health === "Degraded")).toBe(true);
    expect(byHealth[0]).toMatchObject({ name: name(7), healthReason: "TenantControlPlane phase Degraded" });
    expect(byHealth.find((t) => t.name === name(9))).toMatchObject({
      health: "Degraded",
      healthReason: "kube-apiserver 1/2 ready",
    });
    expect(byHealth[20]?.health).toBe("Progressing");
    expect(fleetPage(deps, { health: "Progressing" }).matching).toBe(20);
  });

  it("gives one tenant's components, decisions and dry-run plan", () => {
    const detail = tenantDetail(deps, name(10))!;
    expect(detail.tenant.components[0]?.name).toBe("kube-apiserver");
    expect(detail.decisions.decisions.map((d) => d.name)).toEqual([`d-${name(10)}`]);
    expect(detail.plan).toEqual([
      expect.objectContaining({
        tenant: name(10),
        todaySource: "workload",
        changes: [{ field: "replicas", today: "2", wouldBe: "3" }],
      }),
    ]);
    expect(tenantDetail(deps, "nope")).toBeUndefined();
  });
});

describe("drains", () => {
  it("name each node, the pods still on it and the PodDisruptionBudgets that block it", () => {
    const drain = listNodeDrains(fleet(1))[0]!;
    expect(drain.rows).toEqual([
      { node: "node-a", state: "Drained", pods: [], blockingPDBs: [] },
      { node: "node-b", state: "Draining", pods: ["tcp-x/etcd-0", "tcp-x/web-3"], blockingPDBs: ["tcp-x/etcd"] },
    ]);
    expect(drain.pods.blocked).toEqual([
      {
        pod: "tcp-x/etcd-0",
        node: "node-b",
        message: "PodDisruptionBudget tcp-x/etcd allows 0 disruptions",
        pdbs: ["tcp-x/etcd"],
      },
    ]);
  });
});

describe("decision detail", () => {
  it("says whether an ops center is configured, so no delivery state is shown without one", async () => {
    const without = await decisionDetail(fleet(1), `tcp-${name(0)}`, `d-${name(0)}`);
    expect(without?.opsCenter).toBe(false);
    expect(without?.row?.baseline).toBe("workload");
    const withOne = await decisionDetail(fleet(1, true), `tcp-${name(0)}`, `d-${name(0)}`);
    expect(withOne?.opsCenter).toBe(true);
  });
});
