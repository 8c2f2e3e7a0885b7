// The disruption budgets: how many workload changes one ClusterScaler makes across all its tenants in a sliding
// interval, per budget (spec.disruption.budgets, spec.fleetBudget, or the controller's default budgets for a
// ClusterScaler that sets none). Each budget limits the changes with one of its reasons (ScaleUp, ScaleDown,
// RestartRequiring; src/scaler/budget-gate.ts, restart.ts; Drain, src/nodes/drain), as a count or a percentage of the governed tenants, and is
// active always or only inside the windows of its cron schedule (src/api/cron.ts). The most restrictive active
// budget wins: the engine gets, per reason, the least any active budget covering it has left. It is counted from the ScalingDecisions the policy recorded, as the decision cache holds
// them, not from memory: a restarted controller, or a standby that takes the Lease over, sees the changes its
// predecessor made and carries on at the same rate (a new leader first reads them all with a LIST, since its cache
// may lag: src/scaler/shared-budget.ts). Its own decisions count from the moment they are planned, before the cache
// shows them, so concurrent workers cannot overspend it either.
//
// A NodeDrain's evictions of governed control-plane pods are Drain changes, counted from the records in its
// status.pods[].disruption (evictedAt) (observeDrain), and a drain's own eviction from the moment it is reserved
// (reserveDrain): one budget that lists Drain and ScaleUp is spent by both. The scaler and the drain controller of a
// process share one FleetBudget (src/scaler/shared-budget.ts), so what one has planned the other sees at once.
//
// What counts: Applied and DryRun decisions (a dry-run sequence spends the budget as live mode would) and those not
// finished yet (a leader that died between creating a decision and writing its phase may have applied it), each
// at its spec.decidedAt. Failed and Blocked decisions changed nothing and do not count. Only decisions signed with
// metapilot's key count (src/scaler/signature.ts): anyone who may create ScalingDecisions could otherwise spend the
// fleet's budget and so stop every scale-up.
//
// OOM scale-ups count against the budgets too, but a tenant always gets oomFloorPerTenant of them per interval (the
// longest of the active budgets that cover ScaleUp), however spent the budgets are (the engine's rule, fed by
// oomFloorRemaining).
import {
  DISRUPTION_REASONS,
  parseDuration,
  type ClusterScaler,
  type DisruptionBudget,
  type DisruptionReason,
} from "../api/index.js";
import { cronWindow } from "../api/cron.js";
import { verifyDecision, type SignedDecision } from "./signature.js";
import { blockedByAnnotation, heldByBudgetAnnotation } from "../api/labels.js";
import type { BudgetRemaining } from "./types.js";
import { compareResourceVersions, type KubeObject } from "../kube/resources.js";

export const blockedByFleetBudget = "fleet-budget";

/** The controller's default budgets when --default-disruption-budgets is not given: what spec.fleetBudget was. */
export const builtInDefaultBudgets: readonly DisruptionBudget[] = [{ limit: "10", interval: "5m" }];
export const defaultOomFloor = 2;

/** The parts of a ScalingDecision the budget reads. */
export interface BudgetDecision extends SignedDecision {
  metadata?: SignedDecision["metadata"] & { uid?: string };
  spec?: SignedDecision["spec"] & {
    target?: { name?: string; namespace?: string; tenant?: string };
    direction?: string;
    decidedAt?: string;
    clusterScaler?: string;
    rootCause?: { category?: string };
    disruptionReasons?: string[];
  };
  status?: { phase?: string };
}

/** The parts of a NodeDrain the budget reads: the Drain changes recorded per pod. */
export interface BudgetDrain {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
  status?: {
    pods?: ReadonlyArray<{
      namespace: string;
      name: string;
      disruption?: { clusterScaler: string; tenant: string; evictedAt?: string; heldBy?: string; heldSince?: string };
    }>;
  };
}

/** A budget in force, resolved from the spec or the controller's defaults. */
export interface ResolvedBudget {
  /** Where it comes from: "spec.disruption.budgets[i]", "spec.fleetBudget" or "default[i]". */
  id: string;
  limitSpec: string;
  interval: string;
  intervalMs: number;
  reasons: readonly DisruptionReason[];
  schedule?: string;
  durationMs?: number;
}

