// The dashboard's read-only JSON API. Every answer is built from informer caches (the same shared caches the
// controllers use), so a page view never LISTs against the apiserver. The handlers are plain functions over a small
// cache interface, so unit tests feed them fakes.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeObject } from "../../kube/resources.js";
import { buildDigest, renderDigestCsv, type Digest, type DigestRow, type PlanRow } from "../../scaler/reports.js";
import { evidenceChart, type EvidenceChart, type SeriesSource } from "./evidence.js";
import { planContext, renderReportHtml, reportDigest, reportWindow, tenantOf } from "./report.js";
import { componentLabel, pausedAnnotation, tenantLabel } from "../../api/labels.js";
import type { ScalingDecisionObject } from "../../api/index.js";

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

/** A ScalingDecision as the dashboard reads it from the cache. */
export type DecisionObject = ScalingDecisionObject;

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
    plan?: Array<{ node: string; pods?: string[]; blockingPDBs?: string[] }>;
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
  /** For the dry-run plan's bounds; without it the plan names no bounds. */
  clusterScalers?: Cache<KubeObject>;
}

export interface ApiDeps {
  caches: DashboardCaches;
  /** Whether decisions are reported to an ops center; without one, no delivery state is shown. */
  opsCenter?: boolean;
  /** Range queries for the evidence chart; absent without Prometheus. */
  series?: SeriesSource;
  rateWindow?: string;
  now?: () => number;
}

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
  decisions: {
    last24h: number;
    lastDecidedAt?: string;
    last?: { name: string; namespace: string; category: string; direction: string; phase: string; dryRun: boolean };
  };
  health: Health;
  /** Why the health is not Healthy. */
  healthReason?: string;
}

/** Worst first: the order of the fleet page's health sort. */
export const healthOrder = ["Degraded", "Progressing", "Unknown", "Paused", "Healthy"] as const;
export type Health = (typeof healthOrder)[number];

function healthOf(v: Omit<TenantView, "health" | "healthReason">): { health: Health; reason?: string } {
  if (v.phase === "Degraded") return { health: "Degraded", reason: "TenantControlPlane phase Degraded" };
  const unready = v.components.filter((c) => (c.replicas ?? 1) > 0 && (c.readyReplicas ?? 0) < (c.replicas ?? 1));
  if (unready.length && !["Provisioning", "Upgrading"].includes(v.phase ?? ""))
    return {
      health: "Degraded",
      reason: unready.map((c) => `${c.component} ${c.readyReplicas ?? 0}/${c.replicas ?? 1} ready`).join(", "),
    };
  if (v.phase === "Provisioning" || v.phase === "Upgrading") return { health: "Progressing", reason: v.phase };
  if (v.paused) return { health: "Paused", reason: "paused: no automatic change" };
  if (v.phase === "Ready" || v.components.length > 0) return { health: "Healthy" };
  return { health: "Unknown", reason: "no phase and no labelled workloads yet" };
}

type ProfileIndex = Map<string, ProfileObject>;

/** WorkloadProfiles by namespace/kind/name of their target, built once per request (not once per workload). */
function profileIndex(caches: DashboardCaches): ProfileIndex {
  const index: ProfileIndex = new Map();
  for (const p of caches.profiles.list()) {
    const key = `${p.metadata?.namespace}/${p.spec?.targetRef?.kind ?? "Deployment"}/${p.spec?.targetRef?.name}`;
    if (!index.has(key)) index.set(key, p);
  }
  return index;
}

