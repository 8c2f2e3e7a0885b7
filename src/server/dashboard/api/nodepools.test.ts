import { describe, expect, it } from "vitest";
import { listNodePools } from "./nodepools.js";
import { smallFleet } from "./testing.js";

describe("node pools", () => {
  it("reports each pool's size, what it wants to grow to and its pending pods", () => {
    expect(listNodePools(smallFleet())).toEqual([
      expect.objectContaining({
        name: "workers",
        provider: "kwok",
        nodes: 4,
        readyNodes: 3,
        desiredNodes: 6,
        pendingPods: 5,
        activeDrain: "shrink-1",
        dryRun: false,
        scaleDownCandidates: [],
        conditions: [],
      }),
    ]);
  });
});
