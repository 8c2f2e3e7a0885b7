import { describe, expect, it } from "vitest";
import { namespaceStep } from "./namespace.js";
import { emptyFound } from "./step.js";
import { namespaceObjectOf, rawTenant, specs, tenantContext, tenantObject, world, writes } from "./testing.js";

describe("the namespace step", () => {
  it.each(Object.entries(specs))("defines the namespace with the owner annotation (%s)", (_, spec) => {
    expect(namespaceStep.define(tenantContext(spec), emptyFound())).toMatchSnapshot();
  });

  it("creates a namespace that does not exist, and then needs the Secret access", async () => {
    const w = world();
    const sc = w.step(tenantContext());
    expect(await namespaceStep.apply(sc)).toBeUndefined();
    expect(writes(w.calls)).toEqual(["create namespaces tcp-team-a"]);
    expect(sc.found.namespaceUid).toBe("uid-w1");
    expect(namespaceStep.status(sc)).toEqual([expect.objectContaining({ type: "NamespaceReady", status: "True" })]);

    w.access.effective = false;
    expect(await namespaceStep.apply(w.step(tenantContext()))).toEqual({ result: { requeueAfterMs: 500 } });
  });

  it("writes its own namespace with its uid as a precondition, and nothing when unchanged", async () => {
    const ctx = tenantContext();
    const [desired] = namespaceStep.define(ctx, emptyFound());
    const ours = { ...desired!, metadata: { ...desired!.metadata, uid: "ns-uid" } };
    const w = world({ namespaces: [ours] });
    await namespaceStep.apply(w.step(ctx));
    expect(w.calls).toEqual([]);
    const changed = {
      ...ours,
      metadata: { ...ours.metadata, annotations: { ...ours.metadata.annotations, "metapilot.io/spec-hash": "old" } },
    };
    const w2 = world({ namespaces: [changed] });
    await namespaceStep.apply(w2.step(ctx));
    expect(w2.calls).toEqual([
      expect.objectContaining({
        verb: "apply",
        object: expect.objectContaining({ metadata: expect.objectContaining({ uid: "ns-uid" }) }),
      }),
    ]);
  });

  it("refuses, writing nothing, a namespace metapilot did not create, and a protected one", async () => {
    const w = world({ namespaces: [namespaceObjectOf("tcp-team-a")] });
    const stop = await namespaceStep.apply(w.step(tenantContext()));
    expect(w.calls).toEqual([]);
    expect(stop).toMatchObject({
      result: { requeueAfterMs: 3_600_000, resync: true },
      status: {
        phase: "Provisioning",
        conditions: [
          { type: "NamespaceReady", status: "False", reason: "NamespaceNotCreatedByMetapilot" },
          { type: "Ready", status: "False", reason: "NamespaceNotCreatedByMetapilot" },
        ],
      },
      event: { type: "Warning", reason: "NamespaceNotCreatedByMetapilot", action: "ClaimNamespace" },
    });
    const raw = rawTenant({ spec: { version: "v1.35.4", namespace: "metapilot-system" } });
    const protectedStop = await namespaceStep.apply(
      w.step(tenantContext({ namespace: "metapilot-system" }), emptyFound(), raw),
    );
    expect(protectedStop?.status?.conditions[0]?.reason).toBe("ProtectedNamespace");
    expect(w.calls).toEqual([]);
  });

  it("adopts a namespace retained from an earlier TenantControlPlane of the same name, with an event", async () => {
    const retained = namespaceObjectOf("tcp-team-a", { "metapilot.io/owner-uid": "uid-0" });
    retained.metadata!.labels = { "metapilot.io/tenant": "team-a" };
    const w = world({ namespaces: [retained] });
    await namespaceStep.apply(w.step(tenantContext()));
    expect(writes(w.calls)).toEqual(["apply namespaces tcp-team-a"]);
    expect(w.events).toEqual([expect.objectContaining({ type: "Normal", reason: "NamespaceAdopted" })]);
  });

  it("deletes the namespace at finalization (uid precondition), or, retained, unbinds last", async () => {
    const w = world({ pods: [tenantObject("Pod", "etcd-0", "etcd")] });
    expect(await namespaceStep.cleanup(w.finalizing(false), [])).toEqual([
      { what: "namespace tcp-team-a to terminate (1 pods left)" },
    ]);
    expect(w.calls).toEqual([{ verb: "delete", resource: "namespaces", key: "tcp-team-a", uid: "ns-uid-tcp-team-a" }]);

    const retained = world();
    const fc = retained.finalizing(true);
    expect(await namespaceStep.cleanup(fc, [{ what: "something" }])).toEqual([]);
    expect(retained.calls).toEqual([]);
    await namespaceStep.cleanup(fc, []);
    await namespaceStep.cleanup(fc, []);
    expect(writes(retained.calls)).toEqual(["delete rolebindings tcp-team-a/metapilot-tenant-secrets"]);
  });
});
