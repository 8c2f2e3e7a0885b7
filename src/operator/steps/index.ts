// The steps of a TenantControlPlane, in the order they are applied (and, reversed, cleaned up). The order is the
// contract: the namespace and its access first, the apiserver Service before the PKI (its address goes into the
// certificates), the PKI before the workloads that mount it, and etcd → apiserver → the rest, as upgrades roll.
import { apiServerServiceStep } from "./apiserver-service.js";
import { apiServerStep } from "./apiserver.js";
import { controllerManagerStep } from "./controller-manager.js";
import { etcdStep } from "./etcd.js";
import { namespaceStep } from "./namespace.js";
import { networkPolicyStep } from "./network-policy.js";
import { pkiStep } from "./pki.js";
import { resourceQuotaStep } from "./resource-quota.js";
import { schedulerStep } from "./scheduler.js";
import type { Step } from "./step.js";

export const tenantControlPlaneSteps: readonly Step[] = [
  namespaceStep,
  networkPolicyStep,
  resourceQuotaStep,
  apiServerServiceStep,
  pkiStep,
  etcdStep,
  apiServerStep,
  controllerManagerStep,
  schedulerStep,
];
