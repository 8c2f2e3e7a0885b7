// The dashboard end to end: the controller runs in-process (Manager + ClusterScaler + dashboard with a bearer
// token) against the shared meta-cluster, with a Prometheus of its own scraping a synthetic exporter. A real OOM
// kill makes a real ScalingDecision; headless Chromium (Debian's, driven by playwright-core) logs in with
// ?token=, finds the tenant on the fleet page, the decision on the timeline, and its evidence chart drawn from
// Prometheus data with the threshold line. Screenshots land in test/artifacts/.
import * as k8s from "@kubernetes/client-node";
import { execFile } from "node:child_process";
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
import { addClusterScalerController } from "../../src/scaler/controller.js";
import type { Digest } from "../../src/scaler/reports.js";
import { addDashboard } from "../../src/server/dashboard/index.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";

const Mi = 2 ** 20;
const artifacts = path.join(repoRoot, "test/artifacts");
const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

interface ChartProbe {
  datasets: Array<{ label?: string; n: number; role?: string }>;
  values: number[];
  painted: number;
}

interface DecisionRow {
  name: string;
  namespace: string;
  tenant: string;
  category: string;
}

describe("dashboard", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const exporter = new SyntheticExporter();
  const tenant = `dash-${Date.now().toString(36)}`;
  const token = `token-${Math.random().toString(36).slice(2)}`;
  const drainName = `${tenant}-drain`;
  const tokenDir = mkdtempSync(path.join(tmpdir(), "metapilot-dash-"));
  const stop = new AbortController();
  let prom: TestPrometheus;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let manager: Manager;
  let base = "";
  let browser: Browser;
  let decision: DecisionRow;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    await installCrds(kc);
    ns = await freshNamespace(kc, "dash");
    prom = new TestPrometheus([await exporter.start()]);
    await prom.start();
    // A control plane metapilot did not create: the dashboard finds it by its labels alone.
    await createApiserver(client, ns.name, tenant, { victim: true });
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: tenant },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }],
            estimators: ["oom-memory"],
            maxAllowed: { cpu: "4", memory: "8Gi" },
          },
        ],
        scaleDown: { enabled: false },
      },
    } as KubeObject);
    // A drain half-way, for the progress view. Its nodes do not exist, so nothing can act on it for real.
    await client.create(Resources.NodeDrain, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name: drainName },
      spec: { nodeNames: [`${tenant}-node-a`, `${tenant}-node-b`] },
    } as KubeObject);
    await client.applyStatus(Resources.NodeDrain, {
      metadata: { name: drainName },
      status: {
        phase: "Draining",
        startTime: new Date().toISOString(),
        message: "1 of 2 nodes drained",
        nodes: [
          { name: `${tenant}-node-a`, state: "Drained" },
          { name: `${tenant}-node-b`, state: "Draining" },
        ],
        pods: [
          { namespace: ns.name, name: "web-1", node: `${tenant}-node-a`, state: "Evicted" },
          { namespace: ns.name, name: "web-2", node: `${tenant}-node-a`, state: "Evicted" },
          {
            namespace: ns.name,
            name: "etcd-0",
            node: `${tenant}-node-b`,
            state: "Blocked",
            message: `PodDisruptionBudget ${ns.name}/etcd allows 0 disruptions`,
          },
          { namespace: ns.name, name: "web-3", node: `${tenant}-node-b`, state: "Pending" },
        ],
      },
    } as KubeObject & { status: unknown });
    writeFileSync(path.join(tokenDir, "token"), `${token}\n`);
    manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `dashboard-${tenant}`,
      qps: 100,
      burst: 100,
      metricsAddress: "127.0.0.1:0",
    });
    const prometheus = { url: prom.url, timeoutMs: 2000, retries: 0 };
    addClusterScalerController(manager, {
      workers: 2,
      dryRun: false,
      prometheus,
      pollIntervalMs: 1000,
      rateWindow: "5s",
    });
    addDashboard(manager, { prometheus, rateWindow: "5s", authTokenFile: path.join(tokenDir, "token") });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() && manager.address ? true : undefined), 60_000, "caches synced");
    base = `http://127.0.0.1:${manager.address?.port}`;
    await eventually(
      async () =>
        (await core.readNamespacedPod({ name: "victim", namespace: ns.name })).status?.phase === "Running"
          ? true
          : undefined,
      60_000,
      "victim Running",
    );

    // The working set climbs towards the 1Gi limit for a while; Prometheus scrapes it every second.
    const labels = { namespace: ns.name, pod: "victim", container: "kube-apiserver" };
    for (let i = 0; i <= 12; i++) {
      exporter.setGauge("container_memory_working_set_bytes", labels, (600 + i * 35) * Mi);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await eventually(
      async () =>
        (await prom.query(`container_memory_working_set_bytes{namespace="${ns.name}"}`)).length ? true : undefined,
      20_000,
      "working set in Prometheus",
    );

    // The OOM kill, as the kubelet reports it.
    await markOomKilled(client, ns.name, 1);
    decision = await eventually(
      async () => {
        const res = await fetch(`${base}/api/decisions?tenant=${tenant}&category=OOMKilled`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { decisions: DecisionRow[] };
        return body.decisions[0];
      },
      30_000,
      "an OOMKilled decision in the dashboard API",
    );
    // A few more scrapes after the decision, so the chart shows both sides of it.
    exporter.setGauge("container_memory_working_set_bytes", labels, 640 * Mi);
    await new Promise((r) => setTimeout(r, 4000));
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    stop.abort();
    await client.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    await client.delete(Resources.NodeDrain, drainName).catch(() => undefined);
    await ns?.cleanup();
    await prom?.cleanup();
    await exporter.stop();
    rmSync(tokenDir, { recursive: true, force: true });
  }, 60_000);

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(artifacts, `dashboard-${name}.png`), fullPage: true });
  }

  it("shows the tenant, the OOM decision and its evidence chart in a real browser", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });

    // Log in once with ?token=: the server sets the cookie and redirects the token out of the URL.
    const login = await page.goto(`${base}/ui/?token=${token}`);
    expect(login?.status()).toBe(200);
    expect(page.url()).toBe(`${base}/ui/`);
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "metapilot_session")?.httpOnly).toBe(true);

    // Fleet: the foreign tenant's row; on click its detail with the apiserver's current resources (raised by the
    // OOM decision).
    await page.goto(`${base}/ui/#/?q=${tenant}`);
    const fleetRow = page.locator(`tr.tenant-row[data-tenant="${tenant}"]`);
    await fleetRow.waitFor({ timeout: 20_000 });
    await expect.poll(() => fleetRow.textContent()).toContain("foreign (by label)");
    await shot(page, "fleet");
    await fleetRow.locator("td").nth(3).click();
    const component = page.locator('tr[data-component="kube-apiserver"]');
    await component.waitFor({ timeout: 20_000 });
    await expect.poll(() => component.textContent()).toMatch(/mem lim \d+Mi/);
    await shot(page, "tenant");

    // Timeline: the decision is there.
    await page.goto(`${base}/ui/#/decisions?tenant=${tenant}&since=1h`);
    const row = page.locator(`tr.decision[data-name="${decision.name}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain("OOMKilled");
    await expect
      .poll(() => page.evaluate<number>("window.metapilotCharts?.timeline?.data.datasets[0]?.data.length ?? 0"))
      .toBeGreaterThanOrEqual(1);
    await shot(page, "timeline");

    // Decision detail: root cause and the evidence chart with Prometheus data and the threshold line.
    await row.locator("a").click();
    const canvas = page.locator("canvas#evidence-chart");
    await canvas.waitFor({ timeout: 20_000 });
    expect(await page.locator("#summary").textContent()).toMatch(/OOM/i);
    expect(await canvas.getAttribute("data-source")).toBe("prometheus");
    expect(Number(await canvas.getAttribute("data-points"))).toBeGreaterThanOrEqual(5);
    expect(Number(await canvas.getAttribute("data-threshold"))).toBe(1024 * Mi);
    // Runs in the page (a string: the project's TypeScript has no DOM types).
    const chart = await page.evaluate<ChartProbe | undefined>(`(() => {
      const c = window.metapilotCharts?.evidence;
      if (!c) return undefined;
      const ctx = c.canvas.getContext("2d");
      const pixels = ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
      return {
        datasets: c.data.datasets.map((d) => ({ label: d.label, n: d.data.length, role: d.metapilotRole })),
        values: (c.data.datasets[0]?.data ?? []).map((p) => p.y),
        painted,
      };
    })()`);
    expect(chart).toBeDefined();
    const series = chart!.datasets.filter((d) => !d.role);
    expect(series[0]?.label).toBe("victim");
    expect(series[0]?.n).toBeGreaterThanOrEqual(5);
    expect(Math.max(...chart!.values)).toBeGreaterThanOrEqual(900 * Mi); // the climb towards the limit
    expect(chart!.datasets.find((d) => d.role === "threshold")?.label).toMatch(/memory limit (1Gi|1024Mi)/);
    expect(chart!.datasets.some((d) => d.role === "decision")).toBe(true);
    expect(chart!.painted).toBeGreaterThan(1000);
    await shot(page, "decision");

    // Node pools and drains, and the dry-run report view, render without errors.
    await page.goto(`${base}/ui/#/nodes`);
    await page.locator('body[data-ready="#/nodes"]').waitFor({ state: "attached" });
    const drain = page.locator(`tr[data-drain="${drainName}"]`);
    await drain.waitFor({ timeout: 20_000 });
    expect(await drain.textContent()).toMatch(/Blocked 1/);
    // The drain row names the node, the pods still on it and the PodDisruptionBudget that blocks it.
    const nodeB = drain.locator(`.drain-node[data-node="${tenant}-node-b"]`);
    expect(await nodeB.textContent()).toContain(`pods: ${ns.name}/etcd-0, ${ns.name}/web-3`);
    expect(await nodeB.textContent()).toContain(`blocked by PDB ${ns.name}/etcd`);
    await shot(page, "nodes");
    await page.goto(`${base}/ui/#/report?since=1h&dryRunOnly=false`);
    await page.locator('body[data-ready^="#/report"]').waitFor({ state: "attached" });
    expect(Number(await page.locator("#report-total").textContent())).toBeGreaterThanOrEqual(1);
    await shot(page, "report");
    // What if: the tenant's ClusterScaler replayed over the last hour (the engine that runs live, on this
    // Prometheus), beside the OOM decision it really recorded.
    await page.goto(`${base}/ui/#/whatif?cs=${tenant}&since=1h&step=5s&run=1`);
    await page.locator('body[data-ready^="#/whatif"]').waitFor({ state: "attached", timeout: 60_000 });
    const changes = page.locator("#whatif-comparison tbody tr").first();
    expect(await changes.locator("td").first().textContent()).toBe("changes");
    expect(Number(await changes.locator("td").nth(2).textContent())).toBeGreaterThanOrEqual(1);
    const recordedUps = await page.evaluate(
      () =>
        (
          globalThis as unknown as {
            metapilotCharts: Record<string, { data: { datasets: Array<{ data: unknown[] }> } }>;
          }
        ).metapilotCharts["whatif-real"]?.data.datasets[0]?.data.length,
    );
    expect(recordedUps).toBeGreaterThanOrEqual(1);
    await shot(page, "whatif");
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("refuses the API without the token, answers 405 to writes, and serves the same report as the CLI", async () => {
    expect((await fetch(`${base}/api/tenants`)).status).toBe(401);
    expect((await fetch(`${base}/ui/`)).status).toBe(401);
    expect((await fetch(`${base}/api/tenants`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    const auth = { authorization: `Bearer ${token}` };
    const tenants = (await (await fetch(`${base}/api/tenants`, { headers: auth })).json()) as {
      tenants: Array<{ name: string; managed: boolean; namespace: string }>;
    };
    expect(tenants.tenants.find((t) => t.name === tenant)).toMatchObject({ managed: false, namespace: ns.name });
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect((await fetch(`${base}/api/tenants`, { method, headers: auth })).status).toBe(405);
      expect((await fetch(`${base}/ui/`, { method, headers: auth })).status).toBe(405);
    }
    // `metapilot report -o json` (the real CLI, one LIST) and /api/report give the same rows.
    const api = (await (
      await fetch(`${base}/api/report?since=1h&tenant=${tenant}&format=json`, { headers: auth })
    ).json()) as Digest;
    const { stdout } = await promisify(execFile)(
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
        "-o",
        "json",
      ],
      { cwd: repoRoot },
    );
    const cli = JSON.parse(stdout) as Digest;
    expect(Object.keys(cli).sort()).toEqual(Object.keys(api).sort());
    expect(cli.rows).toEqual(api.rows);
    expect(cli.total).toBeGreaterThanOrEqual(1);
    expect(cli.byCategory.OOMKilled).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