function componentView(profiles: ProfileIndex, w: WorkloadObject, kind: ComponentView["kind"]): ComponentView {
  const profile = profiles.get(`${w.metadata?.namespace}/${kind}/${w.metadata?.name}`);
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
  const profiles = profileIndex(caches);
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
      health: "Unknown",
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
        health: "Unknown",
      };
      byTenant.set(tenant, view);
    }
    view.components.push(componentView(profiles, w, kind));
  }
  for (const d of caches.decisions.list()) {
    const view = byTenant.get(tenantOf(d));
    const at = Date.parse(d.spec?.decidedAt ?? "");
    if (!view || Number.isNaN(at)) continue;
    if (now - at <= 86_400_000) view.decisions.last24h++;
    const decidedAt = new Date(at).toISOString();
    if (!view.decisions.lastDecidedAt || decidedAt > view.decisions.lastDecidedAt) {
      view.decisions.lastDecidedAt = decidedAt;
      view.decisions.last = {
        name: d.metadata?.name ?? "",
        namespace: d.metadata?.namespace ?? "",
        category: d.spec?.rootCause?.category ?? "",
        direction: d.spec?.direction ?? "",
        phase: d.status?.phase ?? "Pending",
        dryRun: d.spec?.dryRun === true,
      };
    }
  }
  const rank = (c: string) => (componentOrder.indexOf(c) + 1 || 99) * 1000;
  for (const v of byTenant.values()) {
    v.components.sort((a, b) => rank(a.component) - rank(b.component) || a.name.localeCompare(b.name));
    const h = healthOf(v);
    v.health = h.health;
    if (h.reason) v.healthReason = h.reason;
  }
  return [...byTenant.values()].sort((a, b) => a.name.localeCompare(b.name));
}

// --- fleet ----------------------------------------------------------------------------------------------------

export type FleetSort = "tenant" | "lastDecision" | "health";
export const fleetSorts: readonly FleetSort[] = ["tenant", "lastDecision", "health"];

export interface FleetQuery {
  /** Substring of the tenant name or namespace, case-insensitive. */
  q?: string;
  sort?: FleetSort;
  /** 1-based. */
  page?: number;
  pageSize?: number;
  health?: Health;
}

/** One line of the fleet page: no per-container detail (that is the tenant page), so 1,000 tenants stay small. */
export interface FleetRow {
  name: string;
  namespace: string;
  managed: boolean;
  phase?: string;
  version?: string;
  paused: boolean;
  health: Health;
  healthReason?: string;
  components: number;
  ready: string;
  decisions: TenantView["decisions"];
}

export interface FleetPage {
  summary: {
    tenants: number;
    byHealth: Record<string, number>;
    decisionsLast24h: number;
    tenantsWithDecisionsLast24h: number;
    managed: number;
    foreign: number;
  };
  /** Tenants matching q and health, before paging. */
  matching: number;
  page: number;
  pageSize: number;
  pages: number;
  sort: FleetSort;
  tenants: FleetRow[];
}

export function fleetPage(deps: ApiDeps, q: FleetQuery = {}): FleetPage {
  const all = listTenants(deps);
  const byHealth: Record<string, number> = {};
  for (const t of all) byHealth[t.health] = (byHealth[t.health] ?? 0) + 1;
  const needle = q.q?.trim().toLowerCase();
  let list = needle
    ? all.filter((t) => t.name.toLowerCase().includes(needle) || t.namespace.toLowerCase().includes(needle))
    : all;
  if (q.health) list = list.filter((t) => t.health === q.health);
  const sort = q.sort ?? "tenant";
  const byName = (a: TenantView, b: TenantView) => a.name.localeCompare(b.name);
  if (sort === "lastDecision")
    list = [...list].sort(
      (a, b) => (b.decisions.lastDecidedAt ?? "").localeCompare(a.decisions.lastDecidedAt ?? "") || byName(a, b),
    );
  else if (sort === "health")
    list = [...list].sort((a, b) => healthOrder.indexOf(a.health) - healthOrder.indexOf(b.health) || byName(a, b));
  const pageSize = Math.min(Math.max(q.pageSize ?? 50, 1), 500);
  const pages = Math.max(1, Math.ceil(list.length / pageSize));
  const page = Math.min(Math.max(q.page ?? 1, 1), pages);
  return {
    summary: {
      tenants: all.length,
      byHealth,
      decisionsLast24h: all.reduce((n, t) => n + t.decisions.last24h, 0),
      tenantsWithDecisionsLast24h: all.filter((t) => t.decisions.last24h > 0).length,
      managed: all.filter((t) => t.managed).length,
      foreign: all.filter((t) => !t.managed).length,
    },
    matching: list.length,
    page,
    pageSize,
    pages,
    sort,
    tenants: list.slice((page - 1) * pageSize, page * pageSize).map((t) => ({
      name: t.name,
      namespace: t.namespace,
      managed: t.managed,
      phase: t.phase,
      version: t.version,
      paused: t.paused,
      health: t.health,
      healthReason: t.healthReason,
      components: t.components.length,
      ready: `${t.components.filter((c) => (c.readyReplicas ?? 0) >= (c.replicas ?? 1)).length}/${t.components.length}`,
      decisions: t.decisions,
    })),
  };
}

