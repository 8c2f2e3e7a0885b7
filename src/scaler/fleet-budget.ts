// The fleet budget: how many workload changes one ClusterScaler makes across all its tenants in a sliding interval
// (spec.fleetBudget). It is counted from the ScalingDecisions the policy recorded, as the decision cache holds
// them, not from memory: a restarted controller, or a standby that takes the Lease over, sees the changes its
// predecessor made and carries on at the same rate. Its own decisions count from the moment they are planned,
// before the cache shows them, so concurrent workers cannot overspend it either.
//
// What counts: Applied and DryRun decisions (a dry-run sequence spends the budget as live mode would) and those not
// finished yet (a leader that died between creating a decision and writing its phase may have applied it), each
// at its spec.decidedAt. Failed and Blocked decisions changed nothing and do not count. Only decisions signed with
// metapilot's key count (src/scaler/signature.ts): anyone who may create ScalingDecisions could otherwise spend the
// fleet's budget and so stop every scale-up.
//
// OOM scale-ups count against the budget too, but a tenant always gets oomFloorPerTenant of them per interval,
// however spent the budget is (the engine's rule, fed by oomFloorRemaining).
import { parseDuration, type ClusterScaler } from "../api/index.js";
import { verifyDecision, type SignedDecision } from "./signature.js";
import { blockedByAnnotation } from "../api/labels.js";

export const blockedByFleetBudget = "fleet-budget";

/** The parts of a ScalingDecision the budget reads. */
export interface BudgetDecision extends SignedDecision {
  metadata?: SignedDecision["metadata"] & { uid?: string };
  spec?: SignedDecision["spec"] & {
    target?: { name?: string; namespace?: string; tenant?: string };
    direction?: string;
    decidedAt?: string;
    clusterScaler?: string;
    rootCause?: { category?: string };
  };
  status?: { phase?: string };
}

/** The budget as the engine and the ClusterScaler's status see it, at one moment. */
export interface BudgetUsage {
  maxChangesPerInterval: number;
  intervalMs: number;
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
  /** When the next counted change or held-back decision leaves the interval (the counts change then). */
  nextExpiryAt?: number;
}

interface Entry {
  key: string;
  tenant: string;
  workload: string;
  at: number;
  oom: boolean;
  heldByBudget: boolean;
  /** The recorded object; absent while this process's own decision is not in the cache yet. */
  decision?: BudgetDecision;
  /** This process planned it: trusted without a signature, and its phase known before the cache shows it. */
  own: boolean;
  ownPhase?: string;
  /** The key the signature was last checked with, and the answer. */
  checkedWith?: Buffer;
  signed?: boolean;
}

/** What the budget of a ClusterScaler is: its spec with the defaults of src/api/clusterscaler.ts. */
export function budgetOf(cs: ClusterScaler): { maxChanges: number; intervalMs: number; oomFloor: number } {
  const b = cs.spec.fleetBudget;
  return {
    maxChanges: b.maxChangesPerInterval,
    intervalMs: parseDuration(b.interval),
    oomFloor: b.oomFloorPerTenant,
  };
}

export class FleetBudget {
  /** ClusterScaler name → decision key (namespace/name) → entry. */
  private readonly byClusterScaler = new Map<string, Map<string, Entry>>();
  /** ClusterScaler name → how far back its entries are complete (entries older are dropped as they age out). */
  private readonly horizonMs = new Map<string, number>();

