// The ClusterScaler's per-workload reconcile, which only orchestrates the pipeline: observe (the workload's signals,
// signals/workload.ts), model (its history, history.ts), decide (the pure engine and its scalers and estimators,
// round.ts), then record the plan as a ScalingDecision and let the actuator (live or recording) carry it out
// (decisions.ts, actuator.ts). The decision is written before the actuation under a deterministic name, so a crash
// between the two never loses a decision and a retry never actuates twice.
import { randomBytes } from "node:crypto";
import type { Registry } from "prom-client";
import { API_VERSION, parseClusterScaler, type ClusterScaler, type DisruptionBudget } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { keyOf, type KubeObject, type ObjectKey } from "../kube/resources.js";
import type { Actuator } from "./actuator.js";
import { tenantSpecSize } from "./actuator.js";
import { pathAtDecision, recordOperatorPath, type OperatorResize } from "./apply-path.js";
import { ApiError } from "../kube/errors.js";
import { DecisionRecorder, decisionName, sizeBlock, sizeOf, type DecisionObject } from "./decisions.js";
import { defaultEngineOptions, type EngineOptions } from "./engine-options.js";
import { profileNameFor, profileRecommendation } from "../recommender/index.js";
import { FleetBudget, type BudgetUsage } from "./fleet-budget.js";
import type { SharedBudget } from "./shared-budget.js";
import { WorkloadReasons } from "./held.js";
import { restartRequiring, type RestartFacts, type RestartPod } from "./restart.js";
import { PlacementIndex, placementOf } from "./placement.js";
import type { Node } from "../nodes/model.js";
import {
  afterDecision,
  baselineSize,
  historyFromDecisions,
  HistoryModel,
  markHandled,
  nextWindowEndMs,
} from "./history.js";
import { ScalerMetrics } from "./metrics.js";
import { governingClusterScaler, resolvePolicy, type Governed } from "./policy.js";
import { fleetModelOf, type FleetCandidate, type FleetModel } from "./fleet-model.js";
import { decideRound } from "./round.js";
import { BoundedSet } from "./bounded-set.js";
import type { PodLike } from "./signals/oom.js";
import type { ProbeSignals } from "./signals/probe.js";
import type { PrometheusSignals } from "./signals/prometheus.js";
import { workloadSignals, worstPod } from "./signals/workload.js";
import { verifyDecision } from "./signature.js";
import { tenantSelectionLabels } from "./tenancy.js";
import type { ComponentName, Measurement, Profile, WorkloadRef } from "./types.js";
import { mainContainer, workloadSize, type Workload } from "./workload.js";
import { componentLabel, pausedAnnotation, tenantLabel } from "../api/labels.js";

export type { DecisionObject } from "./decisions.js";
export { dryRunBaselineHoldMs } from "./history.js";
export type { Workload } from "./workload.js";

/**
 * Whether no automatic change may touch a workload: the metapilot.io/paused annotation on it or on its
 * TenantControlPlane, the TenantControlPlane's spec.paused, or the governing ClusterScaler's spec.paused.
 */
export function isPaused(
  workload: { metadata?: { annotations?: Record<string, string> } },
  tcp: { metadata?: { annotations?: Record<string, string> }; spec?: { paused?: boolean } } | undefined,
  clusterScaler: { spec: { paused?: boolean } },
): boolean {
  return (
    workload.metadata?.annotations?.[pausedAnnotation] === "true" ||
    tcp?.metadata?.annotations?.[pausedAnnotation] === "true" ||
    tcp?.spec?.paused === true ||
    clusterScaler.spec.paused === true
  );
}

export interface TenantObject extends KubeObject {
  spec?: { paused?: boolean; namespace?: string };
  status?: { namespace?: string };
}

export interface ScalerCaches {
  clusterScalers: Informer<KubeObject>;
  tenants: Informer<TenantObject>;
  deployments: Informer<Workload>;
  statefulSets: Informer<Workload>;
  pods: Informer<PodLike & KubeObject>;
  decisions: Informer<DecisionObject>;
  profiles: Informer<
    KubeObject & {
      status?: {
        containers?: Array<{ name: string; target?: Record<string, string>; upperBound?: Record<string, string> }>;
      };
    }
  >;
  /** The meta-cluster's nodes and NodePools, for the capacity check (placement.ts); none without them. */
  nodes?: Pick<Informer<Node>, "list" | "on">;
  nodePools?: Pick<Informer<KubeObject>, "list" | "on">;
  /** The NodeDrains, whose recorded evictions are Drain changes of the disruption budgets; none without them. */
  drains?: Pick<Informer<KubeObject>, "list" | "on">;
}

