// The NodePool reconcile, in named steps: keep every node's labels and taints in line with the template (in
// batches), grow the pool for unschedulable pods that fit it, and shrink it by creating a NodeDrain for the
// chosen candidates and removing the nodes once drained. Decisions come from the pure planners in ../scaleup.ts
// and ../scaledown.ts; dry-run computes and reports the same plan and changes nothing.
import { API_VERSION, parseDuration, parseNodePool, type NodePool, type NodePoolStatus } from "../../api/index.js";
import type { KubeClient } from "../../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../../kube/controller.js";
import { isConflict } from "../../kube/errors.js";
import type { EventRecorder } from "../../kube/events.js";
import type { Informer } from "../../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey } from "../../kube/resources.js";
import { jsonEqual, mergeConditions, type ConditionInput } from "../../api/conditions.js";
import type { RawNodeDrain } from "../drain/reconciler.js";
import { isNodeReady, isPaused, isUnschedulable, type Node, type Taint } from "../model.js";
import type { PodIndex } from "../podindex.js";
import { nodeProvider, type NodeProvider, type ProviderContext } from "../providers.js";
import { chooseScaleDownCandidates } from "../scaledown.js";
import { planScaleUp, poolTemplate, type PoolTemplate } from "../scaleup.js";
import { boundedName } from "../drain/plan.js";
import { WriteOverlay } from "../overlay.js";
import { managedLabelsAnnotation, managedTaintsAnnotation, nodePoolLabel } from "../../api/labels.js";

export interface RawNodePool extends KubeObject {
  spec?: Record<string, unknown>;
  status?: NodePoolStatus;
}

export interface PoolCaches {
  pools: Informer<RawNodePool>;
  nodes: Informer<Node>;
  drains: Informer<RawNodeDrain>;
  pods: PodIndex;
}

export interface PoolReconcilerOptions {
  client: KubeClient;
  caches: PoolCaches;
  recorder?: EventRecorder;
  now?: () => number;
  /** Nodes whose labels and taints are fixed per reconcile. */
  syncBatchSize?: number;
  /** A node younger than this still counts as arriving capacity for scale-up. */
  provisioningGraceMs?: number;
  /** Most nodes one scale-down drain takes. */
  maxScaleDownBatch?: number;
  /** The controller's global --dry-run: every pool behaves as if spec.dryRun were true. */
  globalDryRun?: boolean;
}

const taintId = (t: Taint) => `${t.key}:${t.effect}`;

/** The labels and taints patch that brings a node in line with the template, or undefined when it is. */
export function templatePatch(node: Node, template: PoolTemplate): Record<string, unknown> | undefined {
  const labels = node.metadata?.labels ?? {};
  const annotations = node.metadata?.annotations ?? {};
  const prevLabels = (annotations[managedLabelsAnnotation] ?? "").split(",").filter(Boolean);
  const prevTaints = (annotations[managedTaintsAnnotation] ?? "").split(",").filter(Boolean);
  const labelPatch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(template.labels)) if (labels[k] !== v) labelPatch[k] = v;
  for (const k of prevLabels) if (!(k in template.labels) && k in labels) labelPatch[k] = null;
  const wanted = new Map(template.taints.map((t) => [taintId(t), t]));
  const current = node.spec?.taints ?? [];
  const kept = current.filter((t) => !wanted.has(taintId(t)) && !prevTaints.includes(taintId(t)));
  const taints = [...kept, ...template.taints];
  const taintsChanged = !jsonEqual(
    [...current]
      .map(taintId)
      .sort()
      .concat(current.map((t) => t.value ?? "")),
    [...taints]
      .map(taintId)
      .sort()
      .concat(taints.map((t) => t.value ?? "")),
  );
  const managedLabels = Object.keys(template.labels).sort().join(",");
  const managedTaints = template.taints.map(taintId).sort().join(",");
  const annotationsChanged =
    annotations[managedLabelsAnnotation] !== managedLabels || annotations[managedTaintsAnnotation] !== managedTaints;
  if (!Object.keys(labelPatch).length && !taintsChanged && !annotationsChanged) return undefined;
  return {
    metadata: {
      // A compare-and-swap on the taint list, which other controllers (cordon, node lifecycle) also write.
      resourceVersion: node.metadata?.resourceVersion,
      labels: labelPatch,
      annotations: { [managedLabelsAnnotation]: managedLabels, [managedTaintsAnnotation]: managedTaints },
    },
    ...(taintsChanged ? { spec: { taints } } : {}),
  };
}

