// Scale-up planning, a pure function: which unschedulable pods a new node of the pool would take, and how many
// nodes that is (first-fit decreasing), after filling nodes that are already on their way, so that a node being
// created is never counted twice.
import type { NodePoolSpec } from "../api/index.js";
import { parseQuantity } from "../api/index.js";
import { estimateNewNodes, type Bin, type PackItem } from "./binpack.js";
import {
  creationMs,
  fitsIn,
  isNodeReady,
  nodeAllocatable,
  occupiesNode,
  podRequests,
  schedulableOn,
  sub,
  type Node,
  type Pod,
  type Resources,
  type Taint,
} from "./model.js";
import { nodePoolLabel } from "../api/labels.js";

export const shapeLabels = {
  cpu: "metapilot.io/cpu",
  memory: "metapilot.io/memory",
  gpu: "metapilot.io/gpu",
  architecture: "kubernetes.io/arch",
} as const;

export interface PoolTemplate {
  labels: Record<string, string>;
  taints: Taint[];
  shape: Resources;
}

/** The labels, taints and allocatable resources every node of the pool has. */
export function poolTemplate(poolName: string, spec: NodePoolSpec): PoolTemplate {
  return {
    labels: {
      "kubernetes.io/os": "linux",
      ...(spec.labels ?? {}),
      [shapeLabels.cpu]: spec.shape.cpu,
      [shapeLabels.memory]: spec.shape.memory,
      [shapeLabels.gpu]: String(spec.shape.gpu),
      [shapeLabels.architecture]: spec.shape.architecture,
      [nodePoolLabel]: poolName,
    },
    taints: (spec.taints ?? []).map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect })),
    shape: {
      cpu: parseQuantity(spec.shape.cpu),
      memory: parseQuantity(spec.shape.memory),
      gpu: spec.shape.gpu,
      pods: 110,
    },
  };
}

export interface ScaleUpInput {
  poolName: string;
  spec: NodePoolSpec;
  /** Unschedulable Pending pods of the whole cluster; the plan picks those the pool's template fits. */
  pendingPods: readonly Pod[];
  /** Registered nodes of the pool. */
  nodes: readonly Node[];
  podsByNode: ReadonlyMap<string, readonly Pod[]>;
  /** The provider's current target size (registered nodes plus those being created). */
  targetSize: number;
  now: number;
  /** A node younger than this is still "arriving": pods the scheduler has not retried yet may land on it. */
  provisioningGraceMs: number;
}

export interface ScaleUpPlan {
  /** Pending pods a node of this pool would fit. */
  matchingPods: number;
  /** Of those, pods that nodes already on their way will take. */
  coveredByInFlight: number;
  newNodes: number;
  desired: number;
  /** Pods that match but do not fit, because of maxNodes. */
  unplaced: number;
}

export function podFitsTemplate(pod: Pod, template: PoolTemplate): boolean {
  return schedulableOn(pod, template.labels, template.taints) && fitsIn(podRequests(pod), template.shape);
}

export function planScaleUp(input: ScaleUpInput): ScaleUpPlan {
  const template = poolTemplate(input.poolName, input.spec);
  const items: PackItem[] = input.pendingPods
    .filter((p) => podFitsTemplate(p, template))
    .map((pod) => ({ pod, requests: podRequests(pod) }));
  const inFlight: Bin[] = [];
  for (const node of input.nodes) {
    const young = input.now - creationMs(node) < input.provisioningGraceMs;
    if (isNodeReady(node) && !young) continue;
    if (node.spec?.unschedulable || node.metadata?.deletionTimestamp) continue;
    let free = nodeAllocatable(node);
    for (const p of input.podsByNode.get(node.metadata?.name ?? "") ?? [])
      if (occupiesNode(p)) free = sub(free, podRequests(p));
    // The template's taints, not the node's: an arriving node carries lifecycle taints (not-ready,
    // uninitialized) that go away when it is Ready, and no pod tolerates them.
    inFlight.push({
      name: node.metadata?.name ?? "",
      free,
      labels: { ...template.labels, ...(node.metadata?.labels ?? {}) },
      taints: template.taints,
    });
  }
  const unregistered = Math.max(0, input.targetSize - input.nodes.length);
  for (let i = 0; i < unregistered; i++) {
    inFlight.push({
      name: `unregistered-${i}`,
      free: { ...template.shape },
      labels: template.labels,
      taints: template.taints,
    });
  }
  const room = Math.max(0, input.spec.maxNodes - input.targetSize);
  const est = estimateNewNodes(items, template.shape, template, inFlight, room);
  const desired = Math.min(input.spec.maxNodes, Math.max(input.spec.minNodes, input.targetSize + est.newNodes));
  return {
    matchingPods: items.length,
    coveredByInFlight: est.placedOnExisting,
    newNodes: est.newNodes,
    desired,
    unplaced: est.unplaced.length,
  };
}
