// In-place resize of a control-plane component (KEP-1287, GA in Kubernetes 1.35): when the only change to a
// component's Deployment or StatefulSet is its container's CPU or memory, the running pods are resized through their
// `resize` subresource and the workload keeps its old template resources, so nothing restarts. The template catches up
// with the next change that restarts the pods anyway (a version, a flag, a certificate), which carries the spec's
// resources; a pod created from the lagging template meanwhile (a reschedule, a drain) is resized as soon as it runs.
// The spec of the TenantControlPlane stays the one record of the size, so a restart of metapilot finds the same
// answer.
//
// A rolling update is taken instead, and said in status.components[].resize, when the kubelet running a pod does not
// report container resources (older than 1.33, or none: kwok), when a pod's container is not ready (an OOM loop: it
// restarts anyway, and a new pod skips its back-off), when the resize would change the pod's QoS class
// (the apiserver refuses that), when the node calls it Infeasible, when it stays Deferred or unfinished longer than
// spec.resourceUpdates.deferredTimeoutSeconds, or when the apiserver refuses the resize.
//
// Settings derived from the size (GOMEMLIMIT, kube-apiserver's in-flight limits: src/operator/derived.ts) are read
// at start-up. With spec.resourceUpdates.derivedSettings WithNextRestart (the default) a change of them alone
// restarts nothing: the workload keeps the ones its template carries, as it keeps the template resources, and they
// go out with the next change that restarts the pods anyway. With Immediately a change of them rolls at once. What
// is in force is read from the live template, never remembered, so a restarted metapilot decides the same.
import { rolledOut } from "./rollout.js";
import { parseQuantity } from "../../api/index.js";
import { componentLabel, specHashAnnotation, tenantLabel } from "../../api/labels.js";
import { ApiError } from "../../kube/errors.js";
import { Resources, type KubeObject } from "../../kube/resources.js";
import { withSpecHash } from "../manifests.js";
import { sameSettings, settingsInTemplate, type DerivedKey, type DerivedSettings } from "../derived.js";
import type { Cache, ComponentResize, StepContext, WorkloadStatus } from "./step.js";

