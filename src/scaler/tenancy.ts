// Pure checks that keep the ClusterScaler on a tenant's own objects.
//
// Which workloads it governs: the metapilot.io/tenant label names a tenant, but a label is what anyone who can
// create a Deployment writes. So when a TenantControlPlane of that name exists, only a workload in that
// TenantControlPlane's namespace counts as its (a namespace metapilot created for it, see src/operator/namespace.ts),
// and only one metapilot manages there (app.kubernetes.io/managed-by=metapilot) has its size written into the
// TenantControlPlane's spec. A control plane metapilot did not create (no TenantControlPlane of that name, or one
// whose workloads are hand-made in its namespace) is governed where it runs, and only the workload itself is changed.
//
// Which interrupted decisions it finishes: only one metapilot signed (src/scaler/signature.ts), still fresh, that
// the current policy still allows, for a target that is not paused.
import { clamp, sameSize } from "./engine.js";
import type { ResolvedPolicy, Size } from "./types.js";
import { tenantNamespaceOf } from "../api/index.js";
import { managedByLabel, managedByMetapilot, tenantLabel } from "../api/labels.js";

export interface TenantLike {
  metadata?: { name?: string };
  spec?: { namespace?: string };
  status?: { namespace?: string };
}

export interface WorkloadLike {
  metadata?: { namespace?: string; labels?: Record<string, string> };
}

export type Tenancy = { governed: true; ownedByTenantControlPlane: boolean } | { governed: false; reason: string };

export function workloadTenancy(workload: WorkloadLike, tenant: string, tcp: TenantLike | undefined): Tenancy {
  const managed = workload.metadata?.labels?.[managedByLabel] === managedByMetapilot;
  if (!tcp) return { governed: true, ownedByTenantControlPlane: false };
  const home = tenantNamespaceOf(tcp);
  if (workload.metadata?.namespace !== home)
    return {
      governed: false,
      reason:
        `labelled metapilot.io/tenant=${tenant}, but TenantControlPlane ${tenant} runs in namespace ${home}, not ` +
        `${workload.metadata?.namespace}: not governed, and nothing of ${tenant} is changed because of it`,
    };
  return { governed: true, ownedByTenantControlPlane: managed };
}

/**
 * The labels a ClusterScaler's tenantSelector is matched against, one answer for the scaler and the ClusterScaler's
 * status: a TenantControlPlane's own labels plus metapilot.io/tenant=<name> (so a tenant can be selected by name
 * without labelling it); for a control plane metapilot did not create (no TenantControlPlane), the labels of its
 * workload, which carry metapilot.io/tenant.
 */
export function tenantSelectionLabels(
  tenant: string,
  tcp: { metadata?: { labels?: Record<string, string> } } | undefined,
  workload?: WorkloadLike,
): Record<string, string> {
  if (tcp) return { ...(tcp.metadata?.labels ?? {}), [tenantLabel]: tenant };
  return workload?.metadata?.labels ?? {};
}

/** Why `after` is outside the policy's bounds now, or undefined when it is within them. */
export function outsidePolicy(after: Size, observed: Size, policy: ResolvedPolicy): string | undefined {
  const bounded = clamp(after, { policy } as Parameters<typeof clamp>[1]);
  if (sameSize(bounded, after)) return undefined;
  // A value the decision leaves as it is (an up never shrinks what someone else set above maxAllowed) is not the
  // decision's doing.
  const keys = ["replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const;
  const changed = keys.filter((k) => {
    const a = after[k];
    const b = bounded[k];
    const same = a === b || (a !== undefined && b !== undefined && Math.abs(a - b) < 1e-9);
    const unchanged =
      a === observed[k] || (a !== undefined && observed[k] !== undefined && Math.abs(a - observed[k]) < 1e-9);
    return !same && !unchanged;
  });
  return changed.length ? `${changed.join(", ")} outside the ClusterScaler's current bounds` : undefined;
}

export type InterruptedVerdict =
  | { action: "ignore"; reason: string }
  | { action: "finish"; phase: "Applied" | "DryRun" | "Failed" | "Blocked"; message: string }
  | { action: "apply" };

export interface InterruptedInput {
  /** The decision's signature verifies with the controller's key. */
  signed: boolean;
  /**
   * It was recorded as Blocked (a disruption budget held it back, or its size is out of reach: the signed
   * metapilot.io/blocked-by or metapilot.io/blocked-key annotation), and its phase was not written yet. What it
   * names as `after` is what was wanted, not what was allowed.
   */
  blocked?: { reason: string };
  dryRun: boolean;
  decidedAt: number;
  after: Size;
  observed: Size;
  /** It is the latest signed decision for the workload. */
  latest: boolean;
  paused: boolean;
  policy: ResolvedPolicy;
  now: number;
  maxAgeMs: number;
}

/** What to do with a decision that has no phase, recorded by a previous leader that did not finish it. */
export function interruptedVerdict(i: InterruptedInput): InterruptedVerdict {
  if (!i.signed)
    return {
      action: "ignore",
      reason:
        "not recorded by metapilot (no valid metapilot.io/decision-signature): never applied; a ScalingDecision " +
        "is a record, not a command",
    };
  // Before anything that could apply it: a change held back is never made by the next leader, whose own budget
  // decides afresh (the record still counts as held back, as a Blocked one does).
  if (i.blocked)
    return {
      action: "finish",
      phase: "Blocked",
      message: `${i.blocked.reason} (finished after a controller restart): not applied`,
    };
  if (i.dryRun)
    return {
      action: "finish",
      phase: "DryRun",
      message: "dry-run: recorded, workload unchanged (finished after a controller restart)",
    };
  if (sameSize(i.observed, i.after))
    return {
      action: "finish",
      phase: "Applied",
      message: "the workload already has this size: the controller restarted between actuation and recording",
    };
  const age = i.now - i.decidedAt;
  if (!Number.isFinite(i.decidedAt) || age > i.maxAgeMs)
    return {
      action: "finish",
      phase: "Failed",
      message: `interrupted by a controller restart and too old to apply (decided ${Math.round(age / 1000)} s ago, limit ${Math.round(i.maxAgeMs / 1000)} s): not applied`,
    };
  if (i.paused)
    return {
      action: "finish",
      phase: "Failed",
      message: "interrupted by a controller restart; the target is paused (metapilot.io/paused): not applied",
    };
  const outside = outsidePolicy(i.after, i.observed, i.policy);
  if (outside)
    return {
      action: "finish",
      phase: "Failed",
      message: `interrupted by a controller restart; ${outside}: not applied`,
    };
  if (!i.latest)
    return {
      action: "finish",
      phase: "Failed",
      message: "interrupted by a controller restart and superseded by a later decision",
    };
  return { action: "apply" };
}
