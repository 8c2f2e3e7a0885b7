// NodeDrains: each drain's progress by node and by pod, the pods still to go on each node, and the
// PodDisruptionBudgets that hold them up, newest first.
import type { ApiDeps, NodeDrainObject } from "./deps.js";
import { sendJson, type ApiRoute } from "./http.js";

export interface NodeDrainView {
  name: string;
  phase: string;
  dryRun: boolean;
  message?: string;
  startTime?: string;
  completionTime?: string;
  nodes: { total: number; byState: Record<string, number>; items: Array<{ name: string; state: string }> };
  pods: {
    total: number;
    byState: Record<string, number>;
    blocked: Array<{ pod: string; node?: string; message?: string; pdbs: string[] }>;
  };
  /** Per node: its state, the pods on it still to go, and the PodDisruptionBudgets that hold it up. */
  rows: Array<{ node: string; state: string; pods: string[]; blockingPDBs: string[] }>;
  /** Pods finished (Evicted or Skipped) over all pods, 0..100; nodes drained when the plan has no pods. */
  percent: number;
}

const countBy = <T>(items: readonly T[], keyOf: (item: T) => string) =>
  items.reduce<Record<string, number>>((counts, item) => {
    counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1;
    return counts;
  }, {});

/** PodDisruptionBudgets named in a pod's message ("PodDisruptionBudget ns/name allows 0 disruptions"). */
function pdbsIn(message: string | undefined, namespace: string): string[] {
  const found: string[] = [];
  for (const match of (message ?? "").matchAll(
    /\b(?:PodDisruptionBudgets?|PDBs?)\s+"?([a-z0-9.-]+(?:\/[a-z0-9.-]+)?)"?/gi,
  )) {
    const name = match[1] ?? "";
    found.push(name.includes("/") ? name : `${namespace}/${name}`);
  }
  return found;
}

const podFinished = (state: string) => state === "Evicted" || state === "Skipped";

/** A row per node of the drain: its pods still on it (by progress, else by the plan) and its blocking PDBs. */
function drainRows(
  drain: NodeDrainObject,
  nodes: ReadonlyArray<{ name: string; state: string }>,
): NodeDrainView["rows"] {
  const pods = drain.status?.pods ?? [];
  const planByNode = new Map((drain.status?.plan ?? []).map((entry) => [entry.node, entry]));
  return nodes.map((node) => {
    const podsOfNode = pods.filter((pod) => pod.node === node.name);
    const left = podsOfNode.length
      ? podsOfNode.filter((pod) => !podFinished(pod.state)).map((pod) => `${pod.namespace}/${pod.name}`)
      : (planByNode.get(node.name)?.pods ?? []);
    const blocking = new Set(planByNode.get(node.name)?.blockingPDBs ?? []);
    for (const pod of podsOfNode)
      if (pod.state === "Blocked") for (const pdb of pdbsIn(pod.message, pod.namespace)) blocking.add(pdb);
    return { node: node.name, state: node.state, pods: left, blockingPDBs: [...blocking] };
  });
}

function drainView(drain: NodeDrainObject): NodeDrainView {
  const pods = drain.status?.pods ?? [];
  const nodes = drain.status?.nodes ?? (drain.spec?.nodeNames ?? []).map((name) => ({ name, state: "Pending" }));
  const podsDone = pods.filter((pod) => podFinished(pod.state)).length;
  const nodesDone = nodes.filter((node) => node.state === "Drained" || node.state === "Skipped").length;
  const finished = drain.status?.phase === "Succeeded";
  const percent = finished
    ? 100
    : pods.length
      ? Math.round((podsDone / pods.length) * 100)
      : nodes.length
        ? Math.round((nodesDone / nodes.length) * 100)
        : 0;
  return {
    name: drain.metadata?.name ?? "",
    phase: drain.status?.phase ?? "Pending",
    dryRun: drain.spec?.dryRun === true,
    message: drain.status?.message,
    startTime: drain.status?.startTime,
    completionTime: drain.status?.completionTime,
    nodes: {
      total: nodes.length,
      byState: countBy(nodes, (node) => node.state),
      items: nodes.map((node) => ({ name: node.name, state: node.state })),
    },
    pods: {
      total: pods.length,
      byState: countBy(pods, (pod) => pod.state),
      blocked: pods
        .filter((pod) => pod.state === "Blocked" || pod.state === "Failed")
        .slice(0, 50)
        .map((pod) => ({
          pod: `${pod.namespace}/${pod.name}`,
          node: pod.node,
          message: pod.message,
          pdbs: pdbsIn(pod.message, pod.namespace),
        })),
    },
    rows: drainRows(drain, nodes),
    percent,
  };
}

export function listNodeDrains(deps: ApiDeps): NodeDrainView[] {
  return deps.caches.nodeDrains
    .list()
    .map(drainView)
    .sort((a, b) => (b.startTime ?? "").localeCompare(a.startTime ?? "") || a.name.localeCompare(b.name));
}

export const nodeDrainsRoute: ApiRoute = {
  path: "/api/nodedrains",
  handle: (deps, _request, res) => sendJson(res, 200, { nodeDrains: listNodeDrains(deps) }),
};