/** One budget at one moment. */
export interface BudgetState extends ResolvedBudget {
  active: boolean;
  /** The limit in force: the count, or the percentage of the governed tenants rounded up. */
  limit: number;
  /** Changes with one of its reasons in its interval. */
  changes: number;
  /** limit - changes, never below 0. */
  remaining: number;
  /** Workloads it held back in its interval, the most recent first. */
  heldBack: string[];
  /** While active and spent: when the change that frees one leaves the interval. */
  nextChangeAt?: number;
  /** For a scheduled budget: when its window next opens or closes. */
  windowChangesAt?: number;
  /** When its counts next change (a counted or held decision leaves the interval). */
  nextExpiryAt?: number;
}

/**
 * The budgets as the engine and the ClusterScaler's status see them, at one moment. The flat fields are those of the
 * most restrictive active budget (the first budget when none is active), in the form spec.fleetBudget had.
 */
export interface BudgetUsage {
  budgets: BudgetState[];
  /** Per reason, the least an active budget covering it has left, and which budget; absent: no active budget. */
  remainingByReason: BudgetRemaining;
  maxChangesPerInterval: number;
  intervalMs: number;
  /** The interval as written. */
  interval: string;
  oomFloorPerTenant: number;
  /** Changes counted in the interval. */
  changes: number;
  /** Changes left: maxChangesPerInterval - changes, never below 0 (floor OOM scale-ups may go over it). */
  remaining: number;
  /** OOM scale-ups the tenant asked about still gets in this interval, whatever is left of the budget. */
  oomFloorRemaining: number;
  /** Workloads whose change the budget held back in the interval (namespace/name), the most recent first. */
  heldBack: string[];
  /** When the oldest counted change leaves the interval; only while nothing remains. */
  nextChangeAt?: number;
  /** When the counts or a budget's window next change: a counted or held decision leaves an interval, a window opens or closes. */
  nextExpiryAt?: number;
}

interface Entry {
  key: string;
  tenant: string;
  workload: string;
  at: number;
  oom: boolean;
  heldByBudget: boolean;
  /** The budget that held it back, when recorded. */
  heldBy?: string;
  reasons: readonly DisruptionReason[];
  /** The recorded object; absent while this process's own decision is not in the cache yet. */
  decision?: BudgetDecision;
  /** This process planned it: trusted without a signature, and its phase known before the cache shows it. */
  own: boolean;
  ownPhase?: string;
  /** The key the signature was last checked with, and the answer. */
  checkedWith?: Buffer;
  signed?: boolean;
}

/** A decision's reasons: as recorded, else (recorded before budgets had reasons) its direction and RestartRequiring. */
function reasonsOf(d: BudgetDecision): DisruptionReason[] {
  const recorded = d.spec?.disruptionReasons?.filter((r): r is DisruptionReason =>
    (DISRUPTION_REASONS as readonly string[]).includes(r),
  );
  if (recorded?.length) return recorded;
  return [d.spec?.direction === "Down" ? "ScaleDown" : "ScaleUp", "RestartRequiring"];
}

function resolve(b: DisruptionBudget, id: string): ResolvedBudget {
  return {
    id,
    limitSpec: b.limit,
    interval: b.interval,
    intervalMs: parseDuration(b.interval),
    reasons: b.reasons?.length ? b.reasons : DISRUPTION_REASONS,
    ...(b.schedule && b.duration ? { schedule: b.schedule, durationMs: parseDuration(b.duration) } : {}),
  };
}

/**
 * The budgets in force for a ClusterScaler: spec.disruption.budgets and spec.fleetBudget (as one budget of every
 * reason) together, or the controller's `defaults` when it sets neither; and its OOM floor.
 */
