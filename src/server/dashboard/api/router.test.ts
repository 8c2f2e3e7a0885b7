// The router: the /api index lists every mounted route, path segments reach the handlers decoded, and errors map
// to 400 (the caller's mistake) and 404 (no such endpoint or object).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiRoutes } from "./router.js";
import { serveApi, smallFleet } from "./testing.js";

describe("router", () => {
  let api: Awaited<ReturnType<typeof serveApi>>;
  beforeAll(async () => {
    api = await serveApi(smallFleet());
  });
  afterAll(() => api.close());

  const get = (path: string) => fetch(`${api.base}${path}`);

  it("lists every endpoint under /api, with their query parameters", async () => {
    const index = (await (await get("/api/")).json()) as { endpoints: string[] };
    expect(index.endpoints).toEqual([
      "/api/tenants",
      "/api/fleet?q=&sort=tenant|lastDecision|health&health=&page=1&pageSize=50",
      "/api/tenants/{name}",
      "/api/decisions?since=24h&until=&tenant=&category=&dryRun=true|false&limit=500",
      "/api/decisions/{namespace}/{name}?window=15m",
      "/api/nodepools",
      "/api/nodedrains",
      "/api/report?since=24h&until=&tenant=&dryRunOnly=true|false&format=json|html|csv",
      "/api/whatif",
      "/api/whatif/{name}?since=24h&until=&step=15s&format=json|html",
    ]);
    expect(index.endpoints).toHaveLength(apiRoutes.length);
  });

  it("mounts each resource, with or without a trailing slash", async () => {
    expect(((await (await get("/api/tenants/")).json()) as { tenants: unknown[] }).tenants).toHaveLength(2);
    expect(((await (await get("/api/nodepools")).json()) as { nodePools: unknown[] }).nodePools).toHaveLength(1);
    expect(((await (await get("/api/nodedrains")).json()) as { nodeDrains: unknown[] }).nodeDrains).toHaveLength(1);
    expect(((await (await get("/api/fleet?q=alp")).json()) as { matching: number }).matching).toBe(1);
    const tenant = (await (await get("/api/tenants/%61lpha")).json()) as { tenant: { name: string } };
    expect(tenant.tenant.name).toBe("alpha");
    const decision = (await (await get("/api/decisions/tcp-alpha/oom-1?window=30m")).json()) as {
      chart: { source: string };
    };
    expect(decision.chart.source).toBe("decision-evidence");
  });

  it("answers 400 to a bad period or filter and 404 to an unknown endpoint, tenant or decision", async () => {
    expect((await get("/api/decisions?since=soon")).status).toBe(400);
    expect((await get("/api/decisions?dryRun=maybe")).status).toBe(400);
    expect((await get("/api/decisions?limit=ten")).status).toBe(400);
    expect((await get("/api/fleet?sort=size")).status).toBe(400);
    expect((await get("/api/fleet?health=Fine")).status).toBe(400);
    expect((await get("/api/fleet?page=-1")).status).toBe(400);
    expect((await get("/api/decisions/tcp-alpha/oom-1?window=soon")).status).toBe(400);
    const missing = await get("/api/decisions/tcp-alpha/missing");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no ScalingDecision tcp-alpha/missing in the cache" });
    expect(await (await get("/api/tenants/gamma")).json()).toEqual({ error: "no tenant gamma" });
    expect((await get("/api/nothing")).status).toBe(404);
  });
});
