// The dashboard API over fake caches: tenants with current vs recommended, decision filters, the evidence chart
// with and without Prometheus, node pool and drain progress, the report (the same JSON as `metapilot report`),
// and the HTTP layer: read-only, token auth with a cookie, static files with a CSP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { createLogger } from "../../kube/logger.js";
import type { Digest } from "../../scaler/reports.js";
import type { DecisionPhase, Evidence, RootCauseCategory } from "../../api/index.js";
import { HealthServer } from "../../kube/health.js";
import {
  decisionDetail,
  listDecisions,
  listNodeDrains,
  listNodePools,
  listTenants,
  type ApiDeps,
  type Cache,
  type DashboardCaches,
  type DecisionObject,
} from "./api.js";
import { chartPlan, type SeriesSource } from "./evidence.js";
import { createDashboardHandler } from "./index.js";
import { sessionCookie } from "./auth.js";
import { reportDigest } from "./report.js";

const now = Date.parse("2030-01-02T12:00:00Z");
const iso = (msAgo: number) => new Date(now - msAgo).toISOString();

class FakeCache<T extends { metadata?: { name?: string; namespace?: string } }> implements Cache<T> {
  constructor(private readonly items: T[]) {}
  list(filter?: (o: T) => boolean): T[] {
    return filter ? this.items.filter(filter) : [...this.items];
  }
  get(key: string): T | undefined {
    return this.items.find((o) => (o.metadata?.namespace ? `${o.metadata.namespace}/` : "") + o.metadata?.name === key);
  }
}

const labels = (tenant: string, component: string) => ({
  "metapilot.io/tenant": tenant,
  "metapilot.io/component": component,
});

function decision(
  name: string,
  o: {
    tenant: string;
    category: RootCauseCategory;
    ago: number;
    dryRun?: boolean;
    direction?: "Up" | "Down";
    phase?: DecisionPhase;
  },
): DecisionObject {
  const ns = o.tenant === "alpha" ? "tcp-alpha" : "foreign-ns";
  return {
    metadata: { name, namespace: ns, labels: labels(o.tenant, "kube-apiserver") },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: ns, tenant: o.tenant },
      component: "kube-apiserver",
      direction: o.direction ?? "Up",
      dryRun: o.dryRun ?? false,
      scaler: o.category === "OOMKilled" ? "oom" : "cpu",
      decidedAt: iso(o.ago),
      rootCause: {
        category: o.category,
        summary: `${o.category} on ${o.tenant}`,
        evidence:
          o.category === "OOMKilled"
            ? [
                {
                  signal: "container_oom_killed",
                  value: "kube-apiserver-0/kube-apiserver",
                  threshold: "limit 1Gi",
                  observedAt: iso(o.ago + 500),
                  source: "pod-status",
                },
              ]
            : [
                {
                  signal: "cpu_usage_ratio",
                  value: "0.93",
                  threshold: "0.8",
                  observedAt: iso(o.ago + 1000),
                  source: "prometheus",
                },
              ],
      },
      before: { replicas: 2, resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
      after: { replicas: 2, resources: { requests: { cpu: "500m", memory: "615Mi" }, limits: { memory: "1229Mi" } } },
    },
    status: { phase: o.phase ?? (o.dryRun ? "DryRun" : "Applied"), delivery: { state: "Pending" } },
  };
}

const decisions = [
  decision("oom-1", { tenant: "alpha", category: "OOMKilled", ago: 60_000 }),
  decision("cpu-1", { tenant: "alpha", category: "CPUSaturation", ago: 3_600_000, dryRun: true }),
  decision("cpu-2", { tenant: "beta", category: "CPUSaturation", ago: 7_200_000, dryRun: true }),
  decision("old", { tenant: "alpha", category: "OOMKilled", ago: 3 * 86_400_000 }),
];