export function budgetsOf(
  cs: ClusterScaler,
  defaults: readonly DisruptionBudget[] = builtInDefaultBudgets,
): { budgets: ResolvedBudget[]; oomFloor: number } {
  const budgets = (cs.spec.disruption?.budgets ?? []).map((b, i) => resolve(b, `spec.disruption.budgets[${i}]`));
  const fb = cs.spec.fleetBudget;
  if (fb) budgets.push(resolve({ limit: String(fb.maxChangesPerInterval), interval: fb.interval }, "spec.fleetBudget"));
  return {
    budgets: budgets.length ? budgets : defaults.map((b, i) => resolve(b, `default[${i}]`)),
    oomFloor: cs.spec.disruption?.oomFloorPerTenant ?? fb?.oomFloorPerTenant ?? defaultOomFloor,
  };
}

/**
 * A budget's limit in force: a count as it is, a percentage of `tenants` rounded up (Karpenter's rounding: any
 * percentage above 0 of at least one tenant allows one change).
 */
export function limitOf(limit: string, tenants: number): number {
  if (limit.endsWith("%")) return Math.ceil((Number(limit.slice(0, -1)) * Math.max(0, tenants)) / 100);
  return Number(limit);
}

/** The part of an informer a budget reads: its objects, and their changes. */
export interface RecordCache {
  list(): readonly KubeObject[];
  on(handlers: {
    add?: (o: KubeObject) => void;
    update?: (o: KubeObject) => void;
    delete?: (o: KubeObject) => void;
  }): unknown;
}

export class FleetBudget {
  /** ClusterScaler name → decision key (namespace/name) → entry. */
  private readonly byClusterScaler = new Map<string, Map<string, Entry>>();
  /** ClusterScaler name → how far back its entries are complete (entries older are dropped as they age out). */
  private readonly horizonMs = new Map<string, number>();
  /** NodeDrain name → the (ClusterScaler, key) of its Drain entries. */
  private readonly drainKeys = new Map<string, Array<[string, string]>>();
  /** Evictions this process made whose record the cache does not show yet: key → ClusterScaler. */
  private readonly pinnedDrains = new Map<string, string>();
  /** NodeDrain name → the version of it last observed. */
  private readonly drainVersions = new Map<string, { uid?: string; resourceVersion?: string }>();

  /**
   * @param recorded every recorded decision, read again only when an interval grows beyond what is kept
   * @param defaults the budgets of a ClusterScaler that sets none (--default-disruption-budgets)
   * @param recordedDrains every NodeDrain, read again when an interval grows beyond what is kept
   */
  constructor(
    private readonly recorded: () => readonly BudgetDecision[] = () => [],
    readonly defaults: readonly DisruptionBudget[] = builtInDefaultBudgets,
    private readonly recordedDrains: () => readonly BudgetDrain[] = () => [],
  ) {}

  /**
   * A budget fed by the caches of the recorded ScalingDecisions and NodeDrains: what the scaler and the drain
   * controller each count from.
   */
  static fromCaches(
    decisions: RecordCache,
    defaults: readonly DisruptionBudget[] | undefined,
    drains?: RecordCache,
  ): FleetBudget {
    const budget = new FleetBudget(
      () => decisions.list() as BudgetDecision[],
      defaults,
      () => (drains?.list() ?? []) as BudgetDrain[],
    );
    decisions.on({
      add: (d) => budget.observe(d as BudgetDecision),
      update: (d) => budget.observe(d as BudgetDecision),
      delete: (d) => budget.forget(d as BudgetDecision),
    });
    drains?.on({
      add: (d) => budget.observeDrain(d as BudgetDrain),
      update: (d) => budget.observeDrain(d as BudgetDrain),
      delete: (d) => budget.forgetDrain(d as BudgetDrain),
    });
    return budget;
  }

