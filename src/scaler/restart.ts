// The RestartRequiring reason of the disruption budgets: whether a planned change of a component restarts its pods.
// It is decided when the change is, as precisely as the state then allows, by the operator's rule for how a size
// reaches running pods (src/operator/steps/resize.ts):
// - a change of replicas alone restarts nothing;
// - a workload not owned by a TenantControlPlane is changed through its pod template, which rolls;
// - a TenantControlPlane whose spec.resourceUpdates.strategy is Restart rolls on every change of CPU or memory;
// - a TenantControlPlane whose spec.resourceUpdates.derivedSettings is Immediately rolls when the change moves a
//   setting derived from the size (src/operator/derived.ts): GOMEMLIMIT follows every Go component's memory limit,
//   and kube-apiserver's in-flight limits its CPU (limit, else request). A user's own value of a setting is not
//   known here, so such a change counts as restart-requiring even where the user's value keeps the pods: the budget
//   errs on the restrictive side;
// - otherwise its pods are resized in place, unless a running pod of the component cannot be: its kubelet reports no
//   container resources (older than 1.33, or kwok), its container is not ready (an OOM loop), or the new size
//   changes its QoS class. Each of these makes the operator roll instead.
// What only shows later (the node calls the resize Infeasible, it stays Deferred too long, the apiserver refuses it)
// cannot be known here: such a fallback rollout was counted without RestartRequiring.
import { sameResources } from "./sizes.js";
import type { Size } from "./types.js";

/** What the rule reads of a pod of the component. */
export interface RestartPod {
  metadata?: { deletionTimestamp?: string };
  status?: {
    phase?: string;
    qosClass?: string;
    containerStatuses?: Array<{ name: string; ready?: boolean; resources?: unknown }>;
  };
}

export interface RestartFacts {
  ownedByTenantControlPlane: boolean;
  /** The TenantControlPlane's spec.resourceUpdates.strategy (InPlaceOrRestart when unset). */
  strategy?: string;
  /** The TenantControlPlane's spec.resourceUpdates.derivedSettings (WithNextRestart when unset). */
  derivedSettings?: string;
  /** The component: kube-apiserver's in-flight limits follow its CPU. */
  component?: string;
  /** The component's main container. */
  container: string;
  pods: readonly RestartPod[];
}

/** The QoS class of a pod of one container of this size, as the kubelet computes it (a missing request is the limit). */
export function qosOf(s: Size): "Guaranteed" | "Burstable" | "BestEffort" {
  const cpuRequest = s.cpuRequest ?? s.cpuLimit;
  const memoryRequest = s.memoryRequest ?? s.memoryLimit;
  if (cpuRequest === undefined && memoryRequest === undefined) return "BestEffort";
  return s.cpuLimit !== undefined &&
    s.memoryLimit !== undefined &&
    cpuRequest === s.cpuLimit &&
    memoryRequest === s.memoryLimit
    ? "Guaranteed"
    : "Burstable";
}

/** Why a change restarts the component's pods, in the operator's words (status.components[].resize.reason). */
export interface RestartCause {
  reason: "TemplateChange" | "Restart" | "DerivedSettings" | "KubeletCannotResize" | "NotReady" | "QoSClassChange";
  message: string;
  /**
   * Whether the operator surely takes this path. False for DerivedSettings: a user's own value of a setting, which
   * the scaler does not see, may keep the pods running.
   */
  certain: boolean;
}

/**
 * Why changing the component from `before` to `after` restarts its pods, or undefined when it does not (a change
 * of replicas alone, or a resize in place as far as the state now tells). The one copy of the operator's rule the
 * scaler keeps: the disruption budgets' RestartRequiring and a dry-run decision's predicted path both read it. Pure.
 */
export function restartCause(f: RestartFacts, before: Size, after: Size): RestartCause | undefined {
  if (sameResources(before, after)) return undefined;
  const cause = (reason: RestartCause["reason"], message: string, certain = true): RestartCause => ({
    reason,
    message,
    certain,
  });
  if (!f.ownedByTenantControlPlane)
    return cause(
      "TemplateChange",
      "no TenantControlPlane owns the workload: its pod template is changed, which rolls its pods",
    );
  if (f.strategy === "Restart") return cause("Restart", "spec.resourceUpdates.strategy is Restart");
  // With no running pod there is nothing to restart: a pod started later starts at the new size.
  for (const pod of f.pods) {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== "Running") continue;
    const status = pod.status.containerStatuses?.find((c) => c.name === f.container);
    if (!status?.resources)
      return cause(
        "KubeletCannotResize",
        "a pod's kubelet reports no container resources (in-place resize needs a kubelet of 1.33 or later)",
      );
    if (!status.ready) return cause("NotReady", "a pod's container is not ready: a new pod would start instead");
    if ((pod.status.qosClass ?? qosOf(before)) !== qosOf(after))
      return cause("QoSClassChange", `the new size changes the pods' QoS class to ${qosOf(after)}`);
  }
  if (f.derivedSettings === "Immediately" && movesDerivedSettings(f.component, before, after))
    return cause(
      "DerivedSettings",
      "spec.resourceUpdates.derivedSettings is Immediately and the change moves a setting derived from the size",
      false,
    );
  return undefined;
}

/** Whether changing the component from `before` to `after` restarts its pods (restartCause). Pure. */
export function restartRequiring(f: RestartFacts, before: Size, after: Size): boolean {
  return restartCause(f, before, after) !== undefined;
}

/** Whether a size change moves a setting the operator derives from the size (src/operator/derived.ts). */
function movesDerivedSettings(component: string | undefined, before: Size, after: Size): boolean {
  if (before.memoryLimit !== after.memoryLimit) return true;
  return (
    component === "kube-apiserver" && (before.cpuLimit ?? before.cpuRequest) !== (after.cpuLimit ?? after.cpuRequest)
  );
}
