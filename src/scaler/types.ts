// The plain data the scaler's pure parts exchange: signals in, a plan out.
import type {
  ApplyPathReason,
  BlockedReason,
  DisruptionReason,
  Evidence,
  RootCauseCategory,
  ScalerName,
} from "../api/index.js";
import type { FleetFitResult } from "./estimators/fleet.js";

export type { BlockedReason } from "../api/index.js";

export type ComponentName = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "etcd";

/** Size of a workload in plain numbers: cores and bytes of its main container, and replicas. */
export interface Size {
  replicas: number;
  cpuRequest?: number;
  cpuLimit?: number;
  memoryRequest?: number;
  memoryLimit?: number;
}

export interface WorkloadRef {
  kind: "Deployment" | "StatefulSet";
  name: string;
  namespace: string;
  tenant: string;
  component: ComponentName;
  /** The main container, whose resources are scaled. */
  container: string;
  /** The TenantControlPlane owns replicas and resources (metapilot created it): change its spec instead. */
  ownedByTenantControlPlane: boolean;
}

export type Freshness = "fresh" | "stale" | "missing";

/** One measured value with its time. A stale or missing signal is never read as zero. */
export interface Measurement {
  value: number;
  observedAt: number;
  source: string;
}

export interface OomEvent {
  /** Stable id: pod uid, container and restart count; the same OOM is never acted on twice. */
  id: string;
  pod: string;
  container: string;
  finishedAt: number;
  /** Memory limit of the container when it was killed, bytes. */
  limitBytes?: number;
  /**
   * The pod has a controller (a ReplicaSet or StatefulSet), so a rollout of its workload replaces it: a kill of it
   * at a smaller limit than the workload now has was already answered, by the size it is rolling to.
   */
  replaceable?: boolean;
}

/** Everything known about one workload at decision time. */
export interface Signals {
  oom: OomEvent[];
  cpuUsage?: Measurement; // cores, worst pod
  memoryWorkingSet?: Measurement; // bytes, worst pod
  cpuThrottledRatio?: Measurement; // 0..1
  apiserver429Rate?: Measurement; // requests/s, tenant apiserver (kube-apiserver only)
  clusterNodes?: Measurement; // tenant cluster node count
  storedObjects?: Measurement; // objects stored in the tenant apiserver, all resources
  apiserverWatchers?: Measurement; // open WATCH requests on the busiest tenant apiserver pod
  apfSeatsRatio?: Measurement; // APF seats executing / the server's nominal seats, busiest pod, 0..1 (kube-apiserver only)
  apfRejectedRate?: Measurement; // requests/s APF rejected, tenant apiserver (kube-apiserver only)
  /** p99 request latency (seconds) of the tenant apiserver by "VERB/scope", WATCH and CONNECT left out (kube-apiserver only). */
  requestLatencyP99?: Record<string, Measurement>;
  etcdDatabaseBytes?: Measurement; // the tenant's etcd database size, as its apiserver reports it
  probeFailures?: Measurement; // failed /readyz probes in the window
  /** Why Prometheus-based signals are missing, when they are. */
  unavailableReason?: string;
}

export interface ScalerSettings {
  enabled: boolean;
  threshold: number;
  windowMs: number;
}

export interface ClusterSizeStep {
  nodes: number;
  /** Stored objects from which the step applies too (any node count). */
  objects?: number;
  /** Watchers on one apiserver pod from which the step applies too. */
  watchers?: number;
  cpu?: number;
  memory?: number;
  replicas?: number;
}

/** The policy for one component of one tenant, after precedence and overrides. */
export interface ResolvedPolicy {
  clusterScaler: string;
  scalers: Record<ScalerName, ScalerSettings>;
  estimators: string[];
  minAllowed: { cpu?: number; memory?: number };
  maxAllowed: { cpu?: number; memory?: number };
  replicas: { min?: number; max?: number };
  ladder: ClusterSizeStep[];
  scaleUpCooldownMs: number;
  scaleDown: { enabled: boolean; stabilizationWindowMs: number; maxStepPercent: number; cooldownMs: number };
  dryRun: boolean;
}

export interface Recommendation {
  at: number;
  cpu?: number;
  memory?: number;
}

/** What the engine remembers between decisions about one workload (rebuilt from decisions after a restart). */
export interface WorkloadHistory {
  lastScaleUpAt?: number;
  lastChangeAt?: number;
  handledOomIds: ReadonlySet<string>;
  /** When each scaler's signal first went over its threshold, for sustained-signal windows. */
  overThresholdSince: Partial<Record<ScalerName, number>>;
  /** Desired sizes seen over the stabilization window, oldest first. */
  recommendations: Recommendation[];
  /** Since when this process has been observing the workload; a scale-down needs a full window of it. */
  observingSince: number;
  /**
   * The last OOM scale-up made (or simulated): when, and the memory it set. A kill at that size soon after is an
   * OOM loop, answered with a larger bump (estimators/index.ts, oomMemory).
   */
  lastOomBump?: { at: number; memoryLimit?: number; memoryRequest?: number };
  /**
   * The Blocked decision already recorded for a condition that persists (an OOM kill at maxAllowed, a size no node
   * can hold): the same condition again is not recorded again while it lasts (see BlockedReport).
   */
  blockedReport?: BlockedReport;
}

/**
 * A Blocked decision recorded for a condition that lasts. `key` names the condition (the size and the bound or
 * node it meets); while a round meets the same reason and key, no other decision is recorded.
 */
