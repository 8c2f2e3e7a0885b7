// kube-scheduler: its Deployment and PodDisruptionBudget, at a new version only after the apiserver.
import { schedulerDeployment } from "../manifests.js";
import { apiServerDone } from "./apiserver.js";
import { controlPlaneDeploymentStep } from "./workload.js";

const own = { component: "kube-scheduler" };

export const schedulerStep = controlPlaneDeploymentStep({
  component: "kube-scheduler",
  conditionType: "SchedulerReady",
  manifest: schedulerDeployment,
  mayUpgrade: apiServerDone,
  cleanup: { deployments: own, pdbs: own },
});
