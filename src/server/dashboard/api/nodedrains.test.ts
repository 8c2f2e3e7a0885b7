// Drain progress by node and by pod, and the rows that name each node, its pods still to go and its blocking PDBs.
import { describe, expect, it } from "vitest";
import { listNodeDrains } from "./nodedrains.js";
import { largeFleet, smallFleet } from "./testing.js";

describe("node drains", () => {
  it("report progress by node and by pod, with the PDB named in a blocked pod's message", () => {
    const drain = listNodeDrains(smallFleet())[0]!;
    expect(drain).toMatchObject({ name: "shrink-1", phase: "Draining", percent: 50 });
    expect(drain.nodes.byState).toEqual({ Drained: 1, Draining: 1 });
    expect(drain.pods.byState).toEqual({ Evicted: 2, Blocked: 1, Pending: 1 });
    expect(drain.pods.blocked).toMatchObject([
      { pod: "a/p3", message: "PDB a/pdb allows 0 disruptions", pdbs: ["a/pdb"] },
    ]);
  });

  it("name each node, the pods still on it and the PodDisruptionBudgets that block it", () => {
    const drain = listNodeDrains(largeFleet(1))[0]!;
    expect(drain.rows).toEqual([
      { node: "node-a", state: "Drained", pods: [], blockingPDBs: [] },
      { node: "node-b", state: "Draining", pods: ["tcp-x/etcd-0", "tcp-x/web-3"], blockingPDBs: ["tcp-x/etcd"] },
    ]);
    expect(drain.pods.blocked).toEqual([
      {
        pod: "tcp-x/etcd-0",
        node: "node-b",
        message: "PodDisruptionBudget tcp-x/etcd allows 0 disruptions",
        pdbs: ["tcp-x/etcd"],
      },
    ]);
  });
});
