// oom-memory: answers OOM kills (the oom scaler) with VPA's bump, and a faster one in an OOM loop. It needs no usage
// sample, so a container killed while it starts is answered too (VPA #4981).
import type { DecisionInput, OomEvent } from "../types.js";
import { MiB } from "../quantity.js";
import type { Estimator, EstimatorResult } from "./types.js";

export interface OomBumpOptions {
  /** The least a bump adds. */
  bumpBytes: number;
  /** The factor of a first kill (VPA's 1.2). */
  bumpRatio: number;
  /**
   * The factor of a kill at the size the last OOM bump set, within loopWindowMs of it: an OOM loop (a container
   * that cannot even start, in CrashLoopBackOff). VPA's 1.2 per kill needs 13 kills to get from 256Mi to 3Gi; 2
   * gets there in 5, so a loop ends within a few rounds, and overshoots the need by at most 2×.
   */
  loopRatio: number;
  loopWindowMs: number;
}

export const defaultOomBump: OomBumpOptions = {
  bumpBytes: 100 * MiB,
  bumpRatio: 1.2,
  loopRatio: 2,
  loopWindowMs: 10 * 60_000,
};

/**
 * OOM kills still to answer: not handled before, and not of a pod that its workload's rollout replaces and that was
 * killed at a smaller limit than the workload now has. While a raised size rolls out, the old pod can be killed
 * again (the kubelet restarts it at its old limit); that kill is answered by the rollout, not by another raise.
 */
export function unansweredOoms(input: Pick<DecisionInput, "signals" | "history" | "current" | "observed">): OomEvent[] {
  const { signals, history } = input;
  const rollingTo = (input.observed ?? input.current).memoryLimit;
  return signals.oom.filter(
    (e) =>
      !history.handledOomIds.has(e.id) &&
      !(e.replaceable && e.limitBytes !== undefined && rollingTo !== undefined && e.limitBytes < rollingTo),
  );
}

/**
 * Whether a kill repeats the last OOM bump's answer: it came within loopWindowMs of that bump, at (or above) the
 * memory the bump set. A kill of the same container at the size it was just given is an OOM loop.
 */
export function inOomLoop(
  input: Pick<DecisionInput, "history" | "current" | "now">,
  kills: readonly OomEvent[],
  options: OomBumpOptions = defaultOomBump,
): boolean {
  const last = input.history.lastOomBump;
  if (!last || input.now - last.at > options.loopWindowMs) return false;
  return kills.some((e) => {
    const at = e.limitBytes ?? input.current.memoryLimit;
    if (last.memoryLimit !== undefined && at !== undefined) return at >= last.memoryLimit - MiB;
    return e.finishedAt >= last.at && (input.current.memoryRequest ?? 0) >= (last.memoryRequest ?? 0) - MiB;
  });
}

/**
 * VPA's OOM bump: the new memory is max(base + 100 MiB, base × 1.2), where base is the larger of the limit the
 * container was killed at, the peak working set and the request; the request keeps its ratio to the limit. It
 * needs no usage sample: a container killed while starting, before Prometheus saw it, is bumped from its limit (or
 * its request without a limit, or minAllowed without either). A kill in an OOM loop (inOomLoop) is bumped by × 2 instead. The bump rests on kills
 * only, never on an earlier bump: the base is what the container had when it was killed, and the engine bounds the
 * answer by maxAllowed.
 */
export function oomMemory(input: DecisionInput, options: OomBumpOptions = defaultOomBump): EstimatorResult | undefined {
  const { current, signals } = input;
  const fresh = unansweredOoms(input);
  if (fresh.length === 0) return undefined;
  const killedAt = Math.max(0, ...fresh.map((e) => e.limitBytes ?? 0), current.memoryLimit ?? 0);
  const peak = signals.memoryWorkingSet?.value ?? 0;
  // A container with neither limit nor request (killed by the node's OOM killer) starts from minAllowed.
  const base = Math.max(killedAt, peak, current.memoryRequest ?? 0, input.policy.minAllowed.memory ?? 0);
  const loop = inOomLoop(input, fresh, options);
  const ratio = loop ? options.loopRatio : options.bumpRatio;
  const bumped = Math.max(base + options.bumpBytes, base * ratio);
  const share = current.memoryLimit && current.memoryRequest ? current.memoryRequest / current.memoryLimit : 1;
  return {
    size: {
      memoryLimit: current.memoryLimit !== undefined ? bumped : undefined,
      memoryRequest: Math.max(current.memoryRequest ?? 0, current.memoryLimit !== undefined ? bumped * share : bumped),
    },
    note:
      `OOM bump${loop ? " (OOM loop: killed again at the size the last bump set)" : ""}: ` +
      `max(${fmtMi(base)} + ${fmtMi(options.bumpBytes)}, ${fmtMi(base)} × ${ratio}) = ${fmtMi(bumped)}`,
  };
}

function fmtMi(b: number): string {
  return `${Math.round(b / MiB)}Mi`;
}

export const oomMemoryEstimator: Estimator = { name: "oom-memory", estimate: (input) => oomMemory(input) };
