// Wiring of the node-pool and node-drain controllers: shared caches of nodes, pods (indexed by node), PDBs,
// NodePools and NodeDrains, the mappers that turn their events into work, and the start-up check that every
// provider and strategy name the API offers has an implementation.
import { NODE_DRAIN_STATES, SCALE_DOWN_STRATEGIES } from "../api/index.js";
import { registerController, type ControllerConfig } from "../controllers.js";
import { Controller, type KeyMapper } from "../kube/controller.js";
import type { Manager } from "../kube/manager.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { defaultDrainBudget } from "./drain/budget.js";
import { validateEvictionStrategies } from "./drain/eviction.js";
import { isActiveNodeState, NodeDrainReconciler, type RawNodeDrain } from "./drain/reconciler.js";
import { isUnschedulable, type Node, type Pod, type PodDisruptionBudget } from "./model.js";
import { PodIndex } from "./podindex.js";
import { NodePoolReconciler, type RawNodePool } from "./pool/reconciler.js";
import { validateNodeProviders } from "./providers.js";
import { validateScaleDownStrategies } from "./scaledown.js";
import { cordonedByAnnotation, nodePoolLabel, tenantLabel } from "../api/labels.js";
import type { BudgetDecision } from "../scaler/fleet-budget.js";
import { sharedFleetBudget } from "../scaler/shared-budget.js";
import { signingKeyLoader } from "../scaler/signing-key.js";
import { DrainDisruptionBudgets } from "./drain/disruption.js";

/** Throws at start-up on a name the API accepts but nothing implements. */
export function validateNodeRegistries(): void {
  validateNodeProviders();
  validateScaleDownStrategies(SCALE_DOWN_STRATEGIES);
  validateEvictionStrategies();
  if (!NODE_DRAIN_STATES.includes("Drained")) throw new Error("NodeDrain API lost the Drained state");
}

const indexes = new WeakMap<Manager, PodIndex>();

function caches(manager: Manager) {
  const podInformer = manager.informer<Pod>({ resource: Resources.Pod });
  let pods = indexes.get(manager);
  if (!pods) indexes.set(manager, (pods = new PodIndex(podInformer)));
  return {
    podInformer,
    pods,
    nodes: manager.informer<Node>({ resource: Resources.Node }),
    pdbs: manager.informer<PodDisruptionBudget>({ resource: Resources.PodDisruptionBudget }),
    drains: manager.informer<RawNodeDrain>({ resource: Resources.NodeDrain }),
    pools: manager.informer<RawNodePool>({ resource: Resources.NodePool }),
  };
}

/**
 * The ClusterScalers' disruption budgets as the drain reads them (reason Drain): the process's one budget, shared
 * with the scaler and counted from the recorded ScalingDecisions and NodeDrains (src/scaler/shared-budget.ts).
 */
function drainDisruption(manager: Manager, config: ControllerConfig) {
  const shared = sharedFleetBudget(manager, config);
  // The decision cache the budget is fed by (the scaler's, shared): watched below, so no drain runs before it syncs.
  const decisions = manager.informer<BudgetDecision & KubeObject>({
    resource: Resources.ScalingDecision,
    namespace: config.namespace,
    labelSelector: tenantLabel,
  });
  const clusterScalers = manager.informer({ resource: Resources.ClusterScaler });
  const tenants = manager.informer({ resource: Resources.TenantControlPlane });
  const disruption = new DrainDisruptionBudgets({
    clusterScalers,
    tenants,
    budget: shared.budget,
    signingKey: signingKeyLoader(
      manager.client,
      { file: config.decisionSigningKeyFile, secret: config.decisionSigningKeySecret },
      manager.logger,
    ),
  });
  return { disruption, clusterScalers, tenants, decisions, catchUp: shared.catchUp };
}

export function addNodeDrainController(manager: Manager, config: ControllerConfig): Controller {
  validateNodeRegistries();
  const c = caches(manager);
  const budgets = drainDisruption(manager, config);
  const reconciler = new NodeDrainReconciler({
    client: manager.client,
    caches: { drains: c.drains, nodes: c.nodes, pdbs: c.pdbs, pods: c.pods, pools: c.pools },
    recorder: manager.recorder("nodedrain"),
    budget: {
      maxNodes: config.maxDrainNodes ?? defaultDrainBudget.maxNodes,
      maxPercent: config.maxDrainPercent ?? defaultDrainBudget.maxPercent,
    },
    ownNodeName: config.nodeName,
    disruption: budgets.disruption,
    caughtUp: () => budgets.catchUp.caughtUp,
  });
  budgets.catchUp.onDrains((listed) => reconciler.observeListed(listed as RawNodeDrain[]));
  const activeDrains = (node?: string) =>
    c.drains
      .list((d) =>
        (d.status?.nodes ?? []).some((n) => isActiveNodeState(n.state) && (node === undefined || n.name === node)),
      )
      .map((d) => d.metadata?.name ?? "");
  const byCordon: KeyMapper<Node> = (n) => {
    const by = n.metadata?.annotations?.[cordonedByAnnotation];
    return by ? [by] : [];
  };
  const byPodNode: KeyMapper<Pod> = (p) => (p.spec?.nodeName ? activeDrains(p.spec.nodeName) : []);
  const controller = new Controller({
    name: "nodedrain",
    reconciler,
    workers: config.workers,
    logger: manager.logger,
    metrics: manager.metrics,
  })
    .watch(c.drains)
    .watch(c.nodes, byCordon)
    .watch(c.podInformer, byPodNode)
    .watch(c.pdbs, () => activeDrains())
    // Watched so that no drain runs before these caches are synced (an empty cache would govern no pod and hold
    // nothing back); a ClusterScaler's change wakes the active drains, the others are seen on their next look.
    .watch(budgets.clusterScalers, () => activeDrains())
    .watch(budgets.tenants, () => [])
    .watch(budgets.decisions, () => []);
  manager.add(controller);
  return controller;
}

export function addNodePoolController(manager: Manager, config: ControllerConfig): Controller {
  validateNodeRegistries();
  const c = caches(manager);
  const reconciler = new NodePoolReconciler({
    client: manager.client,
    caches: { pools: c.pools, nodes: c.nodes, drains: c.drains, pods: c.pods },
    recorder: manager.recorder("nodepool"),
    globalDryRun: config.dryRun,
  });
  const allPools = () => c.pools.list().map((p) => p.metadata?.name ?? "");
  const poolOfNode = (name: string | undefined) => {
    const pool = name ? c.nodes.get(name)?.metadata?.labels?.[nodePoolLabel] : undefined;
    return pool ? [pool] : [];
  };
  // An unschedulable pod may fit any pool; a pod leaving a pool's node changes that pool's utilization.
  const byPod: KeyMapper<Pod> = (p) => (isUnschedulable(p) ? allPools() : poolOfNode(p.spec?.nodeName));
  const byLabel: KeyMapper<Node | RawNodeDrain> = (o) => {
    const pool = o.metadata?.labels?.[nodePoolLabel];
    return pool ? [pool] : [];
  };
  const controller = new Controller({
    name: "nodepool",
    reconciler,
    workers: config.workers,
    logger: manager.logger,
    metrics: manager.metrics,
  })
    .watch(c.pools)
    .watch(c.nodes, byLabel)
    .watch(c.drains, byLabel)
    .watch(c.podInformer, byPod);
  manager.add(controller);
  return controller;
}

registerController("nodedrain", addNodeDrainController);
registerController("nodepool", addNodePoolController);