export interface ScalerOptions {
  client: KubeClient;
  caches: ScalerCaches;
  actuator: Actuator;
  recorder: EventRecorder;
  prometheus?: PrometheusSignals;
  /** Black-box /readyz probes of tenant apiservers. */
  probe?: ProbeSignals;
  registry?: Registry;
  /** Global dry-run (the controller's --dry-run): wins over every policy. */
  dryRun: boolean;
  engine?: Partial<EngineOptions>;
  now?: () => number;
  /**
   * The key decisions are signed with, shared by every replica (src/scaler/signing-key.ts); a key of this process
   * when unset. A decision without a valid signature is never finished (applied) by finishInterrupted.
   */
  signingKey?: () => Promise<Buffer>;
  /** An interrupted decision older than this is not applied any more (default 10 minutes). */
  interruptedMaxAgeMs?: number;
  /**
   * A workload entered or left a ClusterScaler's blocked set without a decision to announce it (its condition
   * cleared): the ClusterScaler's status is worth writing again.
   */
  onBlockedChange?: (clusterScaler: string) => void;
  /** The disruption budgets of a ClusterScaler that sets none (--default-disruption-budgets). */
  defaultDisruptionBudgets?: readonly DisruptionBudget[];
  /**
   * The process's disruption budgets and their catch-up on leadership, shared with the drain controller
   * (src/scaler/shared-budget.ts). Without it: a budget of its own, fed by its caches, with no catch-up.
   */
  sharedBudget?: Pick<SharedBudget, "budget" | "catchUp">;
}

/** The ClusterScalers that parse; an invalid one is left out here and reported by the status reconciler. */
export function validClusterScalers(raws: readonly KubeObject[]): ClusterScaler[] {
  return raws.flatMap((raw) => {
    const r = parseClusterScaler(raw);
    return r.ok ? [r.value] : [];
  });
}

export class ScalerReconciler implements Reconciler {
  private readonly histories = new HistoryModel();
  /** Counted from the recorded decisions (src/scaler/fleet-budget.ts), so it survives a restart or failover. */
  private readonly budget: FleetBudget;
  private readonly decisions: DecisionRecorder;
  private readonly now: () => number;
  private readonly engine: EngineOptions;
  private readonly metrics?: ScalerMetrics;
  private readonly held = new WorkloadReasons();
  /** Workloads whose scale-up a lasting condition blocks (an OOM kill at maxAllowed, a size no node holds). */
  private readonly blocked = new WorkloadReasons();
  private readonly placement?: PlacementIndex;
  readonly lastDecisionAt = new Map<string, number>();
  private parsed?: { key: string; value: readonly ClusterScaler[] };
  /** The fleet model of the last Prometheus poll, fitted once per poll and ClusterScaler spec. */
  private fleet?: { key: string; value: FleetModel };
  /** Workloads reported as not governed (uid and reason), so each is reported once, not on every event. */
  private readonly reportedForeign = new BoundedSet(10_000);
  private readonly signingKey: () => Promise<Buffer>;
  private tenantCounts?: { at: number; byScaler: Map<string, number> };

  constructor(private readonly options: ScalerOptions) {
    this.now = options.now ?? Date.now;
    const ownKey = randomBytes(32);
    this.signingKey = options.signingKey ?? (() => Promise.resolve(ownKey));
    this.engine = { ...defaultEngineOptions, ...options.engine };
    const decisions = options.caches.decisions;
    this.budget =
      options.sharedBudget?.budget ??
      FleetBudget.fromCaches(decisions, options.defaultDisruptionBudgets, options.caches.drains);
    this.decisions = new DecisionRecorder({
      client: options.client,
      decisions,
      actuator: options.actuator,
      recorder: options.recorder,
      budget: this.budget,
      signingKey: this.signingKey,
      now: this.now,
      interruptedMaxAgeMs: options.interruptedMaxAgeMs,
    });
    if (options.registry) this.metrics = new ScalerMetrics(options.registry, this.blocked);
    if (options.caches.nodes) this.placement = new PlacementIndex(options.caches.nodes, options.caches.nodePools);
  }