export interface TenantDetail {
  tenant: TenantView;
  /** The tenant's newest decisions (at most 50) over the last 7 days. */
  decisions: DecisionList;
  /** Its dry-run plan over the last 7 days. */
  plan: PlanRow[];
}

export function tenantDetail(deps: ApiDeps, name: string): TenantDetail | undefined {
  const tenant = listTenants(deps).find((t) => t.name === name);
  if (!tenant) return undefined;
  return {
    tenant,
    decisions: listDecisions(deps, { since: "7d", tenant: name, limit: 50 }),
    plan: digestFor(deps, { since: "7d", tenant: name, dryRunOnly: true }).plan,
  };
}

/** The report digest from the caches, with the dry-run plan's today and bounds. */
export function digestFor(
  deps: ApiDeps,
  q: { since?: string; until?: string; tenant?: string; dryRunOnly?: boolean },
): Digest {
  const { caches } = deps;
  const ctx = planContext({
    workload: (kind, namespace, name) =>
      (kind === "StatefulSet" ? caches.statefulSets : caches.deployments).get(`${namespace}/${name}`),
    clusterScalers: caches.clusterScalers?.list() ?? [],
    tenant: (n) => caches.tenants.get(n),
  });
  return reportDigest(caches.decisions.list(), q, (deps.now ?? Date.now)(), ctx);
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
  /** Whether an ops center is configured (else the decision's delivery state means nothing). */
  opsCenter: boolean;
  /** Dry-run decisions: the workload's real size at the decision, and whether "before" was a simulated size. */
  row?: DigestRow;
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
  const at = Date.parse(d.spec?.decidedAt ?? "");
  const row = Number.isNaN(at) ? undefined : buildDigest([d], new Date(at), new Date(at)).rows[0];
  return { decision: d, chart, opsCenter: deps.opsCenter === true, ...(row ? { row } : {}) };
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
  pods: {
    total: number;
    byState: Record<string, number>;
    blocked: Array<{ pod: string; node?: string; message?: string; pdbs: string[] }>;
  };
  /** Per node: its state, the pods on it still to go, and the PodDisruptionBudgets that hold it up. */
  rows: Array<{ node: string; state: string; pods: string[]; blockingPDBs: string[] }>;
  /** Pods finished (Evicted or Skipped) over all pods, 0..100; nodes drained when the plan has no pods. */
  percent: number;
}

const countBy = <T>(items: readonly T[], f: (t: T) => string) =>
  items.reduce<Record<string, number>>((acc, x) => ((acc[f(x)] = (acc[f(x)] ?? 0) + 1), acc), {});

/** PodDisruptionBudgets named in a pod's message ("PodDisruptionBudget ns/name allows 0 disruptions"). */
function pdbsIn(message: string | undefined, namespace: string): string[] {
  const out: string[] = [];
  for (const m of (message ?? "").matchAll(
    /\b(?:PodDisruptionBudgets?|PDBs?)\s+"?([a-z0-9.-]+(?:\/[a-z0-9.-]+)?)"?/gi,
  )) {
    const name = m[1] ?? "";
    out.push(name.includes("/") ? name : `${namespace}/${name}`);
  }
  return out;
}

