// The ClusterScaler's per-workload reconcile: gather signals for one control-plane workload, resolve its policy,
// ask the pure engine for a plan, record the plan as a ScalingDecision, then let the actuator (live or recording)
// carry it out. The decision is written before the actuation under a deterministic name, so a crash between the
// two never loses a decision and a retry never actuates twice.
import { createHash, randomBytes } from "node:crypto";
import { Counter, Histogram, type Registry } from "prom-client";
import { mustParse, parseClusterScaler, type ClusterScaler, type ScalerName } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import { ApiError } from "../kube/errors.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { keyOf, Resources, type KubeObject, type ObjectKey } from "../kube/resources.js";
import type { Actuator } from "./actuator.js";
import { resourcesOf, tenantSpecSize } from "./actuator.js";
import { decide, defaultEngineOptions, freshness, recommendation, sameSize, type EngineOptions } from "./engine.js";
import { profileNameFor, profileRecommendation } from "../recommender/index.js";
import { blockedByFleetBudget, FleetBudget, type BudgetDecision, type BudgetUsage } from "./fleet-budget.js";
import { resolvePolicy, selectClusterScaler } from "./policy.js";
import { buildFleetModel, type FleetMember, type FleetModel } from "./fleet-model.js";
import { bytes, cores } from "./quantity.js";
import { oomEventsOf, type PodLike } from "./signals/oom.js";
import type { ProbeSignals } from "./signals/probe.js";
import type { PrometheusSignals } from "./signals/prometheus.js";
import { signDecision, verifyDecision } from "./signature.js";
import { interruptedVerdict, tenantSelectionLabels, workloadTenancy } from "./tenancy.js";
import type {
  ComponentName,
  DecisionInput,
  Measurement,
  Plan,
  Profile,
  ResolvedPolicy,
  Signals,
  Size,
  WorkloadHistory,
  WorkloadRef,
} from "./types.js";
import {
  blockedByAnnotation,
  componentLabel,
  observedSizeAnnotation,
  oomIdsAnnotation,
  pausedAnnotation,
  signatureAnnotation,
  tenantLabel,
  workloadAnnotation,
} from "../api/labels.js";

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

/**
 * A simulated change is the baseline of the workload's next dry-run decisions for its cooldown only (the scale-up
 * cooldown after an Up, the longer of the scale-down cooldown and stabilization window after a Down), and only
 * while the real workload keeps the size it had then. Within that time OOM kills, which act at once, build on it
 * as live mode would. After it, the baseline is the real workload again: the signals dry-run reads come from the
 * unchanged workload, so building on the simulated size would assume the change had no effect (a constant 429
 * rate would grow the simulated size every cooldown without end).
 */
interface DryRunShadow {
  observed: Size;
  after: Size;
  at: number;
  direction: "Up" | "Down";
}

/** How long a simulated change stays the dry-run baseline (see DryRunShadow). */
export function dryRunBaselineHoldMs(direction: "Up" | "Down", policy: ResolvedPolicy): number {
  return direction === "Up"
    ? policy.scaleUpCooldownMs
    : Math.max(policy.scaleDown.cooldownMs, policy.scaleDown.stabilizationWindowMs);
}

type History = WorkloadHistory & { handled: Set<string>; shadow?: DryRunShadow };

const components: readonly ComponentName[] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"];

export interface Workload extends KubeObject {
  spec?: {
    replicas?: number;
    template?: {
      spec?: {
        containers?: Array<{
          name: string;
          resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
        }>;
      };
    };
  };
}

export interface DecisionObject extends KubeObject {
  spec?: {
    target?: { name?: string; namespace?: string };
    direction?: "Up" | "Down";
    component?: string;
    dryRun?: boolean;
    decidedAt?: string;
    clusterScaler?: string;
    rootCause?: { category?: string };
    after?: { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
  };
  status?: { phase?: string; delivery?: { state?: string } };
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
}

const shortHash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 10);

/** The ClusterScalers that parse; an invalid one is left out here and reported by the status reconciler. */
export function validClusterScalers(raws: readonly KubeObject[]): ClusterScaler[] {
  return raws.flatMap((raw) => {
    const r = parseClusterScaler(raw);
    return r.ok ? [r.value] : [];
  });
}

