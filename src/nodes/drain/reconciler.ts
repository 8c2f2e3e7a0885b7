// The NodeDrain reconcile. All progress lives in status (per node, per pod), so a restarted controller picks up
// where the last one stopped: it counts cordoned nodes from the cluster, not from memory, and never starts more
// than the rate limit and the pool's disruption budget allow. Each node it cordons carries an annotation naming
// the drain, and only that drain, on abort or timeout, or a sweep after the drain is gone, uncordons it.
import { selectorSelects } from "../../kube/selectors.js";
import { setMaxListeners } from "node:events";
import { API_VERSION, parseDuration, parseNodeDrain, type NodeDrain, type NodeDrainStatus } from "../../api/index.js";
import type { KubeClient } from "../../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../../kube/controller.js";
import type { EventRecorder } from "../../kube/events.js";
import type { Informer } from "../../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey } from "../../kube/resources.js";
import { jsonEqual, mergeConditions } from "../../api/conditions.js";
import { doNotDisruptReason, isNodeReady, type Node, type Pod, type PodDisruptionBudget } from "../model.js";
import type { PodIndex } from "../podindex.js";
import { WriteOverlay } from "../overlay.js";
import { defaultDrainBudget, drainBudgetRefusal, ownNodeLast, type DrainBudget, type PoolMinimum } from "./budget.js";
import { evictionStrategy } from "./eviction.js";
import { boundedName, missingPDBManifest, pdbsByNamespace, planNode, type NodePlan } from "./plan.js";
import { cordonedByAnnotation, createdByDrainLabel, nodePoolLabel } from "../../api/labels.js";
import type { DrainDisruptionBudgets, DrainHold } from "./disruption.js";

export interface RawNodeDrain extends KubeObject {
  spec?: Record<string, unknown>;
  status?: NodeDrainStatus;
}

type Status = NodeDrainStatus;
type NodeEntry = NonNullable<Status["nodes"]>[number];
type PodEntry = NonNullable<Status["pods"]>[number];
type PlanEntry = NonNullable<Status["plan"]>[number];

export interface DrainCaches {
  drains: Informer<RawNodeDrain>;
  nodes: Informer<Node>;
  pdbs: Informer<PodDisruptionBudget>;
  pods: PodIndex;
  /** NodePools, for their minNodes (a drain may not take a pool below it). */
  pools?: Informer<KubeObject & { spec?: { minNodes?: unknown } }>;
}

export interface DrainReconcilerOptions {
  client: KubeClient;
  caches: DrainCaches;
  recorder?: EventRecorder;
  now?: () => number;
  /** How often an active drain looks again, besides pod events. */
  pollMs?: number;
  /** How many nodes one drain may select; defaultDrainBudget when unset. */
  budget?: DrainBudget;
  /** The node this controller (the leader) runs on: drained after every other node of a drain. */
  ownNodeName?: string;
  /** The ClusterScalers' disruption budgets covering Drain; none: evictions are not held back by them. */
  disruption?: DrainDisruptionBudgets;
  /**
   * The catch-up of the budgets this leadership term starts with (src/scaler/shared-budget.ts): no reconcile of
   * the term reads a drain or evicts before it.
   */
  caughtUp?: () => Promise<void>;
}

const terminalPhases = new Set(["Succeeded", "Failed", "Aborted", "DryRun"]);
const activeNodeStates = new Set(["Cordoned", "Draining"]);
const doneNodeStates = new Set(["Drained", "Failed", "Skipped"]);

export function isActiveNodeState(state: string): boolean {
  return activeNodeStates.has(state);
}

/** The plan as recorded in status: per node, pods in eviction order, blocking PDBs, skips and refusals. */
export function planEntry(plan: NodePlan, refusal?: string): PlanEntry {
  return {
    node: plan.node,
    pods: plan.evict.map((p) => p.key),
    ...(plan.blockingPDBs.length ? { blockingPDBs: plan.blockingPDBs } : {}),
    ...(plan.skipped.length ? { skipped: plan.skipped } : {}),
    ...(plan.missingPDBs.length
      ? { missingPDBs: plan.missingPDBs.map((m) => `${m.namespace}/${m.tenant}/${m.component}`) }
      : {}),
    ...(refusal ? { refusal } : {}),
  };
}

