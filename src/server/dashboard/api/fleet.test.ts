// The fleet page at 1,000 tenants: summary, search, sort by tenant, last decision and health, and paging.
import { describe, expect, it } from "vitest";
import { fleetPage } from "./fleet.js";
import { largeFleet, largeFleetNow, largeFleetTenant } from "./testing.js";

describe("fleet page", () => {
  const deps = largeFleet(1000);

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
    expect(page.tenants.map((t) => t.name)).toEqual(Array.from({ length: 50 }, (_, i) => largeFleetTenant(i)));
    expect(fleetPage(deps, { page: 20 }).tenants.at(-1)?.name).toBe(largeFleetTenant(999));
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
      new Date(largeFleetNow).toISOString(),
      new Date(largeFleetNow - 600_000).toISOString(),
      new Date(largeFleetNow - 1_200_000).toISOString(),
    ]);
    const byHealth = fleetPage(deps, { sort: "health", pageSize: 500 }).tenants;
    expect(byHealth.slice(0, 20).every((t) => t.health === "Degraded")).toBe(true);
    expect(byHealth[0]).toMatchObject({ name: largeFleetTenant(7), healthReason: "TenantControlPlane phase Degraded" });
    expect(byHealth.find((t) => t.name === largeFleetTenant(9))).toMatchObject({
      health: "Degraded",
      healthReason: "kube-apiserver 1/2 ready",
    });
    expect(byHealth[20]?.health).toBe("Progressing");
    expect(fleetPage(deps, { health: "Progressing" }).matching).toBe(20);
  });
});
