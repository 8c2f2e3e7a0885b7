// Which workloads get a profile: in the configured namespaces (all if none), matching the label selector, or
// opted in with the annotation metapilot.io/profile: "true" ("false" opts out even when the labels match).
import type { KubeObject } from "../kube/resources.js";
import { componentLabel, profileAnnotation, tenantLabel } from "../api/labels.js";

/** Tenant control-plane workloads: `--selector tenant-control-planes` or this selector. */
export const tenantControlPlaneSelector = `${tenantLabel},${componentLabel}`;

type Requirement = { key: string; op: "exists" | "notexists" } | { key: string; op: "in" | "notin"; values: string[] };

/** Parses a Kubernetes label selector: a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x,y). */
export function parseLabelSelector(selector: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p): Requirement => {
      let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p);
      if (m) return { key: m[1]!, op: m[2] as "in" | "notin", values: m[3]!.split(",").map((v) => v.trim()) };
      m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(p);
      if (m) return { key: m[1]!, op: m[2] === "!=" ? "notin" : "in", values: [m[3]!] };
      if (/^![^\s!=]+$/.test(p)) return { key: p.slice(1), op: "notexists" };
      if (/^[^\s!=(),]+$/.test(p)) return { key: p, op: "exists" };
      throw new Error(`invalid label selector "${selector}" at "${p}"`);
    });
}

export function matchesLabels(requirements: readonly Requirement[], labels: Record<string, string> = {}): boolean {
  return requirements.every((r) => {
    const v = labels[r.key];
    switch (r.op) {
      case "exists":
        return v !== undefined;
      case "notexists":
        return v === undefined;
      case "in":
        return v !== undefined && r.values.includes(v);
      case "notin":
        return v === undefined || !r.values.includes(v);
    }
  });
}

export interface WorkloadSelectorConfig {
  namespaces?: string[];
  /** A label selector; "tenant-control-planes" is a preset for the metapilot.io tenant labels. */
  labelSelector?: string;
}

export class WorkloadSelector {
  private readonly requirements?: Requirement[];

  constructor(readonly config: WorkloadSelectorConfig) {
    const s = config.labelSelector === "tenant-control-planes" ? tenantControlPlaneSelector : config.labelSelector;
    this.requirements = s ? parseLabelSelector(s) : undefined;
  }

  matches(obj: KubeObject): boolean {
    const ns = obj.metadata?.namespace ?? "";
    if (this.config.namespaces?.length && !this.config.namespaces.includes(ns)) return false;
    const optIn = obj.metadata?.annotations?.[profileAnnotation];
    if (optIn === "false") return false;
    if (optIn === "true") return true;
    return this.requirements !== undefined && matchesLabels(this.requirements, obj.metadata?.labels);
  }
}
