// kube-scheduler: its Deployment and PodDisruptionBudget, at a new version only after the apiserver.
import { schedulerDeployment } from "../manifests.js";
import { afterApiServerStep } from "./apiserver.js";

export const schedulerStep = afterApiServerStep("kube-scheduler", "SchedulerReady", schedulerDeployment);
