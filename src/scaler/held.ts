// Which workloads of each ClusterScaler are in some state, and why. The reconciler keeps two: those whose scale-down
// is held for missing or stale data (the cause of the SignalsAvailable and ScaleDownHeld conditions,
// signal-conditions.ts), in the set while their latest plan is held for data; and those whose scale-up is Blocked by
// a lasting condition (an OOM kill at maxAllowed, a size no node holds: the ScaleUpBlocked condition and the
// metapilot_scaler_blocked_workloads metric), in the set while their history keeps the Blocked condition.

import type { ConditionInput } from "../api/conditions.js";

export class WorkloadReasons {
  /** ClusterScaler → workload (namespace/name) → why. A ClusterScaler with none is absent. */
  readonly byClusterScaler = new Map<string, Map<string, string>>();

  /** The workload is in the set under `clusterScaler`, for `why` (it leaves any other one's set). */
  hold(clusterScaler: string, workload: string, why: string): void {
    this.release(workload);
    const held = this.byClusterScaler.get(clusterScaler) ?? new Map<string, string>();
    held.set(workload, why);
    this.byClusterScaler.set(clusterScaler, held);
  }

  /** Under which ClusterScaler, and why, the workload is in the set, if it is. */
  find(workload: string): { clusterScaler: string; why: string } | undefined {
    for (const [clusterScaler, held] of this.byClusterScaler) {
      const why = held.get(workload);
      if (why !== undefined) return { clusterScaler, why };
    }
    return undefined;
  }

  /** The workload is in no ClusterScaler's set any more. */
  release(workload: string): void {
    for (const [cs, held] of this.byClusterScaler) {
      held.delete(workload);
      if (held.size === 0) this.byClusterScaler.delete(cs);
    }
  }

  /** A ClusterScaler's workloads in the set, keeping only those `stillGoverned` says it governs now. */
  of(clusterScaler: string, stillGoverned: (workload: string) => boolean): Map<string, string> {
    const out = new Map<string, string>();
    for (const [workload, why] of this.byClusterScaler.get(clusterScaler) ?? []) {
      if (stillGoverned(workload)) out.set(workload, why);
    }
    return out;
  }
}

/**
 * The ClusterScaler's ScaleUpBlocked condition from its blocked workloads (workload → "<reason>: <message>"): True
 * while any is, with the first by name and how many more; its reason is that workload's (MaxAllowed,
 * ExceedsNodeCapacity).
 */
export function scaleUpBlockedCondition(blocked: ReadonlyMap<string, string>): ConditionInput {
  if (blocked.size === 0)
    return {
      type: "ScaleUpBlocked",
      status: "False",
      reason: "NoneBlocked",
      message: "no workload's scale-up is blocked by maxAllowed or node capacity",
    };
  const [workload, why] = [...blocked].sort(([a], [b]) => a.localeCompare(b))[0] ?? ["", ""];
  const reason = why.slice(0, Math.max(0, why.indexOf(":"))) || "Blocked";
  const more = blocked.size > 1 ? ` (and ${blocked.size - 1} more workloads)` : "";
  return { type: "ScaleUpBlocked", status: "True", reason, message: `${workload}: ${why}${more}`.slice(0, 32_000) };
}
