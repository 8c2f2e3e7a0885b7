import { describe, expect, it } from "vitest";
import { ApiError } from "../../kube/errors.js";
import type { KubeObject } from "../../kube/resources.js";
import { apiServerStep } from "./apiserver.js";
import { apiServerDeployment, desiredSettings } from "../manifests.js";
import type { DerivedSettings } from "../derived.js";
import {
  currentRevisionPods,
  describeResources,
  podVerdict,
  qosClass,
  resizePatch,
  sameResources,
  withTemplateResources,
  type ResizablePod,
  type ResourceRequirements,
} from "./resize.js";
import { emptyFound, type Found, type RawTenantControlPlane } from "./step.js";
import { tenantContext, world, writes } from "./testing.js";

const small = { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } };
const large = { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } };
const now = Date.parse("2026-12-05T12:00:00Z"); // the test world's clock
const checksums = { etcd: "e", "kube-apiserver": "a", "kube-controller-manager": "c", "kube-scheduler": "s" };
const found = (): Found => ({
  ...emptyFound(),
  pki: { secrets: [], checksums, renewInMs: 1000, status: {} },
  versions: { "kube-apiserver": "v1.35.4" },
});

type Template = KubeObject & {
  spec: { template: { spec: { containers: Array<{ name: string; resources?: ResourceRequirements }> } } };
};
const resourcesOf = (o: KubeObject | undefined) => (o as Template).spec.template.spec.containers[0]?.resources;

/**
 * The apiserver Deployment as the operator defines it for `resources`, rolled out with `replicas` pods; with
 * `settings`, carrying those derived settings instead of the ones `resources` give ({} for a template from before
 * metapilot derived any).
 */
function liveDeployment(resources: ResourceRequirements, replicas = 2, settings?: DerivedSettings): KubeObject {
  const ctx = tenantContext({ apiServer: { replicas, resources } });
  const desired = settings
    ? apiServerDeployment(ctx, { version: "v1.35.4", pkiChecksum: checksums["kube-apiserver"] }, settings)
    : apiServerStep.define(ctx, found())[0];
  return {
    ...structuredClone(desired!),
    metadata: {
      ...desired!.metadata,
      uid: "uid-deployment",
      generation: 3,
      annotations: { ...desired!.metadata?.annotations, [revisionAnnotation]: "3" },
    },
    status: {
      observedGeneration: 3,
      replicas,
      updatedReplicas: replicas,
      availableReplicas: replicas,
      readyReplicas: replicas,
    },
  } as KubeObject;
}

const revisionAnnotation = "deployment.kubernetes.io/revision";

/** A ReplicaSet of the apiserver Deployment (as the informer keeps it: metadata only) at this revision. */
function replicaSet(hash: string, revision: string): KubeObject {
  return {
    kind: "ReplicaSet",
    metadata: {
      name: `kube-apiserver-${hash}`,
      namespace: "tcp-team-a",
      uid: `uid-rs-${hash}`,
      annotations: { [revisionAnnotation]: revision },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver", uid: "uid-deployment", controller: true },
      ],
    },
  };
}
/** The Deployment's current ReplicaSet (revision 3, as liveDeployment says) and an old one. */
const currentHash = "7d9f8c6b5";
const oldHash = "5c4b3a2d1";
const replicaSets = [replicaSet(currentHash, "3"), replicaSet(oldHash, "2")];

interface PodShape {
  spec?: ResourceRequirements;
  actual?: ResourceRequirements | null;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }>;
  phase?: string;
  ready?: boolean;
  /** The pod-template-hash of the ReplicaSet that controls it (the current one by default); null: none (a stray pod). */
  replicaSet?: string | null;
}

