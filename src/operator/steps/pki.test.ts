import { describe, expect, it } from "vitest";
import { ApiError } from "../../kube/errors.js";
import type { SecretObject } from "../tenant-secrets.js";
import { pkiStep } from "./pki.js";
import type { StepDeps } from "./step.js";
import { tenantContext, tenantObject, world, writes } from "./testing.js";

/** A Secret's shape without its keys and certificates, which are new at each issue. */
const shape = (s: SecretObject & { type?: string }) => ({
  name: s.metadata?.name,
  labels: s.metadata?.labels,
  annotations: Object.keys(s.metadata?.annotations ?? {}),
  type: s.type,
  keys: Object.keys(s.data ?? {}).sort(),
});

describe("the pki step", () => {
  it("issues the whole PKI into a new namespace, then writes nothing while it is valid", async () => {
    const ctx = tenantContext();
    const w = world();
    const sc = w.step(ctx);
    sc.found.clusterIP = "10.96.0.10";
    await pkiStep.apply(sc);
    const issued = pkiStep.define(ctx, sc.found) as SecretObject[];
    expect(issued.map(shape)).toMatchSnapshot();
    expect(writes(w.calls)).toEqual(issued.map((s) => `apply secrets tcp-team-a/${s.metadata?.name}`));
    expect(w.events).toEqual([expect.objectContaining({ type: "Normal", reason: "CertificatesIssued" })]);
    const first = sc.found.pki!;
    expect(Object.keys(first.checksums)).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    expect(first.status?.caNotAfter).toMatch(/^20\d\d-/);
    expect(first.renewInMs).toBeGreaterThan(1000);

    w.calls.length = 0;
    w.events.length = 0;
    const again = w.step(ctx);
    again.found.clusterIP = "10.96.0.10";
    await pkiStep.apply(again);
    expect(w.calls).toEqual([]);
    expect(w.events).toEqual([]);
    expect(again.found.pki?.checksums).toEqual(first.checksums);
  });

  it("issues again only the serving certificate when the apiserver gets a new address", async () => {
    const ctx = tenantContext();
    const w = world();
    await pkiStep.apply(w.step(ctx));
    w.calls.length = 0;
    const moved = w.step(ctx);
    moved.found.externalEndpoint = "api.example.com";
    await pkiStep.apply(moved);
    expect(writes(w.calls)).toEqual(["apply secrets tcp-team-a/team-a-apiserver-serving"]);
  });

  it("removes the tenant's Secrets from a retained namespace, and none once its access is gone", async () => {
    const w = world();
    w.secrets.set("tcp-team-a/team-a-ca", tenantObject("Secret", "team-a-ca", "pki"));
    w.secrets.set("tcp-team-a/external-etcd-client", tenantObject("Secret", "external-etcd-client", "etcd"));
    expect(await pkiStep.cleanup(w.finalizing(false), [])).toEqual([]);
    expect(w.calls).toEqual([]);
    const pending = await pkiStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual([
      "delete secrets tcp-team-a/team-a-ca",
      "delete secrets tcp-team-a/external-etcd-client",
    ]);
    expect(pending).toEqual([{ resource: expect.objectContaining({ plural: "secrets" }), count: 2 }]);

    w.calls.length = 0;
    w.unbound.add("tcp-team-a");
    expect(await pkiStep.cleanup(w.finalizing(true), [])).toEqual([]);
    expect(w.calls).toEqual([]);
  });

  it("takes a refused LIST for no Secrets left only when metapilot binds its own access", async () => {
    const w = world();
    const refused = () => Promise.reject(new ApiError("forbidden", 403));
    w.deps.secrets = { ...w.deps.secrets, list: refused } as StepDeps["secrets"];
    await expect(pkiStep.cleanup(w.finalizing(true), [])).rejects.toThrow("forbidden");
    w.deps.secrets = { ...w.deps.secrets, access: { clusterRole: "r", serviceAccount: { namespace: "m", name: "m" } } };
    expect(await pkiStep.cleanup(w.finalizing(true), [])).toEqual([]);
  });
});
