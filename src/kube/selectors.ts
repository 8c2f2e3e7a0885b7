// metav1.LabelSelector matching, for the places that must evaluate a selector against objects already in a cache.
import type { LabelSelector } from "../api/index.js";

/** Whether `labels` satisfy `selector` (every matchLabels pair and every matchExpressions requirement). */
export function labelsMatch(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key] ?? "";
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(value)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(value)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * Whether an optional selector selects an object with `labels`. What a missing selector means differs by field,
 * so every caller says it: a PodDisruptionBudget's or a NodeDrain's nil selector selects "nothing" (as the
 * apiserver treats a PDB's), a ClusterScaler's missing tenantSelector selects "everything" (documented on the
 * field). An empty selector ({}) selects everything in both cases.
 */
export function selectorSelects(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
  whenMissing: "nothing" | "everything",
): boolean {
  return selector ? labelsMatch(selector, labels) : whenMissing === "everything";
}
