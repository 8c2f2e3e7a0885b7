// Scale-down candidates, a pure function of nodes, pods, policy and the clock. Strategies (a registry by name,
// as cluster-autoscaler's node-selection processors) choose and order the eligible nodes; a simulation then
// keeps a node only if every pod that would be evicted fits on the nodes that remain.
import { selectorSelects } from "../kube/selectors.js";
import type { LabelSelector, ScaleDownStrategy as StrategyName } from "../api/index.js";
import { SCALE_DOWN_STRATEGIES } from "../api/index.js";
import { placeAll, type Bin, type PackItem } from "./binpack.js";
import {
  add,
  controllerOf,
  creationMs,
  doNotDisruptReason,
  hasLocalStorage,
  isDaemonSetPod,
  isMirrorPod,
  isNodeReady,
  nodeAllocatable,
  occupiesNode,
  podKey,
  podRequests,
  sub,
  zero,
  type Node,
  type Pod,
  type Resources,
} from "./model.js";

export interface NodeState {
  node: Node;
  name: string;
  /** Pods a drain would evict (not DaemonSet or mirror pods). */
  movable: PackItem[];
  requested: Resources;
  allocatable: Resources;
  /** max(cpu, memory) requested over allocatable, as cluster-autoscaler measures it. */
  utilization: number;
  empty: boolean;
  /** Whether the node has been under the threshold (or empty) for at least unneededTime. */
  unneeded: boolean;
}

export interface StrategyContext {
  selector?: LabelSelector;
}

export interface ScaleDownStrategy {
  readonly name: StrategyName;
  readonly description: string;
  /** The eligible nodes this strategy would remove, best candidate first. */
  order(nodes: readonly NodeState[], ctx: StrategyContext): NodeState[];
}

const byName = (a: NodeState, b: NodeState) => a.name.localeCompare(b.name);
const byAge = (a: NodeState, b: NodeState) => creationMs(a.node) - creationMs(b.node) || byName(a, b);
const byUtilization = (a: NodeState, b: NodeState) => a.utilization - b.utilization || byName(a, b);

const registry = new Map<string, ScaleDownStrategy>();

export function registerScaleDownStrategy(s: ScaleDownStrategy): void {
  if (registry.has(s.name)) throw new Error(`scale-down strategy ${s.name} registered twice`);
  registry.set(s.name, s);
}

export function availableScaleDownStrategies(): string[] {
  return [...registry.keys()].sort();
}

export function scaleDownStrategy(name: string): ScaleDownStrategy {
  const s = registry.get(name);
  if (!s) {
    throw new Error(`unknown scale-down strategy "${name}"; available: ${availableScaleDownStrategies().join(", ")}`);
  }
  return s;
}

registerScaleDownStrategy({
  name: "empty-first",
  description: "Empty nodes first, then unneeded nodes by ascending utilization.",
  order: (nodes) => [
    ...nodes.filter((n) => n.empty).sort(byName),
    ...nodes.filter((n) => !n.empty && n.unneeded).sort(byUtilization),
  ],
});
registerScaleDownStrategy({
  name: "underutilized",
  description: "Nodes below the utilization threshold for unneededTime, least utilized first.",
  order: (nodes) => nodes.filter((n) => n.unneeded).sort(byUtilization),
});
registerScaleDownStrategy({
  name: "oldest-first",
  description: "Unneeded nodes (empty or below the threshold for unneededTime), oldest first.",
  order: (nodes) => nodes.filter((n) => n.empty || n.unneeded).sort(byAge),
});
registerScaleDownStrategy({
  name: "label-selector",
  description: "Nodes matching spec.scaleDown.selector, whatever their utilization, by name.",
  order: (nodes, ctx) =>
    nodes.filter((n) => selectorSelects(ctx.selector, n.node.metadata?.labels, "nothing")).sort(byName),
});

/** Fails at start-up when the API offers a strategy that has no implementation. */
export function validateScaleDownStrategies(names: readonly string[] = SCALE_DOWN_STRATEGIES): void {
  for (const n of names) scaleDownStrategy(n);
}

export interface ScaleDownInput {
  /** Nodes of the pool. */
  poolNodes: readonly Node[];
  /** Every node pods could move to (the pool's own included). */
  allNodes: readonly Node[];
  podsByNode: ReadonlyMap<string, readonly Pod[]>;
  strategy: string;
  utilizationThreshold: number;
  unneededTimeMs: number;
  /** When each node was first seen unneeded (below the threshold); kept by the caller between calls. */
  unneededSince: ReadonlyMap<string, number>;
  selector?: LabelSelector;
  /** How many nodes may go (minNodes, maxNodesPerHour and in-progress drains already applied). */
  maxCandidates: number;
  now: number;
}

export interface ScaleDownResult {
  candidates: Array<{ name: string; pods: string[]; utilization: number }>;
  rejected: Array<{ name: string; reason: string }>;
  /** Nodes under the threshold now; the caller starts their unneeded clocks. */
  underThreshold: string[];
}

