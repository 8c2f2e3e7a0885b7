// The operator's Secrets, read and written only in tenant namespaces. metapilot's ClusterRole grants no Secret
// access at all; in each namespace it created for a TenantControlPlane the operator binds a ClusterRole with
// exactly that access (--tenant-secrets-cluster-role) to its own ServiceAccount (--service-account), and the
// chart's ValidatingAdmissionPolicy refuses any other RoleBinding, subject or namespace for it.
//
// The reads are a namespaced LIST per tenant, kept as a snapshot, not a watch: this client speaks HTTP/1.1, so a
// watch per tenant namespace holds a TCP connection of its own (hundreds of tenants: hundreds of connections to the
// apiserver, a watcher each, a bookmark each a minute, and more than the client's 64-socket agent holds). A
// snapshot is read again only when it is older than maxAgeMs at a reconcile, or when a write or a refusal made it
// stale, so a tenant costs about one LIST per resync instead; the LIST is a consistent read that the apiserver
// serves from its watch cache (1.31+), and it sees metapilot's own writes, which an informer's cache may not yet.
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { managedByLabel, managedByMetapilot, tenantLabel } from "../api/labels.js";

export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

/** Who metapilot is, and which ClusterRole it binds to itself in each tenant namespace. */
export interface TenantSecretAccess {
  /** The ClusterRole with get, list, create, patch and delete of Secrets; bound nowhere cluster-wide. */
  clusterRole: string;
  serviceAccount: { namespace: string; name: string };
}

/** The RoleBinding's name in every tenant namespace. */
export const tenantSecretsRoleBindingName = "metapilot-tenant-secrets";

/** `--service-account <namespace>/<name>`: metapilot's own ServiceAccount. */
export function parseServiceAccount(value: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new Error(`"${value}" is not <namespace>/<name> of a ServiceAccount`);
  return { namespace: m[1] ?? "", name: m[3] ?? "" };
}

export function tenantSecretsRoleBinding(namespace: string, tenant: string, access: TenantSecretAccess): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: {
      name: tenantSecretsRoleBindingName,
      namespace,
      labels: { [tenantLabel]: tenant, [managedByLabel]: managedByMetapilot },
    },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: access.clusterRole },
    subjects: [
      { kind: "ServiceAccount", name: access.serviceAccount.name, namespace: access.serviceAccount.namespace },
    ],
  } as KubeObject;
}

interface Snapshot {
  tenant: string;
  readAt: number;
  items: Map<string, SecretObject>;
}

/** Per-namespace snapshots of a tenant's Secrets (label metapilot.io/tenant), read with a namespaced LIST. */
export class TenantSecrets {
  private readonly snapshots = new Map<string, Snapshot>();
  /** Namespace → uid of the namespace in which the RoleBinding was applied and found effective. */
  private readonly bound = new Map<string, string>();
  /** Namespaces whose RoleBinding metapilot removed (retained at a deletion): nothing there is readable now. */
  private readonly unbound = new Set<string>();
  readonly stats = { lists: 0, accessReviews: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: { access?: TenantSecretAccess; maxAgeMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  get access(): TenantSecretAccess | undefined {
    return this.options.access;
  }

  /**
   * Makes sure metapilot may use Secrets in `namespace` (uid `namespaceUid`), once per namespace and process: asks
   * the apiserver (a SelfSubjectAccessReview, which writes nothing) and applies the RoleBinding only when it is not
   * in effect. False: just bound, and the apiserver's RBAC cache has not caught up yet (it follows within moments);
   * try again shortly, nothing was read. Without --tenant-secrets-cluster-role (an admin's kubeconfig), metapilot
   * uses its own rights and binds nothing.
   */
  async ensureAccess(namespace: string, namespaceUid: string, tenant: string, signal?: AbortSignal): Promise<boolean> {
    const access = this.options.access;
    if (!access) return true;
    if (namespaceUid && this.bound.get(namespace) === namespaceUid) return true;
    let allowed = await this.mayListSecrets(namespace, signal);
    if (!allowed) {
      await this.client.apply(Resources.RoleBinding, tenantSecretsRoleBinding(namespace, tenant, access), { signal });
      allowed = await this.mayListSecrets(namespace, signal);
    }
    if (allowed) this.unbound.delete(namespace);
    if (allowed && namespaceUid) this.bound.set(namespace, namespaceUid);
    return allowed;
  }

  private async mayListSecrets(namespace: string, signal?: AbortSignal): Promise<boolean> {
    this.stats.accessReviews++;
    const review = await this.client.create<KubeObject & { status?: { allowed?: boolean } }>(
      Resources.SelfSubjectAccessReview,
      { spec: { resourceAttributes: { namespace, verb: "list", resource: "secrets" } } } as KubeObject,
      signal,
    );
    return review.status?.allowed === true;
  }

  /** The tenant's Secrets in `namespace`: the snapshot while it is young, else a fresh namespaced LIST. */
  async list(namespace: string, tenant: string, opts: { fresh?: boolean; signal?: AbortSignal } = {}) {
    const snap = this.snapshots.get(namespace);
    const maxAge = this.options.maxAgeMs ?? 5 * 60_000;
    if (!opts.fresh && snap && snap.tenant === tenant && this.now() - snap.readAt < maxAge)
      return [...snap.items.values()];
    this.stats.lists++;
    try {
      const { items } = await this.client.listAll<SecretObject>(Resources.Secret, {
        namespace,
        labelSelector: `${tenantLabel}=${tenant}`,
        signal: opts.signal,
      });
      for (const s of items) delete s.metadata?.managedFields;
      this.snapshots.set(namespace, {
        tenant,
        readAt: this.now(),
        items: new Map(items.map((s) => [s.metadata?.name ?? "", s])),
      });
      return items;
    } catch (err) {
      // The RoleBinding was removed (by hand, or the namespace was recreated): bind again at the next attempt.
      if (err instanceof ApiError && err.statusCode === 403) this.bound.delete(namespace);
      throw err;
    }
  }

  /** A Secret by "namespace/name" from the snapshots (what `ensure` compares a desired Secret with). */
  get(key: string): SecretObject | undefined {
    const [namespace = "", name = ""] = key.split("/");
    return this.snapshots.get(namespace)?.items.get(name);
  }

  /** Records what a write returned, so the next reconcile sees it without reading again. */
  remember(secret: SecretObject): void {
    const ns = secret.metadata?.namespace ?? "";
    const snap = this.snapshots.get(ns);
    if (!snap) return;
    delete secret.metadata?.managedFields;
    snap.items.set(secret.metadata?.name ?? "", secret);
  }

  /**
   * Removes the RoleBinding from a namespace retained at a deletion, once the tenant's Secrets there are gone.
   * Later passes of the same deletion (events of the objects it deleted, a retried finalizer) then know that there
   * is nothing left to read, instead of asking and being refused.
   */
  async unbind(namespace: string): Promise<void> {
    if (!this.options.access) return;
    await this.client.delete(Resources.RoleBinding, tenantSecretsRoleBindingName, namespace);
    this.unbound.add(namespace);
    this.forget(namespace);
  }

  isUnbound(namespace: string): boolean {
    return this.unbound.has(namespace);
  }

  /** Forgets a namespace: its snapshot and its binding (the tenant is gone, or its namespace). */
  forget(namespace: string): void {
    this.snapshots.delete(namespace);
    this.bound.delete(namespace);
  }
}
