// Drain planning, a pure function of one node, the pods on it and the PodDisruptionBudgets: which pods are
// evicted and in what order, which stay (with the reason), which PDB would block right now (disruptionsAllowed
// is 0), and which control-plane components have no PDB at all. Dry-run reports this plan; a live drain records
// the same plan and then acts on it, so the two always agree.
import { selectorSelects } from "../../kube/selectors.js";
import {
  controllerOf,
  doNotDisruptReason,
  hasLocalStorage,
  isDaemonSetPod,
  isMirrorPod,
  podKey,
  type Node,
  type Pod,
  type PodDisruptionBudget,
} from "../model.js";
import { componentLabel, createdByDrainLabel, tenantLabel } from "../../api/labels.js";

export interface PodPlan {
  key: string;
  namespace: string;
  name: string;
  pod: Pod;
  /** PDBs whose selector matches the pod, as namespace/name. */
  pdbs: string[];
  /** The first matching PDB that allows no disruption now. */
  blockedBy?: string;
}

export interface MissingPDB {
  namespace: string;
  tenant: string;
  component: string;
}

export interface NodePlan {
  node: string;
  evict: PodPlan[];
  skipped: Array<{ pod: string; reason: string }>;
  blockingPDBs: string[];
  missingPDBs: MissingPDB[];
}

export interface PlanOptions {
  force: boolean;
}

/** Control-plane components leave last, etcd last of all: a tenant keeps its quorum and API as long as possible. */
const componentOrder: Record<string, number> = {
  "kube-scheduler": 1,
  "kube-controller-manager": 2,
  "kube-apiserver": 3,
  etcd: 4,
};

function rank(pod: Pod): number {
  const c = pod.metadata?.labels?.[componentLabel];
  return c === undefined ? 0 : (componentOrder[c] ?? 0.5);
}

/** Why a drain leaves this pod on the node, if it does. */
export function skipReason(pod: Pod, opts: PlanOptions): string | undefined {
  if (isMirrorPod(pod)) return "mirror pod (managed by the kubelet)";
  if (isDaemonSetPod(pod)) return "DaemonSet pod";
  if (opts.force) return undefined;
  const marker = doNotDisruptReason(pod);
  if (marker) return `${marker}; set spec.force to evict it`;
  if (!controllerOf(pod)) return "no controller would recreate it; set spec.force to evict it";
  if (hasLocalStorage(pod)) return "local storage (emptyDir) would be lost; set spec.force to evict it";
  return undefined;
}

export function pdbKey(pdb: PodDisruptionBudget): string {
  return `${pdb.metadata?.namespace ?? ""}/${pdb.metadata?.name ?? ""}`;
}

export function matchingPDBs(pod: Pod, pdbs: readonly PodDisruptionBudget[]): PodDisruptionBudget[] {
  return pdbs.filter(
    (p) =>
      p.metadata?.namespace === pod.metadata?.namespace &&
      !p.metadata?.deletionTimestamp &&
      selectorSelects(p.spec?.selector, pod.metadata?.labels, "nothing"),
  );
}

export function planNode(
  node: Node | string,
  pods: readonly Pod[],
  pdbsByNamespace: ReadonlyMap<string, readonly PodDisruptionBudget[]>,
  opts: PlanOptions,
): NodePlan {
  const nodeName = typeof node === "string" ? node : (node.metadata?.name ?? "");
  const evict: PodPlan[] = [];
  const skipped: NodePlan["skipped"] = [];
  const blocking = new Set<string>();
  const missing = new Map<string, MissingPDB>();
  for (const pod of pods) {
    if (pod.spec?.nodeName !== nodeName || pod.metadata?.deletionTimestamp) continue;
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue;
    const reason = skipReason(pod, opts);
    if (reason) {
      skipped.push({ pod: podKey(pod), reason });
      continue;
    }
    const namespace = pod.metadata?.namespace ?? "";
    const matched = matchingPDBs(pod, pdbsByNamespace.get(namespace) ?? []);
    const blocker = matched.find((p) => (p.status?.disruptionsAllowed ?? 0) <= 0);
    if (blocker) blocking.add(pdbKey(blocker));
    const component = pod.metadata?.labels?.[componentLabel];
    if (component && matched.length === 0) {
      const tenant = pod.metadata?.labels?.[tenantLabel] ?? "";
      missing.set(`${namespace}/${tenant}/${component}`, { namespace, tenant, component });
    }
    evict.push({
      key: podKey(pod),
      namespace,
      name: pod.metadata?.name ?? "",
      pod,
      pdbs: matched.map(pdbKey).sort(),
      blockedBy: blocker ? pdbKey(blocker) : undefined,
    });
  }
  evict.sort((a, b) => rank(a.pod) - rank(b.pod) || a.key.localeCompare(b.key));
  skipped.sort((a, b) => a.pod.localeCompare(b.pod));
  return {
    node: nodeName,
    evict,
    skipped,
    blockingPDBs: [...blocking].sort(),
    missingPDBs: [...missing.values()].sort((a, b) =>
      `${a.namespace}/${a.tenant}/${a.component}`.localeCompare(`${b.namespace}/${b.tenant}/${b.component}`),
    ),
  };
}

export function pdbsByNamespace(pdbs: Iterable<PodDisruptionBudget>): Map<string, PodDisruptionBudget[]> {
  const out = new Map<string, PodDisruptionBudget[]>();
  for (const p of pdbs) {
    const ns = p.metadata?.namespace ?? "";
    let list = out.get(ns);
    if (!list) out.set(ns, (list = []));
    list.push(p);
  }
  return out;
}

/** DNS-1123 name of at most 63 characters, with a short hash when it had to be cut (cdk8s style). */
export function boundedName(base: string): string {
  const clean = base
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "");
  if (clean.length <= 63) return clean;
  let h = 0;
  for (const ch of base) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const suffix = h.toString(36).slice(0, 6);
  return `${clean.slice(0, 63 - suffix.length - 1).replace(/-+$/, "")}-${suffix}`;
}

/** The PDB a drain creates for a component that has none: maxUnavailable 1 over the tenant's component pods. */
export function missingPDBManifest(m: MissingPDB, drainName: string): PodDisruptionBudget & Record<string, unknown> {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: boundedName(`${m.tenant || "tenant"}-${m.component}-drain`),
      namespace: m.namespace,
      labels: { [createdByDrainLabel]: drainName, [componentLabel]: m.component, [tenantLabel]: m.tenant },
    },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { [componentLabel]: m.component, ...(m.tenant ? { [tenantLabel]: m.tenant } : {}) } },
    },
  };
}
