// Conditions and status comparison, shared by every controller: status is written only when it really changed, so
// a steady state makes zero writes, and a condition keeps its lastTransitionTime while its status stays the same.
import type { Condition } from "./common.js";

/** A condition as a controller computes it; mergeConditions adds observedGeneration and lastTransitionTime. */
export interface ConditionInput {
  type: string;
  status: Condition["status"];
  reason: string;
  message: string;
}

/** Merges new condition values into the previous list, keeping lastTransitionTime where status is unchanged. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  const out: Condition[] = [];
  for (const c of next) {
    const old = byType.get(c.type);
    out.push({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message.slice(0, 4000),
      observedGeneration,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString(),
    });
  }
  return out;
}

/** Structural equality for JSON-like values (key order ignored, undefined fields ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const val = (v as Record<string, unknown>)[k];
      if (val !== undefined) out[k] = normalize(val);
    }
    return out;
  }
  return v;
}