/** A row per node of the drain: its pods still on it (by progress, else by the plan) and its blocking PDBs. */
function drainRows(d: NodeDrainObject, nodes: ReadonlyArray<{ name: string; state: string }>): NodeDrainView["rows"] {
  const pods = d.status?.pods ?? [];
  const plan = new Map((d.status?.plan ?? []).map((p) => [p.node, p]));
  return nodes.map((n) => {
    const mine = pods.filter((p) => p.node === n.name);
    const left = mine.length
      ? mine.filter((p) => p.state !== "Evicted" && p.state !== "Skipped").map((p) => `${p.namespace}/${p.name}`)
      : (plan.get(n.name)?.pods ?? []);
    const blocking = new Set(plan.get(n.name)?.blockingPDBs ?? []);
    for (const p of mine) if (p.state === "Blocked") for (const b of pdbsIn(p.message, p.namespace)) blocking.add(b);
    return { node: n.name, state: n.state, pods: left, blockingPDBs: [...blocking] };
  });
}

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
            .map((p) => ({
              pod: `${p.namespace}/${p.name}`,
              node: p.node,
              message: p.message,
              pdbs: pdbsIn(p.message, p.namespace),
            })),
        },
        rows: drainRows(d, nodes),
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
          "/api/fleet?q=&sort=tenant|lastDecision|health&health=&page=1&pageSize=50",
          "/api/tenants/{name}",
          "/api/decisions?since=24h&until=&tenant=&category=&dryRun=true|false&limit=500",
          "/api/decisions/{namespace}/{name}?window=15m",
          "/api/nodepools",
          "/api/nodedrains",
          "/api/report?since=24h&until=&tenant=&dryRunOnly=true|false&format=json|html|csv",
        ],
      });
    }
    if (path === "/api/tenants") return sendJson(res, 200, { tenants: listTenants(deps) });
    if (path === "/api/fleet") {
      const sort = p.get("sort") || undefined;
      if (sort !== undefined && !fleetSorts.includes(sort as FleetSort))
        throw new BadRequest(`sort must be one of ${fleetSorts.join(", ")}`);
      const health = p.get("health") || undefined;
      if (health !== undefined && !healthOrder.includes(health as Health))
        throw new BadRequest(`health must be one of ${healthOrder.join(", ")}`);
      const whole = (name: string) => {
        const v = p.get(name);
        if (v === null || v === "") return undefined;
        if (!/^\d+$/.test(v)) throw new BadRequest(`${name} must be a whole number`);
        return Number(v);
      };
      return sendJson(
        res,
        200,
        fleetPage(deps, {
          q: p.get("q") || undefined,
          sort: sort as FleetSort | undefined,
          health: health as Health | undefined,
          page: whole("page"),
          pageSize: whole("pageSize"),
        }),
      );
    }
    const tenantPath = /^\/api\/tenants\/([^/]+)$/.exec(path);
    if (tenantPath?.[1]) {
      const detail = tenantDetail(deps, decodeURIComponent(tenantPath[1]));
      if (!detail) return sendJson(res, 404, { error: `no tenant ${decodeURIComponent(tenantPath[1])}` });
      return sendJson(res, 200, detail);
    }
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
      if (format !== "json" && format !== "html" && format !== "csv")
        throw new BadRequest("format must be json, html or csv");
      const q = {
        since: p.get("since") || undefined,
        until: p.get("until") || undefined,
        tenant: p.get("tenant") || undefined,
        dryRunOnly: boolParam(p.get("dryRunOnly"), "dryRunOnly"),
      };
      const digest = digestFor(deps, q);
      if (format === "html") {
        const title = q.dryRunOnly ? "metapilot dry-run decisions" : "metapilot decisions";
        return send(
          res,
          200,
          renderReportHtml(digest, deps.caches.decisions.list(), title),
          "text/html; charset=utf-8",
        );
      }
      if (format === "csv") return send(res, 200, renderDigestCsv(digest), "text/csv; charset=utf-8");
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