export class ScalerReconciler implements Reconciler {
  private readonly histories = new Map<string, History>();
  /** Counted from the recorded decisions (src/scaler/fleet-budget.ts), so it survives a restart or failover. */
  private readonly budget: FleetBudget;
  private readonly now: () => number;
  private readonly engine: EngineOptions;
  private readonly decisionsTotal?: Counter<"direction" | "category" | "phase">;
  private readonly decisionLatency?: Histogram<"trigger">;
  /**
   * Per ClusterScaler, its workloads whose last scale-down check was held for missing or stale data, and why (for
   * its SignalsAvailable and ScaleDownHeld conditions). A workload leaves it on its next plan that is not held.
   */
  readonly heldReasons = new Map<string, Map<string, string>>();
  readonly lastDecisionAt = new Map<string, number>();
  /** Decisions this process recorded to the end (bounded: the oldest are forgotten). */
  private readonly finished = new BoundedSet(10_000);
  private parsed?: { key: string; value: readonly ClusterScaler[] };
  /** The fleet model of the last Prometheus poll, fitted once per poll and ClusterScaler spec. */
  private fleet?: { key: string; value: FleetModel };
  /** Workloads reported as not governed (uid and reason), so each is reported once, not on every event. */
  private readonly reportedForeign = new BoundedSet(10_000);
  /** Unsigned decisions already reported, so each is reported once. */
  private readonly reportedUnsigned = new BoundedSet(10_000);
  private readonly signingKey: () => Promise<Buffer>;

  constructor(private readonly o: ScalerOptions) {
    this.now = o.now ?? Date.now;
    const ownKey = randomBytes(32);
    this.signingKey = o.signingKey ?? (() => Promise.resolve(ownKey));
    this.engine = { ...defaultEngineOptions, ...o.engine };
    const decisions = o.caches.decisions;
    this.budget = new FleetBudget(() => decisions.list() as BudgetDecision[]);
    decisions.on({
      add: (d) => this.budget.observe(d as BudgetDecision),
      update: (d) => this.budget.observe(d as BudgetDecision),
      delete: (d) => this.budget.forget(d as BudgetDecision),
    });
    if (o.registry) {
      this.decisionsTotal = new Counter({
        name: "metapilot_scaling_decisions_total",
        help: "ScalingDecisions by direction, root-cause category and phase (Applied, DryRun, Blocked, Failed).",
        labelNames: ["direction", "category", "phase"],
        registers: [o.registry],
      });
      this.decisionLatency = new Histogram({
        name: "metapilot_scaling_decision_latency_seconds",
        help: "From the signal's observation (e.g. the OOM kill's finish time) to the actuation.",
        labelNames: ["trigger"],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
        registers: [o.registry],
      });
    }
  }

  /**
   * The valid ClusterScalers (an invalid one is skipped here and reported by the status reconciler), parsed once
   * per spec change of any of them rather than once per reconcile. The generation moves with the spec only, so
   * the ClusterScalers' own status writes do not cause a parse.
   */
  clusterScalers(): readonly ClusterScaler[] {
    const raws = this.o.caches.clusterScalers.list();
    const key = raws
      .map((r) => `${r.metadata?.uid ?? r.metadata?.name}@${r.metadata?.generation ?? r.metadata?.resourceVersion}`)
      .sort()
      .join(",");
    if (this.parsed?.key !== key) this.parsed = { key, value: validClusterScalers(raws) };
    return this.parsed.value;
  }

  /**
   * Whether a ClusterScaler governs this workload now. Work for any other is work for nothing (a fleet where a
   * few tenants are governed would otherwise reconcile every tenant's workloads on every pod event and poll);
   * the watch mappings ask this before they enqueue, and a ClusterScaler or tenant label change re-asks it.
   */
  governs(workload: KubeObject): boolean {
    const labels = workload.metadata?.labels;
    const tenant = labels?.[tenantLabel];
    const component = labels?.[componentLabel] as ComponentName | undefined;
    if (!tenant || !component || !components.includes(component)) return false;
    const selected = !!selectClusterScaler(this.clusterScalers(), this.tenantLabels(tenant, workload));
    if (!selected) return false;
    const tenancy = workloadTenancy(workload, tenant, this.o.caches.tenants.get(tenant));
    if (!tenancy.governed) {
      this.reportForeign(workload, tenancy.reason);
      return false;
    }
    return true;
  }

  /** A Warning Event on a workload that names a tenant it does not belong to, once per workload and reason. */
  private reportForeign(workload: KubeObject, reason: string): void {
    const key = `${workload.metadata?.uid ?? keyOf(workload)}/${reason}`;
    if (this.reportedForeign.has(key)) return;
    this.reportedForeign.add(key);
    const kind = this.o.caches.deployments.get(keyOf(workload)) === workload ? "Deployment" : "StatefulSet";
    this.o.recorder.record(
      { ...workload, apiVersion: "apps/v1", kind },
      "Warning",
      "ForeignTenantLabel",
      "Govern",
      reason,
    );
  }

