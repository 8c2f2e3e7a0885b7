// kube-apiserver: its Deployment and PodDisruptionBudget. It moves to a new version only once etcd is ready.
import type { KubeObject } from "../../kube/resources.js";
import { apiServerDeployment, type ComponentInputs, type TenantContext } from "../manifests.js";
import type { DerivedSettings } from "../derived.js";
import type { Found } from "./step.js";
import { controlPlaneDeploymentStep } from "./workload.js";

export const apiServerStep = controlPlaneDeploymentStep({
  component: "kube-apiserver",
  conditionType: "APIServerReady",
  manifest: apiServerDeployment,
  mayUpgrade: (found) => found.components.etcd?.ready === true,
  // And any other Deployment or PodDisruptionBudget of the tenant, which no other step claims.
  cleanup: {
    deployments: { notComponents: ["kube-controller-manager", "kube-scheduler"] },
    pdbs: { notComponents: ["etcd", "kube-controller-manager", "kube-scheduler"] },
  },
});

/** The components after the apiserver move to a new version only once it runs that version everywhere. */
export function apiServerDone(found: Found, ctx: TenantContext): boolean {
  return (
    found.components["kube-apiserver"]?.ready === true && found.versions["kube-apiserver"] === ctx.tcp.spec.version
  );
}

/** The step of a component that follows the apiserver: its own Deployment and PodDisruptionBudget, nothing else. */
export function afterApiServerStep(
  component: "kube-controller-manager" | "kube-scheduler",
  conditionType: string,
  manifest: (ctx: TenantContext, inputs: ComponentInputs, derived?: DerivedSettings) => KubeObject,
) {
  const own = { component };
  return controlPlaneDeploymentStep({
    component,
    conditionType,
    manifest,
    mayUpgrade: apiServerDone,
    cleanup: { deployments: own, pdbs: own },
  });
}