  /**
   * A NodeDrain as it is now (recorded, or this process's status before it is written): each pod it evicted is one
   * Drain change of the ClusterScaler named in its record, at evictedAt; each pod a budget holds back is held, as a
   * Blocked decision is. Replaces what the drain said before, unless it is an older version of it than one
   * already observed: a cache that lags behind the catch-up's LIST (src/scaler/shared-budget.ts) delivers the
   * versions before the listed one, which lack its last evictions.
   */
  observeDrain(d: BudgetDrain): void {
    const name = d.metadata?.name;
    if (!name) return;
    const seen = this.drainVersions.get(name);
    const order = compareResourceVersions(d.metadata?.resourceVersion, seen?.resourceVersion);
    if (seen && seen.uid === d.metadata?.uid && order !== undefined && order < 0) return;
    this.forgetDrain(d);
    this.drainVersions.set(name, { uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion });
    const keys: Array<[string, string]> = [];
    for (const p of d.status?.pods ?? []) {
      const r = p.disruption;
      if (!r?.clusterScaler) continue;
      const evictedAt = Date.parse(r.evictedAt ?? "");
      const evicted = Number.isFinite(evictedAt);
      const at = evicted ? evictedAt : Date.parse(r.heldSince ?? "");
      const key = drainKey(name, p.namespace, p.name);
      if (evicted) this.pinnedDrains.delete(key);
      if (this.pinnedDrains.has(key) || !Number.isFinite(at) || (!evicted && !r.heldBy)) continue;
      this.entries(r.clusterScaler).set(key, {
        key,
        tenant: r.tenant,
        workload: `${p.namespace}/${p.name}`,
        at,
        oom: false,
        heldByBudget: !evicted,
        ...(evicted ? {} : { heldBy: r.heldBy }),
        reasons: ["Drain"],
        // Written by the drain controller to a status subresource: trusted as this process's own decisions are.
        own: true,
        ownPhase: evicted ? "Applied" : "Blocked",
      });
      keys.push([r.clusterScaler, key]);
    }
    if (keys.length) this.drainKeys.set(name, keys);
  }

  /** A NodeDrain deleted: its evictions no longer count (its record is gone with it). */
  forgetDrain(d: BudgetDrain): void {
    const name = d.metadata?.name;
    if (!name) return;
    for (const [cs, key] of this.drainKeys.get(name) ?? []) {
      if (!this.pinnedDrains.has(key)) this.byClusterScaler.get(cs)?.delete(key);
    }
    this.drainKeys.delete(name);
    this.drainVersions.delete(name);
  }

  /**
   * An eviction this process is about to make, counted at once (before the drain's status records it), so that
   * another drain's worker in the meantime sees the budget spent; kept until the recorded status shows it.
   */
  reserveDrain(
    drain: string,
    pod: { namespace: string; name: string },
    c: { clusterScaler: string; tenant: string; at: number },
  ): void {
    const key = drainKey(drain, pod.namespace, pod.name);
    this.pinnedDrains.set(key, c.clusterScaler);
    this.entries(c.clusterScaler).set(key, {
      key,
      tenant: c.tenant,
      workload: `${pod.namespace}/${pod.name}`,
      at: c.at,
      oom: false,
      heldByBudget: false,
      reasons: ["Drain"],
      own: true,
      ownPhase: "Applied",
    });
  }

  /** A reserved eviction that did not happen (a PodDisruptionBudget refused it, or the pod was gone). */
  releaseDrain(drain: string, pod: { namespace: string; name: string }): void {
    const key = drainKey(drain, pod.namespace, pod.name);
    const cs = this.pinnedDrains.get(key);
    if (cs === undefined) return;
    this.pinnedDrains.delete(key);
    this.byClusterScaler.get(cs)?.delete(key);
  }

  /** A decision as the cache has it now (added or updated). */
  observe(d: BudgetDecision): void {
    const cs = d.spec?.clusterScaler;
    const ns = d.metadata?.namespace;
    const name = d.metadata?.name;
    if (!cs || !ns || !name) return;
    const at = Date.parse(d.spec?.decidedAt ?? "");
    if (!Number.isFinite(at)) return;
    const key = `${ns}/${name}`;
    const entries = this.entries(cs);
    const before = entries.get(key);
    entries.set(key, {
      key,
      tenant: d.spec?.target?.tenant ?? "",
      workload: `${d.spec?.target?.namespace ?? ns}/${d.spec?.target?.name ?? ""}`,
      at,
      oom: d.spec?.direction === "Up" && d.spec?.rootCause?.category === "OOMKilled",
      heldByBudget: d.metadata?.annotations?.[blockedByAnnotation] === blockedByFleetBudget,
      heldBy: d.metadata?.annotations?.[heldByBudgetAnnotation],
      reasons: reasonsOf(d),
      decision: d,
      own: before?.own ?? false,
      ownPhase: before?.ownPhase,
    });
  }

