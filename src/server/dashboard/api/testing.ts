// Fixtures for the API's unit tests: fake caches, a small fleet with current vs recommended resources, decisions
// of each kind, a pool and a drain (`smallFleet`), a fleet of any size (`largeFleet`), and the API on a local port.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DecisionPhase, RootCauseCategory } from "../../../api/index.js";
import type { KubeObject } from "../../../kube/resources.js";
import type { ApiDeps, Cache, DashboardCaches, DecisionObject } from "./deps.js";
import { handleApi } from "./router.js";

export class FakeCache<T extends { metadata?: { name?: string; namespace?: string } }> implements Cache<T> {
  private readonly byKey: Map<string, T>;
  constructor(private readonly items: T[]) {
    this.byKey = new Map(
      items.map((item) => [
        (item.metadata?.namespace ? `${item.metadata.namespace}/` : "") + item.metadata?.name,
        item,
      ]),
    );
  }
  list(filter?: (item: T) => boolean): T[] {
    return filter ? this.items.filter(filter) : [...this.items];
  }
  get(key: string): T | undefined {
    return this.byKey.get(key);
  }
}

// --- a small fleet: one managed tenant, one foreign, four decisions ------------------------------------------

export const smallFleetNow = Date.parse("2030-01-02T12:00:00Z");
export const msAgo = (ms: number) => new Date(smallFleetNow - ms).toISOString();

const labels = (tenant: string, component: string) => ({
  "metapilot.io/tenant": tenant,
  "metapilot.io/component": component,
});

export function decisionFixture(
  name: string,
  options: {
    tenant: string;
    category: RootCauseCategory;
    ago: number;
    dryRun?: boolean;
    direction?: "Up" | "Down";
    phase?: DecisionPhase;
  },
): DecisionObject {
  const namespace = options.tenant === "alpha" ? "tcp-alpha" : "foreign-ns";
  return {
    metadata: { name, namespace, labels: labels(options.tenant, "kube-apiserver") },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace, tenant: options.tenant },
      component: "kube-apiserver",
      direction: options.direction ?? "Up",
      dryRun: options.dryRun ?? false,
      scaler: options.category === "OOMKilled" ? "oom" : "cpu",
      decidedAt: msAgo(options.ago),
      rootCause: {
        category: options.category,
        summary: `${options.category} on ${options.tenant}`,
        evidence:
          options.category === "OOMKilled"
            ? [
                {
                  signal: "container_oom_killed",
                  value: "kube-apiserver-0/kube-apiserver",
                  threshold: "limit 1Gi",
                  observedAt: msAgo(options.ago + 500),
                  source: "pod-status",
                },
              ]
            : [
                {
                  signal: "cpu_usage_ratio",
                  value: "0.93",
                  threshold: "0.8",
                  observedAt: msAgo(options.ago + 1000),
                  source: "prometheus",
                },
              ],
      },
      before: { replicas: 2, resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
      after: { replicas: 2, resources: { requests: { cpu: "500m", memory: "615Mi" }, limits: { memory: "1229Mi" } } },
    },
    status: {
      phase: options.phase ?? (options.dryRun ? "DryRun" : "Applied"),
      delivery: { state: "Pending" },
    },
  };
}

export const smallFleetDecisions = [
  decisionFixture("oom-1", { tenant: "alpha", category: "OOMKilled", ago: 60_000 }),
  decisionFixture("cpu-1", { tenant: "alpha", category: "CPUSaturation", ago: 3_600_000, dryRun: true }),
  decisionFixture("cpu-2", { tenant: "beta", category: "CPUSaturation", ago: 7_200_000, dryRun: true }),
  decisionFixture("old", { tenant: "alpha", category: "OOMKilled", ago: 3 * 86_400_000 }),
];

function smallFleetCaches(): DashboardCaches {
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
    decisions: new FakeCache(smallFleetDecisions),
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
          startTime: msAgo(60_000),
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

/** The small fleet's API deps at `smallFleetNow`, with `extra` (a series source, a rate window) on top. */
export const smallFleet = (extra: Partial<ApiDeps> = {}): ApiDeps => ({
  caches: smallFleetCaches(),
  now: () => smallFleetNow,
  ...extra,
});

// --- a large fleet: n managed tenants, every tenth with a dry-run decision, one drain -------------------------

export const largeFleetNow = Date.parse("2026-12-05T12:00:00Z");
export const largeFleetTenant = (index: number) => `tenant-${String(index).padStart(4, "0")}`;

/**
 * `size` tenants: every 100th from the 7th Degraded, every 50th from the 3rd Provisioning, every 100th from the
 * 9th with one of two apiservers unready, and every 10th with a dry-run decision `index` minutes old.
 */
export function largeFleet(size: number, opsCenter = false): ApiDeps {
  const tenants: KubeObject[] = [];
  const deployments: KubeObject[] = [];
  const decisions: KubeObject[] = [];
  for (let index = 0; index < size; index++) {
    const tenant = largeFleetTenant(index);
    tenants.push({
      metadata: { name: tenant },
      spec: { version: "v1.34.4" },
      status: {
        phase: index % 100 === 7 ? "Degraded" : index % 50 === 3 ? "Provisioning" : "Ready",
        namespace: `tcp-${tenant}`,
      },
    } as KubeObject);
    deployments.push({
      metadata: {
        name: "kube-apiserver",
        namespace: `tcp-${tenant}`,
        labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver" },
      },
      spec: {
        replicas: 2,
        template: { spec: { containers: [{ name: "kube-apiserver", resources: { requests: { cpu: "500m" } } }] } },
      },
      status: { readyReplicas: index % 100 === 9 ? 1 : 2 },
    } as KubeObject);
    if (index % 10 === 0)
      decisions.push({
        metadata: { name: `d-${tenant}`, namespace: `tcp-${tenant}` },
        spec: {
          target: { kind: "Deployment", name: "kube-apiserver", namespace: `tcp-${tenant}`, tenant },
          component: "kube-apiserver",
          direction: "Up",
          dryRun: true,
          decidedAt: new Date(largeFleetNow - index * 60_000).toISOString(),
          rootCause: { category: "Throttling", summary: "429s" },
          before: { replicas: 2, resources: { requests: { cpu: "500m" } } },
          after: { replicas: 3, resources: { requests: { cpu: "500m" } } },
        },
        status: { phase: "DryRun", delivery: { state: "Pending", attempts: 0 } },
      } as KubeObject);
  }
  const caches = {
    tenants: new FakeCache(tenants),
    deployments: new FakeCache(deployments),
    statefulSets: new FakeCache([]),
    profiles: new FakeCache([]),
    decisions: new FakeCache(decisions),
    nodePools: new FakeCache([]),
    nodeDrains: new FakeCache([
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
  return { caches, now: () => largeFleetNow, opsCenter };
}

// --- the API over HTTP -----------------------------------------------------------------------------------------

/** The API alone (no auth, no UI) on a loopback port; `close` stops it. */
export async function serveApi(deps: ApiDeps): Promise<{ base: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void handleApi(deps, req, res, new URL(req.url ?? "/", "http://localhost"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
