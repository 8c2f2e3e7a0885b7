// The scaler's Prometheus metrics: decisions by outcome, the time from a signal to the decision on it, and the
// workloads whose scale-up a lasting condition blocks (the alert for OOM kills at maxAllowed).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ActionPlan, RecordedPhase } from "./decisions.js";

export class ScalerMetrics {
  private readonly decisionsTotal: Counter<"direction" | "category" | "phase">;
  private readonly decisionLatency: Histogram<"trigger">;

  /**
   * `blocked`: ClusterScaler → workload → "<reason>: <message>", the workloads whose scale-up a lasting condition
   * blocks (reconciler.ts), counted at each scrape.
   */
  constructor(registry: Registry, blocked?: { byClusterScaler: ReadonlyMap<string, ReadonlyMap<string, string>> }) {
    if (blocked)
      new Gauge({
        name: "metapilot_scaler_blocked_workloads",
        help:
          "Workloads whose scale-up is Blocked by a lasting condition, by ClusterScaler and reason: MaxAllowed (OOM " +
          "kills with memory at maxAllowed: one Blocked decision is recorded, then kills are only counted here) or " +
          "ExceedsNodeCapacity (no node the component may run on holds the size). Alert on any above 0.",
        labelNames: ["cluster_scaler", "reason"],
        registers: [registry],
        collect() {
          this.reset();
          for (const [cs, workloads] of blocked.byClusterScaler) {
            const counts = new Map<string, number>();
            for (const why of workloads.values()) {
              const reason = why.slice(0, Math.max(0, why.indexOf(":"))) || "Unknown";
              counts.set(reason, (counts.get(reason) ?? 0) + 1);
            }
            for (const [reason, n] of counts) this.set({ cluster_scaler: cs, reason }, n);
          }
        },
      });
    this.decisionsTotal = new Counter({
      name: "metapilot_scaling_decisions_total",
      help: "ScalingDecisions by direction, root-cause category and phase (Applied, DryRun, Blocked, Failed).",
      labelNames: ["direction", "category", "phase"],
      registers: [registry],
    });
    this.decisionLatency = new Histogram({
      name: "metapilot_scaling_decision_latency_seconds",
      help: "From the signal's observation (e.g. the OOM kill's finish time) to the actuation.",
      labelNames: ["trigger"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    });
  }

  /** A decision recorded to its phase at `now`; the latency runs from its oldest evidence. */
  decided(plan: ActionPlan, phase: RecordedPhase, now: number, decidedAt: number): void {
    this.decisionsTotal.inc({ direction: plan.direction, category: plan.category, phase });
    const oldest = Math.min(...plan.evidence.map((e) => Date.parse(e.observedAt ?? "") || decidedAt));
    this.decisionLatency.observe({ trigger: plan.category }, Math.max(0, now - oldest) / 1000);
  }
}
