// Which ClusterScaler governs a tenant, and the resolved policy for one of its components.
// Precedence (also in the CRD's description of spec.priority): among the ClusterScalers whose tenantSelector
// matches, the highest spec.priority wins alone (policies are never merged); on a tie the oldest wins, then the
// first by name. Within the winner, matching overrides apply in list order, so a later one wins.
import { selectorSelects } from "../kube/selectors.js";
import { parseDuration, parseQuantity, SCALER_NAMES, type ClusterScaler, type ScalerName } from "../api/index.js";
import { availableEstimators } from "./estimators/index.js";
import type { ComponentName, ResolvedPolicy, ScalerSettings } from "./types.js";
import { tenantSelectionLabels, workloadTenancy, type TenantLike } from "./tenancy.js";
import { componentLabel, tenantLabel } from "../api/labels.js";

/** The ClusterScaler that governs a tenant with `labels`, by the documented precedence. */
export function selectClusterScaler(
  scalers: readonly ClusterScaler[],
  labels: Record<string, string>,
): ClusterScaler | undefined {
  const matching = scalers.filter(
    (s) => !s.metadata?.deletionTimestamp && selectorSelects(s.spec.tenantSelector, labels, "everything"),
  );
  matching.sort((a, b) => {
    const p = (b.spec.priority ?? 0) - (a.spec.priority ?? 0);
    if (p !== 0) return p;
    const ta = Date.parse(String(a.metadata?.creationTimestamp ?? "")) || 0;
    const tb = Date.parse(String(b.metadata?.creationTimestamp ?? "")) || 0;
    if (ta !== tb) return ta - tb;
    return String(a.metadata?.name).localeCompare(String(b.metadata?.name));
  });
  return matching[0];
}

const governedComponents: readonly ComponentName[] = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "etcd",
];

/** Who governs a control-plane object (a workload, or one of its pods), and how, when a ClusterScaler does. */
export type Governed = {
  clusterScaler: ClusterScaler;
  tenant: string;
  component: ComponentName;
  labels: Record<string, string>;
  ownedByTenantControlPlane: boolean;
};

/**
 * The ClusterScaler that governs `object` (a tenant's workload or pod, by its metapilot.io/tenant and component
 * labels) among `scalers`, or undefined (with `onForeign` told why when it names a tenant it does not belong to).
 * `tcp` is the TenantControlPlane the tenant label names, when one exists. One answer for the scaler and the drain.
 */
export function governingClusterScaler(
  object: { metadata?: { namespace?: string; labels?: Record<string, string> } },
  scalers: readonly ClusterScaler[],
  tcp: (TenantLike & { metadata?: { labels?: Record<string, string> } }) | undefined,
  onForeign?: (reason: string) => void,
): Governed | undefined {
  const labels = object.metadata?.labels;
  const tenant = labels?.[tenantLabel];
  const component = labels?.[componentLabel] as ComponentName | undefined;
  if (!tenant || !component || !governedComponents.includes(component)) return undefined;
  const tenantLabels = tenantSelectionLabels(tenant, tcp, object);
  const clusterScaler = selectClusterScaler(scalers, tenantLabels);
  if (!clusterScaler) return undefined;
  const tenancy = workloadTenancy(object, tenant, tcp);
  if (!tenancy.governed) {
    onForeign?.(tenancy.reason);
    return undefined;
  }
  return {
    clusterScaler,
    tenant,
    component,
    labels: tenantLabels,
    ownedByTenantControlPlane: tenancy.ownedByTenantControlPlane,
  };
}

