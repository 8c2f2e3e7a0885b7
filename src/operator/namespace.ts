// Which namespace a TenantControlPlane may use. metapilot writes into, and deletes, only a namespace it created for
// that TenantControlPlane. The proof is the metapilot.io/owner-uid annotation, which metapilot sets only in the
// request that creates the namespace: whoever can create a TenantControlPlane cannot set it on a namespace that
// exists (that needs the right to write namespaces), and the TenantControlPlane's uid is the apiserver's, so a
// label, a name or a second TenantControlPlane of another name cannot stand in for it.
//
// Namespaces created by earlier versions (no annotation) are adopted once when everything the old version left
// says metapilot created them for this TenantControlPlane: the tenant and managed-by labels, and a creation time
// no earlier than the TenantControlPlane's own (a namespace that existed before it cannot have been created for it).
import { defaultNamespace } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { managedByLabel, managedByMetapilot, ownerUidAnnotation, tenantLabel } from "../api/labels.js";

export { ownerUidAnnotation };

/** A TenantControlPlane as the namespace check sees it. */
export interface NamespaceClaimant {
  name: string;
  uid: string;
  creationTimestamp?: string;
  /** The namespace it asks for: spec.namespace, or tcp-<name>. */
  namespace: string;
  /** The namespace metapilot last reported for it (status.namespace). */
  statusNamespace?: string;
}

export type NamespaceVerdict =
  /** The namespace does not exist: create it, with the owner annotation. */
  | { action: "create" }
  /** It exists and carries this TenantControlPlane's uid. */
  | { action: "use" }
  /** Metapilot created it for this tenant (an earlier version, or an earlier TenantControlPlane of the same name). */
  | { action: "adopt"; because: string }
  | { action: "refuse"; reason: NamespaceRefusal; message: string };

export type NamespaceRefusal =
  "ProtectedNamespace" | "NamespaceHeldByAnotherTenant" | "NamespaceNotCreatedByMetapilot" | "NamespaceTerminating";

/** kube-*, default and metapilot's own namespaces are never a tenant's. */
export function isProtectedNamespace(name: string, own: readonly string[]): boolean {
  return name === "default" || name.startsWith("kube-") || own.includes(name);
}

const time = (t: string | undefined) => (t ? Date.parse(t) : NaN);

/** Whether `a` claimed first: the older TenantControlPlane, then the first by name (a stable order). */
function claimsFirst(a: NamespaceClaimant, b: NamespaceClaimant): boolean {
  const ta = time(a.creationTimestamp);
  const tb = time(b.creationTimestamp);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta < tb;
  return a.name < b.name;
}

export function namespaceVerdict(input: {
  tenant: NamespaceClaimant;
  /** The namespace as the cache holds it; undefined when it does not exist. */
  existing: KubeObject | undefined;
  /** Every other TenantControlPlane (asked for only when the namespace does not exist or names another owner). */
  others: () => readonly NamespaceClaimant[];
  /** metapilot's own namespaces (its leader-election namespace). */
  ownNamespaces: readonly string[];
}): NamespaceVerdict {
  const { tenant, existing, others, ownNamespaces } = input;
  const ns = tenant.namespace;
  if (isProtectedNamespace(ns, ownNamespaces)) {
    return {
      action: "refuse",
      reason: "ProtectedNamespace",
      message:
        `namespace ${ns} is ${ns === "default" || ns.startsWith("kube-") ? "a system namespace" : "metapilot's own namespace"}` +
        ": a control plane never runs there. Recreate the TenantControlPlane with another spec.namespace " +
        `(or none, for tcp-${tenant.name}); nothing was written to ${ns}`,
    };
  }
  if (!existing) {
    // Another TenantControlPlane asks for the same namespace: the one that holds it, or else the first, has it.
    const rival = others().find(
      (o) => o.uid !== tenant.uid && (o.statusNamespace === ns || (o.namespace === ns && claimsFirst(o, tenant))),
    );
    if (rival) return heldBy(ns, rival.name);
    return { action: "create" };
  }
  const labels = existing.metadata?.labels ?? {};
  const ownerUid = existing.metadata?.annotations?.[ownerUidAnnotation];
  if (ownerUid && ownerUid !== tenant.uid) {
    const holder = others().find((o) => o.uid === ownerUid);
    if (holder) return heldBy(ns, holder.name);
    if (labels[tenantLabel] !== tenant.name) return heldBy(ns, labels[tenantLabel]);
  }
  if (existing.metadata?.deletionTimestamp) {
    return {
      action: "refuse",
      reason: "NamespaceTerminating",
      message: `namespace ${ns} is terminating: waiting until it is gone to create it again`,
    };
  }
  if (ownerUid === tenant.uid) return { action: "use" };
  if (ownerUid) {
    // Created by metapilot for a TenantControlPlane that is gone (the namespace was retained at its deletion). The
    // name of a cluster-scoped object is unique, so a TenantControlPlane of the same name is its successor.
    return {
      action: "adopt",
      because: `created by metapilot for an earlier TenantControlPlane ${tenant.name}, retained at its deletion`,
    };
  }
  const created = time(existing.metadata?.creationTimestamp as string | undefined);
  const tcpCreated = time(tenant.creationTimestamp);
  const legacy =
    labels[tenantLabel] === tenant.name &&
    labels[managedByLabel] === managedByMetapilot &&
    Number.isFinite(created) &&
    Number.isFinite(tcpCreated) &&
    created >= tcpCreated;
  if (legacy)
    return {
      action: "adopt",
      because: "created by an earlier metapilot version for this TenantControlPlane (its labels, created after it)",
    };
  return {
    action: "refuse",
    reason: "NamespaceNotCreatedByMetapilot",
    message:
      `namespace ${ns} already exists and was not created by metapilot for this TenantControlPlane; metapilot ` +
      "adopts only namespaces it creates. Recreate the TenantControlPlane with a spec.namespace that does not " +
      `exist yet (or none, for tcp-${tenant.name}). A platform admin who confirms that ${ns} belongs to this tenant ` +
      `may annotate it ${ownerUidAnnotation}=${tenant.uid}. Nothing was written to ${ns}, and deleting this ` +
      "TenantControlPlane will not delete it",
  };
}

function heldBy(ns: string, holder: string | undefined): NamespaceVerdict {
  return {
    action: "refuse",
    reason: "NamespaceHeldByAnotherTenant",
    message:
      `namespace ${ns} belongs to ${holder ? `TenantControlPlane ${holder}` : "another TenantControlPlane"}: ` +
      `recreate this TenantControlPlane with another spec.namespace; nothing was written to ${ns}`,
  };
}

/** A TenantControlPlane as it sits in the cache, as a claimant of its namespace. */
export function claimantOf(raw: {
  metadata?: { name?: string; uid?: string; creationTimestamp?: unknown };
  spec?: { namespace?: unknown };
  status?: { namespace?: string };
}): NamespaceClaimant {
  const name = raw.metadata?.name ?? "";
  const specNamespace = raw.spec?.namespace;
  return {
    name,
    uid: raw.metadata?.uid ?? "",
    creationTimestamp: raw.metadata?.creationTimestamp ? String(raw.metadata.creationTimestamp) : undefined,
    namespace: defaultNamespace({
      metadata: { name },
      spec: { namespace: typeof specNamespace === "string" ? specNamespace : undefined },
    }),
    statusNamespace: raw.status?.namespace,
  };
}