function pod(name: string, p: PodShape = {}): ResizablePod {
  const hash = p.replicaSet === undefined ? currentHash : p.replicaSet;
  return {
    kind: "Pod",
    metadata: {
      name,
      namespace: "tcp-team-a",
      uid: `uid-${name}`,
      labels: {
        "metapilot.io/tenant": "team-a",
        "metapilot.io/component": "kube-apiserver",
        ...(hash === null ? {} : { "pod-template-hash": hash }),
      },
      ...(hash === null
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: `kube-apiserver-${hash}`,
                uid: `uid-rs-${hash}`,
                controller: true,
              },
            ],
          }),
    },
    spec: { containers: [{ name: "kube-apiserver", resources: p.spec ?? small }] },
    status: {
      phase: p.phase ?? "Running",
      qosClass: "Burstable",
      conditions: p.conditions ?? [],
      containerStatuses: [
        {
          name: "kube-apiserver",
          ready: p.ready ?? true,
          ...(p.ready === false
            ? { state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { reason: "OOMKilled" } } }
            : {}),
          ...(p.actual === null ? {} : { resources: p.actual ?? p.spec ?? small }),
        },
      ],
    },
  };
}

/** Runs the apiserver step with spec resources `want` over a live Deployment at `live` and these pods. */
async function run(
  want: ResourceRequirements,
  pods: ResizablePod[],
  opts: {
    live?: KubeObject;
    spec?: Record<string, unknown>;
    raw?: RawTenantControlPlane;
    patchError?: Error;
    replicaSets?: KubeObject[];
  } = {},
) {
  const w = world({
    deployments: [opts.live ?? liveDeployment(small)],
    replicaSets: opts.replicaSets ?? replicaSets,
    pods,
  });
  if (opts.patchError) w.patchErrors.set("tcp-team-a/a-0", opts.patchError);
  const ctx = tenantContext({ apiServer: { replicas: 2, resources: want }, ...opts.spec });
  const sc = w.step(ctx, found(), opts.raw);
  await apiServerStep.apply(sc);
  const applied = w.calls.find((c) => c.verb === "apply" && c.resource === "deployments");
  return {
    w,
    sc,
    applied: applied?.verb === "apply" ? applied.object : undefined,
    patches: w.calls.filter((c) => c.verb === "patch"),
    resize: sc.found.components["kube-apiserver"]?.resize,
  };
}

describe("resource arithmetic", () => {
  it("compares quantities by value and only CPU and memory", () => {
    expect(sameResources({ requests: { cpu: "0.5" } }, { requests: { cpu: "500m" } })).toBe(true);
    expect(sameResources({ requests: { memory: "1Gi" } }, { requests: { memory: "1024Mi" } })).toBe(true);
    expect(sameResources(small, large)).toBe(false);
    expect(sameResources({ limits: { cpu: "1" } }, {})).toBe(false);
  });

  it("gives the QoS class the kubelet would", () => {
    expect(qosClass({})).toBe("BestEffort");
    expect(qosClass(small)).toBe("Burstable");
    expect(qosClass({ limits: { cpu: "1", memory: "1Gi" } })).toBe("Guaranteed");
    expect(qosClass({ requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1000m", memory: "1024Mi" } })).toBe(
      "Guaranteed",
    );
  });

  it("patches the resize subresource with nulls for the quantities that go", () => {
    const from = { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } };
    expect(resizePatch("kube-apiserver", from, large)).toEqual({
      spec: {
        containers: [
          {
            name: "kube-apiserver",
            resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: null, memory: "2Gi" } },
          },
        ],
      },
    });
    expect(describeResources(large)).toBe("requests cpu=500m memory=1Gi, limits memory=2Gi");
  });

  it("re-stamps the hash of a workload whose template keeps other resources", () => {
    const live = liveDeployment(small);
    // Built with the derived settings the live template carries (GOMEMLIMIT of the small limit), as planResize does.
    const desired = apiServerDeployment(
      tenantContext({ apiServer: { replicas: 2, resources: large } }),
      { version: "v1.35.4", pkiChecksum: checksums["kube-apiserver"] },
      desiredSettings(tenantContext({ apiServer: { replicas: 2, resources: small } }), "kube-apiserver"),
    );
    const kept = withTemplateResources(desired!, "kube-apiserver", small);
    expect(kept.metadata?.annotations?.["metapilot.io/spec-hash"]).toBe(
      live.metadata?.annotations?.["metapilot.io/spec-hash"],
    );
    expect(resourcesOf(kept)).toEqual(small);
    expect(resourcesOf(desired)).toEqual(large); // the input is not changed
  });
});