export interface BlockedReport {
  reason: BlockedReason;
  key: string;
  /** What the decision said, for the ClusterScaler's condition. */
  message: string;
  at: number;
  /** Raised by OOM kills: it lasts while the pods show a kill (history.ts, settleBlockedReport). */
  oom: boolean;
}

/** A node's allocatable resources, or a NodePool's node shape: cores and bytes. */
export interface NodeShape {
  name: string;
  cpu: number;
  memory: number;
}

/**
 * Where the component's pods may run, as far as the meta-cluster says: the allocatable of every schedulable node
 * its pod template's nodeSelector, required node affinity and tolerations allow, and the NodePools whose labels
 * and taints allow it (their node shape). Absent when the nodes are not known (no node cache): nothing is checked.
 */
export interface Placement {
  nodes: NodeShape[];
  pools: Array<NodeShape & { maxNodes: number }>;
  /** The requests of the pod's other containers (sidecars), which share the node with the main one. */
  otherContainers?: { cpu: number; memory: number };
}

/** A size that no node the component may run on can hold (a Blocked decision with reason ExceedsNodeCapacity). */
export interface CapacityShortfall {
  /** The pod's need that does not fit: the main container's requests (cores, bytes), without its sidecars'. */
  need: { cpu?: number; memory?: number };
  /** The requests of the pod's other containers, counted in the fit, when it has any. */
  otherContainers?: { cpu: number; memory: number };
  /** The largest node it may run on (by the resource that does not fit), when there is one. */
  largestNode?: NodeShape;
  /** A NodePool whose node shape would hold it: a proposal to scale that pool up, not an action. */
  proposedNodePool?: NodeShape;
}

export interface Profile {
  target?: { cpu?: number; memory?: number };
  upperBound?: { cpu?: number; memory?: number };
}

export interface DecisionInput {
  workload: WorkloadRef;
  current: Size;
  /**
   * The size the workload really has or is rolling to, where it differs from `current`: in dry-run `current`
   * carries on from the last dry-run decision, but no rollout replaced any pod.
   */
  observed?: Size;
  policy: ResolvedPolicy;
  signals: Signals;
  history: WorkloadHistory;
  profile?: Profile;
  /**
   * The fleet model of this component across the ClusterScaler's tenants (usage against tenant size), for the
   * fleet-regression estimator; each resource's fit or why there is none.
   */
  fleet?: { cpu?: FleetFitResult; memory?: FleetFitResult };
  now: number;
  /** Changes still allowed by the fleet budget in this interval, when budgetRemaining is not given. */
  fleetBudgetRemaining: number;
  /**
   * Changes the disruption budgets still allow per reason of a change: the least of the active budgets that cover
   * the reason (a reason no active budget covers is unlimited), with that budget (src/scaler/budget-gate.ts). Wins
   * over fleetBudgetRemaining.
   */
  budgetRemaining?: BudgetRemaining;
  /**
   * Whether a change from one size to another restarts the component's pods (the RestartRequiring reason,
   * src/scaler/restart.ts); never when unset.
   */
  restartRequiring?: (before: Size, after: Size) => boolean;
  /** The nodes and NodePools the component may run on; no capacity check without it. */
  placement?: Placement;
  /**
   * OOM scale-ups the tenant still gets in this interval however spent the fleet budget is (its
   * oomFloorPerTenant, less the OOM scale-ups it had).
   */
  oomFloorRemaining: number;
  paused: boolean;
}

/** Per reason of a change, what the most restrictive active budget covering it still allows, and which it is. */
export type BudgetRemaining = Partial<Record<DisruptionReason, { remaining: number; budget: string }>>;

export type Plan =
  | {
      action: "none";
      reason: string;
      notes: string[];
      /**
       * Set when the scale-down is held because a signal it needs is missing or stale (or the source is down): what
       * is missing. The ClusterScaler's SignalsAvailable and ScaleDownHeld conditions are built from it.
       */
      heldForData?: string;
      /** Set when the round meets a condition already recorded as Blocked (WorkloadHistory.blockedReport). */
      stillBlocked?: BlockedReport;
    }
  | {
      action: "change" | "blocked";
      direction: "Up" | "Down";
      scaler: ScalerName;
      category: RootCauseCategory;
      summary: string;
      evidence: Evidence[];
      before: Size;
      after: Size;
      /** OOM events this plan answers; recorded so they are never acted on twice. */
      oomIds: string[];
      blockedBy?: string;
      /** Why it is blocked, for a blocked plan. */
      blockedReason?: BlockedReason;
      /** The condition a blocked plan meets (BlockedReport.key), so that it is recorded once while it lasts. */
      blockedKey?: string;
      /** For reason ExceedsNodeCapacity: the need, the largest node and the NodePool that would hold it. */
      capacity?: CapacityShortfall;
      /** Blocked because the fleet budget is spent (not by a bound). */
      heldByFleetBudget?: boolean;
      /** The budget that held it back, when a named one did ("spec.disruption.budgets[0]"). */
      heldByBudget?: string;
      /** What the disruption budgets count the change under (its direction, and RestartRequiring). */
      disruptionReasons?: DisruptionReason[];
      /** The estimator that computed the new size, when one did. */
      estimator?: string;
      notes: string[];
    };

/** How a recorded change reached the pods (ScalingDecision status.applyPath; src/scaler/apply-path.ts). */
export interface ApplyPath {
  method: "InPlace" | "Rolling";
  reason: ApplyPathReason;
  state?: "InProgress" | "Done";
  predicted?: boolean;
  message?: string;
  observedAt?: string;
}