  /** A decision deleted from the cache (decision garbage collection). */
  forget(d: BudgetDecision): void {
    const cs = d.spec?.clusterScaler;
    if (cs) this.byClusterScaler.get(cs)?.delete(`${d.metadata?.namespace}/${d.metadata?.name}`);
  }

  /**
   * A change this process has just planned, counted at once (before its decision is created), so that another
   * worker's reconcile in the meantime sees it spent.
   */
  reserve(
    clusterScaler: string,
    key: string,
    c: {
      tenant: string;
      workload: string;
      at: number;
      oom: boolean;
      heldByBudget: boolean;
      heldBy?: string;
      reasons?: readonly DisruptionReason[];
    },
  ): void {
    const entries = this.entries(clusterScaler);
    const before = entries.get(key);
    entries.set(key, {
      ...c,
      reasons: c.reasons?.length ? c.reasons : DISRUPTION_REASONS,
      key,
      decision: before?.decision,
      own: true,
      ownPhase: before?.ownPhase,
    });
  }

  /** The phase this process gave its own decision (the cache may show it later). */
  settle(clusterScaler: string, key: string, phase: string): void {
    const e = this.byClusterScaler.get(clusterScaler)?.get(key);
    if (e) e.ownPhase = phase;
  }

  /**
   * The budgets of `cs` at `now`, with the OOM floor of `tenant`; `signingKey` tells metapilot's decisions, and
   * `tenants` (the tenants `cs` governs) turns percentages into counts.
   */
  usage(cs: ClusterScaler, now: number, signingKey: Buffer, tenant?: string, tenants = 0): BudgetUsage {
    const name = cs.metadata?.name ?? "";
    const { budgets, oomFloor } = budgetsOf(cs, this.defaults);
    const longest = Math.max(...budgets.map((b) => b.intervalMs), 0);
    this.ensureHorizon(name, longest, now);
    const entries = this.entries(name);
    const live: Entry[] = [];
    for (const [key, e] of entries) {
      if (e.at <= now - (this.horizonMs.get(name) ?? longest)) {
        entries.delete(key);
        this.pinnedDrains.delete(key);
        continue;
      }
      if (e.at > now || !this.trusted(e, signingKey)) continue;
      live.push(e);
    }
    const states = budgets.map((b) => budgetState(b, live, now, tenants));
    const remainingByReason: BudgetRemaining = {};
    for (const st of states) {
      if (!st.active) continue;
      for (const r of st.reasons) {
        const had = remainingByReason[r];
        if (!had || st.remaining < had.remaining) remainingByReason[r] = { remaining: st.remaining, budget: st.id };
      }
    }
    // The OOM floor runs over the longest interval of the active budgets that could hold an OOM scale-up back.
    const floorMs = Math.max(
      0,
      ...states.filter((st) => st.active && st.reasons.includes("ScaleUp")).map((st) => st.intervalMs),
    );
    let tenantOoms = 0;
    const heldBack: string[] = [];
    for (const e of [...live].sort((x, y) => y.at - x.at)) {
      const phase = phaseOf(e);
      if (phase === "Blocked" && e.heldByBudget && e.at > now - longest && !heldBack.includes(e.workload))
        heldBack.push(e.workload);
      if (phase !== "Blocked" && phase !== "Failed" && e.oom && e.tenant === tenant && e.at > now - floorMs)
        tenantOoms++;
    }
    const active = states.filter((st) => st.active);
    const binding =
      active.reduce<BudgetState | undefined>((m, st) => (!m || st.remaining < m.remaining ? st : m), undefined) ??
      states[0];
    const expiries = states.flatMap((st) => [st.nextExpiryAt, st.windowChangesAt]).filter((x) => x !== undefined);
    return {
      budgets: states,
      remainingByReason,
      maxChangesPerInterval: binding?.limit ?? 0,
      intervalMs: binding?.intervalMs ?? 0,
      interval: binding?.interval ?? "0",
      oomFloorPerTenant: oomFloor,
      changes: binding?.changes ?? 0,
      remaining: binding?.remaining ?? 0,
      oomFloorRemaining: Math.max(0, oomFloor - tenantOoms),
      heldBack,
      ...(binding?.nextChangeAt !== undefined ? { nextChangeAt: binding.nextChangeAt } : {}),
      ...(expiries.length ? { nextExpiryAt: Math.min(...expiries) } : {}),
    };
  }

