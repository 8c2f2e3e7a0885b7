// What the workload steps share: the readiness of a component, why its pods do not run, and the step of a
// control-plane Deployment (the apiserver, controller-manager and scheduler are each one of these).
import { rolledOut } from "./rollout.js";
import { componentLabel, lastResizeAnnotation, versionLabel } from "../../api/labels.js";
import { Resources, type KubeObject, type ResourceType } from "../../kube/resources.js";
import { desiredSettings, pdbManifest, userSettings, type ComponentInputs, type TenantContext } from "../manifests.js";
import { describeSettings, ownedKeys, sameSettings, settingsInTemplate, type DerivedSettings } from "../derived.js";
import type { ControlPlaneComponent } from "../pki/index.js";
import { podProblem } from "../pod-problems.js";
import { deleteTenantObjects, ensure, type ComponentFilter } from "./apply.js";
import { planResize, templateContainer, type DerivedInput } from "./resize.js";
import {
  cond,
  type Cache,
  type ComponentDerivedSettings,
  type ComponentResize,
  type ComponentState,
  type Found,
  type Step,
  type StepContext,
  type StepDeps,
  type WorkloadStatus,
} from "./step.js";

/** The version a component's Deployment runs now (its label), if it exists. */
export function runningVersion(deps: StepDeps, ctx: TenantContext, component: string): string | undefined {
  return deps.caches.deployments.get(`${ctx.namespace}/${component}`)?.metadata?.labels?.[versionLabel];
}

export function deploymentState(
  deps: StepDeps,
  ctx: TenantContext,
  component: string,
  version: string,
): ComponentState {
  const deployment = deps.caches.deployments.get(`${ctx.namespace}/${component}`);
  const want = deployment?.spec?.replicas ?? 1;
  const s = deployment?.status ?? {};
  const current = deployment?.metadata?.labels?.[versionLabel] === version;
  const ready = !!deployment && current && rolledOut("Deployment", deployment, { pods: "available" });
  return {
    ready,
    version: deployment?.metadata?.labels?.[versionLabel],
    replicas: s.replicas,
    readyReplicas: s.readyReplicas,
    updatedReplicas: s.updatedReplicas,
    message: !deployment
      ? "Deployment not created yet"
      : ready
        ? `${want}/${want} available at ${version}`
        : `${s.availableReplicas ?? 0}/${want} available, ${s.updatedReplicas ?? 0} updated to ${version}`,
  };
}

/**
 * A component that is not ready because of its pods says why. The scheduler cannot place them (spec.scheduling
 * that matches no node, too little room): reason Unschedulable and the scheduler's own message, e.g. "0/20 nodes
 * are available: 20 node(s) didn't match Pod's node affinity/selector". The kubelet cannot get an image (absent
 * from the registry or the node, a wrong spec.imageRegistry): reason ImagePullFailed, naming the image and the
 * fields that choose it (src/operator/pod-problems.ts).
 */
export function withPodProblems(
  deps: StepDeps,
  ctx: TenantContext,
  component: ControlPlaneComponent,
  state: ComponentState,
): ComponentState {
  if (state.ready) return state;
  const pods = deps.caches.pods.listNamespace(
    ctx.namespace,
    (p) => p.metadata?.labels?.[componentLabel] === component && p.status?.phase === "Pending",
  );
  const problem = podProblem(component, pods);
  if (!problem) return state;
  return { ...state, reason: problem.reason, message: `${state.message}; ${problem.message}`.slice(0, 1024) };
}

/** The derived settings of a component, its workload built from `build` with given ones (manifests.ts). */
export function derivedInput(
  ctx: TenantContext,
  component: ControlPlaneComponent,
  build: (settings: DerivedSettings) => KubeObject,
): DerivedInput {
  return {
    desired: desiredSettings(ctx, component),
    owned: ownedKeys(component, userSettings(ctx, component)),
    rebuild: build,
  };
}

/** status.components[].derivedSettings: what the applied template carries against what the spec's size gives. */
export function derivedStatus(
  applied: KubeObject,
  component: ControlPlaneComponent,
  derived: DerivedInput,
): ComponentDerivedSettings | undefined {
  const inForce = settingsInTemplate(templateContainer(applied, component), derived.owned);
  if (Object.keys(inForce).length === 0 && Object.keys(derived.desired).length === 0) return undefined;
  return {
    state: sameSettings(inForce, derived.desired) ? "InForce" : "AwaitingRestart",
    inForce: describeSettings(inForce),
    desired: describeSettings(derived.desired),
  };
}

/**
 * Applies a control-plane Deployment or StatefulSet. A change of only its container's CPU or memory (and of the
 * settings derived from them, unless spec.resourceUpdates.derivedSettings is Immediately) resizes the running pods
 * in place where it can (src/operator/steps/resize.ts) and leaves the template's resources and derived settings as
 * they are; anything else is applied as defined. Returns what was applied, how the resources reach the pods (the
 * new resize, or the one in status carried on, Done once the component is ready), and the derived settings.
 */