  /** What the fleet budget of a valid ClusterScaler holds now, for its status. */
  async fleetBudgetUsage(name: string, now: number): Promise<BudgetUsage | undefined> {
    const cs = this.clusterScalers().find((c) => c.metadata?.name === name);
    return cs ? this.budget.usage(cs, now, await this.signingKey()) : undefined;
  }

  tenantLabels(tenant: string, workload: KubeObject): Record<string, string> {
    return tenantSelectionLabels(tenant, this.o.caches.tenants.get(tenant), workload);
  }

  private history(key: string, now: number, signingKey: Buffer): History {
    let h = this.histories.get(key);
    if (!h) {
      // After a restart, cooldowns and handled OOMs are rebuilt from the recorded decisions.
      const handled = new Set<string>();
      let lastScaleUpAt: number | undefined;
      let lastChangeAt: number | undefined;
      let shadow: DryRunShadow | undefined;
      let shadowAt = 0;
      const [ns, name] = key.split("/");
      for (const d of this.o.caches.decisions.listNamespace(ns ?? "", (d) => d.spec?.target?.name === name)) {
        // A decision without a phase is metapilot's only when it carries metapilot's signature: anyone who may
        // create ScalingDecisions could otherwise mark OOM kills as handled, and so keep them from being answered.
        if (!d.status?.phase && !verifyDecision(signingKey, d)) continue;
        for (const id of (d.metadata?.annotations?.[oomIdsAnnotation] ?? "").split(",").filter(Boolean))
          handled.add(id);
        if (d.status?.phase !== "Applied" && d.status?.phase !== "DryRun") continue;
        const at = Date.parse(d.spec?.decidedAt ?? "") || 0;
        lastChangeAt = Math.max(lastChangeAt ?? 0, at);
        const observed = d.metadata?.annotations?.[observedSizeAnnotation];
        if (d.status?.phase === "DryRun" && observed && at >= shadowAt) {
          try {
            shadow = {
              observed: JSON.parse(observed) as Size,
              after: sizeOf(d.spec?.after),
              at,
              direction: d.spec?.direction === "Down" ? "Down" : "Up",
            };
            shadowAt = at;
          } catch {
            // an unreadable annotation only loses the shadow, never a decision
          }
        }
        if (d.spec?.direction === "Up") lastScaleUpAt = Math.max(lastScaleUpAt ?? 0, at);
      }
      h = {
        handled,
        handledOomIds: handled,
        overThresholdSince: {},
        recommendations: [],
        observingSince: now,
        lastScaleUpAt,
        lastChangeAt,
        shadow,
      };
      this.histories.set(key, h);
    }
    return h;
  }

  private currentSize(w: Workload, container: string): Size {
    const c =
      w.spec?.template?.spec?.containers?.find((x) => x.name === container) ?? w.spec?.template?.spec?.containers?.[0];
    const r = c?.resources ?? {};
    return {
      replicas: w.spec?.replicas ?? 1,
      cpuRequest: cores(r.requests?.cpu),
      cpuLimit: cores(r.limits?.cpu),
      memoryRequest: bytes(r.requests?.memory),
      memoryLimit: bytes(r.limits?.memory),
    };
  }

  private signalsFor(ref: WorkloadRef, pods: Array<PodLike & KubeObject>, probeWindowMs: number, now: number): Signals {
    const oom = pods.flatMap((p) => oomEventsOf(p, ref.container));
    const p = this.o.prometheus;
    const signals: Signals = { oom };
    if (ref.component === "kube-apiserver" && this.o.probe)
      signals.probeFailures = this.o.probe.failuresWithin(ref.tenant, probeWindowMs, now);
    if (!p) return { ...signals, unavailableReason: "no Prometheus configured" };
    const worst = (map: Map<string, Measurement>): Measurement | undefined => {
      let best: Measurement | undefined;
      for (const pod of pods) {
        const m = map.get(`${ref.namespace}/${pod.metadata?.name}/${ref.container}`);
        if (m && (!best || m.value > best.value)) best = m;
      }
      return best;
    };
    signals.cpuUsage = worst(p.snapshot.cpu);
    signals.memoryWorkingSet = worst(p.snapshot.memory);
    signals.cpuThrottledRatio = worst(p.snapshot.throttledRatio);
    if (ref.component === "kube-apiserver") signals.apiserver429Rate = p.snapshot.apiserver429.get(ref.namespace);
    signals.clusterNodes = p.snapshot.nodes.get(ref.namespace);
    signals.storedObjects = p.snapshot.objects.get(ref.namespace);
    if (p.lastError) signals.unavailableReason = p.lastError;
    return signals;
  }

