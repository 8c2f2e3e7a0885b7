// What every step does the same way: apply an object only when it changed (or drifted), and at deletion remove the
// tenant's objects of a kind from a retained namespace.
import type { KubeObject, ResourceType } from "../../kube/resources.js";
import { componentLabel, specHashAnnotation, tenantLabel } from "../../api/labels.js";
import { driftToRepair } from "../drift.js";
import type { Cache, FinalizeContext, Pending, RawTenantControlPlane, StepDeps } from "./step.js";

/**
 * Server-side applies `desired` unless the cached object already carries the same content hash. A workload
 * (`owner` given) with the same hash is still compared field by field with the cache, and re-applied when a
 * field metapilot owns was edited by hand: drift is repaired on the edit's own watch event or the next resync.
 */
export async function ensure(
  deps: StepDeps,
  resource: ResourceType,
  desired: KubeObject,
  cache: { get(key: string): KubeObject | undefined },
  owner?: RawTenantControlPlane,
): Promise<KubeObject> {
  const key = desired.metadata?.namespace
    ? `${desired.metadata.namespace}/${desired.metadata.name}`
    : (desired.metadata?.name ?? "");
  const cached = cache.get(key);
  if (
    cached &&
    cached.metadata?.annotations?.[specHashAnnotation] === desired.metadata?.annotations?.[specHashAnnotation]
  ) {
    const drifted = owner ? driftToRepair(desired, cached) : [];
    if (drifted.length === 0) return cached;
    const applied = await deps.client.apply(resource, desired);
    deps.driftRepairs?.inc({ kind: desired.kind ?? resource.kind });
    deps.recorder.record(
      owner!,
      "Warning",
      "DriftRepaired",
      "Repair",
      `${desired.kind} ${key} was changed outside metapilot; re-applied ${drifted.join(", ")}`,
    );
    return applied;
  }
  return deps.client.apply(resource, desired);
}

/** Which of the tenant's objects a cleanup takes: those of one component, or those of none of some components. */
export type ComponentFilter = { component: string } | { notComponents: readonly string[] } | "all";

function matches(obj: KubeObject, filter: ComponentFilter): boolean {
  if (filter === "all") return true;
  const component = obj.metadata?.labels?.[componentLabel];
  if ("component" in filter) return component === filter.component;
  return component === undefined || !filter.notComponents.includes(component);
}

/**
 * Deletes the tenant's objects of a kind (label metapilot.io/tenant) from its namespace when the namespace is
 * retained; when the namespace itself is deleted they go with it and nothing is done here.
 */
export async function deleteTenantObjects(
  fc: FinalizeContext,
  resource: ResourceType,
  objects: Cache<KubeObject> | readonly KubeObject[],
  filter: ComponentFilter,
): Promise<Pending[]> {
  if (!fc.retain) return [];
  const listed =
    "listNamespace" in objects
      ? objects.listNamespace(fc.namespace, (o) => o.metadata?.labels?.[tenantLabel] === fc.tenant)
      : objects;
  const mine = listed.filter((o) => matches(o, filter));
  for (const obj of mine) {
    if (!obj.metadata?.deletionTimestamp) await fc.deps.client.delete(resource, obj.metadata?.name ?? "", fc.namespace);
  }
  return mine.length ? [{ resource, count: mine.length }] : [];
}