describe("podVerdict", () => {
  const verdict = (p: ResizablePod, timeoutMs = 120_000) => podVerdict(p, "kube-apiserver", large, now, timeoutMs);

  it("resizes a pod whose kubelet reports its resources, and is done once it runs with the new ones", () => {
    expect(verdict(pod("a"))).toEqual({ kind: "resize" });
    expect(verdict(pod("a", { spec: large, actual: large }))).toEqual({ kind: "done" });
  });

  it("rolls when the kubelet reports no container resources (kwok, or a kubelet older than 1.33)", () => {
    expect(verdict(pod("a", { actual: null }))).toMatchObject({ kind: "roll", reason: "KubeletCannotResize" });
    // One that started with the resources wanted (after that roll) is done, not rolled again and again.
    expect(verdict(pod("a", { spec: large, actual: null }))).toEqual({ kind: "done" });
  });

  it("rolls a pod whose container is not ready (an OOM loop): it restarts anyway, and a new pod skips the back-off", () => {
    expect(verdict(pod("a", { ready: false }))).toEqual({
      kind: "roll",
      reason: "NotReady",
      message:
        "container kube-apiserver of pod a is not ready (CrashLoopBackOff): a new pod starts at the new size now",
    });
  });

  it("rolls when the QoS class would change", () => {
    const guaranteed = { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } };
    const p = pod("a", { spec: guaranteed });
    p.status!.qosClass = "Guaranteed";
    expect(verdict(p)).toMatchObject({ kind: "roll", reason: "QoSClassChange" });
  });

  it("rolls at once when the node calls the resize Infeasible", () => {
    const p = pod("a", {
      spec: large,
      actual: small,
      conditions: [
        { type: "PodResizePending", status: "True", reason: "Infeasible", message: "Node didn't have enough capacity" },
      ],
    });
    expect(verdict(p)).toMatchObject({
      kind: "roll",
      reason: "Infeasible",
      message: expect.stringContaining("capacity"),
    });
  });

  it("waits for a Deferred resize until the time limit from the condition's transition, then rolls", () => {
    const deferred = (since: string) =>
      pod("a", {
        spec: large,
        actual: small,
        conditions: [{ type: "PodResizePending", status: "True", reason: "Deferred", lastTransitionTime: since }],
      });
    expect(verdict(deferred("2026-12-05T11:59:00Z"))).toEqual({ kind: "wait", untilMs: now - 60_000 + 120_000 });
    expect(verdict(deferred("2026-12-05T11:57:00Z"))).toMatchObject({ kind: "roll", reason: "DeferredTooLong" });
  });

  it("times an unfinished resize without a condition from when it was first seen", () => {
    const p = pod("unseen", { spec: large, actual: small });
    expect(podVerdict(p, "kube-apiserver", large, now, 120_000)).toEqual({ kind: "wait", untilMs: now + 120_000 });
    expect(podVerdict(p, "kube-apiserver", large, now + 121_000, 120_000)).toMatchObject({
      kind: "roll",
      reason: "DeferredTooLong",
    });
  });
});