export const scalerDefaults: Record<ScalerName, ScalerSettings> = {
  oom: { enabled: true, threshold: 1, windowMs: 0 },
  cpu: { enabled: true, threshold: 0.8, windowMs: 2 * 60_000 },
  memory: { enabled: true, threshold: 0.9, windowMs: 60_000 },
  throttling: { enabled: true, threshold: 1, windowMs: 60_000 },
  "cluster-size": { enabled: true, threshold: 0, windowMs: 0 },
  probe: { enabled: true, threshold: 3, windowMs: 60_000 },
  // The load scalers' defaults and their sources are in the CRD's text of spec.components[].scalers[].threshold.
  apf: { enabled: true, threshold: 0.8, windowMs: 60_000 },
  latency: { enabled: true, threshold: 1, windowMs: 2 * 60_000 },
  "etcd-db-size": { enabled: true, threshold: 0.5, windowMs: 60_000 },
};

const q = (v: string | undefined) => (v === undefined ? undefined : parseQuantity(v));

/** The policy for one component of one tenant; undefined when the ClusterScaler does not list the component. */
export function resolvePolicy(
  cs: ClusterScaler,
  component: ComponentName,
  tenantLabels: Record<string, string>,
): ResolvedPolicy | undefined {
  const base = cs.spec.components.find((c) => c.name === component);
  if (!base) return undefined;
  const scalers = Object.fromEntries(SCALER_NAMES.map((n) => [n, { ...scalerDefaults[n] }])) as Record<
    ScalerName,
    ScalerSettings
  >;
  const applyScalers = (
    list: ReadonlyArray<{ name: ScalerName; enabled?: boolean; threshold?: number; window?: string }> | undefined,
    exclusive: boolean,
  ) => {
    if (!list) return;
    // A component that lists its scalers runs only those; an override changes only the ones it names.
    if (exclusive && list.length > 0) for (const n of SCALER_NAMES) scalers[n].enabled = list.some((s) => s.name === n);
    for (const s of list) {
      const cur = scalers[s.name];
      if (s.enabled !== undefined) cur.enabled = s.enabled;
      if (s.threshold !== undefined) cur.threshold = s.threshold;
      if (s.window !== undefined) cur.windowMs = parseDuration(s.window);
    }
  };
  applyScalers(base.scalers, true);
  let dryRun = cs.spec.dryRun ?? false;
  for (const o of cs.spec.overrides ?? []) {
    if (o.component && o.component !== component) continue;
    if (!selectorSelects(o.tenantSelector, tenantLabels, "everything")) continue;
    applyScalers(o.scalers, false);
    for (const [name, threshold] of Object.entries(o.thresholds ?? {})) {
      if (threshold !== undefined) scalers[name as ScalerName].threshold = threshold;
    }
    if (o.dryRun !== undefined) dryRun = o.dryRun;
  }
  const estimators = base.estimators ?? ["oom-memory", "profile", "cluster-size"];
  const known = availableEstimators();
  const unknown = estimators.filter((e) => !known.includes(e));
  if (unknown.length) throw new Error(`unknown estimators ${unknown.join(", ")}; available: ${known.join(", ")}`);
  return {
    clusterScaler: cs.metadata?.name ?? "",
    scalers,
    estimators,
    minAllowed: { cpu: q(base.minAllowed?.cpu), memory: q(base.minAllowed?.memory) },
    maxAllowed: { cpu: q(base.maxAllowed?.cpu), memory: q(base.maxAllowed?.memory) },
    replicas: { min: base.replicas?.min, max: base.replicas?.max },
    ladder: (base.clusterSizeLadder ?? []).map((s) => ({
      nodes: s.nodes,
      objects: s.objects,
      watchers: s.watchers,
      cpu: q(s.cpu),
      memory: q(s.memory),
      replicas: s.replicas,
    })),
    scaleUpCooldownMs: parseDuration(cs.spec.scaleUp.cooldown),
    scaleDown: {
      enabled: cs.spec.scaleDown.enabled,
      stabilizationWindowMs: parseDuration(cs.spec.scaleDown.stabilizationWindow),
      maxStepPercent: cs.spec.scaleDown.maxStepPercent,
      cooldownMs: cs.spec.scaleDown.cooldown ? parseDuration(cs.spec.scaleDown.cooldown) : 0,
    },
    dryRun,
  };
}