function caches(): DashboardCaches {
  return {
    tenants: new FakeCache([
      {
        metadata: { name: "alpha" },
        spec: { version: "1.35.4" },
        status: { phase: "Ready", namespace: "tcp-alpha", version: "1.35.4" },
      },
    ]),
    deployments: new FakeCache([
      {
        metadata: { name: "kube-apiserver", namespace: "tcp-alpha", labels: labels("alpha", "kube-apiserver") },
        spec: {
          replicas: 2,
          template: {
            spec: {
              containers: [
                {
                  name: "kube-apiserver",
                  resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } },
                },
              ],
            },
          },
        },
        status: { readyReplicas: 2 },
      },
      {
        metadata: { name: "kube-apiserver", namespace: "foreign-ns", labels: labels("beta", "kube-apiserver") },
        spec: { replicas: 1, template: { spec: { containers: [{ name: "apiserver", resources: {} }] } } },
      },
      // Not a control-plane component: ignored.
      { metadata: { name: "other", namespace: "tcp-alpha", labels: { "metapilot.io/tenant": "alpha" } } },
    ]),
    statefulSets: new FakeCache([
      {
        metadata: { name: "etcd", namespace: "tcp-alpha", labels: labels("alpha", "etcd") },
        spec: {
          replicas: 3,
          template: { spec: { containers: [{ name: "etcd", resources: { requests: { memory: "1Gi" } } }] } },
        },
        status: { readyReplicas: 3 },
      },
    ]),
    profiles: new FakeCache([
      {
        metadata: { name: "kube-apiserver", namespace: "tcp-alpha" },
        spec: { targetRef: { kind: "Deployment", name: "kube-apiserver" }, algorithm: "vpa-histogram" },
        status: {
          confidence: 0.5,
          containers: [
            {
              name: "kube-apiserver",
              target: { cpu: "300m", memory: "800Mi" },
              lowerBound: { cpu: "200m", memory: "600Mi" },
              upperBound: { cpu: "900m", memory: "1500Mi" },
            },
          ],
        },
      },
    ]),
    decisions: new FakeCache(decisions),
    nodePools: new FakeCache([
      {
        metadata: { name: "workers" },
        spec: { provider: "kwok", minNodes: 2, maxNodes: 10 },
        status: { nodes: 4, readyNodes: 3, desiredNodes: 6, pendingPods: 5, activeDrain: "shrink-1" },
      },
    ]),
    nodeDrains: new FakeCache([
      {
        metadata: { name: "shrink-1" },
        spec: { nodeNames: ["n1", "n2"] },
        status: {
          phase: "Draining",
          startTime: iso(60_000),
          nodes: [
            { name: "n1", state: "Drained" },
            { name: "n2", state: "Draining" },
          ],
          pods: [
            { namespace: "a", name: "p1", state: "Evicted" },
            { namespace: "a", name: "p2", state: "Evicted" },
            { namespace: "a", name: "p3", state: "Blocked", message: "PDB a/pdb allows 0 disruptions" },
            { namespace: "a", name: "p4", state: "Pending" },
          ],
        },
      },
    ]),
  };
}

const deps = (extra: Partial<ApiDeps> = {}): ApiDeps => ({ caches: caches(), now: () => now, ...extra });

describe("tenants", () => {
  it("lists TenantControlPlanes and foreign control planes with current vs recommended resources", () => {
    const tenants = listTenants(deps());
    expect(tenants.map((t) => [t.name, t.managed, t.namespace])).toEqual([
      ["alpha", true, "tcp-alpha"],
      ["beta", false, "foreign-ns"],
    ]);
    const alpha = tenants[0]!;
    expect(alpha.phase).toBe("Ready");
    expect(alpha.components.map((c) => c.component)).toEqual(["etcd", "kube-apiserver"]);
    const api = alpha.components[1]!;
    expect(api.readyReplicas).toBe(2);
    expect(api.profile?.name).toBe("kube-apiserver");
    expect(api.containers[0]).toMatchObject({
      name: "kube-apiserver",
      current: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } },
      recommended: { target: { cpu: "300m", memory: "800Mi" }, upperBound: { memory: "1500Mi" } },
    });
    expect(alpha.components[0]!.containers[0]!.recommended).toBeUndefined();
    expect(alpha.decisions).toMatchObject({ last24h: 2, lastDecidedAt: iso(60_000) });
    expect(tenants[1]!.components[0]!.containers[0]!.name).toBe("apiserver");
  });
});

