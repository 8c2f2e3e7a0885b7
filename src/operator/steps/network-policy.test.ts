import { describe, expect, it } from "vitest";
import { networkPolicyStep } from "./network-policy.js";
import { emptyFound } from "./step.js";
import { specs, tenantContext, tenantObject, world, writes } from "./testing.js";

describe("the network-policy step", () => {
  it.each(Object.entries(specs))("defines the isolation policy (%s)", (_, spec) => {
    expect(networkPolicyStep.define(tenantContext(spec), emptyFound())).toMatchSnapshot();
  });

  it("applies it once, and not again while the cache holds it", async () => {
    const ctx = tenantContext();
    const w = world();
    await networkPolicyStep.apply(w.step(ctx));
    expect(writes(w.calls)).toEqual(["apply networkpolicies tcp-team-a/tenant-isolation"]);
    const steady = world({ networkPolicies: networkPolicyStep.define(ctx, emptyFound()) });
    await networkPolicyStep.apply(steady.step(ctx));
    expect(steady.calls).toEqual([]);
    expect(networkPolicyStep.status(steady.step(ctx))).toEqual([]);
  });

  it("removes the tenant's policies from a retained namespace only", async () => {
    const policies = [tenantObject("NetworkPolicy", "tenant-isolation"), tenantObject("NetworkPolicy", "another")];
    const w = world({ networkPolicies: policies });
    expect(await networkPolicyStep.cleanup(w.finalizing(false), [])).toEqual([]);
    const pending = await networkPolicyStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual([
      "delete networkpolicies tcp-team-a/tenant-isolation",
      "delete networkpolicies tcp-team-a/another",
    ]);
    expect(pending).toEqual([{ resource: expect.objectContaining({ plural: "networkpolicies" }), count: 2 }]);
  });
});
