// Tenants from the caches: TenantControlPlanes and foreign control planes with current vs recommended resources,
// and one tenant's detail with its decisions and dry-run plan.
import { describe, expect, it } from "vitest";
import { largeFleet, largeFleetTenant, msAgo, smallFleet } from "./testing.js";
import { listTenants, tenantDetail } from "./tenants.js";

describe("tenants", () => {
  it("lists TenantControlPlanes and foreign control planes with current vs recommended resources", () => {
    const tenants = listTenants(smallFleet());
    expect(tenants.map((t) => [t.name, t.managed, t.namespace])).toEqual([
      ["alpha", true, "tcp-alpha"],
      ["beta", false, "foreign-ns"],
    ]);
    const alpha = tenants[0]!;
    expect(alpha.phase).toBe("Ready");
    expect(alpha.components.map((c) => c.component)).toEqual(["etcd", "kube-apiserver"]);
    const apiserver = alpha.components[1]!;
    expect(apiserver.readyReplicas).toBe(2);
    expect(apiserver.profile?.name).toBe("kube-apiserver");
    expect(apiserver.containers[0]).toMatchObject({
      name: "kube-apiserver",
      current: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } },
      recommended: { target: { cpu: "300m", memory: "800Mi" }, upperBound: { memory: "1500Mi" } },
    });
    expect(alpha.components[0]!.containers[0]!.recommended).toBeUndefined();
    expect(alpha.decisions).toMatchObject({ last24h: 2, lastDecidedAt: msAgo(60_000) });
    expect(tenants[1]!.components[0]!.containers[0]!.name).toBe("apiserver");
  });

  it("gives one tenant's components, decisions and dry-run plan", () => {
    const deps = largeFleet(1000);
    const detail = tenantDetail(deps, largeFleetTenant(10))!;
    expect(detail.tenant.components[0]?.name).toBe("kube-apiserver");
    expect(detail.decisions.decisions.map((d) => d.name)).toEqual([`d-${largeFleetTenant(10)}`]);
    expect(detail.plan).toEqual([
      expect.objectContaining({
        tenant: largeFleetTenant(10),
        todaySource: "workload",
        changes: [{ field: "replicas", today: "2", wouldBe: "3" }],
      }),
    ]);
    expect(tenantDetail(deps, "nope")).toBeUndefined();
  });
});