/**
 * Patches one node to the template. The patch is a compare-and-swap on the node's resourceVersion, and kwok, the
 * node lifecycle controller and cordons write nodes all the time, so a conflict is usual: the node is then read
 * afresh and the patch recomputed, up to `attempts` times, instead of waiting for the cache to catch up (which,
 * on a loaded apiserver, can lose the race again and again). A node gone meanwhile needs nothing.
 */
export async function syncNodeToTemplate(
  client: KubeClient,
  node: Node,
  patch: Record<string, unknown>,
  template: PoolTemplate,
  attempts = 3,
): Promise<void> {
  const name = node.metadata?.name ?? "";
  let next: Record<string, unknown> | undefined = patch;
  for (let attempt = 1; next; attempt++) {
    try {
      await client.patch(Resources.Node, name, undefined, next);
      return;
    } catch (err) {
      // The last conflict is left to the next reconcile, which the caller asks for within 500 ms.
      if (!isConflict(err) || attempt >= attempts) {
        if (isConflict(err)) return;
        throw err;
      }
    }
    const fresh = await client.getOptional<Node>(Resources.Node, name);
    next = fresh ? templatePatch(fresh, template) : undefined;
  }
}

export class NodePoolReconciler implements Reconciler {
  private readonly now: () => number;
  private readonly providers = new Map<string, NodeProvider>();
  /** Per node: when it was first seen under the utilization threshold. Lost on restart, as cluster-autoscaler's. */
  private readonly unneededSince = new Map<string, number>();
  /** Per pool: when nodes were removed, for maxNodesPerHour. */
  private readonly removals = new Map<string, number[]>();
  private readonly overlay = new WriteOverlay<RawNodePool>();
  /** Drains this process created, until the cache shows them. */
  private readonly createdDrains = new Map<string, number>();

  constructor(private readonly options: PoolReconcilerOptions) {
    this.now = options.now ?? Date.now;
  }