describe("the step's resize", () => {
  it("resizes the running pods in place and leaves the template's resources, so nothing rolls", async () => {
    const { w, applied, patches, resize, sc } = await run(large, [
      pod("a-0"),
      pod("a-1"),
      pod("pending", { phase: "Pending" }),
    ]);
    expect(patches.map((p) => `${p.key}/${p.verb === "patch" ? p.subresource : ""}`)).toEqual([
      "tcp-team-a/a-0/resize",
      "tcp-team-a/a-1/resize",
    ]);
    expect(patches[0]?.verb === "patch" && patches[0].body).toEqual(resizePatch("kube-apiserver", small, large));
    // What is applied is the live template: same hash, so the Deployment is not even written.
    expect(applied).toBeUndefined();
    expect(writes(w.calls)).not.toContain("apply deployments tcp-team-a/kube-apiserver");
    expect(resize).toMatchObject({ method: "InPlace", state: "InProgress", reason: "Resized" });
    // GOMEMLIMIT of the new limit waits for the next restart, and says so once.
    expect(w.events).toEqual([
      expect.objectContaining({ reason: "ResizingInPlace" }),
      expect.objectContaining({ reason: "DerivedSettingsAwaitRestart" }),
    ]);
    // The time limit gets a look of its own.
    expect(sc.found.recheckAtMs).toBe(now + 121_000);
  });

  it("is done, with no write at all, once every pod runs with the spec's resources", async () => {
    const { w, resize } = await run(large, [pod("a-0", { spec: large }), pod("a-1", { spec: large })]);
    expect(w.calls.filter((c) => c.verb === "patch" || (c.verb === "apply" && c.resource === "deployments"))).toEqual(
      [],
    );
    expect(resize).toMatchObject({ method: "InPlace", state: "Done" });
  });

  it("resizes a pod created from the lagging template (a reschedule) back to the spec's size", async () => {
    const { patches } = await run(large, [pod("a-0", { spec: large }), pod("a-1")]);
    expect(patches.map((p) => p.key)).toEqual(["tcp-team-a/a-1"]);
  });

  it("rolls instead, with the reason in status and a Warning, when a pod's kubelet cannot resize", async () => {
    const { w, applied, patches, resize } = await run(large, [pod("a-0"), pod("a-1", { actual: null })]);
    expect(patches).toEqual([]);
    expect(resourcesOf(applied)).toEqual(large);
    expect(resize).toMatchObject({ method: "Rolling", reason: "KubeletCannotResize" });
    expect(w.events).toEqual([expect.objectContaining({ type: "Warning", reason: "ResizeByRollingUpdate" })]);
    // A rolling resize carries the derived settings of the new size with it.
    expect(sc_env(applied)).toEqual([{ name: "GOMEMLIMIT", value: "1843MiB" }]);
  });

  it("rolls when the apiserver refuses the resize, and retries a transient failure instead", async () => {
    const refused = new ApiError("PATCH .../resize: 422 Forbidden: Pod QoS class may not change", 422, "Invalid");
    const { applied, resize } = await run(large, [pod("a-0"), pod("a-1")], { patchError: refused });
    expect(resourcesOf(applied)).toEqual(large);
    expect(resize).toMatchObject({ method: "Rolling", reason: "ResizeRefused" });

    const noSubresource = new ApiError("PATCH .../resize: 404", 404, "NotFound", undefined, { details: {} });
    expect((await run(large, [pod("a-0")], { patchError: noSubresource })).resize).toMatchObject({
      reason: "ResizeRefused",
    });
    const podGone = new ApiError("PATCH: 404", 404, "NotFound", undefined, { details: { name: "a-0" } });
    expect((await run(large, [pod("a-0"), pod("a-1")], { patchError: podGone })).resize).toMatchObject({
      method: "InPlace",
    });
    await expect(run(large, [pod("a-0")], { patchError: new ApiError("503", 503) })).rejects.toThrow("503");
  });

  it("rolls when another field changes too (the pods restart anyway), carrying the new resources", async () => {
    const { applied, patches, resize } = await run(large, [pod("a-0"), pod("a-1")], {
      spec: { apiServer: { replicas: 2, resources: large, extraArgs: { "max-requests-inflight": "800" } } },
    });
    expect(patches).toEqual([]);
    expect(resourcesOf(applied)).toEqual(large);
    expect(resize).toMatchObject({ method: "Rolling", reason: "RestartRequired" });
  });

  it("rolls every change under strategy Restart", async () => {
    const { applied, patches, resize } = await run(large, [pod("a-0"), pod("a-1")], {
      spec: { resourceUpdates: { strategy: "Restart" } },
    });
    expect(patches).toEqual([]);
    expect(resourcesOf(applied)).toEqual(large);
    expect(resize).toMatchObject({ method: "Rolling", reason: "Restart" });
  });

  it("rolls, not waits, when the only pod is in an OOM loop and the Deployment has no available replica (CI)", async () => {
    const live = liveDeployment(small, 1);
    const status = (live as { status: Record<string, number> }).status;
    status.availableReplicas = 0;
    status.readyReplicas = 0;
    status.unavailableReplicas = 1;
    const w = world({ deployments: [live], replicaSets, pods: [pod("a-0", { ready: false })] });
    const sc = w.step(tenantContext({ apiServer: { replicas: 1, resources: large } }), found());
    await apiServerStep.apply(sc);
    const applied = w.calls.find((c) => c.verb === "apply" && c.resource === "deployments");
    expect(resourcesOf(applied?.verb === "apply" ? applied.object : undefined)).toEqual(large);
    expect(sc.found.components["kube-apiserver"]?.resize).toMatchObject({ method: "Rolling", reason: "NotReady" });
  });

  it("resizes nothing while a rollout is under way", async () => {
    const live = liveDeployment(small);
    (live as { status: { updatedReplicas: number } }).status.updatedReplicas = 1;
    const { patches, applied } = await run(large, [pod("a-0"), pod("a-1")], { live });
    expect(patches).toEqual([]);
    expect(applied).toBeUndefined();
  });

  it("records a rolling resize on the workload it rolls, and reports it Done from there once ready", async () => {
    const rolled = await run(large, [pod("a-0"), pod("a-1", { actual: null })]);
    const recorded = rolled.applied?.metadata?.annotations?.["metapilot.io/last-resize"];
    expect(JSON.parse(recorded!)).toMatchObject({
      method: "Rolling",
      state: "InProgress",
      reason: "KubeletCannotResize",
    });
    // A later pass, whatever the TenantControlPlane's status says: the rollout is done, the pods run the new size.
    const live = liveDeployment(large);
    live.metadata!.annotations = { ...live.metadata!.annotations, "metapilot.io/last-resize": recorded! };
    const { resize, w } = await run(large, [pod("a-0", { spec: large, actual: null }), pod("a-1", { spec: large })], {
      live,
    });
    expect(resize).toMatchObject({ method: "Rolling", state: "Done", reason: "KubeletCannotResize" });
    expect(w.events).toEqual([]);
    expect(w.calls.filter((c) => c.verb !== "get")).toEqual([
      expect.objectContaining({ verb: "apply", resource: "poddisruptionbudgets" }),
    ]);
  });
});