describe("decisions", () => {
  it("filters by since, tenant, category and dry-run, newest first", () => {
    expect(listDecisions(deps(), {}).decisions.map((d) => d.name)).toEqual(["oom-1", "cpu-1", "cpu-2"]);
    expect(listDecisions(deps(), { since: "7d" }).total).toBe(4);
    expect(listDecisions(deps(), { since: "90m" }).decisions.map((d) => d.name)).toEqual(["oom-1", "cpu-1"]);
    expect(listDecisions(deps(), { tenant: "beta" }).decisions.map((d) => d.name)).toEqual(["cpu-2"]);
    expect(listDecisions(deps(), { category: "CPUSaturation" }).total).toBe(2);
    expect(listDecisions(deps(), { dryRun: true }).decisions.map((d) => d.name)).toEqual(["cpu-1", "cpu-2"]);
    expect(listDecisions(deps(), { dryRun: false }).decisions.map((d) => d.name)).toEqual(["oom-1"]);
    expect(listDecisions(deps(), { limit: 1 }).decisions).toHaveLength(1);
    expect(listDecisions(deps(), { since: new Date(now - 7_000_000).toISOString() }).total).toBe(2);
    expect(() => listDecisions(deps(), { since: "yesterday" })).toThrow(/since/);
  });

  it("draws the evidence from the decision itself without Prometheus, and says so", async () => {
    const d = await decisionDetail(deps(), "tcp-alpha", "oom-1");
    expect(d?.decision.metadata?.name).toBe("oom-1");
    expect(d?.chart.source).toBe("decision-evidence");
    expect(d?.chart.note).toMatch(/no Prometheus/);
    expect(d?.chart.series[0]?.points).toEqual([{ t: now - 60_500, v: 2 ** 30 }]);
    expect(d?.chart.threshold?.value).toBe(2 ** 30);
    expect(await decisionDetail(deps(), "tcp-alpha", "nope")).toBeUndefined();
  });

  it("asks Prometheus for the signal around the decision, with the threshold", async () => {
    const calls: Array<{ q: string; start: Date; end: Date; step: number }> = [];
    const series: SeriesSource = {
      queryRange: (q, start, end, step) => {
        calls.push({ q, start, end, step });
        const t0 = start.getTime() / 1000;
        return Promise.resolve([
          {
            labels: { pod: "kube-apiserver-0" },
            points: [0, 1, 2].map((i): [number, number] => [(t0 + i * step) * 1000, 900 * 2 ** 20 + i]),
          },
        ]);
      },
    };
    const d = await decisionDetail(deps({ series, rateWindow: "2m" }), "tcp-alpha", "oom-1");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.q).toBe(
      'max by (pod) (container_memory_working_set_bytes{namespace="tcp-alpha",container="kube-apiserver"})',
    );
    expect(calls[0]!.start.getTime()).toBe(now - 60_000 - 15 * 60_000);
    expect(calls[0]!.end.getTime()).toBe(now); // decision + 5 min is in the future: cut at now
    expect(d?.chart).toMatchObject({ source: "prometheus", unit: "bytes", threshold: { value: 2 ** 30 } });
    expect(d?.chart.series[0]?.points).toHaveLength(3);
    expect(d?.chart.note).toBeUndefined();
  });

  it("falls back to the recorded evidence when Prometheus fails or has nothing", async () => {
    const failing: SeriesSource = { queryRange: () => Promise.reject(new Error("connection refused")) };
    const a = await decisionDetail(deps({ series: failing }), "tcp-alpha", "cpu-1");
    expect(a?.chart).toMatchObject({ source: "decision-evidence", unit: "ratio", threshold: { value: 0.8 } });
    expect(a?.chart.note).toMatch(/failed \(connection refused\)/);
    expect(a?.chart.series[0]?.points[0]?.v).toBe(0.93);
    const empty: SeriesSource = { queryRange: () => Promise.resolve([]) };
    const b = await decisionDetail(deps({ series: empty }), "tcp-alpha", "cpu-1");
    expect(b?.chart.note).toMatch(/no samples/);
  });

  it("picks the metric and threshold per root cause", () => {
    const base = decision("x", { tenant: "alpha", category: "CPUSaturation", ago: 0 });
    const cpu = chartPlan(base, "kube-apiserver", "1m");
    expect(cpu.query).toBe(
      'max by (pod) (rate(container_cpu_usage_seconds_total{namespace="tcp-alpha",container="kube-apiserver"}[1m]))',
    );
    expect(cpu.threshold?.value).toBeCloseTo(0.4); // 0.8 x 500m
    const with_ = (category: RootCauseCategory, evidence: Evidence[]) => {
      const d = structuredClone(base);
      d.spec = { ...d.spec, rootCause: { category, summary: "s", evidence } };
      return chartPlan(d, "kube-apiserver", "1m");
    };
    expect(
      with_("MemoryPressure", [{ signal: "memory_working_set_ratio", value: "0.95", threshold: "0.9" }]),
    ).toMatchObject({ unit: "bytes", threshold: { value: 0.9 * 2 ** 30 } });
    expect(with_("Throttling", [{ signal: "apiserver_429_rate", value: "3.00", threshold: "1" }])).toMatchObject({
      unit: "per-second",
      query: 'sum(rate(apiserver_request_total{namespace="tcp-alpha",code="429"}[1m]))',
      threshold: { value: 1 },
    });
    expect(with_("ClusterGrowth", []).query).toContain('resource="nodes"');
    expect(with_("Underutilized", [{ signal: "memory_recommendation_max_in_window", value: "300Mi" }])).toMatchObject({
      unit: "bytes",
      threshold: { value: 512 * 2 ** 20 },
    });
    expect(with_("ProbeFailure", []).query).toBeUndefined();
  });
});

