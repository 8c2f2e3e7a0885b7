// Why a component's pods do not start, read from their status, for its condition: the scheduler cannot place them
// (reason Unschedulable, with the scheduler's own message), or the kubelet cannot get their image (reason
// ImagePullFailed, naming the image and the fields that choose it). Pure, so each case is tested alone.
import type { ControlPlaneComponent } from "./pki/index.js";

export interface PendingPod {
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ image?: string; state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

export interface PodProblem {
  reason: "Unschedulable" | "ImagePullFailed";
  /** Appended to the component's own state message. */
  message: string;
}

/** Container waiting reasons that mean the kubelet cannot get the image. */
export const imagePullReasons: ReadonlySet<string> = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "ErrImageNeverPull",
  "InvalidImageName",
]);

/** What a person can change so that the image of `component` exists: the fields that make up its name. */
export function imageRemedy(component: ControlPlaneComponent, waitingReason: string): string {
  const version = component === "etcd" ? "spec.etcd.managed.version" : "spec.version";
  const fields = `spec.imageRegistry (or the controller's --image-registry) and ${version}`;
  if (waitingReason === "ErrImageNeverPull")
    return `the node may not pull it: import the image onto the node, or change ${fields}`;
  if (waitingReason === "InvalidImageName") return `the name is not a valid image reference: correct ${fields}`;
  return `make the image available in its registry (or import it onto the node), or change ${fields} to an image that exists`;
}

/** The first problem of `pods` (Pending pods of one component) that explains why it is not ready, if any. */
export function podProblem(component: ControlPlaneComponent, pods: readonly PendingPod[]): PodProblem | undefined {
  const pending = pods.filter((p) => p.status?.phase === "Pending");
  const unschedulable = pending.flatMap((p) =>
    (p.status?.conditions ?? []).filter(
      (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
    ),
  );
  if (unschedulable.length > 0) {
    const why = unschedulable[0]?.message ?? "no node fits";
    return { reason: "Unschedulable", message: `${unschedulable.length} pod(s) cannot be scheduled: ${why}` };
  }
  const pulls = pending.flatMap((p) =>
    (p.status?.containerStatuses ?? []).filter((c) => imagePullReasons.has(c.state?.waiting?.reason ?? "")),
  );
  const first = pulls[0];
  if (!first) return undefined;
  const waitingReason = first.state?.waiting?.reason ?? "";
  const said = first.state?.waiting?.message;
  const image = first.image ?? "(unnamed)";
  // What to do comes before the kubelet's own words, which can be long, so a cut message still says it.
  return {
    reason: "ImagePullFailed",
    message:
      `image ${image} cannot be pulled (${waitingReason}): ${imageRemedy(component, waitingReason)}` +
      (said ? `; the kubelet says: ${said.slice(0, 400)}` : ""),
  };
}
