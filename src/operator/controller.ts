// Wiring of the master-operator: the primary kind, the owned kinds (found by the metapilot.io/tenant label, with
// that label as a server-side selector so the caches hold only tenant objects), and the reconciler. Secrets are no
// cache: metapilot may read them only in tenant namespaces, per namespace (src/operator/tenant-secrets.ts).
import { registerController, type ControllerConfig } from "../controllers.js";
import { Controller, labelKeys } from "../kube/controller.js";
import type { Manager } from "../kube/manager.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { claimantOf } from "./namespace.js";
import { TenantControlPlaneReconciler, type OperatorCaches, type RawTenantControlPlane } from "./reconciler.js";
import { TenantSecrets } from "./tenant-secrets.js";
import { tenantLabel } from "../api/labels.js";

export function addTenantControlPlaneController(manager: Manager, config: ControllerConfig): Controller {
  const owned = <T extends KubeObject>(resource: (typeof Resources)[keyof typeof Resources], transform?: (o: T) => T) =>
    manager.informer<T>({ resource, namespace: config.namespace, labelSelector: tenantLabel, transform });
  const caches: OperatorCaches = {
    tenants: manager.informer<RawTenantControlPlane>({ resource: Resources.TenantControlPlane }),
    // Every namespace, not only tenant-labelled ones: a TenantControlPlane must see that the namespace it asks
    // for already exists (and whose it is) before it creates or writes anything (src/operator/namespace.ts).
    namespaces: manager.informer({ resource: Resources.Namespace }),
    deployments: owned(Resources.Deployment),
    statefulSets: owned(Resources.StatefulSet),
    services: owned(Resources.Service),
    pdbs: owned(Resources.PodDisruptionBudget),
    networkPolicies: owned(Resources.NetworkPolicy),
    resourceQuotas: owned(Resources.ResourceQuota),
    // A ReplicaSet carries its pod template's labels. Only its owner and revision are read: metadata only.
    replicaSets: owned(Resources.ReplicaSet, (o) => ({ metadata: o.metadata })),
    pods: owned(Resources.Pod),
  };
  const reconciler = new TenantControlPlaneReconciler({
    client: manager.client,
    caches,
    secrets: new TenantSecrets(manager.client, { access: config.tenantSecretAccess }),
    recorder: manager.recorder("tenantcontrolplane"),
    registry: manager.metrics.registry,
    allowInsecureExtraArgs: config.allowInsecureExtraArgs,
    ownNamespaces: config.ownNamespaces,
    externalEtcdSecretNamespaces: config.externalEtcdSecretNamespaces,
    imageRegistry: config.imageRegistry,
  });
  const controller = new Controller({
    name: "tenantcontrolplane",
    reconciler,
    workers: config.workers,
    logger: manager.logger,
    metrics: manager.metrics,
  }).watch(caches.tenants);
  const byTenant = labelKeys(tenantLabel);
  for (const [name, informer] of Object.entries(caches)) {
    if (name !== "tenants" && name !== "namespaces") controller.watch(informer as typeof caches.namespaces, byTenant);
  }
  // A namespace wakes the tenant of its label and every TenantControlPlane that asks for it: one refused because
  // the namespace existed (or was terminating) tries again when it is gone or an admin marked it.
  controller.watch(caches.namespaces, (ns) => {
    const name = ns.metadata?.name;
    const claimants = caches.tenants
      .list((t) => claimantOf(t).namespace === name || t.status?.namespace === name)
      .map((t) => t.metadata?.name ?? "");
    const labelled = byTenant(ns).map((k) => (typeof k === "string" ? k : k.name));
    return [...new Set([...labelled, ...claimants])];
  });
  // A TenantControlPlane that goes away frees its namespace for one that was refused because of it.
  controller.watch(caches.tenants, (t) => {
    if (!t.metadata?.deletionTimestamp) return [];
    const ns = claimantOf(t).namespace;
    return caches.tenants.list((o) => o !== t && claimantOf(o).namespace === ns).map((o) => o.metadata?.name ?? "");
  });
  manager.add(controller);
  return controller;
}

registerController("tenantcontrolplane", addTenantControlPlaneController);
