// The tenants a backtest replays and the sizes they start from: the TenantControlPlanes and their control-plane
// Deployments and StatefulSets, read as the scaler reads them (the metapilot.io/tenant and metapilot.io/component
// labels, only a tenant's own workloads, the TenantControlPlane's spec for the workloads it owns). From the
// meta-cluster (three paginated LISTs) or from a file for offline use: a kubectl List of those objects
// (`kubectl get tenantcontrolplanes,deployments,statefulsets -A -l metapilot.io/tenant -o yaml` gives one; the
// TenantControlPlanes need no label), JSON or YAML.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { componentLabel, tenantLabel } from "../api/labels.js";
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { tenantSpecSize } from "../scaler/actuator.js";
import { tenantSelectionLabels, workloadTenancy } from "../scaler/tenancy.js";
import type { ComponentName, Size, WorkloadRef } from "../scaler/types.js";
import { mainContainer, workloadSize, type Workload } from "../scaler/workload.js";

const components: readonly string[] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"];

/** One workload a backtest replays: who it is, the labels ClusterScalers select its tenant by, and its size now. */
export interface BacktestWorkload {
  ref: WorkloadRef;
  tenantLabels: Record<string, string>;
  /** The size it has now (the TenantControlPlane's spec where that owns it): the replay's starting size. */
  start: Size;
  /**
   * A change of only CPU or memory reaches its pods in place (the operator's spec.resourceUpdates.strategy
   * InPlaceOrRestart, the default, on a TenantControlPlane that owns it), not by a rolling update.
   */
  inPlaceResize: boolean;
}

export interface Inventory {
  workloads: BacktestWorkload[];
  /** Workloads left out, and why (not a control-plane component, not the tenant's own). */
  skipped: string[];
  /** What could not be read, and what the inventory does without it. */
  warnings: string[];
}

/** The workloads of `objects` (TenantControlPlanes, Deployments and StatefulSets, in any order). */
export function inventoryOf(objects: readonly KubeObject[]): Inventory {
  const tenants = new Map<string, KubeObject>();
  for (const o of objects) if (o.kind === "TenantControlPlane") tenants.set(o.metadata?.name ?? "", o);
  const workloads: BacktestWorkload[] = [];
  const skipped: string[] = [];
  for (const o of objects) {
    if (o.kind !== "Deployment" && o.kind !== "StatefulSet") continue;
    const w = o as Workload;
    const where = `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name}`;
    const tenant = w.metadata?.labels?.[tenantLabel];
    const component = w.metadata?.labels?.[componentLabel];
    if (!tenant || !component || !components.includes(component)) {
      skipped.push(`${where}: no ${tenantLabel} label, or ${componentLabel} is not a control-plane component`);
      continue;
    }
    const tcp = tenants.get(tenant);
    const tenancy = workloadTenancy(w, tenant, tcp);
    if (!tenancy.governed) {
      skipped.push(`${where}: ${tenancy.reason}`);
      continue;
    }
    const ref: WorkloadRef = {
      kind: o.kind,
      name: w.metadata?.name ?? "",
      namespace: w.metadata?.namespace ?? "",
      tenant,
      component: component as ComponentName,
      container: mainContainer(w, component),
      ownedByTenantControlPlane: tenancy.ownedByTenantControlPlane,
    };
    const size = workloadSize(w, ref.container);
    const strategy = (tcp as { spec?: { resourceUpdates?: { strategy?: string } } } | undefined)?.spec?.resourceUpdates
      ?.strategy;
    workloads.push({
      ref,
      tenantLabels: tenantSelectionLabels(tenant, tcp, w),
      inPlaceResize: ref.ownedByTenantControlPlane && (strategy ?? "InPlaceOrRestart") === "InPlaceOrRestart",
      start: ref.ownedByTenantControlPlane
        ? tenantSpecSize(size, (tcp as { spec?: unknown } | undefined)?.spec, ref.component)
        : size,
    });
  }
  workloads.sort((a, b) => `${a.ref.namespace}/${a.ref.name}`.localeCompare(`${b.ref.namespace}/${b.ref.name}`));
  return { workloads, skipped, warnings: [] };
}

/**
 * The three paginated LISTs the scaler's caches hold: TenantControlPlanes, and the labelled workloads. Without the
 * TenantControlPlane CRD (404), every labelled control plane is one metapilot did not create, governed where it
 * runs, as live; that is said in the warnings.
 */
export async function listInventory(client: KubeClient, signal?: AbortSignal): Promise<Inventory> {
  const list = async (r: (typeof Resources)[keyof typeof Resources], kind: string, labelSelector?: string) =>
    (await client.listAll<KubeObject>(r, { labelSelector, limit: 500, signal })).items.map((o) => ({ ...o, kind }));
  const warnings: string[] = [];
  const [tenants, deployments, statefulSets] = await Promise.all([
    list(Resources.TenantControlPlane, "TenantControlPlane").catch((err: unknown) => {
      if (!(err instanceof ApiError && err.statusCode === 404)) throw err;
      warnings.push(
        "no TenantControlPlane CRD in the meta-cluster: every labelled control plane is replayed where it runs",
      );
      return [];
    }),
    list(Resources.Deployment, "Deployment", tenantLabel),
    list(Resources.StatefulSet, "StatefulSet", tenantLabel),
  ]);
  const inventory = inventoryOf([...tenants, ...deployments, ...statefulSets]);
  return { ...inventory, warnings };
}

/** The objects of a tenants file: a List (`items`), an array, or YAML documents, each object with its kind. */
export function parseTenantsFile(text: string, name: string): KubeObject[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`${name}: not JSON or YAML: ${(err as Error).message}`);
  }
  const items = Array.isArray(doc) ? doc : (doc as { items?: unknown } | null)?.items;
  if (!Array.isArray(items))
    throw new Error(`${name}: expected a List with items (kubectl get ... -o yaml) or an array of objects`);
  return items.map((item, i) => {
    const kind = (item as { kind?: unknown } | null)?.kind;
    if (typeof kind !== "string") throw new Error(`${name}: items[${i}].kind: expected a string`);
    return item as KubeObject;
  });
}

export function readTenantsFile(path: string): Inventory {
  return inventoryOf(parseTenantsFile(readFileSync(path, "utf8"), path));
}