  /**
   * The workloads of a ClusterScaler whose scale-up is Blocked by a lasting condition, and the recorded reason and
   * message, for its ScaleUpBlocked condition; only those it still governs.
   */
  blockedFor(clusterScaler: string): Map<string, string> {
    return this.blocked.of(clusterScaler, (key) => {
      const workload = this.options.caches.deployments.get(key) ?? this.options.caches.statefulSets.get(key);
      return !!workload && this.governing(workload)?.clusterScaler.metadata?.name === clusterScaler;
    });
  }

  /**
   * Per ClusterScaler, its workloads whose last scale-down check was held for missing or stale data, and why. A
   * workload leaves it on its next plan that is not held.
   */
  get heldReasons(): ReadonlyMap<string, ReadonlyMap<string, string>> {
    return this.held.byClusterScaler;
  }

  /**
   * The held workloads a ClusterScaler's SignalsAvailable and ScaleDownHeld conditions are built from: those of
   * heldReasons that still exist and that it still governs. A workload that stops being governed (its tenant's
   * labels, the ClusterScaler's selector or a higher-priority one changed) is never reconciled again, so without
   * this its last reason would hold the conditions for ever.
   */
  heldFor(clusterScaler: string): Map<string, string> {
    return this.held.of(clusterScaler, (key) => {
      const workload = this.options.caches.deployments.get(key) ?? this.options.caches.statefulSets.get(key);
      return !!workload && this.governing(workload)?.clusterScaler.metadata?.name === clusterScaler;
    });
  }

  /**
   * The valid ClusterScalers (an invalid one is skipped here and reported by the status reconciler), parsed once
   * per spec change of any of them rather than once per reconcile. The generation moves with the spec only, so
   * the ClusterScalers' own status writes do not cause a parse.
   */
  clusterScalers(): readonly ClusterScaler[] {
    const raws = this.options.caches.clusterScalers.list();
    const key = raws
      .map((r) => `${r.metadata?.uid ?? r.metadata?.name}@${r.metadata?.generation ?? r.metadata?.resourceVersion}`)
      .sort()
      .join(",");
    if (this.parsed?.key !== key) this.parsed = { key, value: validClusterScalers(raws) };
    return this.parsed.value;
  }

  /**
   * The ClusterScaler that governs this workload now, or undefined (with `onForeign` told why when the workload names
   * a tenant it does not belong to). Only the tenant's own workloads (src/scaler/tenancy.ts): a label alone never
   * makes a workload another's.
   */
  private governing(workload: KubeObject, onForeign?: (reason: string) => void): Governed | undefined {
    const tenant = workload.metadata?.labels?.[tenantLabel];
    const tcp = tenant ? this.options.caches.tenants.get(tenant) : undefined;
    return governingClusterScaler(workload, this.clusterScalers(), tcp, onForeign);
  }

  /**
   * Whether a ClusterScaler governs this workload now. Work for any other is work for nothing (a fleet where a
   * few tenants are governed would otherwise reconcile every tenant's workloads on every pod event and poll);
   * the watch mappings ask this before they enqueue, and a ClusterScaler or tenant label change re-asks it.
   */
  governs(workload: KubeObject): boolean {
    return !!this.governing(workload, (reason) => this.reportForeign(workload, reason));
  }

  /** A Warning Event on a workload that names a tenant it does not belong to, once per workload and reason. */
  private reportForeign(workload: KubeObject, reason: string): void {
    const key = `${workload.metadata?.uid ?? keyOf(workload)}/${reason}`;
    if (this.reportedForeign.has(key)) return;
    this.reportedForeign.add(key);
    const kind = this.options.caches.deployments.get(keyOf(workload)) === workload ? "Deployment" : "StatefulSet";
    this.options.recorder.record(
      { ...workload, apiVersion: "apps/v1", kind },
      "Warning",
      "ForeignTenantLabel",
      "Govern",
      reason,
    );
  }

  /** What the disruption budgets of a valid ClusterScaler hold now, for its status. */
  async fleetBudgetUsage(name: string, now: number): Promise<BudgetUsage | undefined> {
    const cs = this.clusterScalers().find((c) => c.metadata?.name === name);
    return cs
      ? this.budget.usage(cs, now, await this.signingKey(), undefined, this.governedTenants(name, now))
      : undefined;
  }

