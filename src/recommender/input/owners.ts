// Maps a pod (by namespace and name, as cAdvisor labels it) to its workload through the owner chain read from
// informer caches: Pod → ReplicaSet → Deployment, Pod → StatefulSet. A pod that is gone (history outlives pods)
// is matched by name against the ReplicaSets and StatefulSets that still exist: Deployment pods are named
// "<replicaset>-<5 chars>" and a ReplicaSet "<deployment>-<pod-template-hash>"; StatefulSet pods
// "<statefulset>-<ordinal>". ReplicaSets are kept as revision history (10 by default), so a week of rollouts
// still maps.
import type { KubeObject } from "../../kube/resources.js";

export type WorkloadKind = "Deployment" | "StatefulSet";

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
}

export interface OwnerCaches {
  pod(namespace: string, name: string): KubeObject | undefined;
  replicaSet(namespace: string, name: string): KubeObject | undefined;
  /** Names of the ReplicaSets and StatefulSets of a namespace, for pods that are gone. */
  replicaSetNames(namespace: string): Iterable<string>;
  statefulSetNames(namespace: string): Iterable<string>;
}

function controllerOf(obj: KubeObject | undefined): { kind: string; name: string } | undefined {
  return obj?.metadata?.ownerReferences?.find((r) => r.controller);
}

export class OwnerResolver {
  private readonly memo = new Map<string, WorkloadRef | null>();

  constructor(private readonly caches: OwnerCaches) {}

  /** Forget memoized answers (call before each batch; caches change). */
  reset(): void {
    this.memo.clear();
  }

  resolve(namespace: string, pod: string): WorkloadRef | undefined {
    const key = `${namespace}/${pod}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const ref = this.fromCache(namespace, pod) ?? this.fromName(namespace, pod);
    this.memo.set(key, ref ?? null);
    return ref;
  }

  private rsOwner(namespace: string, rsName: string): WorkloadRef | undefined {
    const rs = this.caches.replicaSet(namespace, rsName);
    const owner = controllerOf(rs);
    if (owner?.kind === "Deployment") return { kind: "Deployment", name: owner.name };
    if (!rs) {
      // A ReplicaSet that is gone: its name is "<deployment>-<hash>".
      const i = rsName.lastIndexOf("-");
      if (i > 0) return { kind: "Deployment", name: rsName.slice(0, i) };
    }
    return undefined;
  }

  private fromCache(namespace: string, pod: string): WorkloadRef | undefined {
    const p = this.caches.pod(namespace, pod);
    const owner = controllerOf(p);
    if (!owner) return undefined;
    if (owner.kind === "StatefulSet") return { kind: "StatefulSet", name: owner.name };
    if (owner.kind === "ReplicaSet") return this.rsOwner(namespace, owner.name);
    return undefined;
  }

  private fromName(namespace: string, pod: string): WorkloadRef | undefined {
    const dash = pod.lastIndexOf("-");
    if (dash <= 0) return undefined;
    const prefix = pod.slice(0, dash);
    const suffix = pod.slice(dash + 1);
    if (/^\d+$/.test(suffix)) {
      for (const sts of this.caches.statefulSetNames(namespace))
        if (sts === prefix) return { kind: "StatefulSet", name: sts };
    }
    for (const rs of this.caches.replicaSetNames(namespace)) {
      if (rs === prefix) return this.rsOwner(namespace, rs);
    }
    return undefined;
  }
}
