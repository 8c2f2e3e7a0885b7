// The dashboard's HTTP layer: loopback-only without a token, token auth with a cookie, read-only, and the static
// UI with a CSP and chart.js from node_modules.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_CAUSE_CATEGORIES } from "../../api/index.js";
import { Registry } from "prom-client";
import type { Manager } from "../../kube/manager.js";
import { createLogger } from "../../kube/logger.js";
import { HealthServer } from "../../kube/health.js";
import { addDashboard, createDashboardHandler, isLoopbackAddress } from "./index.js";
import { sessionCookie } from "./auth.js";
import { smallFleet } from "./api/testing.js";

describe("the dashboard without a token", () => {
  it.each([
    ["127.0.0.1:8080", true],
    ["127.1.2.3:9", true],
    ["localhost:8080", true],
    ["[::1]:8080", true],
    ["::1", true],
    ["0.0.0.0:8080", false],
    [":8080", false],
    ["10.0.0.5:8080", false],
    ["[::]:8080", false],
    ["127.0.0.1.example.com:80", false],
    ["127.0.0.256:80", false],
  ])("%s is loopback: %s", (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  it("is refused on an address others can reach, naming both ways out", () => {
    // Refused before anything is read from the manager but its server.
    const manager = { server: {} } as unknown as Manager;
    expect(() => addDashboard(manager, { listenAddress: "0.0.0.0:8080" })).toThrow(
      /--dashboard without --dashboard-auth-token-file .* --metrics-address 0\.0\.0\.0:8080: give a token file, or bind --metrics-address to 127\.0\.0\.1/,
    );
    expect(() => addDashboard(manager, {})).toThrow(/--metrics-address \(unknown\)/);
  });
});

describe("HTTP", () => {
  const token = "s3cret-token";
  let base = "";
  let open = "";
  const servers: HealthServer[] = [];

  beforeAll(async () => {
    for (const withToken of [token, undefined]) {
      const server = new HealthServer({
        registry: new Registry(),
        logger: createLogger({ level: "silent" }),
        readinessChecks: {},
      });
      const handler = createDashboardHandler(smallFleet(), { token: withToken });
      server.route("/ui", handler);
      server.route("/api/", handler);
      const { port } = await server.listen("127.0.0.1:0");
      servers.push(server);
      if (withToken) base = `http://127.0.0.1:${port}`;
      else open = `http://127.0.0.1:${port}`;
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  const auth = { authorization: `Bearer ${token}` };

  it("refuses without the token, accepts the bearer token, and turns ?token= into an HttpOnly cookie", async () => {
    expect((await fetch(`${base}/api/tenants`)).status).toBe(401);
    expect((await fetch(`${base}/ui/`)).status).toBe(401);
    expect((await fetch(`${base}/api/tenants`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await fetch(`${base}/api/tenants`, { headers: auth });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { tenants: unknown[] }).tenants).toHaveLength(2);
    expect((await fetch(`${base}/ui/?token=wrong`, { redirect: "manual" })).status).toBe(401);
    const login = await fetch(`${base}/ui/?token=${token}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/ui/");
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(new RegExp(`^${sessionCookie}=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict`));
    expect(cookie).not.toContain(token);
    const session = cookie.split(";")[0]!;
    expect((await fetch(`${base}/api/decisions`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${base}/api/decisions`, { headers: { cookie: `${sessionCookie}=00` } })).status).toBe(401);
  });

  it("is read-only: POST, PUT and DELETE get 405 even with the token", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      expect((await fetch(`${base}/api/tenants`, { method, headers: auth })).status).toBe(405);
      expect((await fetch(`${open}/ui/`, { method })).status).toBe(405);
    }
  });

  it("serves the UI with a strict CSP and chart.js from node_modules", async () => {
    const page = await fetch(`${open}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('src="/ui/vendor/chart.umd.min.js"');
    const chart = await fetch(`${open}/ui/vendor/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(chart.headers.get("content-type")).toMatch(/javascript/);
    expect((await chart.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${open}/ui`, { redirect: "manual" })).headers.get("location")).toBe("/ui/");
    expect((await fetch(`${open}/ui/../package.json`)).status).toBe(404);
  });

  it("gives the browser the CRD's root-cause categories from src/api, not a copy of its own", async () => {
    const page = await (await fetch(`${open}/ui/`)).text();
    expect(page.indexOf('src="/ui/contract.js"')).toBeGreaterThan(-1);
    expect(page.indexOf('src="/ui/contract.js"')).toBeLessThan(page.indexOf('src="/ui/charts.js"'));
    const script = await fetch(`${open}/ui/contract.js`);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    const window: { metapilotContract?: { categories: string[] } } = {};
    new Function("window", await script.text())(window);
    expect(window.metapilotContract?.categories).toEqual([...ROOT_CAUSE_CATEGORIES]);
    const charts = readFileSync(new URL("./ui/charts.js", import.meta.url), "utf8");
    for (const category of ROOT_CAUSE_CATEGORIES) expect(charts).not.toContain(`"${category}"`);
  });

  it("hands /api/ to the API: 400 to a bad period, 404 to an unknown endpoint", async () => {
    expect((await fetch(`${open}/api/decisions?since=soon`)).status).toBe(400);
    expect((await fetch(`${open}/api/nothing`)).status).toBe(404);
    const one = (await (await fetch(`${open}/api/decisions/tcp-alpha/oom-1`)).json()) as { chart: { source: string } };
    expect(one.chart.source).toBe("decision-evidence");
  });
});
