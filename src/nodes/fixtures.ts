// Builders of Nodes, Pods and PDBs for the unit tests and the benchmark (plain data, no cluster).
import type { Node, Pod, PodDisruptionBudget } from "./model.js";

export function node(
  name: string,
  opts: { cpu?: string; memory?: string; labels?: Record<string, string>; ready?: boolean; created?: string } = {},
): Node {
  return {
    metadata: { name, labels: opts.labels ?? {}, creationTimestamp: opts.created ?? "2025-01-01T00:00:00Z" },
    spec: {},
    status: {
      allocatable: { cpu: opts.cpu ?? "4", memory: opts.memory ?? "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }],
    },
  };
}

export function pod(
  name: string,
  opts: {
    node?: string;
    cpu?: string;
    memory?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    owner?: string | null;
    nodeSelector?: Record<string, string>;
    emptyDir?: boolean;
    pending?: boolean;
  } = {},
): Pod {
  const owner = opts.owner === undefined ? "ReplicaSet" : opts.owner;
  return {
    metadata: {
      name,
      namespace: opts.namespace ?? "default",
      uid: `uid-${name}`,
      labels: opts.labels ?? {},
      annotations: opts.annotations ?? {},
      ownerReferences: owner
        ? [{ apiVersion: "apps/v1", kind: owner, name: `${name}-owner`, uid: "o", controller: true }]
        : [],
    },
    spec: {
      nodeName: opts.node,
      nodeSelector: opts.nodeSelector,
      containers: [{ name: "c", resources: { requests: { cpu: opts.cpu ?? "100m", memory: opts.memory ?? "128Mi" } } }],
      volumes: opts.emptyDir ? [{ name: "scratch", emptyDir: {} }] : [],
    },
    status: opts.pending
      ? { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] }
      : { phase: "Running" },
  };
}

export function pdb(
  name: string,
  matchLabels: Record<string, string>,
  disruptionsAllowed: number,
  namespace = "default",
): PodDisruptionBudget {
  return {
    metadata: { name, namespace },
    spec: { selector: { matchLabels }, maxUnavailable: 1 },
    status: { disruptionsAllowed, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 },
  };
}
