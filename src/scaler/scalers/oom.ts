// OOM kills: act at once, on each kill exactly once, sized by the oom-memory estimator when the policy lists it.
import { formatMemory } from "../quantity.js";
import { estimator, unansweredOoms } from "../estimators/index.js";
import { iso } from "../freshness.js";
import type { Scaler } from "./types.js";

export const oomScaler: Scaler = {
  name: "oom",
  propose(input, _o, notes) {
    const { signals, policy } = input;
    if (!policy.scalers.oom.enabled || !policy.estimators.includes("oom-memory")) return undefined;
    // Without a kill there is nothing to answer nor to note (most rounds): no lists to filter, no estimate to make.
    if (signals.oom.length === 0) return undefined;
    const newOoms = unansweredOoms(input);
    const rolledPast = signals.oom.filter((e) => !input.history.handledOomIds.has(e.id) && !newOoms.includes(e));
    if (rolledPast.length > 0)
      notes.push(
        `OOM kill(s) of ${rolledPast.map((e) => e.pod).join(", ")} at a smaller limit than the workload now has: answered by its rollout`,
      );
    if (newOoms.length === 0) return undefined;
    const est = estimator("oom-memory").estimate(input);
    if (!est) return undefined;
    return {
      scaler: "oom",
      category: "OOMKilled",
      size: est.size,
      note: est.note,
      estimator: "oom-memory",
      oomIds: newOoms.map((e) => e.id),
      evidence: newOoms.slice(0, 8).map((e) => ({
        signal: "container_oom_killed",
        value: `${e.pod}/${e.container}`,
        threshold: e.limitBytes ? `limit ${formatMemory(e.limitBytes)}` : undefined,
        observedAt: iso(e.finishedAt),
        source: "pod-status",
      })),
    };
  },
};