  /**
   * The fleet model: for every ClusterScaler component that lists fleet-regression, usage against tenant size over
   * every tenant the ClusterScaler governs, from the last poll. Refitted when a poll or a ClusterScaler spec changes.
   */
  fleetModel(now: number): FleetModel {
    const p = this.o.prometheus;
    const scalers = this.clusterScalers();
    const key = `${p?.lastSuccessAt ?? "none"}|${this.parsed?.key ?? ""}`;
    if (this.fleet?.key === key) return this.fleet.value;
    const wanted = scalers.flatMap((cs) =>
      cs.spec.components
        .filter((c) => c.estimators?.includes("fleet-regression"))
        .map((c) => ({ clusterScaler: cs.metadata?.name ?? "", component: c.name as ComponentName })),
    );
    const members: FleetMember[] = [];
    if (p && wanted.length) {
      const want = new Set(wanted.map((w) => `${w.clusterScaler}/${w.component}`));
      for (const workload of [...this.o.caches.deployments.list(), ...this.o.caches.statefulSets.list()]) {
        const tenant = workload.metadata?.labels?.[tenantLabel];
        const component = workload.metadata?.labels?.[componentLabel] as ComponentName | undefined;
        const ns = workload.metadata?.namespace;
        if (!tenant || !component || !ns) continue;
        const cs = selectClusterScaler(scalers, this.tenantLabels(tenant, workload))?.metadata?.name;
        if (!cs || !want.has(`${cs}/${component}`)) continue;
        if (!workloadTenancy(workload, tenant, this.o.caches.tenants.get(tenant)).governed) continue;
        const containers = workload.spec?.template?.spec?.containers ?? [];
        const container = containers.some((c) => c.name === component) ? component : (containers[0]?.name ?? component);
        const pods = this.o.caches.pods.listNamespace(
          ns,
          (pod) =>
            pod.metadata?.labels?.[tenantLabel] === tenant && pod.metadata?.labels?.[componentLabel] === component,
        );
        const worst = (map: Map<string, Measurement>) => {
          let best: Measurement | undefined;
          for (const pod of pods) {
            const m = map.get(`${ns}/${pod.metadata?.name}/${container}`);
            if (m && (!best || m.value > best.value)) best = m;
          }
          return best;
        };
        members.push({
          clusterScaler: cs,
          component,
          tenant,
          nodes: p.snapshot.nodes.get(ns),
          objects: p.snapshot.objects.get(ns),
          cpu: worst(p.snapshot.cpu),
          memory: worst(p.snapshot.memory),
        });
      }
    }
    const options = new Map(scalers.map((cs) => [cs.metadata?.name ?? "", cs.spec.fleetRegression]));
    const value = buildFleetModel(
      members,
      wanted,
      (cs) => options.get(cs) ?? { minTenants: 10, minR2: 0.7 },
      now,
      this.engine.staleAfterMs,
    );
    this.fleet = { key, value };
    return value;
  }

  /** The WorkloadProfile's recommendation (only a real one: NoData and InsufficientData give none). */
  private profileFor(ref: WorkloadRef): Profile | undefined {
    const wp = this.o.caches.profiles.get(`${ref.namespace}/${profileNameFor(ref.kind, ref.name)}`);
    const rec = wp
      ? profileRecommendation(wp as Parameters<typeof profileRecommendation>[0], ref.container)
      : undefined;
    return rec ? { target: rec.target, upperBound: rec.upperBound } : undefined;
  }

