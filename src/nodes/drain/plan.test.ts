import { describe, expect, it } from "vitest";
import { pdb, pod } from "../fixtures.js";
import { boundedName, missingPDBManifest, pdbsByNamespace, planNode } from "./plan.js";

const cp = (name: string, tenant: string, component: string) =>
  pod(name, {
    node: "n1",
    namespace: "ns",
    labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": component },
  });

describe("planNode", () => {
  it("orders plain pods first, then scheduler, controller-manager, apiserver, etcd", () => {
    const pods = [
      cp("e", "t", "etcd"),
      cp("a", "t", "kube-apiserver"),
      cp("s", "t", "kube-scheduler"),
      pod("w", { node: "n1", namespace: "ns" }),
      cp("c", "t", "kube-controller-manager"),
    ];
    const plan = planNode("n1", pods, new Map(), { force: false });
    expect(plan.evict.map((p) => p.name)).toEqual(["w", "s", "c", "a", "e"]);
  });

  it("skips DaemonSet, mirror, unmanaged and emptyDir pods with reasons, unless forced", () => {
    const mirror = pod("m", { node: "n1" });
    mirror.metadata!.annotations = { "kubernetes.io/config.mirror": "x" };
    const pods = [
      pod("ds", { node: "n1", owner: "DaemonSet" }),
      mirror,
      pod("bare", { node: "n1", owner: null }),
      pod("tmp", { node: "n1", emptyDir: true }),
      pod("other", { node: "n2" }),
    ];
    const plan = planNode("n1", pods, new Map(), { force: false });
    expect(plan.evict).toEqual([]);
    expect(plan.skipped.map((s) => `${s.pod}: ${s.reason.split(";")[0]}`)).toEqual([
      "default/bare: no controller would recreate it",
      "default/ds: DaemonSet pod",
      "default/m: mirror pod (managed by the kubelet)",
      "default/tmp: local storage (emptyDir) would be lost",
    ]);
    const forced = planNode("n1", pods, new Map(), { force: true });
    expect(forced.evict.map((p) => p.name)).toEqual(["bare", "tmp"]);
  });

  it("names the PDB that allows no disruption and finds components without a PDB", () => {
    const pods = [cp("a1", "t1", "kube-apiserver"), cp("a2", "t2", "kube-apiserver"), cp("s2", "t2", "kube-scheduler")];
    const pdbs = pdbsByNamespace([
      pdb("t1-apiserver", { "metapilot.io/tenant": "t1", "metapilot.io/component": "kube-apiserver" }, 0, "ns"),
      pdb("t2-apiserver", { "metapilot.io/tenant": "t2", "metapilot.io/component": "kube-apiserver" }, 1, "ns"),
    ]);
    const plan = planNode("n1", pods, pdbs, { force: false });
    expect(plan.blockingPDBs).toEqual(["ns/t1-apiserver"]);
    expect(plan.evict.find((p) => p.name === "a1")?.blockedBy).toBe("ns/t1-apiserver");
    expect(plan.missingPDBs).toEqual([{ namespace: "ns", tenant: "t2", component: "kube-scheduler" }]);
    const manifest = missingPDBManifest(plan.missingPDBs[0]!, "d");
    expect(manifest.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { "metapilot.io/component": "kube-scheduler", "metapilot.io/tenant": "t2" } },
    });
  });

  it("bounds generated names to 63 characters with a hash", () => {
    const long = boundedName("a".repeat(80));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^a+-[a-z0-9]+$/);
    expect(boundedName("Pool_1")).toBe("pool-1");
  });
});
