// Tenants: every TenantControlPlane and every foreign control plane found by its labels alone, with each
// component's current resources beside the WorkloadProfile's recommendation, its last decisions and its health.
import type { PlanRow } from "../../../scaler/reports.js";
import { tenantNamespaceOf } from "../../../api/index.js";
import { componentLabel, pausedAnnotation, tenantLabel } from "../../../api/labels.js";
import { tenantOf } from "../report.js";
import {
  nowOf,
  type ApiDeps,
  type DashboardCaches,
  type ProfileObject,
  type ResourceList,
  type WorkloadObject,
} from "./deps.js";
import { listDecisions, type DecisionList } from "./decisions.js";
import { digestFor } from "./report.js";
import { sendJson, type ApiRoute } from "./http.js";

const componentOrder = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

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

function healthOf(view: Omit<TenantView, "health" | "healthReason">): { health: Health; reason?: string } {
  if (view.phase === "Degraded") return { health: "Degraded", reason: "TenantControlPlane phase Degraded" };
  const unready = view.components.filter((c) => (c.replicas ?? 1) > 0 && (c.readyReplicas ?? 0) < (c.replicas ?? 1));
  if (unready.length && !["Provisioning", "Upgrading"].includes(view.phase ?? ""))
    return {
      health: "Degraded",
      reason: unready.map((c) => `${c.component} ${c.readyReplicas ?? 0}/${c.replicas ?? 1} ready`).join(", "),
    };
  if (view.phase === "Provisioning" || view.phase === "Upgrading") return { health: "Progressing", reason: view.phase };
  if (view.paused) return { health: "Paused", reason: "paused: no automatic change" };
  if (view.phase === "Ready" || view.components.length > 0) return { health: "Healthy" };
  return { health: "Unknown", reason: "no phase and no labelled workloads yet" };
}

type ProfileIndex = Map<string, ProfileObject>;

/** WorkloadProfiles by namespace/kind/name of their target, built once per request (not once per workload). */
function profileIndex(caches: DashboardCaches): ProfileIndex {
  const index: ProfileIndex = new Map();
  for (const profile of caches.profiles.list()) {
    const target = profile.spec?.targetRef;
    const key = `${profile.metadata?.namespace}/${target?.kind ?? "Deployment"}/${target?.name}`;
    if (!index.has(key)) index.set(key, profile);
  }
  return index;
}

function componentView(profiles: ProfileIndex, workload: WorkloadObject, kind: ComponentView["kind"]): ComponentView {
  const profile = profiles.get(`${workload.metadata?.namespace}/${kind}/${workload.metadata?.name}`);
  const containers = (workload.spec?.template?.spec?.containers ?? []).map((container): ContainerView => {
    const recommendation = profile?.status?.containers?.find((x) => x.name === container.name);
    return {
      name: container.name,
      current: { requests: { ...container.resources?.requests }, limits: { ...container.resources?.limits } },
      recommended: recommendation
        ? {
            target: recommendation.target,
            lowerBound: recommendation.lowerBound,
            upperBound: recommendation.upperBound,
            confidenceDays: recommendation.confidenceDays,
            reason: recommendation.reason,
          }
        : undefined,
    };
  });
  return {
    component: workload.metadata?.labels?.[componentLabel] ?? workload.metadata?.name ?? "",
    kind,
    name: workload.metadata?.name ?? "",
    namespace: workload.metadata?.namespace ?? "",
    replicas: workload.spec?.replicas,
    readyReplicas: workload.status?.readyReplicas ?? 0,
    paused: workload.metadata?.annotations?.[pausedAnnotation] === "true",
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
  const now = nowOf(deps);
  const byTenant = new Map<string, TenantView>();
  const profiles = profileIndex(caches);
  for (const tenant of caches.tenants.list()) {
    const name = tenant.metadata?.name ?? "";
    byTenant.set(name, {
      name,
      namespace: tenantNamespaceOf(tenant),
      managed: true,
      phase: tenant.status?.phase,
      version: tenant.status?.version ?? tenant.spec?.version,
      endpoint: tenant.status?.endpoint,
      paused: tenant.spec?.paused === true || tenant.metadata?.annotations?.[pausedAnnotation] === "true",
      components: [],
      decisions: { last24h: 0 },
      health: "Unknown",
    });
  }
  const workloads = [
    ...caches.deployments.list().map((workload) => [workload, "Deployment"] as const),
    ...caches.statefulSets.list().map((workload) => [workload, "StatefulSet"] as const),
  ];
  for (const [workload, kind] of workloads) {
    const tenant = workload.metadata?.labels?.[tenantLabel];
    if (!tenant || !workload.metadata?.labels?.[componentLabel]) continue;
    let view = byTenant.get(tenant);
    if (!view) {
      view = {
        name: tenant,
        namespace: workload.metadata.namespace ?? "",
        managed: false,
        paused: false,
        components: [],
        decisions: { last24h: 0 },
        health: "Unknown",
      };
      byTenant.set(tenant, view);
    }
    view.components.push(componentView(profiles, workload, kind));
  }
  for (const decision of caches.decisions.list()) {
    const view = byTenant.get(tenantOf(decision));
    const decidedAtMs = Date.parse(decision.spec?.decidedAt ?? "");
    if (!view || Number.isNaN(decidedAtMs)) continue;
    if (now - decidedAtMs <= 86_400_000) view.decisions.last24h++;
    const decidedAt = new Date(decidedAtMs).toISOString();
    if (!view.decisions.lastDecidedAt || decidedAt > view.decisions.lastDecidedAt) {
      view.decisions.lastDecidedAt = decidedAt;
      view.decisions.last = {
        name: decision.metadata?.name ?? "",
        namespace: decision.metadata?.namespace ?? "",
        category: decision.spec?.rootCause?.category ?? "",
        direction: decision.spec?.direction ?? "",
        phase: decision.status?.phase ?? "Pending",
        dryRun: decision.spec?.dryRun === true,
      };
    }
  }
  const rank = (component: string) => (componentOrder.indexOf(component) + 1 || 99) * 1000;
  for (const view of byTenant.values()) {
    view.components.sort((a, b) => rank(a.component) - rank(b.component) || a.name.localeCompare(b.name));
    const { health, reason } = healthOf(view);
    view.health = health;
    if (reason) view.healthReason = reason;
  }
  return [...byTenant.values()].sort((a, b) => a.name.localeCompare(b.name));
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

export const tenantListRoute: ApiRoute = {
  path: "/api/tenants",
  handle: (deps, _request, res) => sendJson(res, 200, { tenants: listTenants(deps) }),
};

export const tenantRoute: ApiRoute = {
  path: "/api/tenants/{name}",
  handle: (deps, { params }, res) => {
    const name = params.name ?? "";
    const detail = tenantDetail(deps, name);
    if (!detail) return sendJson(res, 404, { error: `no tenant ${name}` });
    return sendJson(res, 200, detail);
  },
};