  /** Tracks since when each sustained scaler has been over its threshold. */
  private track(h: WorkloadHistory, input: Omit<DecisionInput, "history">): void {
    const since = h.overThresholdSince as Record<ScalerName, number | undefined>;
    const mark = (scaler: ScalerName, over: boolean) => {
      if (over) since[scaler] ??= input.now;
      else delete since[scaler];
    };
    const f = (m: Measurement | undefined) =>
      freshness(m, input.now, this.engine.staleAfterMs) === "fresh" ? m : undefined;
    const s = input.policy.scalers;
    const cpu = f(input.signals.cpuUsage);
    mark("cpu", !!cpu && !!input.current.cpuRequest && cpu.value / input.current.cpuRequest >= s.cpu.threshold);
    const mem = f(input.signals.memoryWorkingSet);
    const memBase = input.current.memoryLimit ?? input.current.memoryRequest;
    mark("memory", !!mem && !!memBase && mem.value / memBase >= s.memory.threshold);
    const r429 = f(input.signals.apiserver429Rate);
    const cfs = f(input.signals.cpuThrottledRatio);
    mark("throttling", (!!r429 && r429.value >= s.throttling.threshold) || (!!cfs && cfs.value >= 0.25));
    const probe = f(input.signals.probeFailures);
    mark("probe", !!probe && probe.value >= s.probe.threshold);
  }

  /** Drops a workload from every ClusterScaler's held set (it may have moved to another policy). */
  private forgetHeld(wkey: string): void {
    for (const [cs, held] of this.heldReasons) {
      held.delete(wkey);
      if (held.size === 0) this.heldReasons.delete(cs);
    }
  }

  /**
   * The workload's place in its ClusterScaler's held set changes only when this round knows the answer: set where
   * the plan is held for data, dropped on every other way out. Emptied at the start instead, the ClusterScaler's
   * status, written on each poll while the poll's reconciles are still running, read it empty and said the
   * signals were fresh while they were missing.
   */
  async reconcile(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    const wkey = `${key.namespace}/${key.name}`;
    const round = { held: false };
    try {
      return await this.reconcileWorkload(key, wkey, rc, round);
    } finally {
      if (!round.held) this.forgetHeld(wkey);
    }
  }

  private async reconcileWorkload(
    key: ObjectKey,
    wkey: string,
    rc: ReconcileContext,
    round: { held: boolean },
  ): Promise<ReconcileResult | void> {
    const now = this.now();
    const deployment = this.o.caches.deployments.get(wkey);
    const workload = deployment ?? this.o.caches.statefulSets.get(wkey);
    if (!workload?.metadata) {
      this.histories.delete(wkey);
      return;
    }
    const tenant = workload.metadata.labels?.[tenantLabel];
    const component = workload.metadata.labels?.[componentLabel] as ComponentName | undefined;
    if (!tenant || !component || !components.includes(component)) return;
    const tcp = this.o.caches.tenants.get(tenant);
    const labels = this.tenantLabels(tenant, workload);
    const cs = selectClusterScaler(this.clusterScalers(), labels);
    if (!cs) return;
    // Only the tenant's own workloads (src/scaler/tenancy.ts): a label alone never makes a workload another's.
    const tenancy = workloadTenancy(workload, tenant, tcp);
    if (!tenancy.governed) {
      this.reportForeign(workload, tenancy.reason);
      this.histories.delete(wkey);
      return;
    }
    let policy;
    try {
      policy = resolvePolicy(cs, component, labels);
    } catch (err) {
      rc.logger.warn({ err, clusterScaler: cs.metadata?.name }, "invalid ClusterScaler policy");
      return;
    }
    if (!policy) return;
    const ref: WorkloadRef = {
      kind: deployment ? "Deployment" : "StatefulSet",
      name: workload.metadata.name ?? "",
      namespace: workload.metadata.namespace ?? "",
      tenant,
      component,
      container: component,
      ownedByTenantControlPlane: tenancy.ownedByTenantControlPlane,
    };
    const containers = workload.spec?.template?.spec?.containers ?? [];
    if (!containers.some((c) => c.name === ref.container)) ref.container = containers[0]?.name ?? component;
    const pods = this.o.caches.pods.listNamespace(
      ref.namespace,
      (p) => p.metadata?.labels?.[tenantLabel] === tenant && p.metadata?.labels?.[componentLabel] === component,
    );
    const paused = isPaused(workload, tcp, cs);
    const signingKey = await this.signingKey();
    const h = this.history(wkey, now, signingKey);
    const observed = tenancy.ownedByTenantControlPlane
      ? tenantSpecSize(
          this.currentSize(workload, ref.container),
          (tcp as { spec?: unknown } | undefined)?.spec,
          component,
        )
      : this.currentSize(workload, ref.container);
    const finishRetryMs = await this.finishInterrupted(ref, observed, now, policy, paused);
    const dryRun = policy.dryRun || this.o.dryRun || this.o.actuator.dryRun;
    const shadow = h.shadow;
    const current =
      dryRun &&
      shadow &&
      sameSize(observed, shadow.observed) &&
      now - shadow.at < dryRunBaselineHoldMs(shadow.direction, policy)
        ? shadow.after
        : observed;
    const budget = this.budget.usage(cs, now, signingKey, tenant);
    const partial = {
      workload: ref,
      current,
      observed,
      policy,
      signals: this.signalsFor(ref, pods, policy.scalers.probe.windowMs, now),
      profile: this.profileFor(ref),
      fleet: policy.estimators.includes("fleet-regression")
        ? this.fleetModel(now).get(policy.clusterScaler)?.get(component)
        : undefined,
      now,
      fleetBudgetRemaining: budget.remaining,
      oomFloorRemaining: budget.oomFloorRemaining,
      paused,
    };
    this.track(h, partial);
    const input: DecisionInput = { ...partial, history: h };
    const plan = decide(input, this.engine);
    // Spent at once, before any await, so that no other worker's reconcile finds this change still in the budget.
    if (plan.action !== "none")
      this.budget.reserve(policy.clusterScaler, `${ref.namespace}/${decisionName(plan, ref, now)}`, {
        tenant,
        workload: wkey,
        at: now,
        oom: plan.direction === "Up" && plan.category === "OOMKilled",
        heldByBudget: plan.heldByFleetBudget === true,
      });
    const rec = recommendation(input, this.engine);
    if (rec) {
      h.recommendations.push(rec);
      const cutoff = now - policy.scaleDown.stabilizationWindowMs;
      while (h.recommendations.length && (h.recommendations[0]?.at ?? 0) < cutoff) h.recommendations.shift();
    }
    if (plan.action === "none" && plan.heldForData !== undefined) {
      // Out of any other ClusterScaler's set first: the workload may have moved to this one.
      this.forgetHeld(wkey);
      const held = this.heldReasons.get(policy.clusterScaler) ?? new Map<string, string>();
      held.set(wkey, plan.heldForData);
      this.heldReasons.set(policy.clusterScaler, held);
      round.held = true;
    }
    if (plan.action === "none") {
      const waiting = Object.entries(h.overThresholdSince).map(
        ([s, t]) => (t ?? now) + policy.scalers[s as ScalerName].windowMs - now,
      );
      const next = Math.min(...waiting.filter((x) => x > 0), 60_000);
      return {
        requeueAfterMs: Math.max(finishRetryMs === undefined ? 1000 : 100, Math.min(next, finishRetryMs ?? next)),
      };
    }
    await this.record(plan, ref, policy.clusterScaler, dryRun, observed, h, now, rc, tcp, workload);
  }

