// The tenant namespace, and metapilot's access to Secrets in it. metapilot writes into (and deletes) only a
// namespace it created for this TenantControlPlane (src/operator/namespace.ts); there it binds its tenant-secrets
// ClusterRole to itself (src/operator/tenant-secrets.ts). At deletion the namespace goes, or, retained, loses the
// binding once the tenant's Secrets are gone.
import { ApiError } from "../../kube/errors.js";
import { Resources } from "../../kube/resources.js";
import { namespaceManifest } from "../manifests.js";
import { claimantOf, namespaceVerdict, type NamespaceVerdict } from "../namespace.js";
import { ensure } from "./apply.js";
import { cond, type RawTenantControlPlane, type Step, type StepDeps } from "./step.js";

/** May this TenantControlPlane use (and delete) its namespace? See src/operator/namespace.ts. */
export function namespaceVerdictFor(deps: StepDeps, raw: RawTenantControlPlane): NamespaceVerdict {
  const tenant = claimantOf(raw);
  return namespaceVerdict({
    tenant,
    existing: deps.caches.namespaces.get(tenant.namespace),
    others: () =>
      deps.caches.tenants
        .list()
        .filter((t) => t.metadata?.uid !== tenant.uid)
        .map(claimantOf),
    ownNamespaces: deps.ownNamespaces,
  });
}

export const namespaceStep: Step = {
  name: "namespace",
  define: (ctx) => [namespaceManifest(ctx)],
  async apply({ deps, raw, ctx, found, rc }) {
    const verdict = namespaceVerdictFor(deps, raw);
    if (verdict.action === "refuse") {
      // Nothing is written to the namespace; the TenantControlPlane says why and what to change. A change of the
      // namespace (deleted, annotated) or of another TenantControlPlane brings it back (see controller.ts).
      return {
        result: { requeueAfterMs: deps.resyncMs, resync: true },
        status: {
          phase: raw.status?.phase ?? "Provisioning",
          conditions: [
            { type: "NamespaceReady", status: "False", reason: verdict.reason, message: verdict.message },
            { type: "Ready", status: "False", reason: verdict.reason, message: verdict.message },
          ],
        },
        event: { type: "Warning", reason: verdict.reason, action: "ClaimNamespace", note: verdict.message },
      };
    }
    const [namespaceObject] = this.define(ctx, found);
    let namespaceUid = deps.caches.namespaces.get(ctx.namespace)?.metadata?.uid ?? "";
    if (verdict.action === "create") {
      try {
        namespaceUid = (await deps.client.create(Resources.Namespace, namespaceObject!)).metadata?.uid ?? "";
      } catch (err) {
        // Created meanwhile by someone else: the next attempt sees it in the cache and decides again.
        if (err instanceof ApiError && err.isConflict)
          throw new Error(`namespace ${ctx.namespace} appeared while metapilot was creating it; checking it again`);
        throw err;
      }
    } else {
      if (verdict.action === "adopt")
        deps.recorder.record(
          raw,
          "Normal",
          "NamespaceAdopted",
          "ClaimNamespace",
          `namespace ${ctx.namespace}: ${verdict.because}; marked with this TenantControlPlane's uid`,
        );
      // The uid is a precondition: a namespace deleted and created again by someone else since the cache saw it
      // is not written to.
      const uid = deps.caches.namespaces.get(ctx.namespace)?.metadata?.uid;
      await ensure(
        deps,
        Resources.Namespace,
        { ...namespaceObject, metadata: { ...namespaceObject!.metadata, uid } },
        deps.caches.namespaces,
      );
    }
    // Secrets only in the namespaces metapilot created: it binds its tenant-secrets ClusterRole to itself here.
    if (!(await deps.secrets.ensureAccess(ctx.namespace, namespaceUid, ctx.tenant, rc.signal))) {
      rc.logger.debug({ namespace: ctx.namespace }, "the Secret RoleBinding is not in effect yet; trying again");
      return { result: { requeueAfterMs: 500 } };
    }
    found.namespaceUid = namespaceUid;
  },
  status: ({ ctx }) => [
    cond(
      "NamespaceReady",
      true,
      "NamespaceOwned",
      `namespace ${ctx.namespace} was created by metapilot for this TenantControlPlane`,
    ),
  ],
  async cleanup(fc, pendingBehind) {
    const { deps, namespace, namespaceObject } = fc;
    if (!fc.retain) {
      if (!namespaceObject.metadata?.deletionTimestamp)
        await deps.client.delete(Resources.Namespace, namespace, undefined, { uid: namespaceObject.metadata?.uid });
      const left = deps.caches.pods.listNamespace(namespace).length;
      return [{ what: `namespace ${namespace} to terminate (${left} pods left)` }];
    }
    // Last, once its Secrets are gone: the binding that let metapilot read them in the retained namespace.
    if (pendingBehind.length === 0 && !deps.secrets.isUnbound(namespace)) await deps.secrets.unbind(namespace);
    return [];
  },
};