  /**
   * How many tenants a ClusterScaler governs now (distinct tenants of the workloads it governs), for its budgets'
   * percentages; counted again at most once a second, not once per reconcile.
   */
  governedTenants(clusterScaler: string, now: number): number {
    if (!this.tenantCounts || now - this.tenantCounts.at >= 1000 || now < this.tenantCounts.at) {
      const byScaler = new Map<string, Set<string>>();
      for (const workload of [...this.options.caches.deployments.list(), ...this.options.caches.statefulSets.list()]) {
        const g = this.governing(workload);
        if (!g) continue;
        const name = g.clusterScaler.metadata?.name ?? "";
        let set = byScaler.get(name);
        if (!set) byScaler.set(name, (set = new Set()));
        set.add(g.tenant);
      }
      this.tenantCounts = { at: now, byScaler: new Map([...byScaler].map(([k, v]) => [k, v.size])) };
    }
    return this.tenantCounts.byScaler.get(clusterScaler) ?? 0;
  }

  tenantLabels(tenant: string, workload: KubeObject): Record<string, string> {
    return tenantSelectionLabels(tenant, this.options.caches.tenants.get(tenant), workload);
  }

  /**
   * The fleet model: for every ClusterScaler component that lists fleet-regression, usage against tenant size over
   * every tenant the ClusterScaler governs, from the last poll. Refitted when a poll or a ClusterScaler spec changes.
   */
  fleetModel(now: number): FleetModel {
    const p = this.options.prometheus;
    const key = `${p?.lastSuccessAt ?? "none"}|${this.parsed?.key ?? ""}`;
    if (this.fleet?.key === key) return this.fleet.value;
    const scalers = this.clusterScalers();
    const value = fleetModelOf(
      scalers,
      (wanted) => this.fleetCandidates(wanted),
      p?.snapshot,
      now,
      this.engine.staleAfterMs,
    );
    this.fleet = { key, value };
    return value;
  }

  /** Every control-plane workload in the caches that a ClusterScaler governs, as the fleet model samples it. */
  private *fleetCandidates(
    wanted: (clusterScaler: string, component: ComponentName) => boolean,
  ): Generator<FleetCandidate> {
    for (const workload of [...this.options.caches.deployments.list(), ...this.options.caches.statefulSets.list()]) {
      const governed = this.governing(workload);
      const namespace = workload.metadata?.namespace;
      const clusterScaler = governed?.clusterScaler.metadata?.name;
      if (!governed || !namespace || !clusterScaler || !wanted(clusterScaler, governed.component)) continue;
      const { tenant, component } = governed;
      const container = mainContainer(workload, component);
      let pods: Array<PodLike & KubeObject> | undefined;
      const worst = (series: ReadonlyMap<string, Measurement>) =>
        worstPod(series, namespace, (pods ??= this.podsOf(namespace, tenant, component)), container);
      yield { clusterScaler, component, tenant, namespace, worst };
    }
  }

  /** The pods of a tenant's component in its namespace. */
  private podsOf(namespace: string, tenant: string, component: ComponentName): Array<PodLike & KubeObject> {
    return this.options.caches.pods.listNamespace(
      namespace,
      (pod) => pod.metadata?.labels?.[tenantLabel] === tenant && pod.metadata?.labels?.[componentLabel] === component,
    );
  }

  /** The WorkloadProfile's recommendation (only a real one: NoData and InsufficientData give none). */
  private profileFor(ref: WorkloadRef): Profile | undefined {
    const wp = this.options.caches.profiles.get(`${ref.namespace}/${profileNameFor(ref.kind, ref.name)}`);
    const rec = wp
      ? profileRecommendation(wp as Parameters<typeof profileRecommendation>[0], ref.container)
      : undefined;
    return rec ? { target: rec.target, upperBound: rec.upperBound } : undefined;
  }

  /**
   * The workload's place in its ClusterScaler's held set changes only when this round knows the answer: set where
   * the plan is held for data, dropped on every other way out. Emptied at the start instead, the ClusterScaler's
   * status, written on each poll while the poll's reconciles are still running, read it empty and said the
   * signals were fresh while they were missing.
   */
  async reconcile(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    const wkey = `${key.namespace}/${key.name}`;
    const round: { held: boolean; clusterScaler?: string } = { held: false };
    try {
      return await this.reconcileWorkload(wkey, rc, round);
    } finally {
      if (!round.held) this.held.release(wkey);
      this.noteBlocked(wkey, round.clusterScaler);
    }
  }