/** Why a drain of this node must not start, if anything forbids it. */
export function nodeBlocker(node: Node, pods: readonly Pod[]): string | undefined {
  const nodeReason = doNotDisruptReason(node);
  if (nodeReason) return `node has ${nodeReason}`;
  if (node.spec?.unschedulable) return "node is already cordoned";
  if (node.metadata?.deletionTimestamp) return "node is being deleted";
  for (const p of pods) {
    if (!occupiesNode(p) || isDaemonSetPod(p) || isMirrorPod(p)) continue;
    const reason = doNotDisruptReason(p);
    if (reason) return `pod ${podKey(p)} has ${reason}`;
    if (!controllerOf(p)) return `pod ${podKey(p)} has no controller`;
    if (hasLocalStorage(p)) return `pod ${podKey(p)} has local storage (emptyDir)`;
  }
  return undefined;
}

export function nodeState(
  node: Node,
  pods: readonly Pod[],
  threshold: number,
  unneededSince: number | undefined,
  unneededTimeMs: number,
  now: number,
): NodeState {
  const allocatable = nodeAllocatable(node);
  let requested = zero();
  const movable: PackItem[] = [];
  for (const p of pods) {
    if (!occupiesNode(p)) continue;
    const r = podRequests(p);
    requested = add(requested, r);
    if (!isDaemonSetPod(p) && !isMirrorPod(p)) movable.push({ pod: p, requests: r });
  }
  const utilization = Math.max(
    allocatable.cpu ? requested.cpu / allocatable.cpu : 0,
    allocatable.memory ? requested.memory / allocatable.memory : 0,
  );
  const empty = movable.length === 0;
  const under = empty || utilization < threshold;
  return {
    node,
    name: node.metadata?.name ?? "",
    movable,
    requested,
    allocatable,
    utilization,
    empty,
    unneeded: under && unneededSince !== undefined && now - unneededSince >= unneededTimeMs,
  };
}

export function chooseScaleDownCandidates(input: ScaleDownInput): ScaleDownResult {
  const strategy = scaleDownStrategy(input.strategy);
  const rejected: ScaleDownResult["rejected"] = [];
  const underThreshold: string[] = [];
  const eligible: NodeState[] = [];
  for (const node of input.poolNodes) {
    const name = node.metadata?.name ?? "";
    const pods = input.podsByNode.get(name) ?? [];
    const state = nodeState(
      node,
      pods,
      input.utilizationThreshold,
      input.unneededSince.get(name),
      input.unneededTimeMs,
      input.now,
    );
    if (state.empty || state.utilization < input.utilizationThreshold) underThreshold.push(name);
    const blocker = nodeBlocker(node, pods);
    if (blocker) rejected.push({ name, reason: blocker });
    else eligible.push(state);
  }
  const ordered = strategy.order(eligible, { selector: input.selector });
  const candidates: ScaleDownResult["candidates"] = [];
  if (input.maxCandidates <= 0 || ordered.length === 0) return { candidates, rejected, underThreshold };

  // Destinations: every Ready, schedulable node, with what is free on it now.
  const bins = new Map<string, Bin>();
  let scale = zero();
  for (const node of input.allNodes) {
    if (!isNodeReady(node) || node.spec?.unschedulable || node.metadata?.deletionTimestamp) continue;
    const name = node.metadata?.name ?? "";
    let free = nodeAllocatable(node);
    scale = { ...free };
    for (const p of input.podsByNode.get(name) ?? []) if (occupiesNode(p)) free = sub(free, podRequests(p));
    bins.set(name, { name, free, labels: node.metadata?.labels ?? {}, taints: node.spec?.taints ?? [] });
  }
  for (const state of ordered) {
    if (candidates.length >= input.maxCandidates) break;
    // A node being removed is no destination, neither for its own pods nor for later candidates'.
    const own = bins.get(state.name);
    bins.delete(state.name);
    const destinations = [...bins.values()];
    const failed = state.movable.length ? placeAll(state.movable, destinations, scale) : [];
    if (failed.length) {
      if (own) bins.set(state.name, own);
      rejected.push({
        name: state.name,
        reason: `${failed.length} pod(s) fit on no other node, e.g. ${podKey(failed[0]!)}`,
      });
      continue;
    }
    candidates.push({
      name: state.name,
      pods: state.movable.map((m) => podKey(m.pod)).sort(),
      utilization: Math.round(state.utilization * 1000) / 1000,
    });
  }
  return { candidates, rejected, underThreshold };
}

/** Pods grouped by node name, in one pass. */
export function indexPodsByNode(pods: Iterable<Pod>): Map<string, Pod[]> {
  const out = new Map<string, Pod[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    let list = out.get(n);
    if (!list) out.set(n, (list = []));
    list.push(p);
  }
  return out;
}