  private entries(clusterScaler: string): Map<string, Entry> {
    let m = this.byClusterScaler.get(clusterScaler);
    if (!m) {
      m = new Map();
      this.byClusterScaler.set(clusterScaler, m);
    }
    return m;
  }

  /** After the interval grew (a spec change), the older decisions it now covers are read from the cache again. */
  private ensureHorizon(clusterScaler: string, intervalMs: number, now: number): void {
    const kept = this.horizonMs.get(clusterScaler);
    if (kept !== undefined && kept >= intervalMs) return;
    this.horizonMs.set(clusterScaler, intervalMs);
    if (kept === undefined) return; // every decision the cache has was observed; none was dropped yet
    for (const d of this.recordedDrains()) this.observeDrain(d);
    for (const d of this.recorded()) {
      if (d.spec?.clusterScaler !== clusterScaler) continue;
      const at = Date.parse(d.spec?.decidedAt ?? "");
      if (
        at > now - intervalMs &&
        !this.byClusterScaler.get(clusterScaler)?.has(`${d.metadata?.namespace}/${d.metadata?.name}`)
      )
        this.observe(d);
    }
  }

  private trusted(e: Entry, signingKey: Buffer): boolean {
    if (e.own) return true;
    if (!e.decision) return false;
    if (e.checkedWith !== signingKey) {
      e.checkedWith = signingKey;
      e.signed = verifyDecision(signingKey, e.decision);
    }
    return e.signed === true;
  }
}

function drainKey(drain: string, namespace: string, pod: string): string {
  return `NodeDrain/${drain}/${namespace}/${pod}`;
}

function phaseOf(e: Entry): string | undefined {
  return e.decision?.status?.phase ?? e.ownPhase;
}

/** One budget at `now`, over the trusted decisions `live` (none after `now`). Pure. */
function budgetState(b: ResolvedBudget, live: readonly Entry[], now: number, tenants: number): BudgetState {
  const window = b.schedule && b.durationMs !== undefined ? cronWindow(b.schedule, b.durationMs, now) : undefined;
  const active = window?.active ?? true;
  const limit = limitOf(b.limitSpec, tenants);
  const start = now - b.intervalMs;
  const counted: number[] = [];
  const held: Entry[] = [];
  let oldest = Infinity;
  for (const e of live) {
    if (e.at <= start || !e.reasons.some((r) => b.reasons.includes(r))) continue;
    const phase = phaseOf(e);
    if (phase === "Blocked") {
      if (e.heldByBudget && (e.heldBy === undefined || e.heldBy === b.id)) {
        held.push(e);
        oldest = Math.min(oldest, e.at);
      }
      continue;
    }
    if (phase === "Failed") continue;
    counted.push(e.at);
    oldest = Math.min(oldest, e.at);
  }
  const changes = counted.length;
  const remaining = Math.max(0, limit - changes);
  counted.sort((x, y) => x - y);
  // The change that frees the next slot is the (changes - limit + 1)-th oldest; with a limit of 0 none does.
  const freeing = active && remaining === 0 && limit > 0 ? counted[changes - limit] : undefined;
  const heldBack: string[] = [];
  for (const e of held.sort((x, y) => y.at - x.at)) if (!heldBack.includes(e.workload)) heldBack.push(e.workload);
  return {
    ...b,
    active,
    limit,
    changes,
    remaining,
    heldBack,
    ...(freeing !== undefined ? { nextChangeAt: freeing + b.intervalMs } : {}),
    ...(window?.changesAt !== undefined ? { windowChangesAt: window.changesAt } : {}),
    ...(Number.isFinite(oldest) ? { nextExpiryAt: oldest + b.intervalMs } : {}),
  };
}