describe("nodes", () => {
  it("reports pool sizes and drain progress", () => {
    expect(listNodePools(deps())[0]).toMatchObject({ name: "workers", nodes: 4, desiredNodes: 6, pendingPods: 5 });
    const drain = listNodeDrains(deps())[0]!;
    expect(drain).toMatchObject({ name: "shrink-1", phase: "Draining", percent: 50 });
    expect(drain.nodes.byState).toEqual({ Drained: 1, Draining: 1 });
    expect(drain.pods.byState).toEqual({ Evicted: 2, Blocked: 1, Pending: 1 });
    expect(drain.pods.blocked).toMatchObject([
      { pod: "a/p3", message: "PDB a/pdb allows 0 disruptions", pdbs: ["a/pdb"] },
    ]);
  });
});

describe("HTTP", () => {
  const token = "s3cret-token";
  let base = "";
  let open = "";
  const servers: HealthServer[] = [];

  beforeAll(async () => {
    for (const t of [token, undefined]) {
      const server = new HealthServer({
        registry: new Registry(),
        logger: createLogger({ level: "silent" }),
        readinessChecks: {},
      });
      const handler = createDashboardHandler(deps(), { token: t });
      server.route("/ui", handler);
      server.route("/api/", handler);
      const { port } = await server.listen("127.0.0.1:0");
      servers.push(server);
      if (t) base = `http://127.0.0.1:${port}`;
      else open = `http://127.0.0.1:${port}`;
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
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
    expect((await fetch(`${open}/api/nothing`)).status).toBe(404);
  });

  it("answers 400 to a bad period and 404 to an unknown decision", async () => {
    expect((await fetch(`${open}/api/decisions?since=soon`)).status).toBe(400);
    expect((await fetch(`${open}/api/decisions?dryRun=maybe`)).status).toBe(400);
    expect((await fetch(`${open}/api/report?format=pdf`)).status).toBe(400);
    expect((await fetch(`${open}/api/decisions/tcp-alpha/missing`)).status).toBe(404);
    const one = (await (await fetch(`${open}/api/decisions/tcp-alpha/oom-1`)).json()) as { chart: { source: string } };
    expect(one.chart.source).toBe("decision-evidence");
  });

  // `metapilot report` builds the same digest (src/cli/report-digest.test.ts checks the CLI against reportDigest).
  it("serves the digest as JSON (the shape `metapilot report -o json` prints) and as HTML", async () => {
    const api = (await (await fetch(`${open}/api/report?since=24h&dryRunOnly=true&format=json`)).json()) as Digest;
    // The same rows; the API's plan also reads today's size from the workload caches.
    const bare = reportDigest(decisions, { since: "24h", dryRunOnly: true }, now);
    expect({ ...api, plan: [] }).toEqual({ ...bare, plan: [] });
    expect(api.plan.map((p) => p.todaySource)).toEqual(bare.plan.map(() => "workload"));
    expect(api.rows.map((r) => r.name)).toEqual(["cpu-2", "cpu-1"]);
    const html = await fetch(`${open}/api/report?since=24h&dryRunOnly=true&format=html`);
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
    expect(await html.text()).toContain("metapilot dry-run decisions");
  });
});