  /**
   * Decisions a previous leader recorded but did not finish (it died between creating the decision and writing its
   * phase). Each gets its outcome now, so no decision is left without one: dry-run ones are DryRun; a live one is
   * Applied if the workload already has its size, re-applied (the same absolute size, so never a second bump) if
   * it is the workload's latest decision, still fresh, within the current policy and the target is not paused,
   * and Failed otherwise. A decision metapilot did not sign is a stranger's object: it is never applied and never
   * given a phase (which would make it look like metapilot's), only reported in an Event.
   */
  private async finishInterrupted(
    ref: WorkloadRef,
    observed: Size,
    now: number,
    policy: ResolvedPolicy,
    paused: boolean,
  ): Promise<number | undefined> {
    const age = (d: DecisionObject) => now - (Date.parse(String(d.metadata?.creationTimestamp ?? "")) || now);
    const mine = this.o.caches.decisions.listNamespace(ref.namespace, (d) => d.spec?.target?.name === ref.name);
    // Decisions this process finished itself are skipped (the cache may not show their phase yet); others get a
    // short grace period, and the workload is looked at again when it ends.
    const open = mine.filter(
      (d) =>
        !d.status?.phase &&
        !this.finished.has(`${ref.namespace}/${d.metadata?.name}`) &&
        !this.reportedUnsigned.has(`${d.metadata?.uid}`),
    );
    const graceMs = 3_000;
    const unfinished = open.filter((d) => age(d) >= graceMs);
    const young = open.filter((d) => age(d) < graceMs);
    const retryInMs = young.length ? Math.max(100, graceMs - Math.min(...young.map(age))) : undefined;
    if (unfinished.length === 0) return retryInMs;
    const key = await this.signingKey();
    const signed = mine.filter((d) => verifyDecision(key, d));
    const latest = signed.length
      ? signed.reduce((a, b) => ((a.spec?.decidedAt ?? "") >= (b.spec?.decidedAt ?? "") ? a : b))
      : undefined;
    for (const d of unfinished) {
      const after = sizeOf(d.spec?.after);
      const verdict = interruptedVerdict({
        signed: signed.includes(d),
        dryRun: d.spec?.dryRun === true,
        decidedAt: Date.parse(d.spec?.decidedAt ?? ""),
        after,
        observed,
        latest: d === latest,
        paused,
        policy,
        now,
        maxAgeMs: this.o.interruptedMaxAgeMs ?? 10 * 60_000,
      });
      if (verdict.action === "ignore") {
        this.reportedUnsigned.add(`${d.metadata?.uid}`);
        this.o.recorder.record(
          { ...d, apiVersion: "metapilot.io/v1alpha1", kind: "ScalingDecision" },
          "Warning",
          "UnverifiedDecision",
          "FinishInterrupted",
          `${verdict.reason}; ${ref.kind} ${ref.name} left as it is`,
        );
        continue;
      }
      let phase: "Applied" | "DryRun" | "Failed";
      let message: string;
      if (verdict.action === "finish") {
        ({ phase, message } = verdict);
      } else {
        try {
          await this.o.actuator.apply(ref, after);
          phase = "Applied";
          message = "applied after a controller restart interrupted it";
        } catch (err) {
          phase = "Failed";
          message = `actuation failed after a restart: ${(err as Error).message}`.slice(0, 4000);
        }
      }
      await this.o.client.applyStatus(Resources.ScalingDecision, {
        metadata: { name: d.metadata?.name, namespace: ref.namespace },
        status: {
          phase,
          message,
          ...(phase === "Applied" ? { appliedAt: new Date(this.now()).toISOString() } : {}),
          delivery: { state: "Pending", attempts: 0 },
        },
      } as KubeObject & { status: unknown });
      this.finished.add(`${ref.namespace}/${d.metadata?.name}`);
    }
    return retryInMs;
  }

