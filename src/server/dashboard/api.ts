// The dashboard's read-only JSON API. Every answer is built from informer caches (the same shared caches the
// controllers use), so a page view never LISTs against the apiserver. The handlers are plain functions over a small
// cache interface, so unit tests feed them fakes.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeObject } from "../../kube/resources.js";
import { renderDigestHtml, type DigestRow, type ReportableDecision } from "../../scaler/reports.js";
import { evidenceChart, type EvidenceChart, type SeriesSource } from "./evidence.js";
import { reportDigest, reportWindow, tenantOf } from "./report.js";

/** What the API reads: an Informer satisfies it. */
export interface Cache<T> {
  list(filter?: (obj: T) => boolean): T[];
  get(key: string): T | undefined;
}

type ResourceList = Record<string, string>;
interface ResourceRequirements {
  requests?: ResourceList;
  limits?: ResourceList;
}

export interface WorkloadObject extends KubeObject {
  spec?: {
    replicas?: number;
    template?: { spec?: { containers?: Array<{ name: string; resources?: ResourceRequirements }> } };
  };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number };
}

export interface TenantObject extends KubeObject {
  spec?: { version?: string; namespace?: string; paused?: boolean };
  status?: { phase?: string; namespace?: string; version?: string; endpoint?: string };
}

export interface ProfileObject extends KubeObject {
  spec?: { targetRef?: { kind?: string; name?: string }; algorithm?: string };
  status?: {
    containers?: Array<{
      name: string;
      target?: ResourceList;
      lowerBound?: ResourceList;
      upperBound?: ResourceList;
      confidenceDays?: number;
      reason?: string;
    }>;
    confidence?: number;
    lastUpdated?: string;
  };
}

export interface EvidenceItem {
  signal: string;
  value: string;
  threshold?: string;
  observedAt?: string;
  source?: string;
}

