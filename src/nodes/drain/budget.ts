// How many nodes one NodeDrain may take: a pure check, run once when the drain is planned. A drain over budget is
// refused as a whole before anything is cordoned, so a selector that matches far more than its author meant
// (every node, a whole pool) never starts.
//
// - The cluster's budget: at most `maxNodes` nodes, and at most `maxPercent` percent of the cluster's nodes (at
//   least one node), so a drain cannot empty the meta-cluster.
// - A pool's budget: a NodePool may lose at once at most the nodes it has above its spec.minNodes, and always one
//   (a drain only cordons and evicts: one node of a pool at its minimum may still be drained for maintenance).
import { type Node } from "../model.js";
import { nodePoolLabel } from "../../api/labels.js";

export interface DrainBudget {
  /** Most nodes one drain may select (--max-drain-nodes). */
  maxNodes: number;
  /** Most nodes one drain may select, in percent of the cluster's nodes (--max-drain-percent). */
  maxPercent: number;
}

export const defaultDrainBudget: DrainBudget = { maxNodes: 50, maxPercent: 34 };

export interface PoolMinimum {
  name: string;
  minNodes: number;
}

/** The most nodes of a cluster of `clusterNodes` that one drain may select. */
export function clusterDrainLimit(clusterNodes: number, budget: DrainBudget): number {
  return Math.min(budget.maxNodes, Math.max(1, Math.floor((clusterNodes * budget.maxPercent) / 100)));
}

/**
 * Why draining `selected` (node names) at once is refused, or undefined when it is within budget. Names that are
 * not nodes of the cluster do not count: the drain skips them.
 */
export function drainBudgetRefusal(
  selected: readonly string[],
  nodes: readonly Node[],
  pools: readonly PoolMinimum[],
  budget: DrainBudget,
): string | undefined {
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? "", n]));
  const taken = [...new Set(selected)].filter((n) => byName.has(n));
  const limit = clusterDrainLimit(nodes.length, budget);
  if (taken.length > limit)
    return (
      `selects ${taken.length} nodes, more than the cluster's drain budget of ${limit} ` +
      `(--max-drain-nodes=${budget.maxNodes}, --max-drain-percent=${budget.maxPercent} of ${nodes.length} nodes)`
    );
  for (const pool of pools) {
    const members = nodes.filter((n) => n.metadata?.labels?.[nodePoolLabel] === pool.name).length;
    const fromPool = taken.filter((n) => byName.get(n)?.metadata?.labels?.[nodePoolLabel] === pool.name).length;
    const spare = Math.max(1, members - pool.minNodes);
    if (fromPool > spare)
      return (
        `selects ${fromPool} of NodePool ${pool.name}'s ${members} nodes; it may lose at most ${spare} at once ` +
        `(minNodes ${pool.minNodes})`
      );
  }
  return undefined;
}

/** `names` with the node this controller runs on moved to the end: the leader's node is drained last. */
export function ownNodeLast(names: readonly string[], ownNode: string | undefined): string[] {
  if (!ownNode || !names.includes(ownNode)) return [...names];
  return [...names.filter((n) => n !== ownNode), ownNode];
}