export async function ensureControlPlaneWorkload(
  sc: StepContext,
  kind: "Deployment" | "StatefulSet",
  component: ControlPlaneComponent,
  desired: KubeObject,
  cache: Cache<WorkloadStatus>,
  derived: DerivedInput,
): Promise<{
  applied: KubeObject;
  resize: (ready: boolean) => ComponentResize | undefined;
  derivedSettings: ComponentDerivedSettings | undefined;
}> {
  const { deps, raw, ctx, found } = sc;
  const resource: ResourceType = kind === "Deployment" ? Resources.Deployment : Resources.StatefulSet;
  const live = cache.get(`${ctx.namespace}/${desired.metadata?.name ?? ""}`);
  const plan = await planResize(sc, kind, component, desired, live, derived);
  const next = plan.resize;
  // A rolling resize is recorded on the workload it rolls, and carried on by every later apply of it.
  const recorded =
    next?.method === "Rolling" ? JSON.stringify(next) : live?.metadata?.annotations?.[lastResizeAnnotation];
  const apply = recorded
    ? {
        ...plan.apply,
        metadata: {
          ...plan.apply.metadata,
          annotations: { ...plan.apply.metadata?.annotations, [lastResizeAnnotation]: recorded },
        },
      }
    : plan.apply;
  await ensure(deps, resource, apply, cache, raw);
  if (plan.recheckAtMs !== undefined) found.recheckAtMs = Math.min(found.recheckAtMs ?? Infinity, plan.recheckAtMs);
  const previous = parseResize(live?.metadata?.annotations?.[lastResizeAnnotation]);
  if (next?.method === "Rolling" && (previous?.reason !== next.reason || previous.resources !== next.resources))
    deps.recorder.record(
      raw,
      "Warning",
      "ResizeByRollingUpdate",
      "Resize",
      `${component}: ${next.resources} by a rolling update, not in place: ${next.message}`.slice(0, 1024),
    );
  const derivedSettings = derivedStatus(apply, component, derived);
  // Once per new desired value: the status written last time says what was already announced.
  const reported = raw.status?.components?.find((c) => c.name === component)?.derivedSettings;
  if (
    derivedSettings?.state === "AwaitingRestart" &&
    (reported?.state !== "AwaitingRestart" || reported.desired !== derivedSettings.desired)
  )
    deps.recorder.record(
      raw,
      "Normal",
      "DerivedSettingsAwaitRestart",
      "Resize",
      `${component}: ${derivedSettings.desired} wait for the next restart (in force: ${derivedSettings.inForce}; ` +
        "spec.resourceUpdates.derivedSettings is WithNextRestart)",
    );
  return {
    applied: apply,
    resize: (ready) => next ?? (previous && ready ? { ...previous, state: "Done" } : previous),
    derivedSettings,
  };
}

/** The resize recorded on a workload, if it is one. */
function parseResize(text: string | undefined): ComponentResize | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as Partial<ComponentResize>;
    return r.method && r.state && r.reason && typeof r.message === "string" && typeof r.resources === "string"
      ? (r as ComponentResize)
      : undefined;
  } catch {
    return undefined; // edited by hand: no record
  }
}

type DeploymentComponent = Exclude<ControlPlaneComponent, "etcd">;

/** The step of one control-plane Deployment and its PodDisruptionBudget. */
export function controlPlaneDeploymentStep(spec: {
  component: DeploymentComponent;
  /** Its condition type, e.g. APIServerReady. */
  conditionType: string;
  manifest: (ctx: TenantContext, inputs: ComponentInputs, derived?: DerivedSettings) => KubeObject;
  /**
   * Whether it may move to spec.version in this pass, from what the steps before it found. A component that does
   * not exist yet starts at spec.version; one that runs keeps its version until this holds (the upgrade order).
   */
  mayUpgrade: (found: Found, ctx: TenantContext) => boolean;
  /** The tenant's Deployments and PodDisruptionBudgets this step removes from a retained namespace. */
  cleanup: { deployments: ComponentFilter; pdbs: ComponentFilter };
}): Step {
  const { component } = spec;
  const state = (found: Found) => found.components[component];
  const inputsOf = (ctx: TenantContext, found: Found): ComponentInputs => ({
    version: found.versions[component] ?? ctx.tcp.spec.version,
    pkiChecksum: found.pki?.checksums[component] ?? "",
  });
  return {
    name: component,
    define(ctx, found) {
      return [spec.manifest(ctx, inputsOf(ctx, found)), pdbManifest(ctx, component)];
    },
    async apply(sc) {
      const { deps, ctx, found } = sc;
      const running = runningVersion(deps, ctx, component);
      const version = !running || spec.mayUpgrade(found, ctx) ? ctx.tcp.spec.version : running;
      found.versions[component] = version;
      const [deployment, pdb] = this.define(ctx, found);
      const inputs = inputsOf(ctx, found);
      const { resize, derivedSettings } = await ensureControlPlaneWorkload(
        sc,
        "Deployment",
        component,
        deployment!,
        deps.caches.deployments,
        derivedInput(ctx, component, (settings) => spec.manifest(ctx, inputs, settings)),
      );
      await ensure(deps, Resources.PodDisruptionBudget, pdb!, deps.caches.pdbs);
      const state = withPodProblems(deps, ctx, component, deploymentState(deps, ctx, component, version));
      found.components[component] = { ...state, resize: resize(state.ready), derivedSettings };
    },
    status({ found }) {
      const s = state(found);
      if (!s) return [];
      return [
        cond(spec.conditionType, s.ready, s.ready ? "DeploymentAvailable" : (s.reason ?? "RollingOut"), s.message),
      ];
    },
    async cleanup(fc) {
      return [
        ...(await deleteTenantObjects(fc, Resources.Deployment, fc.deps.caches.deployments, spec.cleanup.deployments)),
        ...(await deleteTenantObjects(fc, Resources.PodDisruptionBudget, fc.deps.caches.pdbs, spec.cleanup.pdbs)),
      ];
    },
  };
}
