import { describe, expect, it } from "vitest";
import { resourceQuotaStep } from "./resource-quota.js";
import { emptyFound } from "./step.js";
import { tenantContext, tenantObject, world, writes } from "./testing.js";

const withQuota = { resourceQuota: { pods: "20", "requests.cpu": "8" } };

describe("the resource-quota step", () => {
  it("defines spec.resourceQuota as the namespace's quota, and nothing without it", () => {
    expect(resourceQuotaStep.define(tenantContext(), emptyFound())).toEqual([]);
    expect(resourceQuotaStep.define(tenantContext(withQuota), emptyFound())).toMatchSnapshot();
  });

  it("applies the quota, and deletes it once the spec drops it", async () => {
    const w = world();
    await resourceQuotaStep.apply(w.step(tenantContext(withQuota)));
    expect(writes(w.calls)).toEqual(["apply resourcequotas tcp-team-a/tenant-quota"]);
    const dropped = world({ resourceQuotas: [tenantObject("ResourceQuota", "tenant-quota")] });
    await resourceQuotaStep.apply(dropped.step(tenantContext()));
    expect(writes(dropped.calls)).toEqual(["delete resourcequotas tcp-team-a/tenant-quota"]);
    const none = world();
    await resourceQuotaStep.apply(none.step(tenantContext()));
    expect(none.calls).toEqual([]);
  });

  it("removes the tenant's quotas from a retained namespace", async () => {
    const w = world({ resourceQuotas: [tenantObject("ResourceQuota", "tenant-quota")] });
    await resourceQuotaStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual(["delete resourcequotas tcp-team-a/tenant-quota"]);
  });
});
