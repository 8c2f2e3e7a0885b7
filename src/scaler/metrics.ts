// The scaler's Prometheus metrics: decisions by outcome, and the time from a signal to the decision on it.
import { Counter, Histogram, type Registry } from "prom-client";
import type { ActionPlan, RecordedPhase } from "./decisions.js";

export class ScalerMetrics {
  private readonly decisionsTotal: Counter<"direction" | "category" | "phase">;
  private readonly decisionLatency: Histogram<"trigger">;

  constructor(registry: Registry) {
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
