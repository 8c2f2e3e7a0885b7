import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/resources.js";
import { apiServerStep } from "./apiserver.js";
import { emptyFound, type Found } from "./step.js";
import { specs, tenantContext, tenantObject, world, writes } from "./testing.js";

const checksums = { etcd: "e", "kube-apiserver": "a", "kube-controller-manager": "c", "kube-scheduler": "s" };
const foundAt = (version?: string): Found => ({
  ...emptyFound(),
  pki: { secrets: [], checksums, renewInMs: 1000, status: {} },
  versions: version ? { "kube-apiserver": version } : {},
});

type Deployment = KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
const image = (o: KubeObject | undefined) => (o as Deployment).spec.template.spec.containers[0]?.image;

/** The Deployment as the cache holds it once rolled out: what was applied, with a status that says so. */
function rolledOut(desired: KubeObject, replicas: number): KubeObject {
  return {
    ...structuredClone(desired),
    metadata: { ...desired.metadata, generation: 2 },
    status: {
      observedGeneration: 2,
      replicas,
      updatedReplicas: replicas,
      availableReplicas: replicas,
      readyReplicas: replicas,
    },
  } as KubeObject;
}

describe("the kube-apiserver step", () => {
  it.each(Object.entries(specs))("defines its Deployment and PodDisruptionBudget (%s)", (_, spec) => {
    const ctx = tenantContext(spec);
    expect(apiServerStep.define(ctx, foundAt(ctx.tcp.spec.version))).toMatchSnapshot();
  });

  it("creates both at spec.version when nothing runs yet, and says it is not ready", async () => {
    const w = world();
    const sc = w.step(tenantContext(), foundAt());
    await apiServerStep.apply(sc);
    expect(writes(w.calls)).toEqual([
      "apply deployments tcp-team-a/kube-apiserver",
      "apply poddisruptionbudgets tcp-team-a/kube-apiserver",
    ]);
    expect(image(w.calls[0]?.verb === "apply" ? w.calls[0].object : undefined)).toBe(
      "registry.k8s.io/kube-apiserver:v1.35.4",
    );
    expect(apiServerStep.status(sc)).toEqual([
      { type: "APIServerReady", status: "False", reason: "RollingOut", message: "Deployment not created yet" },
    ]);
  });

  it("keeps the running version until etcd is ready (upgrade order), then moves", async () => {
    const running = tenantObject("Deployment", "kube-apiserver", "kube-apiserver");
    running.metadata!.labels!["metapilot.io/version"] = "v1.34.4";
    for (const [etcdReady, want] of [
      [false, "v1.34.4"],
      [true, "v1.35.4"],
    ] as const) {
      const w = world({ deployments: [running] });
      const found = foundAt();
      found.components.etcd = { ready: etcdReady, message: "" };
      await apiServerStep.apply(w.step(tenantContext(), found));
      expect(found.versions["kube-apiserver"]).toBe(want);
      expect(image(w.calls[0]?.verb === "apply" ? w.calls[0].object : undefined)).toBe(
        `registry.k8s.io/kube-apiserver:${want}`,
      );
    }
  });

  it("writes nothing when the cache holds what it wants, and reports it ready", async () => {
    const ctx = tenantContext(specs.haApiServer);
    const [deployment, pdb] = apiServerStep.define(ctx, foundAt("v1.35.4"));
    const w = world({ deployments: [rolledOut(deployment!, 3)], pdbs: [pdb!] });
    const sc = w.step(ctx, foundAt());
    await apiServerStep.apply(sc);
    expect(writes(w.calls)).toEqual([]);
    expect(apiServerStep.status(sc)).toEqual([
      { type: "APIServerReady", status: "True", reason: "DeploymentAvailable", message: "3/3 available at v1.35.4" },
    ]);
  });

  it("repairs a hand edit of a field it owns, with a DriftRepaired event and the metric", async () => {
    const ctx = tenantContext();
    const [deployment, pdb] = apiServerStep.define(ctx, foundAt("v1.35.4"));
    const edited = rolledOut(deployment!, 2) as Deployment;
    edited.spec.template.spec.containers[0]!.image = "evil.example.com/kube-apiserver:v1.35.4";
    const w = world({ deployments: [edited], pdbs: [pdb!] });
    const repaired: string[] = [];
    w.deps.driftRepairs = { inc: (labels: { kind: string }) => void repaired.push(labels.kind) } as never;
    await apiServerStep.apply(w.step(ctx, foundAt()));
    expect(writes(w.calls)).toEqual(["apply deployments tcp-team-a/kube-apiserver"]);
    expect(repaired).toEqual(["Deployment"]);
    expect(w.events).toEqual([
      expect.objectContaining({
        type: "Warning",
        reason: "DriftRepaired",
        note: expect.stringContaining("spec.template.spec.containers[kube-apiserver].image"),
      }),
    ]);
  });

  it("says why its pods do not run", async () => {
    const pending = tenantObject("Pod", "kube-apiserver-1", "kube-apiserver", {
      status: {
        phase: "Pending",
        conditions: [
          { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available" },
        ],
      },
    } as Partial<KubeObject>);
    const w = world({ pods: [pending] });
    const sc = w.step(tenantContext(), foundAt());
    await apiServerStep.apply(sc);
    expect(apiServerStep.status(sc)[0]).toMatchObject({ reason: "Unschedulable", message: /0\/3 nodes are available/ });
  });

  it("removes from a retained namespace its own and every unclaimed Deployment and PodDisruptionBudget", async () => {
    const w = world({
      deployments: [
        tenantObject("Deployment", "kube-apiserver", "kube-apiserver"),
        tenantObject("Deployment", "kube-scheduler", "kube-scheduler"),
        tenantObject("Deployment", "leftover"),
      ],
      pdbs: [
        tenantObject("PodDisruptionBudget", "kube-apiserver", "kube-apiserver"),
        tenantObject("PodDisruptionBudget", "etcd", "etcd"),
      ],
    });
    expect(await apiServerStep.cleanup(w.finalizing(false), [])).toEqual([]);
    expect(w.calls).toEqual([]);
    const pending = await apiServerStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual([
      "delete deployments tcp-team-a/kube-apiserver",
      "delete deployments tcp-team-a/leftover",
      "delete poddisruptionbudgets tcp-team-a/kube-apiserver",
    ]);
    expect(pending.map((p) => ("what" in p ? p.what : `${p.count} ${p.resource.plural}`))).toEqual([
      "2 deployments",
      "1 poddisruptionbudgets",
    ]);
  });
});