/** The ClusterScaler's status.disruptionBudgets. */
export function disruptionBudgetsStatus(u: BudgetUsage): Array<Record<string, unknown>> {
  return u.budgets.map((b) => ({
    budget: b.id,
    active: b.active,
    limit: b.limit,
    limitSpec: b.limitSpec,
    reasons: [...b.reasons],
    interval: b.interval,
    changes: b.changes,
    remaining: b.remaining,
    heldBack: b.heldBack.length,
    ...(b.heldBack.length ? { heldBackWorkloads: b.heldBack.slice(0, 20) } : {}),
    ...(b.nextChangeAt !== undefined ? { nextChangeAt: new Date(b.nextChangeAt).toISOString() } : {}),
    ...(b.windowChangesAt !== undefined ? { windowChangesAt: new Date(b.windowChangesAt).toISOString() } : {}),
  }));
}

/** The ClusterScaler's status.fleetBudget: the most restrictive active budget. */
export function fleetBudgetStatus(u: BudgetUsage): Record<string, unknown> {
  return {
    maxChangesPerInterval: u.maxChangesPerInterval,
    interval: u.interval,
    oomFloorPerTenant: u.oomFloorPerTenant,
    changes: u.changes,
    remaining: u.remaining,
    heldBack: u.heldBack.length,
    ...(u.heldBack.length ? { heldBackWorkloads: u.heldBack.slice(0, 20) } : {}),
    ...(u.nextChangeAt !== undefined ? { nextChangeAt: new Date(u.nextChangeAt).toISOString() } : {}),
  };
}

/**
 * The FleetBudgetAvailable condition: False (BudgetSpent) while an active budget is spent, naming each spent one and
 * the reasons it holds back; True (WithinBudget) otherwise, with the most restrictive active budget's numbers.
 */
export function fleetBudgetCondition(u: BudgetUsage): {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
} {
  const held = u.heldBack.length
    ? `; held back: ${u.heldBack.length} workload(s) (${u.heldBack.slice(0, 5).join(", ")}${u.heldBack.length > 5 ? ", ..." : ""})`
    : "";
  const floor = `OOM kills are still answered, up to ${u.oomFloorPerTenant} scale-ups per tenant per interval`;
  const active = u.budgets.filter((b) => b.active);
  const spent = active.filter((b) => b.remaining === 0);
  const inactive = u.budgets.length - active.length;
  const idle = inactive ? `; ${inactive} scheduled budget(s) outside their window` : "";
  if (spent.length === 0)
    return {
      type: "FleetBudgetAvailable",
      status: "True",
      reason: "WithinBudget",
      message: active.length
        ? `${u.changes} of ${u.maxChangesPerInterval} changes made in the last ${u.interval}, ${u.remaining} left` +
          `${active.length > 1 ? ` (the most restrictive of ${active.length} active budgets)` : ""}${idle}${held}`
        : `no budget is active now${idle}${held}`,
    };
  const describe = (b: BudgetState) =>
    `${b.id} (${b.reasons.join(", ")}): ${b.changes} of ${b.limit} changes made in the last ${b.interval}, ` +
    (b.nextChangeAt !== undefined
      ? `next free at ${new Date(b.nextChangeAt).toISOString()}`
      : b.windowChangesAt !== undefined
        ? `until its window closes at ${new Date(b.windowChangesAt).toISOString()}`
        : "until a change leaves the interval");
  return {
    type: "FleetBudgetAvailable",
    status: "False",
    reason: "BudgetSpent",
    message:
      `changes with the reasons of a spent budget are recorded as Blocked: ${spent.map(describe).join("; ")}` +
      `${held}; ${floor}`,
  };
}
