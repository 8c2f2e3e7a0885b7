// Whether a workload's rollout is complete, the one check the operator's steps share: a component's readiness
// (its Deployment, etcd's StatefulSet) and the in-place resize, which waits for no rollout under way. They differ
// only in what they ask of the pods, so that is the one parameter.
import type { WorkloadStatus } from "./step.js";

export interface RolloutCheck {
  /** The replicas wanted; the workload's own spec.replicas (1 without) when absent. */
  want?: number;
  /**
   * What the pods must be beyond coming from the current template:
   * - "available": all available, none unavailable, and no extra replica (a component's readiness);
   * - "ready": as many ready as wanted (etcd members, which a StatefulSet updates one by one);
   * - "any": ready or not, with no extra replica (the resize: a pod that never becomes ready, in an OOM loop, must not
   *   hold a resize back).
   */
  pods: "available" | "ready" | "any";
}

/**
 * Whether every wanted replica runs the workload's current template: the controller has seen the latest
 * generation, `want` replicas are updated, and a StatefulSet's current revision is its update revision. Pure.
 */
export function rolledOut(kind: "Deployment" | "StatefulSet", live: WorkloadStatus, check: RolloutCheck): boolean {
  const s = live.status ?? {};
  const want = check.want ?? live.spec?.replicas ?? 1;
  if ((s.observedGeneration ?? 0) < (live.metadata?.generation ?? 1)) return false;
  if ((s.updatedReplicas ?? 0) < want) return false;
  if (kind === "StatefulSet" && s.updateRevision && s.currentRevision !== s.updateRevision) return false;
  switch (check.pods) {
    case "available":
      return (s.availableReplicas ?? 0) >= want && (s.replicas ?? 0) === want && !s.unavailableReplicas;
    case "ready":
      return (s.readyReplicas ?? 0) >= want;
    case "any":
      return (s.replicas ?? 0) === want;
  }
}
