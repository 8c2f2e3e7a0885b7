// The only code that changes a workload's size. Where metapilot's TenantControlPlane owns the field, the
// TenantControlPlane spec is changed (the operator then rolls the Deployment), so the two never fight; otherwise
// the Deployment or StatefulSet is server-side applied. The recording actuator (dry-run) writes nothing.
import type { KubeClient } from "../kube/client.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { bytes, cores, formatCpu, formatMemory } from "./quantity.js";
import type { Size, WorkloadRef } from "./types.js";

export interface Actuator {
  readonly dryRun: boolean;
  apply(workload: WorkloadRef, after: Size): Promise<void>;
}

export function resourcesOf(size: Size): { requests: Record<string, string>; limits: Record<string, string> } {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (size.cpuRequest !== undefined) requests.cpu = formatCpu(size.cpuRequest);
  if (size.memoryRequest !== undefined) requests.memory = formatMemory(size.memoryRequest);
  if (size.cpuLimit !== undefined) limits.cpu = formatCpu(size.cpuLimit);
  if (size.memoryLimit !== undefined) limits.memory = formatMemory(size.memoryLimit);
  return { requests, limits };
}

const tcpField: Record<string, string> = {
  "kube-apiserver": "apiServer",
  "kube-controller-manager": "controllerManager",
  "kube-scheduler": "scheduler",
};

type ResourceLists = { requests?: Record<string, string>; limits?: Record<string, string> };

/**
 * The size a TenantControlPlane's spec gives a component, where KubeActuator writes it: the size its workload is
 * rolling to. The workload itself lags while the operator rolls it, so a decision made from the workload's size
 * would answer the same OOM kill twice. Without resources in the spec (the operator's defaults) it is the
 * workload's own `observed` size. Pure.
 */
export function tenantSpecSize(observed: Size, tenantSpec: unknown, component: string): Size {
  const spec = (tenantSpec ?? {}) as Record<string, { resources?: ResourceLists; replicas?: number } | undefined> & {
    etcd?: { managed?: { resources?: ResourceLists } };
  };
  const field = component === "etcd" ? spec.etcd?.managed : spec[tcpField[component] ?? ""];
  const r = field?.resources;
  if (!r) return observed;
  return {
    // etcd's member count is never the scaler's to change; a component's replicas default in the operator.
    replicas:
      component === "etcd" ? observed.replicas : ((field as { replicas?: number }).replicas ?? observed.replicas),
    cpuRequest: cores(r.requests?.cpu),
    cpuLimit: cores(r.limits?.cpu),
    memoryRequest: bytes(r.requests?.memory),
    memoryLimit: bytes(r.limits?.memory),
  };
}

export class KubeActuator implements Actuator {
  readonly dryRun = false;
  constructor(private readonly client: KubeClient) {}

  async apply(workload: WorkloadRef, after: Size): Promise<void> {
    const resources = resourcesOf(after);
    const res = {
      ...(Object.keys(resources.requests).length ? { requests: resources.requests } : {}),
      ...(Object.keys(resources.limits).length ? { limits: resources.limits } : {}),
    };
    if (workload.ownedByTenantControlPlane) {
      const patch =
        workload.component === "etcd"
          ? { spec: { etcd: { managed: { resources: res } } } }
          : { spec: { [tcpField[workload.component] ?? "apiServer"]: { replicas: after.replicas, resources: res } } };
      await this.client.patch(Resources.TenantControlPlane, workload.tenant, undefined, patch, "merge");
      return;
    }
    const t = workload.kind === "Deployment" ? Resources.Deployment : Resources.StatefulSet;
    await this.client.apply(t, {
      metadata: { name: workload.name, namespace: workload.namespace },
      spec: {
        replicas: after.replicas,
        template: { spec: { containers: [{ name: workload.container, resources: res }] } },
      },
    } as KubeObject);
  }
}

/** Dry-run: remembers what it would have done; never touches the API. */
export class RecordingActuator implements Actuator {
  readonly dryRun = true;
  readonly applied: Array<{ workload: WorkloadRef; after: Size }> = [];
  async apply(workload: WorkloadRef, after: Size): Promise<void> {
    this.applied.push({ workload, after });
  }
}
