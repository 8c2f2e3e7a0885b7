// Which workloads each ClusterScaler has whose scale-down is held for missing or stale data, and why: the cause of
// its SignalsAvailable and ScaleDownHeld conditions (signal-conditions.ts). A workload is in the set while its
// latest plan is held for data, and leaves it on any other outcome of a round.

export class HeldForData {
  /** ClusterScaler → workload (namespace/name) → what is missing. A ClusterScaler with none is absent. */
  readonly byClusterScaler = new Map<string, Map<string, string>>();

  /** The workload's latest plan, under `clusterScaler`, is held for data (it leaves any other one's set). */
  hold(clusterScaler: string, workload: string, why: string): void {
    this.release(workload);
    const held = this.byClusterScaler.get(clusterScaler) ?? new Map<string, string>();
    held.set(workload, why);
    this.byClusterScaler.set(clusterScaler, held);
  }

  /** The workload is held by no ClusterScaler any more. */
  release(workload: string): void {
    for (const [cs, held] of this.byClusterScaler) {
      held.delete(workload);
      if (held.size === 0) this.byClusterScaler.delete(cs);
    }
  }

  /** A ClusterScaler's held workloads, keeping only those `stillGoverned` says it governs now. */
  of(clusterScaler: string, stillGoverned: (workload: string) => boolean): Map<string, string> {
    const out = new Map<string, string>();
    for (const [workload, why] of this.byClusterScaler.get(clusterScaler) ?? []) {
      if (stillGoverned(workload)) out.set(workload, why);
    }
    return out;
  }
}
