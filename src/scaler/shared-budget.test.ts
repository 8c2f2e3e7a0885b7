// The catch-up of the disruption budgets on leadership (src/scaler/shared-budget.ts): one LIST of the recorded
// ScalingDecisions (in the decision cache's scope) and one of the NodeDrains, fed to the budget, retried on an
// apiserver error until it succeeds or leadership ends.
import { describe, expect, it } from "vitest";
import { ApiError } from "../kube/errors.js";
import type { ResourceType } from "../kube/resources.js";
import { FleetBudget, type BudgetDecision, type BudgetDrain } from "./fleet-budget.js";
import { BudgetCatchUp } from "./shared-budget.js";

const drain: BudgetDrain = {
  metadata: { name: "d0", uid: "d0", resourceVersion: "7" },
  status: {
    pods: [
      {
        namespace: "tcp-a",
        name: "kube-apiserver-a",
        disruption: { clusterScaler: "fleet", tenant: "a", evictedAt: "2026-12-06T12:00:00Z" },
      },
    ],
  },
};
const decision: BudgetDecision = { metadata: { name: "sd", namespace: "tcp-b" }, spec: { clusterScaler: "fleet" } };

function recordingBudget() {
  const seen: string[] = [];
  const budget = new FleetBudget();
  budget.observe = (d) => void seen.push(`decision ${d.metadata?.name}`);
  budget.observeDrain = (d) => void seen.push(`drain ${d.metadata?.name}`);
  return { budget, seen };
}

describe("BudgetCatchUp", () => {
  it("lists the decisions in the cache's scope and every NodeDrain into the budget, retrying apiserver errors", async () => {
    const { budget, seen } = recordingBudget();
    const asked: Array<[string, unknown]> = [];
    let failures = 2;
    const client = {
      listAll: async (r: ResourceType, opts: { namespace?: string; labelSelector?: string }) => {
        asked.push([r.kind, { namespace: opts.namespace, labelSelector: opts.labelSelector }]);
        if (r.kind === "ScalingDecision" && failures-- > 0) throw new ApiError("etcd leader changed", 503);
        return { items: r.kind === "NodeDrain" ? [drain] : [decision], resourceVersion: "9" };
      },
    };
    const catchUp = new BudgetCatchUp({
      client: client as never,
      budget,
      decisions: { namespace: "tenants", labelSelector: "metapilot.io/tenant" },
      retryMs: 1,
    });
    const term = new AbortController();
    await catchUp.run(term.signal);
    expect(seen).toEqual(["decision sd", "drain d0"]);
    // Two failed attempts (each LIST pair), then one that succeeded.
    expect(asked).toHaveLength(6);
    expect(asked.slice(-2)).toEqual([
      ["ScalingDecision", { namespace: "tenants", labelSelector: "metapilot.io/tenant" }],
      ["NodeDrain", { namespace: undefined, labelSelector: undefined }],
    ]);
    await expect(catchUp.caughtUp).resolves.toBeUndefined();
  });

  it("ends when leadership ends, feeding nothing, and each term starts its own", async () => {
    const { budget, seen } = recordingBudget();
    let available = false;
    const client = {
      listAll: async (r: ResourceType) => {
        if (!available) throw new ApiError("unavailable", 503);
        return { items: r.kind === "NodeDrain" ? [drain] : [decision], resourceVersion: "9" };
      },
    };
    const catchUp = new BudgetCatchUp({ client: client as never, budget, retryMs: 5 });
    const first = new AbortController();
    const running = catchUp.run(first.signal);
    expect(catchUp.caughtUp).toBe(running);
    await new Promise((r) => setTimeout(r, 20));
    first.abort();
    await running;
    expect(seen).toEqual([]);
    available = true;
    const second = catchUp.run(new AbortController().signal);
    expect(catchUp.caughtUp).toBe(second);
    await second;
    expect(seen).toEqual(["decision sd", "drain d0"]);
  });

  it("fails, not retries, on an error that is not the apiserver's", async () => {
    const catchUp = new BudgetCatchUp({
      client: { listAll: () => Promise.reject(new TypeError("bug")) } as never,
      budget: new FleetBudget(),
    });
    await expect(catchUp.run(new AbortController().signal)).rejects.toThrow("bug");
  });
});