type Quantities = Partial<Record<string, string>>;
export interface ResourceRequirements {
  requests?: Quantities;
  limits?: Quantities;
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** What a resize reads of a pod. */
export interface ResizablePod extends KubeObject {
  spec?: { containers?: Array<{ name: string; resources?: ResourceRequirements }> };
  status?: {
    phase?: string;
    qosClass?: string;
    conditions?: PodCondition[];
    containerStatuses?: Array<{
      name: string;
      ready?: boolean;
      resources?: ResourceRequirements;
      state?: { waiting?: { reason?: string } };
      lastState?: { terminated?: { reason?: string } };
    }>;
  };
}

const resizedResources = ["cpu", "memory"] as const;

function sameQuantity(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  try {
    return parseQuantity(a) === parseQuantity(b);
  } catch {
    return a === b;
  }
}

/** Equal CPU and memory requests and limits, by value ("0.5" is "500m"). Other resources are not resized. Pure. */
export function sameResources(a: ResourceRequirements | undefined, b: ResourceRequirements | undefined): boolean {
  return resizedResources.every(
    (r) => sameQuantity(a?.requests?.[r], b?.requests?.[r]) && sameQuantity(a?.limits?.[r], b?.limits?.[r]),
  );
}

/**
 * The QoS class of a pod of one container with these resources, as the kubelet computes it (a request that is not
 * set defaults to the limit). Pure.
 */
export function qosClass(r: ResourceRequirements | undefined): "Guaranteed" | "Burstable" | "BestEffort" {
  const request = (k: string) => r?.requests?.[k] ?? r?.limits?.[k];
  if (resizedResources.every((k) => request(k) === undefined && r?.limits?.[k] === undefined)) return "BestEffort";
  const guaranteed = resizedResources.every(
    (k) => r?.limits?.[k] !== undefined && sameQuantity(request(k), r.limits[k]),
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** "requests cpu=500m memory=1Gi, limits memory=2Gi". Pure. */
export function describeResources(r: ResourceRequirements | undefined): string {
  const part = (name: string, q: Quantities | undefined) => {
    const set = resizedResources.filter((k) => q?.[k] !== undefined).map((k) => `${k}=${q![k]}`);
    return set.length ? `${name} ${set.join(" ")}` : "";
  };
  return [part("requests", r?.requests), part("limits", r?.limits)].filter(Boolean).join(", ") || "none";
}

/**
 * The body of a strategic-merge patch of the resize subresource that gives the container `to`. A quantity that `to`
 * no longer sets is removed (null), since a strategic merge keeps map keys it is not told to drop. Pure.
 */
export function resizePatch(container: string, from: ResourceRequirements | undefined, to: ResourceRequirements) {
  const list = (f: Quantities | undefined, t: Quantities | undefined) => {
    const out: Record<string, string | null> = {};
    for (const k of resizedResources) {
      if (t?.[k] !== undefined) out[k] = t[k];
      else if (f?.[k] !== undefined) out[k] = null;
    }
    return out;
  };
  return {
    spec: {
      containers: [
        {
          name: container,
          resources: { requests: list(from?.requests, to.requests), limits: list(from?.limits, to.limits) },
        },
      ],
    },
  };
}

type TemplateContainer = {
  name: string;
  resources?: ResourceRequirements;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
};
type PodTemplateHolder = KubeObject & {
  spec?: { template?: { spec?: { containers?: TemplateContainer[] } } };
};

export function templateContainer(workload: KubeObject | undefined, container: string) {
  return (workload as PodTemplateHolder | undefined)?.spec?.template?.spec?.containers?.find(
    (c) => c.name === container,
  );
}

/** `desired` with its container's resources replaced by `resources`, stamped with the hash of that content. Pure. */
export function withTemplateResources(
  desired: KubeObject,
  container: string,
  resources: ResourceRequirements | undefined,
) {
  const copy = structuredClone(desired) as PodTemplateHolder;
  // As it was before withSpecHash stamped it: without the annotation, and without annotations if that was the only one.
  const annotations = copy.metadata?.annotations;
  if (annotations) {
    delete annotations[specHashAnnotation];
    if (Object.keys(annotations).length === 0) delete copy.metadata!.annotations;
  }
  const c = copy.spec?.template?.spec?.containers?.find((x) => x.name === container);
  if (c) {
    if (resources) c.resources = structuredClone(resources);
    else delete c.resources;
  }
  return withSpecHash(copy as KubeObject);
}

/** When a resize first went unfinished without a condition that says since when, by pod uid and target. */
const firstSeenUnfinished = new Map<string, number>();
const firstSeenLimit = 10_000;

function unfinishedSince(pod: ResizablePod, target: string, now: number): number {
  const key = `${pod.metadata?.uid ?? ""}|${target}`;
  let since = firstSeenUnfinished.get(key);
  if (since === undefined) {
    if (firstSeenUnfinished.size >= firstSeenLimit) firstSeenUnfinished.clear();
    since = now;
    firstSeenUnfinished.set(key, since);
  }
  return since;
}

export type PodVerdict =
  | { kind: "done" }
  | { kind: "resize" }
  | { kind: "wait"; untilMs: number }
  | { kind: "roll"; reason: ComponentResize["reason"]; message: string };

/**
 * What to do about one running pod that should have `desired`: nothing (it runs with it), resize it, wait for the
 * kubelet, or give up and roll. `now` and `timeoutMs` decide when waiting has lasted too long. Pure but for the
 * memory of when an unfinished resize without a condition was first seen.
 */
export function podVerdict(
  pod: ResizablePod,
  container: string,
  desired: ResourceRequirements,
  now: number,
  timeoutMs: number,
): PodVerdict {
  const name = pod.metadata?.name ?? "";
  const spec = pod.spec?.containers?.find((c) => c.name === container)?.resources;
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const actual = status?.resources;
  // Created with these resources by a kubelet that does not report them: nothing to change.
  if (!actual && sameResources(spec, desired)) return { kind: "done" };
  if (!actual)
    return {
      kind: "roll",
      reason: "KubeletCannotResize",
      message: `the kubelet of pod ${name} reports no container resources (in-place resize needs a kubelet of 1.33 or later)`,
    };
  const conditions = pod.status?.conditions ?? [];
  const pending = conditions.find((c) => c.type === "PodResizePending" && c.status === "True");
  const inProgress = conditions.find((c) => c.type === "PodResizeInProgress" && c.status === "True");
  if (!sameResources(spec, desired)) {
    // A container that is not ready (crash-looping, OOM-killed, still starting) restarts anyway, and in a back-off
    // the kubelet applies a resize only when it starts it again, up to 5 minutes later: a new pod is started now.
    if (!status?.ready) {
      const why = status?.state?.waiting?.reason ?? status?.lastState?.terminated?.reason;
      return {
        kind: "roll",
        reason: "NotReady",
        message: `container ${container} of pod ${name} is not ready${why ? ` (${why})` : ""}: a new pod starts at the new size now`,
      };
    }
    const from = pod.status?.qosClass ?? qosClass(spec);
    const to = qosClass(desired);
    if (from !== to)
      return {
        kind: "roll",
        reason: "QoSClassChange",
        message: `resizing pod ${name} would change its QoS class from ${from} to ${to}, which a resize cannot`,
      };
    return { kind: "resize" };
  }
  if (sameResources(actual, desired) && !pending && !inProgress) return { kind: "done" };
  if (pending?.reason === "Infeasible")
    return {
      kind: "roll",
      reason: "Infeasible",
      message: `the node of pod ${name} cannot give it ${describeResources(desired)}: ${pending.message ?? "Infeasible"}`,
    };
  const sinceIso = (pending ?? inProgress)?.lastTransitionTime;
  const since = sinceIso ? Date.parse(sinceIso) : unfinishedSince(pod, describeResources(desired), now);
  if (now - since > timeoutMs)
    return {
      kind: "roll",
      reason: "DeferredTooLong",
      message:
        `the resize of pod ${name} to ${describeResources(desired)} has not finished in ${Math.round(timeoutMs / 1000)} s` +
        (pending?.message || inProgress?.message ? `: ${pending?.message ?? inProgress?.message}` : ""),
    };
  return { kind: "wait", untilMs: since + timeoutMs };
}

/** The revision of a Deployment, copied by the deployment controller onto the ReplicaSet of that revision. */
const deploymentRevisionAnnotation = "deployment.kubernetes.io/revision";
/** The revision (ControllerRevision name) a StatefulSet's pod was created from. */
const statefulSetRevisionLabel = "controller-revision-hash";

const controllerOf = (o: KubeObject) => o.metadata?.ownerReferences?.find((r) => r.controller);

/**
 * Which pods are the workload's own from its current revision: a Deployment's through the ReplicaSet it controls at
 * its own revision, a StatefulSet's of its update revision. A pod that only carries the component's labels (made by
 * hand, or by a ReplicaSet of another revision) is none of the resize's business: patching it is not metapilot's to
 * do, and a verdict on it would never change (a rolling update does not replace it), so the resize would stay
 * InProgress for ever. Undefined while the current revision is not known (the ReplicaSet cache has not seen it yet).
 */
export function currentRevisionPods(
  kind: "Deployment" | "StatefulSet",
  live: WorkloadStatus,
  replicaSets: Cache<KubeObject>,
): ((pod: KubeObject) => boolean) | undefined {
  const uid = live.metadata?.uid;
  if (!uid) return undefined;
  if (kind === "StatefulSet") {
    const revision = live.status?.updateRevision ?? live.status?.currentRevision;
    if (!revision) return undefined;
    return (pod) => controllerOf(pod)?.uid === uid && pod.metadata?.labels?.[statefulSetRevisionLabel] === revision;
  }
  const revision = live.metadata?.annotations?.[deploymentRevisionAnnotation];
  if (!revision) return undefined;
  const current = new Set(
    replicaSets
      .listNamespace(
        live.metadata?.namespace ?? "",
        (rs) => controllerOf(rs)?.uid === uid && rs.metadata?.annotations?.[deploymentRevisionAnnotation] === revision,
      )
      .map((rs) => rs.metadata?.uid),
  );
  if (current.size === 0) return undefined;
  return (pod) => current.has(controllerOf(pod)?.uid);
}

/** The settings derived from a component's size, and how to build its workload with others (manifests.ts). */
export interface DerivedInput {
  /** What metapilot derives from the spec's size now. */
  desired: DerivedSettings;
  /** The keys metapilot owns for this component (those the user did not set). */
  owned: readonly DerivedKey[];
  /** The desired workload with these derived settings instead. */
  rebuild: (settings: DerivedSettings) => KubeObject;
}

export interface ResizePlan {
  /**
   * What to apply: the desired object, or the desired object with the template resources and derived settings left
   * as they are.
   */
  apply: KubeObject;
  resize?: ComponentResize;
  /** Look again at this time (a Deferred resize that may run out of time). */
  recheckAtMs?: number;
}

/**
 * Decides how `desired` reaches the component `component` (whose container has the same name), resizing its running
 * pods in place where it can. `live` is the workload as cached.
 */
export async function planResize(
  sc: Pick<StepContext, "deps" | "ctx" | "raw">,
  kind: "Deployment" | "StatefulSet",
  component: string,
  desired: KubeObject,
  live: WorkloadStatus | undefined,
  derived?: DerivedInput,
): Promise<ResizePlan> {
  const { deps, ctx } = sc;
  const want = templateContainer(desired, component)?.resources ?? {};
  const liveResources = templateContainer(live, component)?.resources;
  const policy = ctx.tcp.spec.resourceUpdates;
  const resourcesChanged = !!live && !sameResources(liveResources, want);
  const rolling = (reason: ComponentResize["reason"], message: string): ResizePlan => ({
    apply: desired,
    resize: { method: "Rolling", state: "InProgress", reason, message, resources: describeResources(want) },
  });
  if (!live) return { apply: desired };
  const hash = (o: KubeObject | undefined) => o?.metadata?.annotations?.[specHashAnnotation];
  // The derived settings the live template carries, and the desired object with those instead of the desired ones.
  const inForce = derived ? settingsInTemplate(templateContainer(live, component), derived.owned) : {};
  const derivedPending = !!derived && !sameSettings(inForce, derived.desired);
  const withLiveSettings = derivedPending ? derived.rebuild(inForce) : desired;
  const batch = policy.derivedSettings === "WithNextRestart";
  if (policy.strategy === "Restart") {
    if (resourcesChanged) return rolling("Restart", "spec.resourceUpdates.strategy is Restart");
    // A change of derived settings alone waits for the next restart, unless the policy says Immediately.
    return { apply: batch && hash(withLiveSettings) === hash(live) ? withLiveSettings : desired };
  }
  const keepResources = withTemplateResources(desired, component, liveResources);
  const keep = derivedPending ? withTemplateResources(withLiveSettings, component, liveResources) : keepResources;
  const onlyResourcesAndSettings = hash(keep) === hash(live);
  if (!onlyResourcesAndSettings)
    return resourcesChanged
      ? rolling("RestartRequired", "other fields of the pod template change too, so the pods restart anyway")
      : { apply: desired };
  if (!batch && derivedPending)
    // Immediately: the derived settings change (with the size, or alone), and only a restart applies them.
    return resourcesChanged
      ? rolling(
          "DerivedSettings",
          "spec.resourceUpdates.derivedSettings is Immediately and the new size changes settings read at start-up " +
            "(GOMEMLIMIT, in-flight limits), so the pods restart",
        )
      : { apply: desired };
  // A rollout under way (started by an earlier change) replaces the pods: resize nothing until it is done.
  // Availability is not asked: a pod that does not become ready (an OOM loop) must not hold the resize back.
  if (!rolledOut(kind, live, { pods: "any" })) return { apply: keep };
  // Its ReplicaSet is cached after the Deployment's new revision: its informer's event brings the tenant back.
  const owned = currentRevisionPods(kind, live, deps.caches.replicaSets);
  if (!owned) return { apply: keep };

  const now = deps.now().getTime();
  const timeoutMs = policy.deferredTimeoutSeconds * 1000;
  const pods = (
    deps.caches.pods.listNamespace(
      ctx.namespace,
      (p) =>
        p.metadata?.labels?.[tenantLabel] === ctx.tenant &&
        p.metadata?.labels?.[componentLabel] === component &&
        !p.metadata?.deletionTimestamp &&
        p.status?.phase === "Running" &&
        owned(p),
    ) as ResizablePod[]
  ).sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const verdicts = pods.map((pod) => ({ pod, verdict: podVerdict(pod, component, want, now, timeoutMs) }));
  if (verdicts.every(({ verdict }) => verdict.kind === "done"))
    return {
      apply: keep,
      ...(resourcesChanged
        ? {
            resize: {
              method: "InPlace",
              state: "Done",
              reason: "Resized",
              message: `${pods.length} pod(s) run with ${describeResources(want)}; the template follows at the next restart`,
              resources: describeResources(want),
            },
          }
        : {}),
    };
  const refused = verdicts.find(({ verdict }) => verdict.kind === "roll");
  if (refused && refused.verdict.kind === "roll") return rolling(refused.verdict.reason, refused.verdict.message);

  const resized: string[] = [];
  for (const { pod, verdict } of verdicts) {
    if (verdict.kind !== "resize") continue;
    const name = pod.metadata?.name ?? "";
    const from = pod.spec?.containers?.find((c) => c.name === component)?.resources;
    try {
      await deps.client.patch(
        Resources.Pod,
        name,
        ctx.namespace,
        resizePatch(component, from, want),
        "strategic",
        "resize",
      );
      resized.push(name);
    } catch (err) {
      if (!(err instanceof ApiError) || err.isRetryable) throw err; // the walk is retried with backoff
      // A 404 that names the pod is a pod that went meanwhile: its replacement comes from the template and is seen
      // later. One that does not (no resize subresource: an apiserver older than 1.33) refuses them all.
      const details = (err.body as { details?: { name?: string } } | undefined)?.details;
      if (err.isNotFound && details?.name === name) continue;
      return rolling("ResizeRefused", `the apiserver refused the resize of pod ${name}: ${err.message}`.slice(0, 1024));
    }
  }
  if (resized.length)
    deps.recorder.record(
      sc.raw,
      "Normal",
      "ResizingInPlace",
      "Resize",
      `${component}: resizing pod(s) ${resized.join(", ")} to ${describeResources(want)} in place, with no restart`,
    );
  const waits = verdicts.flatMap(({ verdict }) => (verdict.kind === "wait" ? [verdict.untilMs] : []));
  return {
    apply: keep,
    resize: {
      method: "InPlace",
      state: "InProgress",
      reason: "Resized",
      message: `resizing ${pods.length} pod(s) in place to ${describeResources(want)}`,
      resources: describeResources(want),
    },
    // Resized now: the kubelet answers with a pod status change, which brings the tenant back; the time limit
    // still needs a look of its own.
    recheckAtMs: Math.min(now + timeoutMs + 1000, ...waits.map((t) => t + 1000)),
  };
}
