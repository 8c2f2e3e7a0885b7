// kube-controller-manager: its Deployment and PodDisruptionBudget, at a new version only after the apiserver.
import { controllerManagerDeployment } from "../manifests.js";
import { apiServerDone } from "./apiserver.js";
import { controlPlaneDeploymentStep } from "./workload.js";

const own = { component: "kube-controller-manager" };

export const controllerManagerStep = controlPlaneDeploymentStep({
  component: "kube-controller-manager",
  conditionType: "ControllerManagerReady",
  manifest: controllerManagerDeployment,
  mayUpgrade: apiServerDone,
  cleanup: { deployments: own, pdbs: own },
});