export interface DecisionObject extends ReportableDecision {
  spec?: ReportableDecision["spec"] & {
    target?: { kind?: string; name?: string; namespace?: string; tenant?: string };
    scaler?: string;
    clusterScaler?: string;
    rootCause?: { category?: string; summary?: string; evidence?: EvidenceItem[] };
    before?: { replicas?: number; resources?: ResourceRequirements };
    after?: { replicas?: number; resources?: ResourceRequirements };
  };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface NodePoolObject extends KubeObject {
  spec?: { provider?: string; minNodes?: number; maxNodes?: number; dryRun?: boolean };
  status?: {
    nodes?: number;
    readyNodes?: number;
    desiredNodes?: number;
    pendingPods?: number;
    scaleDownCandidates?: string[];
    activeDrain?: string;
    lastScaleTime?: string;
    conditions?: Condition[];
  };
}

export interface NodeDrainObject extends KubeObject {
  spec?: { nodeNames?: string[]; dryRun?: boolean; evictionStrategy?: string };
  status?: {
    phase?: string;
    message?: string;
    startTime?: string;
    completionTime?: string;
    nodes?: Array<{ name: string; state: string; message?: string }>;
    pods?: Array<{ namespace: string; name: string; node?: string; state: string; message?: string }>;
  };
}

export interface DashboardCaches {
  tenants: Cache<TenantObject>;
  deployments: Cache<WorkloadObject>;
  statefulSets: Cache<WorkloadObject>;
  profiles: Cache<ProfileObject>;
  decisions: Cache<DecisionObject>;
  nodePools: Cache<NodePoolObject>;
  nodeDrains: Cache<NodeDrainObject>;
}

export interface ApiDeps {
  caches: DashboardCaches;
  /** Range queries for the evidence chart; absent without Prometheus. */
  series?: SeriesSource;
  rateWindow?: string;
  now?: () => number;
}

export const tenantLabel = "metapilot.io/tenant";
export const componentLabel = "metapilot.io/component";
const pausedAnnotation = "metapilot.io/paused";
const componentOrder = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

// --- tenants --------------------------------------------------------------------------------------------------

export interface ContainerView {
  name: string;
  current: { requests: ResourceList; limits: ResourceList };
  recommended?: {
    target?: ResourceList;
    lowerBound?: ResourceList;
    upperBound?: ResourceList;
    confidenceDays?: number;
    reason?: string;
  };
}

export interface ComponentView {
  component: string;
  kind: "Deployment" | "StatefulSet";
  name: string;
  namespace: string;
  replicas?: number;
  readyReplicas?: number;
  paused: boolean;
  profile?: { name: string; algorithm?: string; confidence?: number; lastUpdated?: string };
  containers: ContainerView[];
}

export interface TenantView {
  name: string;
  namespace: string;
  /** A TenantControlPlane exists; false for a foreign control plane found by its labels alone. */
  managed: boolean;
  phase?: string;
  version?: string;
  endpoint?: string;
  paused: boolean;
  components: ComponentView[];
  decisions: { last24h: number; lastDecidedAt?: string };
}

function profileFor(caches: DashboardCaches, w: WorkloadObject, kind: string): ProfileObject | undefined {
  const ns = w.metadata?.namespace;
  const name = w.metadata?.name;
  return caches.profiles.list(
    (p) =>
      p.metadata?.namespace === ns &&
      p.spec?.targetRef?.name === name &&
      (p.spec?.targetRef?.kind ?? "Deployment") === kind,
  )[0];
}

function componentView(caches: DashboardCaches, w: WorkloadObject, kind: ComponentView["kind"]): ComponentView {
  const profile = profileFor(caches, w, kind);
  const containers = (w.spec?.template?.spec?.containers ?? []).map((c): ContainerView => {
    const rec = profile?.status?.containers?.find((x) => x.name === c.name);
    return {
      name: c.name,
      current: { requests: { ...c.resources?.requests }, limits: { ...c.resources?.limits } },
      recommended: rec
        ? {
            target: rec.target,
            lowerBound: rec.lowerBound,
            upperBound: rec.upperBound,
            confidenceDays: rec.confidenceDays,
            reason: rec.reason,
          }
        : undefined,
    };
  });
  return {
    component: w.metadata?.labels?.[componentLabel] ?? w.metadata?.name ?? "",
    kind,
    name: w.metadata?.name ?? "",
    namespace: w.metadata?.namespace ?? "",
    replicas: w.spec?.replicas,
    readyReplicas: w.status?.readyReplicas ?? 0,
    paused: w.metadata?.annotations?.[pausedAnnotation] === "true",
    profile: profile
      ? {
          name: profile.metadata?.name ?? "",
          algorithm: profile.spec?.algorithm,
          confidence: profile.status?.confidence,
          lastUpdated: profile.status?.lastUpdated,
        }
      : undefined,
    containers,
  };
}

export function listTenants(deps: ApiDeps): TenantView[] {
  const { caches } = deps;
  const now = (deps.now ?? Date.now)();
  const byTenant = new Map<string, TenantView>();
  for (const t of caches.tenants.list()) {
    const name = t.metadata?.name ?? "";
    byTenant.set(name, {
      name,
      namespace: t.status?.namespace ?? t.spec?.namespace ?? `tcp-${name}`,
      managed: true,
      phase: t.status?.phase,
      version: t.status?.version ?? t.spec?.version,
      endpoint: t.status?.endpoint,
      paused: t.spec?.paused === true || t.metadata?.annotations?.[pausedAnnotation] === "true",
      components: [],
      decisions: { last24h: 0 },
    });
  }
  const workloads = [
    ...caches.deployments.list().map((w) => [w, "Deployment"] as const),
    ...caches.statefulSets.list().map((w) => [w, "StatefulSet"] as const),
  ];
  for (const [w, kind] of workloads) {
    const tenant = w.metadata?.labels?.[tenantLabel];
    if (!tenant || !w.metadata?.labels?.[componentLabel]) continue;
    let view = byTenant.get(tenant);
    if (!view) {
      view = {
        name: tenant,
        namespace: w.metadata.namespace ?? "",
        managed: false,
        paused: false,
        components: [],
        decisions: { last24h: 0 },
      };
      byTenant.set(tenant, view);
    }
    view.components.push(componentView(caches, w, kind));
  }
  for (const d of caches.decisions.list()) {
    const view = byTenant.get(tenantOf(d));
    const at = Date.parse(d.spec?.decidedAt ?? "");
    if (!view || Number.isNaN(at)) continue;
    if (now - at <= 86_400_000) view.decisions.last24h++;
    const decidedAt = d.spec?.decidedAt ?? "";
    if (!view.decisions.lastDecidedAt || decidedAt > view.decisions.lastDecidedAt)
      view.decisions.lastDecidedAt = decidedAt;
  }
  const rank = (c: string) => (componentOrder.indexOf(c) + 1 || 99) * 1000;
  for (const v of byTenant.values()) {
    v.components.sort((a, b) => rank(a.component) - rank(b.component) || a.name.localeCompare(b.name));
  }
  return [...byTenant.values()].sort((a, b) => a.name.localeCompare(b.name));
}

// --- decisions ------------------------------------------------------------------------------------------------

export interface DecisionQuery {
  since?: string;
  until?: string;
  tenant?: string;
  category?: string;
  dryRun?: boolean;
  limit?: number;
}

export interface DecisionList {
  from: string;
  to: string;
  total: number;
  /** Newest first; at most `limit`. */
  decisions: Array<DigestRow & { scaler?: string }>;
}

export function listDecisions(deps: ApiDeps, q: DecisionQuery): DecisionList {
  const now = (deps.now ?? Date.now)();
  const digest = reportDigest(
    deps.caches.decisions.list(),
    { since: q.since, until: q.until, tenant: q.tenant, dryRunOnly: q.dryRun === true },
    now,
  );
  let rows = digest.rows;
  if (q.dryRun === false) rows = rows.filter((r) => !r.dryRun);
  if (q.category) rows = rows.filter((r) => r.category === q.category);
  rows = [...rows].reverse();
  const limit = q.limit ?? 500;
  return {
    from: digest.from,
    to: digest.to,
    total: rows.length,
    decisions: rows.slice(0, limit).map((r) => ({
      ...r,
      scaler: deps.caches.decisions.get(`${r.namespace}/${r.name}`)?.spec?.scaler,
    })),
  };
}

export interface DecisionDetail {
  decision: DecisionObject;
  chart: EvidenceChart;
}

/** The workload's main container: the one named after the component, else the first (as the scaler picks it). */
function mainContainer(deps: ApiDeps, d: DecisionObject): string {
  const t = d.spec?.target;
  const component = d.spec?.component ?? "";
  const cache = t?.kind === "StatefulSet" ? deps.caches.statefulSets : deps.caches.deployments;
  const containers = cache.get(`${t?.namespace}/${t?.name}`)?.spec?.template?.spec?.containers ?? [];
  if (containers.some((c) => c.name === component)) return component;
  return containers[0]?.name ?? component;
}

export async function decisionDetail(
  deps: ApiDeps,
  namespace: string,
  name: string,
  windowMs?: number,
): Promise<DecisionDetail | undefined> {
  const d = deps.caches.decisions.get(`${namespace}/${name}`);
  if (!d) return undefined;
  const chart = await evidenceChart(d, {
    series: deps.series,
    container: mainContainer(deps, d),
    rateWindow: deps.rateWindow ?? "1m",
    now: (deps.now ?? Date.now)(),
    windowMs,
  });
  return { decision: d, chart };
}

// --- nodes ----------------------------------------------------------------------------------------------------

export interface NodePoolView {
  name: string;
  provider?: string;
  minNodes?: number;
  maxNodes?: number;
  nodes: number;
  readyNodes: number;
  desiredNodes: number;
  pendingPods: number;
  scaleDownCandidates: string[];
  activeDrain?: string;
  dryRun: boolean;
  lastScaleTime?: string;
  conditions: Condition[];
}

export function listNodePools(deps: ApiDeps): NodePoolView[] {
  return deps.caches.nodePools
    .list()
    .map((p) => ({
      name: p.metadata?.name ?? "",
      provider: p.spec?.provider,
      minNodes: p.spec?.minNodes,
      maxNodes: p.spec?.maxNodes,
      nodes: p.status?.nodes ?? 0,
      readyNodes: p.status?.readyNodes ?? 0,
      desiredNodes: p.status?.desiredNodes ?? p.status?.nodes ?? 0,
      pendingPods: p.status?.pendingPods ?? 0,
      scaleDownCandidates: p.status?.scaleDownCandidates ?? [],
      activeDrain: p.status?.activeDrain,
      dryRun: p.spec?.dryRun === true,
      lastScaleTime: p.status?.lastScaleTime,
      conditions: p.status?.conditions ?? [],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface NodeDrainView {
  name: string;
  phase: string;
  dryRun: boolean;
  message?: string;
  startTime?: string;
  completionTime?: string;
  nodes: { total: number; byState: Record<string, number>; items: Array<{ name: string; state: string }> };
  pods: { total: number; byState: Record<string, number>; blocked: Array<{ pod: string; message?: string }> };
  /** Pods finished (Evicted or Skipped) over all pods, 0..100; nodes drained when the plan has no pods. */
  percent: number;
}

const countBy = <T>(items: readonly T[], f: (t: T) => string) =>
  items.reduce<Record<string, number>>((acc, x) => ((acc[f(x)] = (acc[f(x)] ?? 0) + 1), acc), {});

export function listNodeDrains(deps: ApiDeps): NodeDrainView[] {
  return deps.caches.nodeDrains
    .list()
    .map((d): NodeDrainView => {
      const pods = d.status?.pods ?? [];
      const nodes = d.status?.nodes ?? (d.spec?.nodeNames ?? []).map((name) => ({ name, state: "Pending" }));
      const podsDone = pods.filter((p) => p.state === "Evicted" || p.state === "Skipped").length;
      const nodesDone = nodes.filter((n) => n.state === "Drained" || n.state === "Skipped").length;
      const finished = ["Succeeded"].includes(d.status?.phase ?? "");
      const percent = finished
        ? 100
        : pods.length
          ? Math.round((podsDone / pods.length) * 100)
          : nodes.length
            ? Math.round((nodesDone / nodes.length) * 100)
            : 0;
      return {
        name: d.metadata?.name ?? "",
        phase: d.status?.phase ?? "Pending",
        dryRun: d.spec?.dryRun === true,
        message: d.status?.message,
        startTime: d.status?.startTime,
        completionTime: d.status?.completionTime,
        nodes: {
          total: nodes.length,
          byState: countBy(nodes, (n) => n.state),
          items: nodes.map((n) => ({ name: n.name, state: n.state })),
        },
        pods: {
          total: pods.length,
          byState: countBy(pods, (p) => p.state),
          blocked: pods
            .filter((p) => p.state === "Blocked" || p.state === "Failed")
            .slice(0, 50)
            .map((p) => ({ pod: `${p.namespace}/${p.name}`, message: p.message })),
        },
        percent,
      };
    })
    .sort((a, b) => (b.startTime ?? "").localeCompare(a.startTime ?? "") || a.name.localeCompare(b.name));
}

// --- HTTP -----------------------------------------------------------------------------------------------------

export class BadRequest extends Error {}

function boolParam(v: string | null, name: string): boolean | undefined {
  if (v === null || v === "") return undefined;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new BadRequest(`${name} must be true or false`);
}

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.setHeader("cache-control", "no-store");
  res.setHeader("x-content-type-options", "nosniff");
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), "application/json; charset=utf-8");
}

/** Routes /api/...; `url.pathname` starts with /api/. */
export async function handleApi(deps: ApiDeps, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const p = url.searchParams;
  const path = url.pathname.replace(/\/+$/, "");
  try {
    if (path === "/api") {
      return sendJson(res, 200, {
        endpoints: [
          "/api/tenants",
          "/api/decisions?since=24h&until=&tenant=&category=&dryRun=true|false&limit=500",
          "/api/decisions/{namespace}/{name}?window=15m",
          "/api/nodepools",
          "/api/nodedrains",
          "/api/report?since=24h&until=&tenant=&dryRunOnly=true|false&format=json|html",
        ],
      });
    }
    if (path === "/api/tenants") return sendJson(res, 200, { tenants: listTenants(deps) });
    if (path === "/api/decisions") {
      const limit = p.get("limit");
      if (limit !== null && !/^\d+$/.test(limit)) throw new BadRequest("limit must be a whole number");
      return sendJson(
        res,
        200,
        listDecisions(deps, {
          since: p.get("since") || undefined,
          until: p.get("until") || undefined,
          tenant: p.get("tenant") || undefined,
          category: p.get("category") || undefined,
          dryRun: boolParam(p.get("dryRun"), "dryRun"),
          limit: limit === null ? undefined : Number(limit),
        }),
      );
    }
    const one = /^\/api\/decisions\/([^/]+)\/([^/]+)$/.exec(path);
    if (one?.[1] && one[2]) {
      const window = p.get("window");
      let windowMs: number | undefined;
      if (window) {
        const now = (deps.now ?? Date.now)();
        windowMs = now - reportWindow({ since: window }, now).from.getTime();
      }
      const detail = await decisionDetail(deps, decodeURIComponent(one[1]), decodeURIComponent(one[2]), windowMs);
      if (!detail) return sendJson(res, 404, { error: `no ScalingDecision ${one[1]}/${one[2]} in the cache` });
      return sendJson(res, 200, detail);
    }
    if (path === "/api/nodepools") return sendJson(res, 200, { nodePools: listNodePools(deps) });
    if (path === "/api/nodedrains") return sendJson(res, 200, { nodeDrains: listNodeDrains(deps) });
    if (path === "/api/report") {
      const format = p.get("format") ?? "json";
      if (format !== "json" && format !== "html") throw new BadRequest("format must be json or html");
      const q = {
        since: p.get("since") || undefined,
        until: p.get("until") || undefined,
        tenant: p.get("tenant") || undefined,
        dryRunOnly: boolParam(p.get("dryRunOnly"), "dryRunOnly"),
      };
      const digest = reportDigest(deps.caches.decisions.list(), q, (deps.now ?? Date.now)());
      if (format === "html") {
        const title = q.dryRunOnly ? "metapilot dry-run decisions" : "metapilot decisions";
        return send(res, 200, renderDigestHtml(digest, title), "text/html; charset=utf-8");
      }
      return sendJson(res, 200, digest);
    }
    return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
  } catch (err) {
    // Bad periods and filters come back from the parsers as plain Errors; those are the caller's mistake.
    if (err instanceof BadRequest || (err instanceof Error && /since|until|duration|RFC 3339/.test(err.message)))
      return sendJson(res, 400, { error: err.message });
    throw err;
  }
}