  /**
   * @param recorded every recorded decision, read again only when an interval grows beyond what is kept
   */
  constructor(private readonly recorded: () => readonly BudgetDecision[] = () => []) {}

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
    c: { tenant: string; workload: string; at: number; oom: boolean; heldByBudget: boolean },
  ): void {
    const entries = this.entries(clusterScaler);
    const before = entries.get(key);
    entries.set(key, { ...c, key, decision: before?.decision, own: true, ownPhase: before?.ownPhase });
  }

  /** The phase this process gave its own decision (the cache may show it later). */
  settle(clusterScaler: string, key: string, phase: string): void {
    const e = this.byClusterScaler.get(clusterScaler)?.get(key);
    if (e) e.ownPhase = phase;
  }

  /** The budget of `cs` at `now`, with the OOM floor of `tenant`; `signingKey` tells metapilot's decisions. */
  usage(cs: ClusterScaler, now: number, signingKey: Buffer, tenant?: string): BudgetUsage {
    const name = cs.metadata?.name ?? "";
    const { maxChanges, intervalMs, oomFloor } = budgetOf(cs);
    this.ensureHorizon(name, intervalMs, now);
    const entries = this.entries(name);
    const start = now - intervalMs;
    let changes = 0;
    let tenantOoms = 0;
    let oldest = Infinity;
    const counted: number[] = [];
    const held: Entry[] = [];
    for (const [key, e] of entries) {
      if (e.at <= start) {
        // Aged out; the horizon keeps what a longer interval would need.
        if (e.at <= now - (this.horizonMs.get(name) ?? intervalMs)) entries.delete(key);
        continue;
      }
      if (e.at > now) continue;
      if (!this.trusted(e, signingKey)) continue;
      oldest = Math.min(oldest, e.at);
      const phase = e.decision?.status?.phase ?? e.ownPhase;
      if (phase === "Blocked") {
        if (e.heldByBudget) held.push(e);
        continue;
      }
      if (phase === "Failed") continue;
      changes++;
      counted.push(e.at);
      if (e.oom && e.tenant === tenant) tenantOoms++;
    }
    const remaining = Math.max(0, maxChanges - changes);
    // The change that frees the next slot is the (changes - maxChanges + 1)-th oldest.
    counted.sort((a, b) => a - b);
    const freeing = remaining === 0 ? counted[changes - maxChanges] : undefined;
    const heldBack: string[] = [];
    for (const e of held.sort((a, b) => b.at - a.at)) if (!heldBack.includes(e.workload)) heldBack.push(e.workload);
    return {
      maxChangesPerInterval: maxChanges,
      intervalMs,
      oomFloorPerTenant: oomFloor,
      changes,
      remaining,
      oomFloorRemaining: Math.max(0, oomFloor - tenantOoms),
      heldBack,
      nextChangeAt: freeing === undefined ? undefined : freeing + intervalMs,
      nextExpiryAt: Number.isFinite(oldest) ? oldest + intervalMs : undefined,
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

/** The ClusterScaler's status.fleetBudget. */
export function fleetBudgetStatus(u: BudgetUsage, interval: string): Record<string, unknown> {
  return {
    maxChangesPerInterval: u.maxChangesPerInterval,
    interval,
    oomFloorPerTenant: u.oomFloorPerTenant,
    changes: u.changes,
    remaining: u.remaining,
    heldBack: u.heldBack.length,
    ...(u.heldBack.length ? { heldBackWorkloads: u.heldBack.slice(0, 20) } : {}),
    ...(u.nextChangeAt !== undefined ? { nextChangeAt: new Date(u.nextChangeAt).toISOString() } : {}),
  };
}

/** The FleetBudgetAvailable condition: whether a change other than an OOM scale-up on the floor can be made now. */
export function fleetBudgetCondition(
  u: BudgetUsage,
  interval: string,
): { type: string; status: "True" | "False"; reason: string; message: string } {
  const held = u.heldBack.length
    ? `; held back: ${u.heldBack.length} workload(s) (${u.heldBack.slice(0, 5).join(", ")}${u.heldBack.length > 5 ? ", ..." : ""})`
    : "";
  const floor = `OOM kills are still answered, up to ${u.oomFloorPerTenant} scale-ups per tenant per interval`;
  if (u.remaining > 0)
    return {
      type: "FleetBudgetAvailable",
      status: "True",
      reason: "WithinBudget",
      message: `${u.changes} of ${u.maxChangesPerInterval} changes made in the last ${interval}, ${u.remaining} left${held}`,
    };
  return {
    type: "FleetBudgetAvailable",
    status: "False",
    reason: "BudgetSpent",
    message:
      `${u.changes} of ${u.maxChangesPerInterval} changes made in the last ${interval}: further changes are ` +
      `recorded as Blocked until ${u.nextChangeAt !== undefined ? new Date(u.nextChangeAt).toISOString() : "one leaves the interval"}${held}; ${floor}`,
  };
}
