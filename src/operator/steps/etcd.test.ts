import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/resources.js";
import { etcdStep } from "./etcd.js";
import { emptyFound, type Found } from "./step.js";
import { specs, tenantContext, tenantObject, world, writes } from "./testing.js";

const checksums = { etcd: "e", "kube-apiserver": "a", "kube-controller-manager": "c", "kube-scheduler": "s" };
const found = (): Found => ({ ...emptyFound(), pki: { secrets: [], checksums, renewInMs: 1000, status: {} } });
const external = tenantContext(specs.externalEtcd);
const source = {
  metadata: { name: "etcd-client", namespace: "tcp-team-a", resourceVersion: "42" },
  data: { "ca.crt": "Y2E=", "tls.crt": "Y3J0", "tls.key": "a2V5", extra: "bm90IGNvcGllZA==" },
};

describe("the etcd step", () => {
  it.each(Object.entries(specs).filter(([name]) => name !== "externalEtcd"))(
    "defines the managed Service, StatefulSet and PodDisruptionBudget (%s)",
    (_, spec) => {
      expect(etcdStep.define(tenantContext(spec), found())).toMatchSnapshot();
    },
  );

  it("defines, for external etcd, only the copy of the client Secret, once it was read", () => {
    expect(etcdStep.define(external, found())).toEqual([]);
    expect(etcdStep.define(external, { ...found(), externalEtcdSource: source })).toMatchSnapshot();
  });

  it("applies the managed objects and is ready once the StatefulSet it wants has rolled out", async () => {
    const ctx = tenantContext();
    const w = world();
    const sc = w.step(ctx, found());
    await etcdStep.apply(sc);
    expect(writes(w.calls)).toEqual([
      "apply services tcp-team-a/etcd",
      "apply statefulsets tcp-team-a/etcd",
      "apply poddisruptionbudgets tcp-team-a/etcd",
    ]);
    expect(etcdStep.status(sc)).toEqual([
      { type: "EtcdReady", status: "False", reason: "EtcdNotReady", message: "0/3 members ready, 0 updated" },
    ]);

    const [service, statefulSet, pdb] = etcdStep.define(ctx, found());
    const members = { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 3, replicas: 3 };
    const live = { ...statefulSet, metadata: { ...statefulSet!.metadata, generation: 1 }, status: members };
    const steady = world({ services: [service!], statefulSets: [live as KubeObject], pdbs: [pdb!] });
    const ready = steady.step(ctx, found());
    await etcdStep.apply(ready);
    expect(steady.calls).toEqual([]);
    expect(etcdStep.status(ready)).toEqual([
      { type: "EtcdReady", status: "True", reason: "EtcdAvailable", message: "3/3 members ready" },
    ]);
    expect(ready.found.components.etcd?.version).toBe("3.6.5");
  });

  it("copies the external client Secret from the tenant namespace", async () => {
    const w = world();
    w.stored.set("tcp-team-a/etcd-client", source as KubeObject);
    const sc = w.step(external, found());
    await etcdStep.apply(sc);
    expect(writes(w.calls)).toEqual(["apply secrets tcp-team-a/external-etcd-client"]);
    expect(w.secrets.get("tcp-team-a/external-etcd-client")).toMatchObject({ data: { "tls.key": "a2V5" } });
    expect(etcdStep.status(sc)).toEqual([
      {
        type: "EtcdReady",
        status: "True",
        reason: "EtcdAvailable",
        message: "external etcd at https://etcd.example.com:2379",
      },
    ]);
  });

  it("says what the external Secret lacks, or that it is missing", async () => {
    const w = world();
    w.stored.set("tcp-team-a/etcd-client", { ...source, data: { "ca.crt": "Y2E=" } } as KubeObject);
    const sc = w.step(external, found());
    await etcdStep.apply(sc);
    expect(etcdStep.status(sc)[0]?.message).toBe("external etcd Secret tcp-team-a/etcd-client lacks tls.crt, tls.key");
    const missing = world();
    const none = missing.step(external, found());
    await etcdStep.apply(none);
    expect(etcdStep.status(none)[0]?.message).toMatch(/not found: create it with ca.crt, tls.crt and tls.key/);
    expect(writes([...w.calls, ...missing.calls])).toEqual([]);
  });

  it("never reads a Secret of a namespace that is not allowed", async () => {
    const elsewhere = tenantContext({
      etcd: { external: { endpoints: ["https://e:2379"], secretRef: { name: "etcd-client", namespace: "tcp-other" } } },
    });
    const w = world();
    const sc = w.step(elsewhere, found());
    await etcdStep.apply(sc);
    expect(w.calls).toEqual([]);
    expect(w.events).toEqual([expect.objectContaining({ type: "Warning", reason: "SecretNamespaceNotAllowed" })]);
    expect(etcdStep.status(sc)[0]).toMatchObject({ status: "False", reason: "SecretNamespaceNotAllowed" });

    w.deps.externalEtcdSecretNamespaces = ["tcp-other"];
    await etcdStep.apply(w.step(elsewhere, found()));
    expect(w.calls).toEqual([{ verb: "get", resource: "secrets", key: "tcp-other/etcd-client" }]);
  });

  it("removes its StatefulSet, Service and PodDisruptionBudget from a retained namespace", async () => {
    const w = world({
      statefulSets: [tenantObject("StatefulSet", "etcd", "etcd")],
      services: [tenantObject("Service", "etcd", "etcd"), tenantObject("Service", "kube-apiserver", "kube-apiserver")],
      pdbs: [tenantObject("PodDisruptionBudget", "etcd", "etcd")],
    });
    await etcdStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual([
      "delete statefulsets tcp-team-a/etcd",
      "delete services tcp-team-a/etcd",
      "delete poddisruptionbudgets tcp-team-a/etcd",
    ]);
  });
});
