// The ClusterScalers' disruption budgets on a drain (reason Drain): evicting a pod of a tenant control plane that a
// ClusterScaler governs is one change of that tenant's workload, and waits while an active budget of that
// ClusterScaler covering Drain is spent. Who governs a pod and what a budget holds are the scaler's own answers
// (src/scaler/policy.ts, src/scaler/fleet-budget.ts), counted from what is recorded: the ScalingDecisions and the
// NodeDrains' status.pods[].disruption, so a restarted controller or a new leader carries on with what was spent.
import { parseClusterScaler, type ClusterScaler } from "../../api/index.js";
import { tenantLabel } from "../../api/labels.js";
import type { KubeObject } from "../../kube/resources.js";
import type { FleetBudget } from "../../scaler/fleet-budget.js";
import { governingClusterScaler, selectClusterScaler } from "../../scaler/policy.js";
import { tenantSelectionLabels } from "../../scaler/tenancy.js";

type TenantObject = KubeObject & { spec?: { namespace?: string }; status?: { namespace?: string } };

export interface DrainDisruptionOptions {
  clusterScalers: { list(): KubeObject[] };
  tenants: { get(name: string): TenantObject | undefined; list(): TenantObject[] };
  /** Fed with the recorded ScalingDecisions and NodeDrains (observe, observeDrain). */
  budget: FleetBudget;
  signingKey: () => Promise<Buffer>;
}

/** The ClusterScaler that governs a pod, and its tenant. */
export interface DrainGovernance {
  clusterScaler: ClusterScaler;
  tenant: string;
}

/** Why an eviction waits. */
export interface DrainHold {
  clusterScaler: string;
  /** The budget with no room ("spec.disruption.budgets[0]", "default[0]"). */
  budget: string;
  /** When every spent active budget covering Drain has room again, when known. */
  roomAt?: number;
  message: string;
}

export class DrainDisruptionBudgets {
  private parsed?: { key: string; value: ClusterScaler[] };

  constructor(private readonly options: DrainDisruptionOptions) {}

  get budget(): FleetBudget {
    return this.options.budget;
  }

  signingKey(): Promise<Buffer> {
    return this.options.signingKey();
  }

  /** The valid ClusterScalers, parsed again only when one of them changes. */
  private scalers(): ClusterScaler[] {
    const raws = this.options.clusterScalers.list();
    const key = raws
      .map((r) => `${r.metadata?.uid ?? r.metadata?.name}@${r.metadata?.generation ?? r.metadata?.resourceVersion}`)
      .sort()
      .join(",");
    if (this.parsed?.key !== key)
      this.parsed = {
        key,
        value: raws.flatMap((raw) => {
          const r = parseClusterScaler(raw);
          return r.ok ? [r.value] : [];
        }),
      };
    return this.parsed.value;
  }

  /** The ClusterScaler that governs this pod, as the scaler decides it for the pod's workload. */
  governing(pod: KubeObject): DrainGovernance | undefined {
    const tenant = pod.metadata?.labels?.[tenantLabel];
    if (!tenant) return undefined;
    const g = governingClusterScaler(pod, this.scalers(), this.options.tenants.get(tenant));
    return g ? { clusterScaler: g.clusterScaler, tenant: g.tenant } : undefined;
  }

  /** The TenantControlPlanes `cs` governs, for its budgets' percentages. */
  private governedTenants(cs: ClusterScaler): number {
    const scalers = this.scalers();
    return this.options.tenants
      .list()
      .filter((t) => selectClusterScaler(scalers, tenantSelectionLabels(t.metadata?.name ?? "", t)) === cs).length;
  }

  /** Why evicting a pod `g` governs waits at `now`, or undefined when every active budget covering Drain has room. */
  hold(g: DrainGovernance, now: number, signingKey: Buffer): DrainHold | undefined {
    const usage = this.options.budget.usage(
      g.clusterScaler,
      now,
      signingKey,
      g.tenant,
      this.governedTenants(g.clusterScaler),
    );
    const least = usage.remainingByReason.Drain;
    if (!least || least.remaining > 0) return undefined;
    const spent = usage.budgets.filter((b) => b.active && b.reasons.includes("Drain") && b.remaining === 0);
    const rooms = spent.map((b) => b.nextChangeAt ?? b.windowChangesAt);
    const roomAt = rooms.every((t) => t !== undefined) && rooms.length ? Math.max(...rooms) : undefined;
    const name = g.clusterScaler.metadata?.name ?? "";
    const b = spent.find((s) => s.id === least.budget) ?? spent[0];
    const message =
      `held back by ClusterScaler ${name}'s disruption budget ${least.budget}` +
      (b ? ` (${b.reasons.join(", ")}): ${b.changes} of ${b.limit} changes made in the last ${b.interval}` : "") +
      (roomAt !== undefined ? `; room again at ${new Date(roomAt).toISOString()}` : "");
    return { clusterScaler: name, budget: least.budget, ...(roomAt !== undefined ? { roomAt } : {}), message };
  }
}