  private async record(
    plan: Exclude<Plan, { action: "none" }>,
    ref: WorkloadRef,
    clusterScaler: string,
    dryRun: boolean,
    observed: Size,
    h: History,
    now: number,
    rc: ReconcileContext,
    tcp: TenantObject | undefined,
    workload: Workload,
  ): Promise<void> {
    const name = decisionName(plan, ref, now);
    const budgetKey = `${ref.namespace}/${name}`;
    const size = (s: Size) => ({ replicas: s.replicas, resources: resourcesOf(s) });
    const decision = {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ScalingDecision",
      metadata: {
        name,
        namespace: ref.namespace,
        labels: {
          [tenantLabel]: ref.tenant,
          [componentLabel]: ref.component,
          "metapilot.io/direction": plan.direction,
        },
        annotations: {
          [workloadAnnotation]: `${ref.kind}/${ref.name}`,
          ...(plan.oomIds.length ? { [oomIdsAnnotation]: plan.oomIds.join(",").slice(0, 4000) } : {}),
          ...(dryRun ? { [observedSizeAnnotation]: JSON.stringify(observed) } : {}),
          ...(plan.heldByFleetBudget ? { [blockedByAnnotation]: blockedByFleetBudget } : {}),
        },
      },
      spec: {
        target: { apiVersion: "apps/v1", kind: ref.kind, name: ref.name, namespace: ref.namespace, tenant: ref.tenant },
        component: ref.component,
        direction: plan.direction,
        dryRun,
        scaler: plan.scaler,
        ...(plan.estimator ? { estimator: plan.estimator } : {}),
        rootCause: { category: plan.category, summary: plan.summary.slice(0, 1024), evidence: plan.evidence },
        before: size(plan.before),
        after: size(plan.after),
        clusterScaler,
        decidedAt: new Date(now).toISOString(),
      },
    };
    (decision.metadata.annotations as Record<string, string>)[signatureAnnotation] = signDecision(
      await this.signingKey(),
      decision,
    );
    mustParse("ScalingDecision", decision);
    let created = true;
    try {
      await this.o.client.create(Resources.ScalingDecision, decision as KubeObject);
    } catch (err) {
      if (!(err instanceof ApiError && err.isConflict)) {
        this.budget.settle(clusterScaler, budgetKey, "Failed"); // never recorded, so never carried out
        throw err;
      }
      created = false; // already recorded by an earlier attempt: carry on to make sure it was carried out
    }
    const existing = created ? undefined : this.o.caches.decisions.get(`${ref.namespace}/${name}`);
    if (existing?.status?.phase) {
      this.budget.settle(clusterScaler, budgetKey, existing.status.phase);
      for (const id of plan.oomIds) h.handled.add(id);
      return;
    }
    let phase: "Applied" | "DryRun" | "Blocked" | "Failed";
    let message: string;
    if (plan.action === "blocked") {
      phase = "Blocked";
      message = plan.blockedBy ?? "blocked";
    } else if (dryRun) {
      phase = "DryRun";
      message = "dry-run: recorded, workload unchanged";
    } else {
      try {
        await this.o.actuator.apply(ref, plan.after);
        phase = "Applied";
        message = ref.ownedByTenantControlPlane
          ? `TenantControlPlane ${ref.tenant} spec updated`
          : `${ref.kind} ${ref.name} updated`;
      } catch (err) {
        phase = "Failed";
        message = `actuation failed: ${(err as Error).message}`.slice(0, 4000);
      }
    }
    this.budget.settle(clusterScaler, budgetKey, phase);
    // The shadow holds the size as it would read back after applying it (whole millicores and MiB), like live.
    if (phase === "DryRun")
      h.shadow = { observed, after: sizeOf(size(plan.after)), at: now, direction: plan.direction };
    if (phase !== "Blocked" && phase !== "Failed") {
      h.lastChangeAt = now;
      if (plan.direction === "Up") h.lastScaleUpAt = now;
      if (plan.direction === "Down") h.recommendations = [];
    }
    for (const id of plan.oomIds) h.handled.add(id);
    await this.o.client.applyStatus(Resources.ScalingDecision, {
      metadata: { name, namespace: ref.namespace },
      status: {
        phase,
        message,
        ...(phase === "Applied" ? { appliedAt: new Date(this.now()).toISOString() } : {}),
        delivery: { state: "Pending", attempts: 0 },
      },
    } as KubeObject & { status: unknown });
    this.finished.add(`${ref.namespace}/${name}`);
    this.lastDecisionAt.set(clusterScaler, now);
    this.decisionsTotal?.inc({ direction: plan.direction, category: plan.category, phase });
    const oldest = Math.min(...plan.evidence.map((e) => Date.parse(e.observedAt ?? "") || now));
    this.decisionLatency?.observe({ trigger: plan.category }, Math.max(0, this.now() - oldest) / 1000);
    const regarding = tcp?.metadata
      ? { ...tcp, apiVersion: "metapilot.io/v1alpha1", kind: "TenantControlPlane" }
      : { ...workload, apiVersion: "apps/v1", kind: ref.kind };
    this.o.recorder.record(
      regarding,
      phase === "Failed" || plan.direction === "Up" ? "Warning" : "Normal",
      plan.category,
      `Scale${plan.direction}`,
      `${phase}: ${plan.summary}`,
    );
    rc.logger.info(
      {
        decision: name,
        phase,
        category: plan.category,
        direction: plan.direction,
        workload: `${ref.namespace}/${ref.name}`,
      },
      "scaling decision",
    );
  }
}