  /** The workload's place in the blocked set, from its history's lasting Blocked condition. */
  private noteBlocked(wkey: string, clusterScaler: string | undefined): void {
    const report = clusterScaler ? this.histories.peek(wkey)?.blockedReport : undefined;
    const before = this.blocked.find(wkey);
    const why = report && `${report.reason}: ${report.message}`;
    if (why && clusterScaler) this.blocked.hold(clusterScaler, wkey, why);
    else this.blocked.release(wkey);
    if (before && (before.clusterScaler !== clusterScaler || before.why !== why))
      this.options.onBlockedChange?.(before.clusterScaler);
    if (why && clusterScaler && (before?.clusterScaler !== clusterScaler || before.why !== why))
      this.options.onBlockedChange?.(clusterScaler);
  }

  private async recordOperatorPath(
    ref: WorkloadRef,
    tcp: KubeObject | undefined,
    component: string,
    now: number,
    rc: ReconcileContext,
  ): Promise<void> {
    const components = (tcp as { status?: { components?: Array<{ name?: string; resize?: OperatorResize }> } })?.status
      ?.components;
    const resize = components?.find((c) => c.name === component)?.resize;
    try {
      await recordOperatorPath(this.options.client, this.options.caches.decisions, ref, resize, now);
    } catch (err) {
      // A decision deleted meanwhile, or a failed write: the next change of the TenantControlPlane tries again.
      if (!(err instanceof ApiError)) throw err;
      rc.logger.warn({ err, workload: `${ref.namespace}/${ref.name}` }, "could not record a decision's apply path");
    }
  }

