// Wiring of the master-operator: the primary kind, the owned kinds (found by the metapilot.io/tenant label, with
// that label as a server-side selector so the caches hold only tenant objects), and the reconciler.
import { registerController, type ControllerConfig } from "../controllers.js";
import { Controller, labelKeys } from "../kube/controller.js";
import type { Manager } from "../kube/manager.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { tenantLabel } from "./manifests.js";
import { TenantControlPlaneReconciler, type OperatorCaches, type RawTenantControlPlane } from "./reconciler.js";

export function addTenantControlPlaneController(manager: Manager, config: ControllerConfig): Controller {
  const owned = <T extends KubeObject>(resource: (typeof Resources)[keyof typeof Resources]) =>
    manager.informer<T>({ resource, namespace: config.namespace, labelSelector: tenantLabel });
  const caches: OperatorCaches = {
    tenants: manager.informer<RawTenantControlPlane>({ resource: Resources.TenantControlPlane }),
    namespaces: manager.informer({ resource: Resources.Namespace, labelSelector: tenantLabel }),
    deployments: owned(Resources.Deployment),
    statefulSets: owned(Resources.StatefulSet),
    services: owned(Resources.Service),
    secrets: owned(Resources.Secret),
    pdbs: owned(Resources.PodDisruptionBudget),
    networkPolicies: owned(Resources.NetworkPolicy),
    resourceQuotas: owned(Resources.ResourceQuota),
    pods: owned(Resources.Pod),
  };
  const reconciler = new TenantControlPlaneReconciler({
    client: manager.client,
    caches,
    recorder: manager.recorder("tenantcontrolplane"),
    registry: manager.metrics.registry,
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
    if (name !== "tenants") controller.watch(informer as typeof caches.namespaces, byTenant);
  }
  manager.add(controller);
  return controller;
}

registerController("tenantcontrolplane", addTenantControlPlaneController);
