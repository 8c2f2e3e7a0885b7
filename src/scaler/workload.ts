// A control-plane workload (Deployment or StatefulSet) as the scaler reads it from the cache, and its size.
import type { KubeObject } from "../kube/resources.js";
import type { PodScheduling } from "./placement.js";
import { bytes, cores } from "./quantity.js";
import type { Size } from "./types.js";

export interface Workload extends KubeObject {
  spec?: {
    replicas?: number;
    template?: {
      spec?: PodScheduling & {
        containers?: Array<{
          name: string;
          resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
        }>;
      };
    };
  };
}

/** The size of the workload's `container` (or its first), and its replicas. */
export function workloadSize(w: Workload, container: string): Size {
  const c =
    w.spec?.template?.spec?.containers?.find((x) => x.name === container) ?? w.spec?.template?.spec?.containers?.[0];
  const r = c?.resources ?? {};
  return {
    replicas: w.spec?.replicas ?? 1,
    cpuRequest: cores(r.requests?.cpu),
    cpuLimit: cores(r.limits?.cpu),
    memoryRequest: bytes(r.requests?.memory),
    memoryLimit: bytes(r.limits?.memory),
  };
}

/** The container the scaler sizes: the one named after the component, else the first. */
export function mainContainer(w: Workload, component: string): string {
  const containers = w.spec?.template?.spec?.containers ?? [];
  return containers.some((c) => c.name === component) ? component : (containers[0]?.name ?? component);
}
