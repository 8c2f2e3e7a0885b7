// OOM kills read from pod status: a container whose last (or current) termination says OOMKilled. Pod status
// arrives through the pod watch, so the scaler reacts in well under a second and never polls.
import { parseQuantity } from "../../api/index.js";
import type { OomEvent } from "../types.js";

export interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: { terminated?: { reason?: string; finishedAt?: string } };
  lastState?: { terminated?: { reason?: string; finishedAt?: string } };
}

export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ controller?: boolean }>;
  };
  spec?: { containers?: Array<{ name: string; resources?: { limits?: Record<string, string> } }> };
  status?: { phase?: string; containerStatuses?: ContainerStatus[] };
}

/** OOM kills visible in one pod's status, each with a stable id (pod uid, container, restart count). */
export function oomEventsOf(pod: PodLike, container?: string): OomEvent[] {
  const out: OomEvent[] = [];
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (container && cs.name !== container) continue;
    const terminated = [cs.state?.terminated, cs.lastState?.terminated].find((t) => t?.reason === "OOMKilled");
    if (!terminated) continue;
    const limit = pod.spec?.containers?.find((c) => c.name === cs.name)?.resources?.limits?.memory;
    let limitBytes: number | undefined;
    try {
      limitBytes = limit ? parseQuantity(limit) : undefined;
    } catch {
      limitBytes = undefined;
    }
    out.push({
      id: `${pod.metadata?.uid ?? pod.metadata?.name}/${cs.name}/${cs.restartCount ?? 0}`,
      pod: pod.metadata?.name ?? "",
      container: cs.name,
      finishedAt: Date.parse(terminated.finishedAt ?? "") || Date.now(),
      limitBytes,
      replaceable: (pod.metadata?.ownerReferences ?? []).some((o) => o.controller === true),
    });
  }
  return out;
}
