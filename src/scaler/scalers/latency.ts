// Request latency of the tenant apiserver, sustained over the window: the p99 of a verb and scope (WATCH and
// CONNECT left out) at `threshold` times its SIG-scalability SLO (mutating calls and single-object reads 1s,
// namespace-scoped LIST 5s, cluster-scoped LIST 30s). More capacity: one more replica, or 50% more CPU at
// replicas.max.
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import { evidenceOf, fresh } from "../freshness.js";
import { canAddReplica, cpuBump, sustained } from "./common.js";
import { ratioBound, type Scaler, type ScalerInput } from "./types.js";

/**
 * The SLO of a verb and scope, seconds (kubernetes/community sig-scalability/slos/api_call_latency.md): 1s for
 * mutating calls and for reads of one object; for LIST, 5s namespace-scoped and 30s cluster-scoped.
 */
export function latencySlo(verb: string, scope: string): number {
  if (verb !== "GET" && verb !== "LIST") return 1;
  if (scope === "cluster") return 30;
  if (scope === "namespace") return 5;
  return 1;
}

/** The verb and scope whose p99 is furthest over its SLO, and by how much; undefined without a fresh one. */
function worst(input: ScalerInput, options: EngineOptions): { evidence: Evidence; ratio: number } | undefined {
  const latency = input.signals.requestLatencyP99;
  // Most workloads have none (only the apiserver's are read): no empty object and entries to make every round.
  if (!latency) return undefined;
  let out: { evidence: Evidence; ratio: number } | undefined;
  for (const [key, m] of Object.entries(latency)) {
    const p99 = fresh(m, input.now, options);
    if (!p99) continue;
    const [verb = "", scope = ""] = key.split("/");
    const slo = latencySlo(verb, scope);
    const ratio = p99.value / slo;
    if (out && ratio <= out.ratio) continue;
    const threshold = slo * input.policy.scalers.latency.threshold;
    out = {
      ratio,
      evidence: evidenceOf(
        `apiserver_request_duration_seconds_p99{verb="${verb}",scope="${scope}"}`,
        p99,
        p99.value.toFixed(3),
        String(threshold),
      ),
    };
  }
  return out;
}

export const latencyScaler: Scaler = {
  name: "latency",
  quietBelow(input) {
    const threshold = input.policy.scalers.latency.threshold;
    return {
      below: {},
      latency: (key) => {
        const [verb = "", scope = ""] = key.split("/");
        return ratioBound(threshold, latencySlo(verb, scope));
      },
    };
  },
  overThreshold(input, options) {
    const w = worst(input, options);
    return !!w && w.ratio >= input.policy.scalers.latency.threshold;
  },
  propose(input, options) {
    const settings = input.policy.scalers.latency;
    if (!settings.enabled || !sustained(input, "latency")) return undefined;
    const w = worst(input, options);
    if (!w || w.ratio < settings.threshold) return undefined;
    const replica = canAddReplica(input);
    return {
      scaler: "latency",
      category: "RequestLatency",
      size: replica ? { replicas: input.current.replicas + 1 } : cpuBump(input.current, 1.5),
      note: `p99 latency ${w.ratio.toFixed(2)}× its SLO: ${replica ? "one more replica" : "50% more CPU"}`,
      oomIds: [],
      evidence: [w.evidence],
    };
  },
};