describe("the pods a resize looks at", () => {
  const w = () => world({ replicaSets });
  // A pod that only carries the component's labels (created by hand, or left by an old ReplicaSet) is not the
  // workload's: resizing it is not metapilot's business, and waiting for it never ends.
  const stray = (name: string) => pod(name, { replicaSet: null, actual: null });
  const old = (name: string) => pod(name, { replicaSet: oldHash, ready: false });

  it("is Done once the workload's own pods run the new size, whatever a stray labelled pod or an old ReplicaSet's does", async () => {
    // After a rolling resize: the template carries the new size, the Deployment's pods run it. Before only the
    // current ReplicaSet's pods counted, the stray pod (a kubelet that reports no resources) and the old
    // ReplicaSet's (not ready) rolled it again at every pass: Rolling, InProgress, for ever.
    const recorded = JSON.stringify({
      method: "Rolling",
      state: "InProgress",
      reason: "KubeletCannotResize",
      message: "the kubelet of pod a-1 reports no container resources",
      resources: describeResources(large),
    });
    const live = liveDeployment(large);
    live.metadata!.annotations = { ...live.metadata!.annotations, "metapilot.io/last-resize": recorded };
    const own = [pod("a-0", { spec: large }), pod("a-1", { spec: large })];
    for (const other of [stray("by-hand"), old("a-old")]) {
      const { resize, w } = await run(large, [...own, other], { live });
      expect(resize).toMatchObject({ method: "Rolling", state: "Done", reason: "KubeletCannotResize" });
      expect(w.events).toEqual([]);
      expect(w.calls.filter((c) => c.verb === "patch" || (c.verb === "apply" && c.resource === "deployments"))).toEqual(
        [],
      );
    }
  });

  it("resizes in place only the current ReplicaSet's pods, and is done when they are", async () => {
    const resizable = pod("by-hand", { replicaSet: null });
    const { patches, resize } = await run(large, [
      pod("a-0"),
      pod("a-1"),
      resizable,
      pod("a-old", { replicaSet: oldHash }),
    ]);
    expect(patches.map((p) => p.key)).toEqual(["tcp-team-a/a-0", "tcp-team-a/a-1"]);
    expect(resize).toMatchObject({
      method: "InPlace",
      state: "InProgress",
      message: expect.stringMatching(/^resizing 2 pod/),
    });

    const done = await run(large, [pod("a-0", { spec: large }), pod("a-1", { spec: large }), stray("by-hand")]);
    expect(done.resize).toMatchObject({ method: "InPlace", state: "Done", message: expect.stringMatching(/^2 pod/) });
  });

  it("takes a StatefulSet's pods of its update revision only", () => {
    const statefulSet = {
      metadata: { name: "etcd", namespace: "tcp-team-a", uid: "uid-sts" },
      status: { currentRevision: "etcd-6b8f", updateRevision: "etcd-6b8f" },
    };
    const member = (name: string, revision: string, owner = "uid-sts"): KubeObject => ({
      metadata: {
        name,
        labels: { "controller-revision-hash": revision },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "etcd", uid: owner, controller: true }],
      },
    });
    const owned = currentRevisionPods("StatefulSet", statefulSet, w().caches.replicaSets)!;
    expect(owned(member("etcd-0", "etcd-6b8f"))).toBe(true);
    expect(owned(member("etcd-1", "etcd-5a7e"))).toBe(false); // an older revision
    expect(owned(member("etcd-2", "etcd-6b8f", "uid-other"))).toBe(false); // another StatefulSet's
    expect(owned({ metadata: { name: "etcd-3", labels: { "controller-revision-hash": "etcd-6b8f" } } })).toBe(false);
    // Not known yet: no revision in its status.
    expect(currentRevisionPods("StatefulSet", { metadata: statefulSet.metadata }, w().caches.replicaSets)).toBe(
      undefined,
    );
  });

  it("resizes nothing until the cache has the Deployment's current ReplicaSet", async () => {
    const { patches, applied, resize } = await run(large, [pod("a-0"), pod("a-1")], {
      replicaSets: [replicaSet(oldHash, "2")],
    });
    expect(patches).toEqual([]);
    expect(applied).toBeUndefined();
    expect(resize).toBeUndefined();
  });
});

