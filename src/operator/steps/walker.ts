// Walks the steps: in order to reconcile (each applies, then all report their conditions), in reverse to finalize.
import type { ConditionInput } from "../../api/conditions.js";
import type { FinalizeContext, Pending, Step, StepContext, StepStop } from "./step.js";

export type Walked = { stopped: StepStop } | { conditions: ConditionInput[] };

/** Applies each step in order; a step that stops the walk holds back every step behind it. */
export async function applySteps(steps: readonly Step[], sc: StepContext): Promise<Walked> {
  for (const step of steps) {
    const stopped = await step.apply(sc);
    if (stopped) return { stopped };
  }
  return { conditions: steps.flatMap((step) => step.status(sc)) };
}

/** Cleans up in reverse order; each step sees what the steps after it in the list still wait for. */
export async function cleanupSteps(steps: readonly Step[], fc: FinalizeContext): Promise<Pending[]> {
  const pending: Pending[] = [];
  for (const step of [...steps].reverse()) pending.push(...(await step.cleanup(fc, pending)));
  return pending;
}

/** "2 deployments, 1 statefulsets, namespace tcp-a to terminate (3 pods left)": counts merged by kind. */
export function describePending(pending: readonly Pending[]): string {
  const parts = new Map<string, number | undefined>();
  for (const p of pending) {
    if ("what" in p) parts.set(p.what, undefined);
    else parts.set(p.resource.plural, (parts.get(p.resource.plural) ?? 0) + p.count);
  }
  return [...parts].map(([what, count]) => (count === undefined ? what : `${count} ${what}`)).join(", ");
}