  private provider(name: string): NodeProvider {
    let p = this.providers.get(name);
    if (!p) this.providers.set(name, (p = nodeProvider(name)()));
    return p;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const raw = this.overlay.current(key.name, this.options.caches.pools.get(key.name));
    if (!raw?.metadata?.name || raw.metadata.deletionTimestamp) return;
    const name = raw.metadata.name;
    const parsed = parseNodePool(raw);
    const now = this.now();
    const status: NodePoolStatus = structuredClone(raw.status ?? {});
    const conditions: ConditionInput[] = [];
    if (!parsed.ok) {
      conditions.push({ type: "Ready", status: "False", reason: "InvalidSpec", message: parsed.errors.join("; ") });
      await this.writeStatus(raw, {
        ...status,
        conditions: mergeConditions(status.conditions, conditions, raw.metadata.generation, new Date(now)),
      });
      return;
    }
    const pool = parsed.value;
    const provider = this.provider(pool.spec.provider);
    const problems = provider.validate(pool.spec);
    if (problems.length) {
      conditions.push({ type: "Ready", status: "False", reason: "InvalidSpec", message: problems.join("; ") });
      await this.writeStatus(raw, {
        ...status,
        conditions: mergeConditions(status.conditions, conditions, raw.metadata.generation, new Date(now)),
      });
      return;
    }
    const paused = isPaused(raw);
    const dryRun = pool.spec.dryRun || this.options.globalDryRun === true;
    const template = poolTemplate(name, pool.spec);
    const nodes = this.options.caches.nodes.list((n) => n.metadata?.labels?.[nodePoolLabel] === name);
    const pctx: ProviderContext = {
      client: this.options.client,
      poolName: name,
      spec: pool.spec,
      template,
      nodes,
      now,
    };
    let requeueAfterMs = 30_000;

    // 1. Template: labels and taints on every node, a batch per reconcile.
    const outOfSync = nodes
      .map((n) => ({ n, patch: templatePatch(n, template) }))
      .filter((x): x is { n: Node; patch: Record<string, unknown> } => x.patch !== undefined);
    if (outOfSync.length && !paused && !dryRun) {
      const batch = outOfSync.slice(0, this.options.syncBatchSize ?? 20);
      await Promise.all(batch.map(({ n, patch }) => syncNodeToTemplate(this.options.client, n, patch, template)));
      requeueAfterMs = Math.min(requeueAfterMs, 500);
    }
    status.outOfSyncNodes = outOfSync.length;

    // 2. Scale-up.
    let target = await provider.targetSize(pctx);
    const pending = this.options.caches.pods.unbound().filter(isUnschedulable);
    const podsByNode = this.options.caches.pods.snapshot(nodes.map((n) => n.metadata?.name ?? ""));
    const up = planScaleUp({
      poolName: name,
      spec: pool.spec,
      pendingPods: pending,
      nodes,
      podsByNode,
      targetSize: target,
      now,
      provisioningGraceMs: this.options.provisioningGraceMs ?? 60_000,
    });
    status.pendingPods = up.matchingPods;
    status.desiredNodes = up.desired;
    if (up.desired > target && pool.spec.scaleUp.enabled) {
      const message = `${up.matchingPods} unschedulable pod(s) fit the pool; ${up.coveredByInFlight} go to arriving nodes; adding ${up.desired - target} node(s) (${target} → ${up.desired})`;
      ctx.logger.info(
        { pool: name, target, registered: nodes.length, pending: pending.length, plan: up },
        "scale-up decision",
      );
      if (!paused && !dryRun) {
        ctx.signal.throwIfAborted();
        const did = await provider.scaleUp(pctx, up.desired - target);
        this.options.recorder?.record(raw, "Normal", "ScaledUp", "ScaleUp", `${message}: ${did}`);
        status.lastScaleTime = new Date(now).toISOString();
        target = up.desired;
      }
      conditions.push({ type: "ScalingUp", status: "True", reason: dryRun ? "DryRun" : "PendingPods", message });
    } else {
      conditions.push({
        type: "ScalingUp",
        status: "False",
        reason: up.unplaced ? "MaxNodesReached" : "NoPendingPods",
        message: up.unplaced ? `${up.unplaced} pod(s) fit the pool but maxNodes is ${pool.spec.maxNodes}` : "",
      });
    }
    if (target > nodes.length) requeueAfterMs = Math.min(requeueAfterMs, 1000);

    // 3. Scale-down: finish the active drain, or choose candidates and start one.
    const scaleDown = await this.scaleDown(raw, pool, status, pctx, provider, up.matchingPods, paused || dryRun);
    conditions.push(scaleDown.condition);
    requeueAfterMs = Math.min(requeueAfterMs, scaleDown.requeueAfterMs);

    status.nodes = nodes.length;
    status.readyNodes = nodes.filter(isNodeReady).length;
    conditions.unshift(
      paused
        ? { type: "Ready", status: "True", reason: "Paused", message: "metapilot.io/paused: no changes are made" }
        : { type: "Ready", status: "True", reason: dryRun ? "DryRun" : "Reconciled", message: "" },
    );
    status.conditions = mergeConditions(status.conditions, conditions, raw.metadata.generation, new Date(now));
    status.observedGeneration = raw.metadata.generation;
    await this.writeStatus(raw, status);
    return { requeueAfterMs };
  }

