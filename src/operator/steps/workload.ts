// What the workload steps share: the readiness of a component, why its pods do not run, and the step of a
// control-plane Deployment (the apiserver, controller-manager and scheduler are each one of these).
import { componentLabel, versionLabel } from "../../api/labels.js";
import { Resources, type KubeObject } from "../../kube/resources.js";
import { pdbManifest, type ComponentInputs, type TenantContext } from "../manifests.js";
import type { ControlPlaneComponent } from "../pki/index.js";
import { podProblem } from "../pod-problems.js";
import { deleteTenantObjects, ensure, type ComponentFilter } from "./apply.js";
import { cond, type ComponentState, type Found, type Step, type StepDeps } from "./step.js";

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
  const ready =
    !!deployment &&
    current &&
    (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.availableReplicas ?? 0) >= want &&
    (s.replicas ?? 0) === want &&
    !s.unavailableReplicas;
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

type DeploymentComponent = Exclude<ControlPlaneComponent, "etcd">;

/** The step of one control-plane Deployment and its PodDisruptionBudget. */
export function controlPlaneDeploymentStep(spec: {
  component: DeploymentComponent;
  /** Its condition type, e.g. APIServerReady. */
  conditionType: string;
  manifest: (ctx: TenantContext, inputs: ComponentInputs) => KubeObject;
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
  return {
    name: component,
    define(ctx, found) {
      const inputs = {
        version: found.versions[component] ?? ctx.tcp.spec.version,
        pkiChecksum: found.pki?.checksums[component] ?? "",
      };
      return [spec.manifest(ctx, inputs), pdbManifest(ctx, component)];
    },
    async apply({ deps, raw, ctx, found }) {
      const running = runningVersion(deps, ctx, component);
      const version = !running || spec.mayUpgrade(found, ctx) ? ctx.tcp.spec.version : running;
      found.versions[component] = version;
      const [deployment, pdb] = this.define(ctx, found);
      await ensure(deps, Resources.Deployment, deployment!, deps.caches.deployments, raw);
      await ensure(deps, Resources.PodDisruptionBudget, pdb!, deps.caches.pdbs);
      found.components[component] = withPodProblems(
        deps,
        ctx,
        component,
        deploymentState(deps, ctx, component, version),
      );
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
