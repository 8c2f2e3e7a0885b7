// The dashboard at fleet scale, in headless Chromium (Debian's, driven by playwright-core): 1,000 TenantControlPlanes
// in the meta-cluster's apiserver (nothing provisions them: the dashboard reads them from its informer cache, as it
// would a real fleet), and one tenant found by its labels with a dry-run chain of three ScalingDecisions written as
// the scaler's old chain wrote them (each built on the one before while the Deployment stayed 2 × 500m). The fleet's
// first screen and a search for one tenant, a decision's detail page, the dry-run plan view and the CLI's CSV, JSON
// and HTML are checked against that data. The time to the first screen is recorded in bench/results/dashboard.json,
// not asserted.
import { execFile } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import type { Digest } from "../../src/scaler/reports.js";
import { addDashboard } from "../../src/server/dashboard/index.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createApiserver } from "../fixtures/tenant.js";

const run = Date.now().toString(36);
const fleetSize = 1000;
const tcpName = (i: number) => `fl-${run}-${String(i).padStart(4, "0")}`;
const artifacts = path.join(repoRoot, "test/artifacts");
const chromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"];
const MiB = 2 ** 20;

describe("dashboard at 1,000 tenants", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const tenant = `fl-${run}-dry`;
  const clusterScaler = `fl-${run}`;
  const token = `token-${Math.random().toString(36).slice(2)}`;
  const tokenDir = mkdtempSync(path.join(tmpdir(), "metapilot-fleet-"));
  const stop = new AbortController();
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let base = "";
  let browser: Browser;
  const decisionAt = (minute: number) => new Date(Date.now() - (10 - minute) * 60_000).toISOString();

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    await installCrds(kc);
    ns = await freshNamespace(kc, "fleet");
    const created = Date.now();
    for (let i = 0; i < fleetSize; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, fleetSize - i) }, (_, k) =>
          client.create(Resources.TenantControlPlane, {
            apiVersion: "metapilot.io/v1alpha1",
            kind: "TenantControlPlane",
            metadata: { name: tcpName(i + k), labels: { "metapilot.io/test-run": run } },
            spec: { version: "v1.34.4" },
          } as KubeObject),
        ),
      );
    }
    process.stderr.write(`[fleet] ${fleetSize} TenantControlPlanes in ${Date.now() - created} ms\n`);
    // A few with a phase, so the summary has more than one health.
    for (const [i, phase] of [
      [1, "Degraded"],
      [2, "Ready"],
      [3, "Provisioning"],
    ] as const)
      await client.applyStatus(Resources.TenantControlPlane, {
        metadata: { name: tcpName(i) },
        status: { phase },
      } as KubeObject & { status: unknown });

    // The dry-run tenant: a Deployment of 2 × 500m (1Gi limit), a ClusterScaler with replicas.max 5, and the chain.
    await createApiserver(client, ns.name, tenant, { replicas: 2 });
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: clusterScaler },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
        dryRun: true,
        components: [{ name: "kube-apiserver", replicas: { min: 1, max: 5 }, maxAllowed: { cpu: "4", memory: "8Gi" } }],
      },
    } as KubeObject);
    const real = JSON.stringify({ replicas: 2, cpuRequest: 0.5, memoryRequest: 512 * MiB, memoryLimit: 1024 * MiB });
    const size = (replicas: number) => ({
      replicas,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1024Mi" } },
    });
    for (const [k, replicas] of [2, 3, 4].entries()) {
      const name = `kube-apiserver-up-${run}-${k}`;
      await client.create(Resources.ScalingDecision, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ScalingDecision",
        metadata: {
          name,
          namespace: ns.name,
          labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver" },
          annotations: { "metapilot.io/observed-size": real },
        },
        spec: {
          target: { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver", namespace: ns.name, tenant },
          component: "kube-apiserver",
          direction: "Up",
          dryRun: true,
          scaler: "throttling",
          rootCause: {
            category: "Throttling",
            summary: `apiserver 429 rate 20/s over 1/s: one more replica (${replicas} → ${replicas + 1})`,
            evidence: [{ signal: "apiserver_429_rate", value: "20", threshold: "1", observedAt: decisionAt(k) }],
          },
          before: size(replicas),
          after: size(replicas + 1),
          clusterScaler,
          decidedAt: decisionAt(k),
        },
      } as KubeObject);
      await client.applyStatus(Resources.ScalingDecision, {
        metadata: { name, namespace: ns.name },
        status: { phase: "DryRun", message: "dry-run: recorded, workload unchanged", delivery: { state: "Pending" } },
      } as KubeObject & { status: unknown });
    }

    writeFileSync(path.join(tokenDir, "token"), `${token}\n`);
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `fleet-${run}`,
      qps: 100,
      burst: 100,
      metricsAddress: "127.0.0.1:0",
    });
    addDashboard(manager, { authTokenFile: path.join(tokenDir, "token") });
    // No controllers here: a manager with nothing to run would stop (and close its server) at once, so the test
    // keeps it running until the end.
    manager.onLeading((signal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())));
    void manager.start(stop.signal);
    let readyz = "";
    await eventually(
      async () => {
        if (manager.hasSynced() && manager.address) return true;
        if (manager.address)
          readyz = await (await fetch(`http://127.0.0.1:${manager.address.port}/readyz?verbose`)).text();
        return undefined;
      },
      120_000,
      () => `caches synced (readyz: ${readyz || "not listening"})`,
    );
    base = `http://127.0.0.1:${manager.address?.port}`;
    // Every TenantControlPlane and the three decisions are in the caches before the browser looks.
    await eventually(
      async () => {
        const res = await fetch(`${base}/api/fleet?q=fl-${run}-&pageSize=1`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { matching: number; summary: { decisionsLast24h: number } };
        return body.matching === fleetSize + 1 && body.summary.decisionsLast24h >= 3 ? true : undefined;
      },
      60_000,
      "1,001 tenants and the decisions in the dashboard's caches",
    );
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    stop.abort();
    await client.delete(Resources.ClusterScaler, clusterScaler).catch(() => undefined);
    for (let i = 0; i < fleetSize; i += 50)
      await Promise.all(
        Array.from({ length: Math.min(50, fleetSize - i) }, (_, k) =>
          client.delete(Resources.TenantControlPlane, tcpName(i + k)).catch(() => undefined),
        ),
      );
    await ns?.cleanup();
    rmSync(tokenDir, { recursive: true, force: true });
  }, 120_000);

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    return { page, errors };
  }

  it("renders the fleet's first screen, finds one tenant by search and opens its detail", async () => {
    const { page, errors } = await open();
    const started = Date.now();
    await page.goto(`${base}/ui/?token=${token}`);
    await page.locator("tr.tenant-row").nth(49).waitFor({ timeout: 30_000 });
    const firstScreenMs = Date.now() - started;
    const inPageMs = await page.evaluate<number>("window.metapilotFleetRenderMs");
    expect(await page.locator("tr.tenant-row").count()).toBe(50);
    expect(Number(await page.locator("#tenant-count").textContent())).toBeGreaterThanOrEqual(fleetSize + 1);
    const { summary } = (await (
      await fetch(`${base}/api/fleet`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { summary: { byHealth: Record<string, number> } };
    expect(summary.byHealth.Degraded).toBeGreaterThanOrEqual(1);
    expect(await page.locator("#fleet-summary").textContent()).toContain(`Degraded ${summary.byHealth.Degraded}`);
    expect(await page.locator("#page-info").textContent()).toMatch(/page 1 of \d+/);
    await page.screenshot({ path: path.join(artifacts, "dashboard-fleet-1000.png") });

    const wanted = tcpName(420);
    const searchStarted = Date.now();
    await page.locator("#fleet-search").fill(wanted);
    await page.locator(`tr.tenant-row[data-tenant="${wanted}"]`).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator("tr.tenant-row").count()).toBe(1);
    const searchMs = Date.now() - searchStarted;
    expect(await page.locator("#fleet-matching").textContent()).toMatch(/^1 of \d+ tenants match/);

    await page.locator(`tr.tenant-row[data-tenant="${wanted}"] td`).nth(2).click();
    await page.locator("#tenant-title").waitFor({ timeout: 20_000 });
    expect(page.url()).toContain(`#/tenant/${wanted}`);
    expect(await page.locator("#tenant-title").textContent()).toContain(wanted);

    // Sorted by health, worst first: the Degraded tenant heads the list.
    await page.goto(`${base}/ui/#/?sort=health&q=fl-${run}-`);
    await page.locator("tr.tenant-row").first().waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator("tr.tenant-row").first().getAttribute("data-tenant")).toBe(tcpName(1));
    expect(errors).toEqual([]);
    await page.close();

    const results = path.join(repoRoot, "bench/results/dashboard.json");
    writeFileSync(
      results,
      JSON.stringify(
        {
          benchmark: "dashboard",
          description:
            "test/dashboard/fleet.test.ts: the fleet page in headless Chromium with 1,000 TenantControlPlanes (plus one labelled tenant) in the informer caches",
          machine: {
            date: new Date().toISOString(),
            nproc: cpus().length,
            node: process.version,
            loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
          },
          tenants: fleetSize + 1,
          firstScreenMs,
          fleetRenderInPageMs: Math.round(inPageMs),
          searchOneTenantMs: searchMs,
        },
        null,
        2,
      ) + "\n",
    );
  }, 120_000);

  it("shows a dry-run decision's detail: one DryRun badge, the simulated baseline and the real size, no report state", async () => {
    const { page, errors } = await open();
    await page.goto(`${base}/ui/?token=${token}`);
    await page.goto(`${base}/ui/#/decision/${ns.name}/kube-apiserver-up-${run}-2`);
    await page.locator("#before").waitFor({ timeout: 20_000 });
    expect(await page.locator("h1 .badge.DryRun").count()).toBe(1);
    expect(await page.locator("#before").textContent()).toMatch(/simulated baseline/);
    expect(await page.locator("#before").textContent()).toContain(
      "The workload really had: 2x cpu 500m mem 512Mi lim mem 1024Mi",
    );
    expect(await page.locator("#after").textContent()).toMatch(/would be/);
    expect(await page.locator("#delivery").count()).toBe(0); // no ops center configured
    expect(await page.locator("#view").textContent()).not.toMatch(/report\s*Pending/);
    expect(await page.locator("canvas#evidence-chart").getAttribute("data-source")).toBe("decision-evidence");
    expect(await page.locator("#view").textContent()).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/);
    await page.screenshot({ path: path.join(artifacts, "dashboard-dry-run-decision.png"), fullPage: true });

    // The timeline's range fits the decisions (3 in 2 minutes), not the 24 h period.
    await page.goto(`${base}/ui/#/decisions?tenant=${tenant}&since=24h`);
    await page.locator('body[data-ready^="#/decisions"]').waitFor({ state: "attached", timeout: 20_000 });
    const span = await page.evaluate<number>(
      "(() => { const x = window.metapilotCharts.timeline.options.scales.x; return x.max - x.min; })()",
    );
    expect(span).toBeGreaterThanOrEqual(2 * 60_000);
    expect(span).toBeLessThan(60 * 60_000);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("shows the dry-run plan: today's real size → would be, the simulated baselines and the bound hit", async () => {
    const { page, errors } = await open();
    await page.goto(`${base}/ui/?token=${token}`);
    await page.goto(`${base}/ui/#/plan?since=1h`);
    const row = page.locator(`tr.plan-row[data-tenant="${tenant}"]`);
    await row.waitFor({ timeout: 20_000 });
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("2x cpu 500m mem 512Mi lim mem 1024Mi"); // today, from the Deployment
    expect(text).toContain("5x cpu 500m mem 512Mi lim mem 1024Mi"); // would be
    expect(text).toContain("replicas 2 → 5");
    expect(text).toContain("2 from a simulated baseline");
    expect(text).toContain("replicas at max 5");
    expect(await page.locator("#dry-run-semantics").textContent()).toMatch(/only for its cooldown/);
    await page.screenshot({ path: path.join(artifacts, "dashboard-dry-run-plan.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("gives the same plan and structured sizes from `metapilot report` as JSON, CSV and HTML", async () => {
    const cli = async (...args: string[]) =>
      (
        await promisify(execFile)(
          path.join(repoRoot, "node_modules/.bin/tsx"),
          [
            "src/cli/main.ts",
            "report",
            "--kubeconfig",
            metacluster().kubeconfig,
            "--since",
            "1h",
            "--tenant",
            tenant,
            ...args,
          ],
          { cwd: repoRoot, maxBuffer: 16 * MiB },
        )
      ).stdout;
    const json = JSON.parse(await cli("-o", "json")) as Digest;
    expect(json.rows).toHaveLength(3);
    expect(json.rows[2]).toMatchObject({
      before: { replicas: 4, requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1024Mi" } },
      after: { replicas: 5 },
      observed: { replicas: 2 },
      baseline: "simulated",
    });
    expect(json.plan).toEqual([
      expect.objectContaining({
        tenant,
        todaySource: "workload",
        changes: [{ field: "replicas", today: "2", wouldBe: "5" }],
        boundsHit: ["replicas at max 5"],
      }),
    ]);
    const api = (await (
      await fetch(`${base}/api/report?since=1h&tenant=${tenant}&format=json`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as Digest;
    expect(json.plan).toEqual(api.plan);
    expect(json.rows).toEqual(api.rows);

    const csv = (await cli("-o", "csv")).split("\r\n");
    expect(csv[0]).toMatch(/^decided_at,namespace,name,tenant,/);
    expect(csv.filter(Boolean)).toHaveLength(4);
    const html = await cli("-o", "html");
    expect(html).toContain('<canvas id="timeline"');
    expect(html).toContain('<table id="plan">');

    // The HTML page draws its charts in a real browser too.
    const file = path.join(tokenDir, "report.html");
    writeFileSync(file, html);
    const { page, errors } = await open();
    await page.goto(`file://${file}`);
    await page.locator('body[data-ready="report"]').waitFor({ state: "attached", timeout: 20_000 });
    expect(await page.evaluate<number>("window.metapilotCharts.timeline.data.datasets[0].data.length")).toBe(3);
    expect(await page.evaluate<number>("Object.keys(window.metapilotCharts).length")).toBe(4); // timeline + 3 evidence
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000); // three CLI processes, each tens of seconds to start on a loaded 2-core machine
});