  private async scaleDown(
    raw: RawNodePool,
    pool: NodePool,
    status: NodePoolStatus,
    pctx: ProviderContext,
    provider: NodeProvider,
    pendingForPool: number,
    recordOnly: boolean,
  ): Promise<{ condition: ConditionInput; requeueAfterMs: number }> {
    const name = pctx.poolName;
    const spec = pool.spec.scaleDown;
    const off = (reason: string, message = "") => ({
      condition: { type: "ScalingDown", status: "False" as const, reason, message },
      requeueAfterMs: 30_000,
    });
    // Nodes removed in this very reconcile: the cache still lists them, but they count no more.
    const removed = new Set<string>();
    if (status.activeDrain) {
      const drain = this.options.caches.drains.get(status.activeDrain);
      const phase = drain?.status?.phase;
      const justCreated = pctx.now - (this.createdDrains.get(status.activeDrain) ?? 0) < 30_000;
      if ((drain && !["Succeeded", "Failed", "Aborted"].includes(phase ?? "")) || (!drain && justCreated)) {
        return {
          condition: {
            type: "ScalingDown",
            status: "True",
            reason: "Draining",
            message: `NodeDrain ${status.activeDrain}`,
          },
          requeueAfterMs: 5_000,
        };
      }
      const drained = (drain?.status?.nodes ?? []).filter((n) => n.state === "Drained").map((n) => n.name);
      const present = drained.filter((n) => pctx.nodes.some((x) => x.metadata?.name === n));
      if (present.length && !recordOnly) {
        const did = await provider.removeNodes(pctx, present);
        for (const n of present) removed.add(n);
        const list = this.removals.get(name) ?? [];
        list.push(...present.map(() => pctx.now));
        this.removals.set(name, list);
        status.lastScaleTime = new Date(pctx.now).toISOString();
        this.options.recorder?.record(
          raw,
          "Normal",
          "ScaledDown",
          "ScaleDown",
          `NodeDrain ${status.activeDrain}: ${did}`,
        );
      }
      delete status.activeDrain;
    }
    if (!spec.enabled) return off("Disabled");
    if (pendingForPool > 0) return off("PendingPods", `${pendingForPool} unschedulable pod(s) fit the pool`);
    const hourAgo = pctx.now - 3_600_000;
    const recent = (this.removals.get(name) ?? []).filter((t) => t > hourAgo);
    this.removals.set(name, recent);
    const live = pctx.nodes.filter((n) => !n.metadata?.deletionTimestamp && !removed.has(n.metadata?.name ?? ""));
    const budget = Math.min(
      live.length - pool.spec.minNodes,
      spec.maxNodesPerHour === undefined ? Number.POSITIVE_INFINITY : spec.maxNodesPerHour - recent.length,
      this.options.maxScaleDownBatch ?? 10,
    );
    const allNodes = this.options.caches.nodes.list();
    const result = chooseScaleDownCandidates({
      poolNodes: live,
      allNodes,
      podsByNode: this.options.caches.pods.snapshot(allNodes.map((n) => n.metadata?.name ?? "")),
      strategy: spec.strategy,
      utilizationThreshold: spec.utilizationThreshold,
      unneededTimeMs: parseDuration(spec.unneededTime),
      unneededSince: this.unneededSince,
      selector: spec.selector,
      maxCandidates: Math.max(0, budget),
      now: pctx.now,
    });
    const under = new Set(result.underThreshold);
    for (const n of live) {
      const nodeName = n.metadata?.name ?? "";
      if (!under.has(nodeName)) this.unneededSince.delete(nodeName);
      else if (!this.unneededSince.has(nodeName)) this.unneededSince.set(nodeName, pctx.now);
    }
    status.scaleDownCandidates = result.candidates.map((c) => c.name);
    if (!result.candidates.length) {
      return {
        ...off(
          budget <= 0 ? "AtMinimum" : "NoCandidates",
          result.rejected
            .slice(0, 5)
            .map((r) => `${r.name}: ${r.reason}`)
            .join("; "),
        ),
        requeueAfterMs: under.size ? 5_000 : 30_000,
      };
    }
    const message = `removing ${result.candidates.map((c) => `${c.name} (utilization ${c.utilization})`).join(", ")}`;
    if (recordOnly) {
      return { condition: { type: "ScalingDown", status: "True", reason: "DryRun", message }, requeueAfterMs: 30_000 };
    }
    const drainName = boundedName(`${name}-scaledown-${pctx.now.toString(36)}`);
    for (const [d, at] of this.createdDrains) if (pctx.now - at > 60_000) this.createdDrains.delete(d);
    this.createdDrains.set(drainName, pctx.now);
    await this.options.client.create(Resources.NodeDrain, {
      apiVersion: API_VERSION,
      kind: "NodeDrain",
      metadata: {
        name: drainName,
        labels: { [nodePoolLabel]: name },
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: "NodePool",
            name,
            uid: raw.metadata?.uid ?? "",
            controller: true,
          },
        ],
      },
      spec: {
        nodeNames: result.candidates.map((c) => c.name),
        evictionStrategy: "eviction",
        rateLimit: {
          nodesPerInterval: result.candidates.length,
          interval: "1m",
          maxConcurrent: result.candidates.length,
        },
        disruptionBudget: { maxUnavailable: Math.max(1, result.candidates.length) },
        createMissingPDBs: false,
      },
    } as KubeObject);
    status.activeDrain = drainName;
    this.options.recorder?.record(
      raw,
      "Normal",
      "ScaleDownStarted",
      "ScaleDown",
      `${message} with NodeDrain ${drainName}`,
    );
    return { condition: { type: "ScalingDown", status: "True", reason: "Draining", message }, requeueAfterMs: 2_000 };
  }

  private async writeStatus(raw: RawNodePool, status: NodePoolStatus): Promise<void> {
    if (jsonEqual(raw.status, status)) return;
    const name = raw.metadata?.name ?? "";
    const written = await this.options.client.applyStatus<RawNodePool>(Resources.NodePool, {
      apiVersion: API_VERSION,
      kind: "NodePool",
      metadata: { name },
      status,
    });
    this.overlay.remember(name, written);
  }
}