export class NodeDrainReconciler implements Reconciler {
  private readonly now: () => number;
  private readonly overlay = new WriteOverlay<RawNodeDrain>();
  /** Nodes we cordoned whose cordon the cache may not show yet (counted against the budget). */
  private readonly recentlyCordoned = new Map<string, number>();
  /** Per pod uid: when to ask again (blocked) or stop asking (eviction accepted, waiting for the pod to go). */
  private readonly nextAttempt = new Map<string, number>();

  constructor(private readonly options: DrainReconcilerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The NodeDrains as a fresh LIST showed them (the catch-up of a leadership term): read instead of the cache's
   * while the cache is older, so that a status written from a cache that lags behind the leader before never
   * erases its last eviction records, nor evicts again what it evicted.
   */
  observeListed(drains: readonly RawNodeDrain[]): void {
    for (const d of drains) {
      const name = d.metadata?.name;
      // Kept only where it is newer than what the overlay holds (current drops the older of the two).
      if (name && this.overlay.current(name, d) === d) this.overlay.remember(name, d);
    }
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    await this.options.caughtUp?.();
    const raw = this.overlay.current(key.name, this.options.caches.drains.get(key.name));
    if (!raw?.metadata?.name || raw.metadata.deletionTimestamp) {
      await this.releaseNodes(key.name, () => true);
      await this.deleteCreatedPDBs(key.name);
      return;
    }
    const parsed = parseNodeDrain(raw);
    if (!parsed.ok) {
      await this.writeStatus(raw, {
        ...raw.status,
        phase: "Failed",
        message: `invalid spec: ${parsed.errors.join("; ")}`,
      });
      return;
    }
    const drain = parsed.value;
    const status: Status = structuredClone(raw.status ?? {});
    const now = this.now();
    if (status.phase && terminalPhases.has(status.phase)) {
      // Idempotent clean-up, also after a crash between the status write and the clean-up itself.
      if (status.phase === "Failed" || status.phase === "Aborted") {
        await this.releaseNodes(key.name, releasePredicate(status));
      }
      await this.deleteCreatedPDBs(key.name);
      // A finished drain is a record: a later spec change is acknowledged, and the status says it was not acted on.
      const generation = raw.metadata?.generation;
      if (generation !== undefined && status.observedGeneration !== generation) {
        status.observedGeneration = generation;
        const note = "spec changed after the drain finished; create a new NodeDrain to act on it";
        if (!status.message?.includes(note)) status.message = `${status.message ? `${status.message}; ` : ""}${note}`;
        await this.writeStatus(raw, status);
      }
      return;
    }

    if (!status.startTime) {
      const refusal = this.budgetRefusal(drain);
      if (refusal) {
        // Refused as a whole, before anything is cordoned; dry-run says the same.
        const message = `refused: ${refusal}`;
        status.startTime = status.completionTime = new Date(now).toISOString();
        status.phase = "Failed";
        status.message = message;
        status.plan = [];
        status.nodes = [];
        status.pods = [];
        status.conditions = mergeConditions(
          status.conditions,
          [{ type: "Accepted", status: "False", reason: "ExceedsDrainBudget", message }],
          raw.metadata?.generation,
          new Date(now),
        );
        await this.writeStatus(raw, status);
        this.options.recorder?.record(raw, "Warning", "Refused", "Drain", message);
        return;
      }
      this.start(drain, status, now);
      if (drain.spec.dryRun) {
        status.phase = "DryRun";
        status.completionTime = new Date(now).toISOString();
        status.message = summarizePlan(status);
        // Dry-run writes its own status and nothing else, not even an Event.
        await this.writeStatus(raw, status);
        return;
      }
      status.phase = "Draining";
      this.options.recorder?.record(raw, "Normal", "Started", "Drain", summarizePlan(status));
    }

    const timeoutMs = parseDuration(drain.spec.timeout);
    const startMs = Date.parse(status.startTime ?? new Date(now).toISOString());
    if (drain.spec.abort) {
      await this.finish(raw, status, "Aborted", "aborted by spec.abort", now);
      return;
    }
    if (now - startMs >= timeoutMs) {
      const blocking = blockingPDBsOf(status);
      const left = (status.pods ?? []).filter((p) => ["Pending", "Evicting", "Blocked"].includes(p.state)).length;
      const message =
        `timed out after ${drain.spec.timeout} with ${left} pod(s) not evicted` +
        (blocking.length ? `; blocked by PodDisruptionBudget ${blocking.join(", ")}` : "");
      await this.finish(raw, status, "Failed", message, now);
      return;
    }

    let wakeAt = startMs + timeoutMs;
    wakeAt = Math.min(wakeAt, await this.startNodes(drain, status, now, ctx));
    const signingKey = this.options.disruption ? await this.options.disruption.signingKey() : undefined;
    const holds = await this.progressNodes(drain, status, now, ctx, signingKey);
    for (const h of holds) if (h.roomAt !== undefined) wakeAt = Math.min(wakeAt, h.roomAt);
    this.budgetCondition(raw, status, holds, now);

    const nodes = status.nodes ?? [];
    if (nodes.every((n) => doneNodeStates.has(n.state))) {
      const failed = nodes.filter((n) => n.state === "Failed");
      status.phase = failed.length ? "Failed" : "Succeeded";
      status.completionTime = new Date(now).toISOString();
      status.message = failed.length
        ? `${failed.length} node(s) not drained: ${failed.map((n) => `${n.name}: ${n.message ?? ""}`).join("; ")}`
        : `drained ${nodes.filter((n) => n.state === "Drained").length} node(s)`;
      await this.writeStatus(raw, status);
      this.options.recorder?.record(raw, failed.length ? "Warning" : "Normal", status.phase, "Drain", status.message);
      await this.deleteCreatedPDBs(raw.metadata.name);
      return;
    }
    status.message = progressMessage(status, holds);
    await this.writeStatus(raw, status);
    return { requeueAfterMs: Math.max(50, Math.min(this.options.pollMs ?? 1000, wakeAt - now)) };
  }

  /** The nodes a drain selects, the controller's own node last. */
  private selectedNodes(drain: NodeDrain): string[] {
    const names = drain.spec.nodeNames
      ? [...drain.spec.nodeNames]
      : this.options.caches.nodes
          .list((n) => selectorSelects(drain.spec.nodeSelector, n.metadata?.labels, "nothing"))
          .map((n) => n.metadata?.name ?? "")
          .sort();
    return ownNodeLast(names, this.options.ownNodeName);
  }

  /** Why the drain takes more nodes at once than the cluster's or a pool's budget allows, if it does. */
  private budgetRefusal(drain: NodeDrain): string | undefined {
    const pools: PoolMinimum[] = (this.options.caches.pools?.list() ?? []).map((p) => ({
      name: p.metadata?.name ?? "",
      minNodes: typeof p.spec?.minNodes === "number" ? p.spec.minNodes : 0,
    }));
    return drainBudgetRefusal(
      this.selectedNodes(drain),
      this.options.caches.nodes.list(),
      pools,
      this.options.budget ?? defaultDrainBudget,
    );
  }

  /** Resolves the nodes and records the full plan: the same for dry-run and live. */
  private start(drain: NodeDrain, status: Status, now: number): void {
    const names = this.selectedNodes(drain);
    const pdbs = pdbsByNamespace(this.options.caches.pdbs.list());
    status.startTime = new Date(now).toISOString();
    status.plan = [];
    status.pods = [];
    status.nodes = [];
    for (const name of names) {
      const node = this.options.caches.nodes.get(name);
      const plan = planNode(name, this.options.caches.pods.onNode(name), pdbs, { force: drain.spec.force });
      const refusal = refusalOf(node, plan, drain.spec.createMissingPDBs);
      status.plan.push(planEntry(plan, refusal?.message));
      status.nodes.push(
        refusal ? { name, state: refusal.state, message: refusal.message } : { name, state: "Pending" },
      );
      for (const p of plan.evict) {
        status.pods.push({
          namespace: p.namespace,
          name: p.name,
          node: name,
          state: "Pending",
          ...(p.blockedBy ? { message: `PodDisruptionBudget ${p.blockedBy} allows no disruption now` } : {}),
        });
      }
      for (const s of plan.skipped) {
        const [namespace = "", podName = ""] = s.pod.split("/");
        status.pods.push({ namespace, name: podName, node: name, state: "Skipped", message: s.reason });
      }
    }
  }

  /** Cordons the next Pending nodes, as far as maxConcurrent, nodesPerInterval and the pool budget allow. */
  private async startNodes(drain: NodeDrain, status: Status, now: number, ctx: ReconcileContext): Promise<number> {
    const nodes = status.nodes ?? [];
    const { maxConcurrent, nodesPerInterval } = drain.spec.rateLimit;
    const intervalMs = parseDuration(drain.spec.rateLimit.interval);
    let active = nodes.filter((n) => activeNodeStates.has(n.state)).length;
    const starts = nodes.filter((n) => n.startTime).map((n) => Date.parse(n.startTime ?? ""));
    let inWindow = starts.filter((t) => now - t < intervalMs).length;
    let wakeAt = Number.POSITIVE_INFINITY;
    const pdbs = pdbsByNamespace(this.options.caches.pdbs.list());
    for (const entry of nodes) {
      if (entry.state !== "Pending") continue;
      // The leader's own node waits until every other node of the drain is done: the controller (and its
      // standby's PDB) should move once, at the end, not while it is still draining others.
      if (entry.name === this.options.ownNodeName && nodes.some((n) => n !== entry && !doneNodeStates.has(n.state)))
        continue;
      if (active >= maxConcurrent) break;
      if (inWindow >= nodesPerInterval) {
        const oldest = Math.min(...starts.filter((t) => now - t < intervalMs));
        wakeAt = Math.min(wakeAt, oldest + intervalMs);
        break;
      }
      const node = this.options.caches.nodes.get(entry.name);
      const plan = planNode(entry.name, this.options.caches.pods.onNode(entry.name), pdbs, { force: drain.spec.force });
      const refusal = refusalOf(node, plan, drain.spec.createMissingPDBs);
      if (refusal || !node) {
        Object.assign(entry, { state: refusal?.state ?? "Skipped", message: refusal?.message ?? "node not found" });
        entry.completionTime = new Date(now).toISOString();
        continue;
      }
      if (
        drain.spec.disruptionBudget &&
        !this.withinBudget(node, drain.spec.disruptionBudget.maxUnavailable, drain.metadata.name ?? "", status, now)
      ) {
        wakeAt = Math.min(wakeAt, now + 1000);
        continue;
      }
      if (plan.missingPDBs.length) {
        // spec.createMissingPDBs is set, or refusalOf would have refused the node.
        for (const m of plan.missingPDBs) {
          await this.options.client.apply(
            Resources.PodDisruptionBudget,
            missingPDBManifest(m, boundedName(drain.metadata.name ?? "")),
          );
        }
        this.options.recorder?.record(
          drain,
          "Normal",
          "CreatedPDBs",
          "Drain",
          `created PodDisruptionBudgets for ${plan.missingPDBs.map((m) => `${m.namespace}/${m.component}`).join(", ")}`,
        );
      }
      ctx.signal.throwIfAborted();
      await this.cordon(node, drain.metadata.name ?? "");
      entry.state = "Draining";
      entry.startTime = new Date(now).toISOString();
      starts.push(now);
      active++;
      inWindow++;
    }
    return wakeAt;
  }

  /**
   * The DisruptionBudget condition: False (BudgetSpent) while a ClusterScaler's disruption budget holds an eviction
   * back, naming the ClusterScaler and the budget; True (WithinBudget) once nothing waits for one. Absent on a drain
   * no budget ever held.
   */
  private budgetCondition(raw: RawNodeDrain, status: Status, holds: readonly DrainHold[], now: number): void {
    const had = status.conditions?.some((c) => c.type === "DisruptionBudget");
    if (!holds.length && !had) return;
    const messages = [...new Set(holds.map((h) => h.message))];
    status.conditions = mergeConditions(
      status.conditions,
      [
        holds.length
          ? {
              type: "DisruptionBudget",
              status: "False",
              reason: "BudgetSpent",
              message: `${holds.length} eviction(s) wait: ${messages.join("; ")}`.slice(0, 4096),
            }
          : {
              type: "DisruptionBudget",
              status: "True",
              reason: "WithinBudget",
              message: "no eviction waits for a ClusterScaler's disruption budget",
            },
      ],
      raw.metadata?.generation,
      new Date(now),
    );
  }

  /**
   * Evicts what is left on each active node, and marks nodes Drained when nothing evictable remains. Returns the
   * evictions that a ClusterScaler's disruption budget holds back.
   */
  private async progressNodes(
    drain: NodeDrain,
    status: Status,
    now: number,
    ctx: ReconcileContext,
    signingKey: Buffer | undefined,
  ): Promise<DrainHold[]> {
    const holds: DrainHold[] = [];
    const drainName = drain.metadata.name ?? "";
    const strategy = evictionStrategy(drain.spec.evictionStrategy);
    // One eviction per pod runs at once, each listening on the reconcile's signal.
    setMaxListeners(0, ctx.signal);
    const pdbs = pdbsByNamespace(this.options.caches.pdbs.list());
    const pods = (status.pods ??= []);
    const entryOf = new Map(pods.map((p) => [`${p.node ?? ""}|${p.namespace}/${p.name}`, p]));
    for (const node of status.nodes ?? []) {
      if (!activeNodeStates.has(node.state)) continue;
      const nodeObj = this.options.caches.nodes.get(node.name);
      if (nodeObj && !nodeObj.spec?.unschedulable) await this.cordon(nodeObj, drain.metadata.name ?? "");
      const onNode = nodeObj ? this.options.caches.pods.onNode(node.name) : [];
      const plan = planNode(node.name, onNode, pdbs, { force: drain.spec.force });
      const present = new Set(plan.evict.map((p) => p.key));
      const terminating = new Set(
        onNode.filter((p) => p.metadata?.deletionTimestamp).map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
      );
      // Pods that left the node (or are on their way out) since the last look.
      for (const entry of pods) {
        if (entry.node !== node.name || !["Pending", "Evicting", "Blocked"].includes(entry.state)) continue;
        const key = `${entry.namespace}/${entry.name}`;
        if (terminating.has(key)) entry.state = "Evicting";
        else if (!present.has(key)) {
          entry.state = "Evicted";
          delete entry.message;
        }
      }
      const attempts = plan.evict.map(async (pp) => {
        let entry = entryOf.get(`${node.name}|${pp.key}`);
        if (!entry || entry.state === "Evicted") {
          // A pod that arrived after the plan (scheduled before the cordon took effect), or a namesake.
          entry = { namespace: pp.namespace, name: pp.name, node: node.name, state: "Pending" };
          pods.push(entry);
          entryOf.set(`${node.name}|${pp.key}`, entry);
        }
        const uid = pp.pod.metadata?.uid ?? pp.key;
        if ((this.nextAttempt.get(uid) ?? 0) > now) return;
        ctx.signal.throwIfAborted();
        // Checked and spent at one instant, before the first await: the other evictions of this reconcile, and
        // other drains' workers, see the budget as this one leaves it. An eviction already counted is not again.
        const disruption = this.options.disruption;
        const governed = disruption && signingKey ? disruption.governing(pp.pod) : undefined;
        const counted = !!governed && !!disruption && !entry.disruption?.evictedAt;
        if (governed && disruption && signingKey && counted) {
          const tenant = governed.tenant;
          const clusterScaler = governed.clusterScaler.metadata?.name ?? "";
          const hold = disruption.hold(governed, now, signingKey);
          if (hold) {
            holds.push(hold);
            entry.state = "Blocked";
            entry.message = hold.message.slice(0, 1024);
            entry.disruption = {
              clusterScaler,
              tenant,
              heldBy: hold.budget,
              heldSince: entry.disruption?.heldSince ?? new Date(now).toISOString(),
            };
            return;
          }
          entry.disruption = { clusterScaler, tenant, evictedAt: new Date(now).toISOString() };
          disruption.budget.reserveDrain(drainName, pp, { clusterScaler, tenant, at: now });
        }
        const undo = () => {
          if (!counted || !entry.disruption) return;
          disruption?.budget.releaseDrain(drainName, pp);
          entry.disruption = { clusterScaler: entry.disruption.clusterScaler, tenant: entry.disruption.tenant };
        };
        let outcome: Awaited<ReturnType<typeof strategy.evict>>;
        try {
          outcome = await strategy.evict(this.options.client, pp.pod, {
            maxGracePeriodSeconds: drain.spec.maxGracePeriodSeconds,
            signal: ctx.signal,
          });
        } catch (err) {
          undo();
          throw err;
        }
        if (outcome.result !== "accepted") undo();
        entry.attempts = (entry.attempts ?? 0) + 1;
        if (outcome.result === "accepted") {
          entry.state = "Evicting";
          delete entry.message;
          // The cache will show the pod terminating shortly; do not ask again meanwhile.
          this.nextAttempt.set(uid, now + 30_000);
        } else if (outcome.result === "gone") {
          entry.state = "Evicted";
          delete entry.message;
        } else {
          entry.state = "Blocked";
          const pdb = pp.blockedBy ?? pp.pdbs[0];
          entry.message = `${pdb ? `PodDisruptionBudget ${pdb}: ` : ""}${outcome.message}`.slice(0, 1024);
          const backoff = Math.min(1000 * 2 ** Math.min(entry.attempts - 1, 4), 10_000);
          this.nextAttempt.set(uid, now + Math.max(backoff, (outcome.retryAfterSeconds ?? 0) * 1000));
        }
      });
      await Promise.all(attempts);
      if (plan.evict.length === 0 && terminating.size === 0) {
        node.state = "Drained";
        node.completionTime = new Date(now).toISOString();
        this.recentlyCordoned.delete(node.name);
        delete node.message;
      }
    }
    return holds;
  }

  /**
   * Whether one more node of `node`'s pool may be disrupted: nodes being drained (by any NodeDrain, this one's
   * current status included), just cordoned, or not Ready count; drained nodes waiting for removal do not.
   */
  private withinBudget(node: Node, maxUnavailable: number, drainName: string, status: Status, now: number): boolean {
    const pool = node.metadata?.labels?.[nodePoolLabel] ?? "";
    for (const [n, t] of this.recentlyCordoned) if (now - t > 15_000) this.recentlyCordoned.delete(n);
    const disrupting = new Set<string>(this.recentlyCordoned.keys());
    for (const d of this.options.caches.drains.list()) {
      if (d.metadata?.name === drainName) continue;
      for (const n of d.status?.nodes ?? []) if (activeNodeStates.has(n.state)) disrupting.add(n.name);
    }
    for (const n of status.nodes ?? []) if (activeNodeStates.has(n.state)) disrupting.add(n.name);
    const unavailable = this.options.caches.nodes.list(
      (n) =>
        (n.metadata?.labels?.[nodePoolLabel] ?? "") === pool &&
        (disrupting.has(n.metadata?.name ?? "") || !isNodeReady(n)),
    ).length;
    return unavailable < maxUnavailable;
  }

  private async cordon(node: Node, drainName: string): Promise<void> {
    const name = node.metadata?.name ?? "";
    const by = node.metadata?.annotations?.[cordonedByAnnotation];
    // Someone else's cordon stays theirs: we neither claim it nor, later, lift it.
    if (node.spec?.unschedulable && by !== drainName) return;
    if (node.spec?.unschedulable && by === drainName) return;
    await this.options.client.patch(Resources.Node, name, undefined, {
      metadata: { annotations: { [cordonedByAnnotation]: drainName } },
      spec: { unschedulable: true },
    });
    this.recentlyCordoned.set(name, this.now());
  }

  /** Uncordons every node this drain cordoned (per the annotation) that `which` selects. */
  private async releaseNodes(drainName: string, which: (node: string) => boolean): Promise<string[]> {
    const released: string[] = [];
    for (const node of this.options.caches.nodes.list(
      (n) => n.metadata?.annotations?.[cordonedByAnnotation] === drainName,
    )) {
      const name = node.metadata?.name ?? "";
      if (!which(name)) continue;
      await this.options.client.patch(Resources.Node, name, undefined, {
        metadata: { annotations: { [cordonedByAnnotation]: null } },
        spec: { unschedulable: null },
      });
      this.recentlyCordoned.delete(name);
      released.push(name);
    }
    return released;
  }

  private async deleteCreatedPDBs(drainName: string): Promise<void> {
    const label = boundedName(drainName);
    for (const pdb of this.options.caches.pdbs.list((p) => p.metadata?.labels?.[createdByDrainLabel] === label)) {
      await this.options.client.delete(
        Resources.PodDisruptionBudget,
        pdb.metadata?.name ?? "",
        pdb.metadata?.namespace,
      );
    }
  }

  private async finish(raw: RawNodeDrain, status: Status, phase: "Failed" | "Aborted", message: string, now: number) {
    const name = raw.metadata?.name ?? "";
    for (const n of status.nodes ?? []) {
      if (activeNodeStates.has(n.state)) Object.assign(n, { state: "Failed", message });
      else if (n.state === "Pending") Object.assign(n, { state: "Skipped", message: `not started: ${message}` });
      n.completionTime ??= new Date(now).toISOString();
    }
    status.phase = phase;
    status.message = message;
    status.completionTime = new Date(now).toISOString();
    // Status first: a crash after it still uncordons, in the terminal branch of the next reconcile.
    await this.writeStatus(raw, status);
    const released = await this.releaseNodes(name, releasePredicate(status));
    await this.deleteCreatedPDBs(name);
    this.options.recorder?.record(
      raw,
      "Warning",
      phase,
      "Drain",
      `${message}${released.length ? `; uncordoned ${released.join(", ")}` : ""}`,
    );
  }

  private async writeStatus(raw: RawNodeDrain, status: Status): Promise<void> {
    const next = { ...status, observedGeneration: raw.metadata?.generation };
    if (jsonEqual(raw.status, next)) return;
    const written = await this.options.client.applyStatus<RawNodeDrain>(Resources.NodeDrain, {
      apiVersion: API_VERSION,
      kind: "NodeDrain",
      metadata: { name: raw.metadata?.name },
      status: next,
    });
    const name = raw.metadata?.name ?? "";
    this.overlay.remember(name, written);
  }
}

/** Which nodes a Failed or Aborted drain uncordons: an abort undoes every cordon, a failure keeps drained nodes. */
function releasePredicate(status: Status): (node: string) => boolean {
  if (status.phase === "Aborted") return () => true;
  const drained = new Set((status.nodes ?? []).filter((n) => n.state === "Drained").map((n) => n.name));
  return (node) => !drained.has(node);
}

function refusalOf(
  node: Node | undefined,
  plan: NodePlan,
  createMissingPDBs: boolean,
): { state: NodeEntry["state"]; message: string } | undefined {
  if (!node) return { state: "Skipped", message: "node not found" };
  const marker = doNotDisruptReason(node);
  if (marker) return { state: "Skipped", message: `node has ${marker}` };
  if (plan.missingPDBs.length && !createMissingPDBs) {
    return {
      state: "Failed",
      message:
        `control-plane components without a PodDisruptionBudget: ` +
        plan.missingPDBs.map((m) => `${m.namespace}/${m.tenant}/${m.component}`).join(", ") +
        "; set spec.createMissingPDBs or add PDBs",
    };
  }
  return undefined;
}

export function blockingPDBsOf(status: Status): string[] {
  const out = new Set<string>();
  for (const p of status.pods ?? []) {
    if (p.state !== "Blocked" && p.state !== "Pending") continue;
    const m = /PodDisruptionBudget ([^\s:]+)/.exec(p.message ?? "");
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].sort();
}

function summarizePlan(status: Status): string {
  const plan = status.plan ?? [];
  const pods = plan.reduce((n, e) => n + (e.pods?.length ?? 0), 0);
  const blocking = [...new Set(plan.flatMap((e) => e.blockingPDBs ?? []))];
  const refused = plan.filter((e) => e.refusal);
  return (
    `plan: ${plan.length} node(s), ${pods} pod(s) to evict` +
    (blocking.length ? `; blocked now by ${blocking.join(", ")}` : "") +
    (refused.length ? `; refused: ${refused.map((e) => `${e.node} (${e.refusal ?? ""})`).join("; ")}` : "")
  ).slice(0, 4096);
}

function progressMessage(status: Status, holds: readonly DrainHold[] = []): string {
  const counts = new Map<string, number>();
  for (const p of status.pods ?? []) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  const nodes = new Map<string, number>();
  for (const n of status.nodes ?? []) nodes.set(n.state, (nodes.get(n.state) ?? 0) + 1);
  const fmt = (m: Map<string, number>) => [...m].map(([k, v]) => `${v} ${k}`).join(", ");
  const held = holds.length
    ? `; waiting for a disruption budget: ${[...new Set(holds.map((h) => h.message))].join("; ")}`
    : "";
  return `nodes: ${fmt(nodes)}; pods: ${fmt(counts)}${held}`.slice(0, 4096);
}

export type { PodEntry };
export type { Pod };