  private async reconcileWorkload(
    wkey: string,
    rc: ReconcileContext,
    round: { held: boolean; clusterScaler?: string },
  ): Promise<ReconcileResult | void> {
    // The fresh read of the recorded decisions and evictions this leadership term starts with.
    await this.options.sharedBudget?.catchUp.caughtUp;
    let now = this.now();
    // Observe: the workload, who governs it and by which policy.
    const deployment = this.options.caches.deployments.get(wkey);
    const workload = deployment ?? this.options.caches.statefulSets.get(wkey);
    if (!workload?.metadata) {
      this.histories.forget(wkey);
      return;
    }
    let foreign = false;
    const governed = this.governing(workload, (reason) => {
      foreign = true;
      this.reportForeign(workload, reason);
    });
    if (!governed) {
      if (foreign) this.histories.forget(wkey);
      return;
    }
    const { clusterScaler: cs, tenant, component } = governed;
    const tcp = this.options.caches.tenants.get(tenant);
    let policy;
    try {
      policy = resolvePolicy(cs, component, governed.labels);
    } catch (err) {
      rc.logger.warn({ err, clusterScaler: cs.metadata?.name }, "invalid ClusterScaler policy");
      return;
    }
    if (!policy) return;
    round.clusterScaler = policy.clusterScaler;
    const ref: WorkloadRef = {
      kind: deployment ? "Deployment" : "StatefulSet",
      name: workload.metadata.name ?? "",
      namespace: workload.metadata.namespace ?? "",
      tenant,
      component,
      container: mainContainer(workload, component),
      ownedByTenantControlPlane: governed.ownedByTenantControlPlane,
    };
    const paused = isPaused(workload, tcp, cs);
    // How the last change reached the pods, as the operator reports it, onto the decision it belongs to: this
    // reconcile runs on every change of the TenantControlPlane, so no polling is needed (src/scaler/apply-path.ts).
    await this.recordOperatorPath(ref, tcp, component, now, rc);
    const signingKey = await this.signingKey();
    // Model: the workload's history, rebuilt from its recorded decisions after a restart.
    const h = this.histories.get(wkey, () =>
      historyFromDecisions(
        this.options.caches.decisions.listNamespace(ref.namespace, (d) => d.spec?.target?.name === ref.name),
        (d) => verifyDecision(signingKey, d),
        now,
      ),
    );
    const observed = ref.ownedByTenantControlPlane
      ? tenantSpecSize(workloadSize(workload, ref.container), (tcp as { spec?: unknown } | undefined)?.spec, component)
      : workloadSize(workload, ref.container);
    const finishRetryMs = await this.decisions.finishInterrupted(ref, observed, now, policy, paused);
    const dryRun = policy.dryRun || this.options.dryRun || this.options.actuator.dryRun;
    // The budgets are checked and spent at one instant, after every await above: a worker that checks later also
    // decides later, so a change another worker reserved meanwhile is never in this one's future, where its
    // interval would not count it.
    now = this.now();
    const budget = this.budget.usage(cs, now, signingKey, tenant, this.governedTenants(policy.clusterScaler, now));
    const resourceUpdates = (
      tcp as { spec?: { resourceUpdates?: { strategy?: string; derivedSettings?: string } } } | undefined
    )?.spec?.resourceUpdates;
    const restartFacts: RestartFacts = {
      ownedByTenantControlPlane: ref.ownedByTenantControlPlane,
      strategy: resourceUpdates?.strategy,
      derivedSettings: resourceUpdates?.derivedSettings,
      component,
      container: ref.container,
      pods: this.podsOf(ref.namespace, tenant, component) as RestartPod[],
    };
    // Decide: the signals into the history, then the pure engine.
    const { plan } = decideRound(
      h,
      {
        workload: ref,
        current: baselineSize(h, observed, dryRun, policy, now),
        observed,
        policy,
        signals: workloadSignals(
          ref,
          this.podsOf(ref.namespace, tenant, component),
          { prometheus: this.options.prometheus, probe: this.options.probe },
          policy.scalers.probe.windowMs,
          now,
        ),
        profile: this.profileFor(ref),
        fleet: policy.estimators.includes("fleet-regression")
          ? this.fleetModel(now).get(policy.clusterScaler)?.get(component)
          : undefined,
        now,
        fleetBudgetRemaining: budget.remaining,
        budgetRemaining: budget.remainingByReason,
        restartRequiring: (before, after) => restartRequiring(restartFacts, before, after),
        oomFloorRemaining: budget.oomFloorRemaining,
        placement: this.placement && placementOf(this.placement, workload, ref.container),
        paused,
      },
      this.engine,
    );
    // Spent at once, before any await, so that no other worker's reconcile finds this change still in the budget.
    if (plan.action !== "none")
      this.budget.reserve(policy.clusterScaler, `${ref.namespace}/${decisionName(plan, ref, now)}`, {
        tenant,
        workload: wkey,
        at: now,
        oom: plan.direction === "Up" && plan.category === "OOMKilled",
        heldByBudget: plan.heldByFleetBudget === true,
        ...(plan.heldByBudget ? { heldBy: plan.heldByBudget } : {}),
        ...(plan.disruptionReasons ? { reasons: plan.disruptionReasons } : {}),
      });
    if (plan.action === "none") {
      if (plan.heldForData !== undefined) {
        this.held.hold(policy.clusterScaler, wkey, plan.heldForData);
        round.held = true;
      }
      const next = nextWindowEndMs(h, policy, now);
      return {
        requeueAfterMs: Math.max(finishRetryMs === undefined ? 1000 : 100, Math.min(next, finishRetryMs ?? next)),
      };
    }
    // Act: record the decision, then the actuator carries it out.
    const regarding = tcp?.metadata
      ? { ...tcp, apiVersion: API_VERSION, kind: "TenantControlPlane" }
      : { ...workload, apiVersion: "apps/v1", kind: ref.kind };
    const applyPath = pathAtDecision(restartFacts, plan.before, plan.after, dryRun, now);
    const outcome = await this.decisions.record(
      plan,
      ref,
      { clusterScaler: policy.clusterScaler, dryRun, observed, now, ...(applyPath ? { applyPath } : {}) },
      regarding,
      rc,
      (phase) => {
        afterDecision(h, plan, phase, observed, sizeOf(sizeBlock(plan.after)), now);
        // Before the phase is written: the status reconcile that the decision's phase wakes sees the workload.
        this.noteBlocked(wkey, policy.clusterScaler);
      },
    );
    if (outcome.already) {
      markHandled(h, plan);
      return;
    }
    this.lastDecisionAt.set(policy.clusterScaler, now);
    this.metrics?.decided(plan, outcome.phase, this.now(), now);
  }
}