/** The apiserver container's env in an applied Deployment. */
function sc_env(o: KubeObject | undefined) {
  return (o as (Template & { spec: { template: { spec: { containers: Array<{ env?: unknown[] }> } } } }) | undefined)
    ?.spec.template.spec.containers[0]?.env;
}

describe("settings derived from the size (spec.resourceUpdates.derivedSettings)", () => {
  const immediately = { resourceUpdates: { derivedSettings: "Immediately" } };
  const inForceSmall = "GOMEMLIMIT=921MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200";
  const desiredLarge = "GOMEMLIMIT=1843MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200";

  it("WithNextRestart: a resize in place keeps the template's GOMEMLIMIT, and status says what waits", async () => {
    const { applied, patches, resize, sc } = await run(large, [pod("a-0"), pod("a-1")]);
    expect(patches).toHaveLength(2);
    expect(applied).toBeUndefined(); // not even written: the template keeps its resources and settings
    expect(resize).toMatchObject({ method: "InPlace", reason: "Resized" });
    expect(sc.found.components["kube-apiserver"]?.derivedSettings).toEqual({
      state: "AwaitingRestart",
      inForce: inForceSmall,
      desired: desiredLarge,
    });
  });

  it("WithNextRestart: a restarted metapilot finds the same from the objects, writes nothing and announces nothing new", async () => {
    const raw = {
      metadata: { name: "team-a", uid: "u1" },
      status: {
        components: [
          {
            name: "kube-apiserver",
            derivedSettings: { state: "AwaitingRestart", inForce: inForceSmall, desired: desiredLarge },
          },
        ],
      },
    } as RawTenantControlPlane;
    const { w, resize, sc } = await run(large, [pod("a-0", { spec: large }), pod("a-1", { spec: large })], { raw });
    expect(w.calls.filter((c) => c.verb === "patch" || (c.verb === "apply" && c.resource === "deployments"))).toEqual(
      [],
    );
    expect(resize).toMatchObject({ method: "InPlace", state: "Done" });
    expect(sc.found.components["kube-apiserver"]?.derivedSettings?.state).toBe("AwaitingRestart");
    expect(w.events).toEqual([]);
  });

  it("WithNextRestart: the next change that restarts anyway carries them", async () => {
    const { applied, sc } = await run(large, [pod("a-0", { spec: large }), pod("a-1", { spec: large })], {
      spec: { apiServer: { replicas: 2, resources: large, extraArgs: { v: "2" } } },
    });
    expect(resourcesOf(applied)).toEqual(large);
    expect(sc_env(applied)).toEqual([{ name: "GOMEMLIMIT", value: "1843MiB" }]);
    expect(sc.found.components["kube-apiserver"]?.derivedSettings).toEqual({
      state: "InForce",
      inForce: desiredLarge,
      desired: desiredLarge,
    });
  });

  it("WithNextRestart: an upgrade of metapilot (a template from before derived settings) rolls nothing", async () => {
    const live = liveDeployment(small, 2, {});
    const { w, sc } = await run(small, [pod("a-0"), pod("a-1")], { live });
    expect(w.calls.filter((c) => c.verb === "patch" || (c.verb === "apply" && c.resource === "deployments"))).toEqual(
      [],
    );
    expect(sc.found.components["kube-apiserver"]?.derivedSettings).toEqual({
      state: "AwaitingRestart",
      inForce: "none",
      desired: inForceSmall,
    });
    // Under strategy Restart too.
    const restart = await run(small, [pod("a-0"), pod("a-1")], {
      live,
      spec: { resourceUpdates: { strategy: "Restart" } },
    });
    expect(restart.applied).toBeUndefined();
  });

  it("Immediately: a resize that changes GOMEMLIMIT is a rolling update, reason DerivedSettings", async () => {
    const { applied, patches, resize, sc } = await run(large, [pod("a-0"), pod("a-1")], { spec: immediately });
    expect(patches).toEqual([]);
    expect(resourcesOf(applied)).toEqual(large);
    expect(sc_env(applied)).toEqual([{ name: "GOMEMLIMIT", value: "1843MiB" }]);
    expect(resize).toMatchObject({ method: "Rolling", reason: "DerivedSettings" });
    expect(sc.found.components["kube-apiserver"]?.derivedSettings?.state).toBe("InForce");
  });

  it("Immediately: a resize that changes no derived setting stays in place", async () => {
    const moreCpu = { ...small, requests: { ...small.requests, cpu: "300m" } }; // still 400 and 200 in flight
    const { applied, patches, resize } = await run(moreCpu, [pod("a-0"), pod("a-1")], { spec: immediately });
    expect(patches).toHaveLength(2);
    expect(applied).toBeUndefined();
    expect(resize).toMatchObject({ method: "InPlace" });
  });

  it("Immediately: settings left waiting (the policy changed since) roll at once", async () => {
    const { applied } = await run(large, [pod("a-0", { spec: large }), pod("a-1", { spec: large })], {
      spec: immediately,
    });
    expect(sc_env(applied)).toEqual([{ name: "GOMEMLIMIT", value: "1843MiB" }]);
  });

  it("leaves a value the user set to the user: extraArgs and extraEnv win, and changing them restarts", async () => {
    const spec = {
      apiServer: {
        replicas: 2,
        resources: large,
        extraArgs: { "max-requests-inflight": "5000" },
        extraEnv: { GOMEMLIMIT: "1500MiB", GOGC: "50" },
      },
    };
    const { applied, resize, sc } = await run(large, [pod("a-0"), pod("a-1")], { spec });
    expect(sc_env(applied)).toEqual([
      { name: "GOGC", value: "50" },
      { name: "GOMEMLIMIT", value: "1500MiB" },
    ]);
    const args = (applied as unknown as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } })
      .spec.template.spec.containers[0]!.args;
    expect(args.filter((a) => a.includes("inflight"))).toEqual([
      "--max-mutating-requests-inflight=200",
      "--max-requests-inflight=5000",
    ]);
    expect(resize).toMatchObject({ method: "Rolling", reason: "RestartRequired" });
    expect(sc.found.components["kube-apiserver"]?.derivedSettings).toEqual({
      state: "InForce",
      inForce: "--max-mutating-requests-inflight=200",
      desired: "--max-mutating-requests-inflight=200",
    });
  });
});

describe("the spec hash", () => {
  it("is the same for a template whose resources come back from the apiserver with their keys sorted", () => {
    // The live Deployment's resources as the apiserver returns them: limits before requests.
    const sorted = { limits: { memory: "1Gi" }, requests: { cpu: "250m", memory: "512Mi" } };
    const [desired] = apiServerStep.define(tenantContext({ apiServer: { replicas: 2, resources: small } }), found());
    expect(withTemplateResources(desired!, "kube-apiserver", sorted).metadata?.annotations).toEqual(
      desired!.metadata?.annotations,
    );
  });
});
