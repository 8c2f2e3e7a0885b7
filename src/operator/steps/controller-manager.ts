// kube-controller-manager: its Deployment and PodDisruptionBudget, at a new version only after the apiserver.
import { controllerManagerDeployment } from "../manifests.js";
import { afterApiServerStep } from "./apiserver.js";

export const controllerManagerStep = afterApiServerStep(
  "kube-controller-manager",
  "ControllerManagerReady",
  controllerManagerDeployment,
);