/**
 * The decision's name: the same plan gets the same name (a retry after a crash finds the decision it recorded), a
 * plan for new OOM kills one per set of kills, any other one per size asked for and minute. A change the budget
 * held back is named apart from the change made once the budget allows it, so that one is not mistaken for the
 * other within the same minute.
 */
function decisionName(plan: Exclude<Plan, { action: "none" }>, ref: WorkloadRef, now: number): string {
  const identity = plan.oomIds.length
    ? plan.oomIds.join(",")
    : `${JSON.stringify(plan.after)}/${Math.floor(now / 60_000)}${plan.action === "blocked" ? "/blocked" : ""}`;
  return `${ref.component}-${plan.direction.toLowerCase()}-${shortHash(`${ref.namespace}/${ref.name}/${plan.direction}/${identity}`)}`.slice(
    0,
    63,
  );
}

/** A decision's before/after block back into numbers. */
function sizeOf(
  s:
    | { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }
    | undefined,
): Size {
  return {
    replicas: s?.replicas ?? 1,
    cpuRequest: cores(s?.resources?.requests?.cpu),
    cpuLimit: cores(s?.resources?.limits?.cpu),
    memoryRequest: bytes(s?.resources?.requests?.memory),
    memoryLimit: bytes(s?.resources?.limits?.memory),
  };
}

/** A set that forgets its oldest entries beyond `limit`. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly limit: number) {}
  add(v: string): void {
    this.items.add(v);
    if (this.items.size > this.limit) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }
  has(v: string): boolean {
    return this.items.has(v);
  }
}
