import { describe, expect, it } from "vitest";
import { type Node } from "../model.js";
import { clusterDrainLimit, defaultDrainBudget, drainBudgetRefusal, ownNodeLast } from "./budget.js";
import { nodePoolLabel } from "../../api/labels.js";

const node = (name: string, pool?: string): Node => ({
  metadata: { name, labels: pool ? { [nodePoolLabel]: pool } : {} },
});
const cluster = (n: number, pool?: string) => Array.from({ length: n }, (_, i) => node(`n${i}`, pool));

describe("drain budget", () => {
  it.each([
    // clusterNodes, maxNodes, maxPercent, limit
    [1, 50, 34, 1],
    [2, 50, 34, 1],
    [10, 50, 34, 3],
    [40, 50, 34, 13],
    [1000, 50, 34, 50],
    [1000, 50, 100, 50],
    [3, 50, 100, 3],
  ])(
    "a cluster of %i nodes with --max-drain-nodes=%i --max-drain-percent=%i allows %i",
    (n, maxNodes, maxPercent, want) => {
      expect(clusterDrainLimit(n, { maxNodes, maxPercent })).toBe(want);
    },
  );

  it("refuses a drain that selects every node, and names the budget", () => {
    const nodes = cluster(20);
    const all = nodes.map((n) => n.metadata?.name ?? "");
    expect(drainBudgetRefusal(all, nodes, [], defaultDrainBudget)).toBe(
      "selects 20 nodes, more than the cluster's drain budget of 6 (--max-drain-nodes=50, --max-drain-percent=34 of 20 nodes)",
    );
    expect(drainBudgetRefusal(all.slice(0, 6), nodes, [], defaultDrainBudget)).toBeUndefined();
    expect(drainBudgetRefusal(all.slice(0, 7), nodes, [], defaultDrainBudget)).toMatch(/selects 7 nodes/);
  });

  it("counts only nodes that exist, once each", () => {
    const nodes = cluster(3);
    expect(drainBudgetRefusal(["n0", "n0", "ghost-1", "ghost-2"], nodes, [], defaultDrainBudget)).toBeUndefined();
  });

  it("refuses a drain that takes a NodePool below its minNodes", () => {
    const nodes = [...cluster(20), node("p0", "pool-a"), node("p1", "pool-a"), node("p2", "pool-a")];
    const pools = [{ name: "pool-a", minNodes: 2 }];
    expect(drainBudgetRefusal(["p0"], nodes, pools, defaultDrainBudget)).toBeUndefined();
    expect(drainBudgetRefusal(["p0", "p1"], nodes, pools, defaultDrainBudget)).toBe(
      "selects 2 of NodePool pool-a's 3 nodes; it may lose at most 1 at once (minNodes 2)",
    );
    // A pool at its minimum may still have one node drained (for maintenance), never two.
    const atMinimum = [{ name: "pool-a", minNodes: 3 }];
    expect(drainBudgetRefusal(["p0"], nodes, atMinimum, defaultDrainBudget)).toBeUndefined();
    expect(drainBudgetRefusal(["p0", "p2"], nodes, atMinimum, defaultDrainBudget)).toMatch(
      /may lose at most 1 at once/,
    );
  });

  it("moves the controller's own node to the end", () => {
    expect(ownNodeLast(["a", "b", "c"], "a")).toEqual(["b", "c", "a"]);
    expect(ownNodeLast(["a", "b"], "z")).toEqual(["a", "b"]);
    expect(ownNodeLast(["a", "b"], undefined)).toEqual(["a", "b"]);
  });
});
