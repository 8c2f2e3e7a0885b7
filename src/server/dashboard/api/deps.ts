// What the dashboard's JSON API reads: the shapes of the cached objects, the caches themselves and the rest of its
// dependencies. Every answer is built from informer caches (the same shared caches the controllers use), so a page
// view never LISTs against the apiserver; unit tests feed the handlers fakes of the small Cache interface.
import type { KubeObject } from "../../../kube/resources.js";
import type { ScalingDecisionObject } from "../../../api/index.js";
import type { SeriesSource } from "../evidence.js";

/** What the API reads: an Informer satisfies it. */
export interface Cache<T> {
  list(filter?: (obj: T) => boolean): T[];
  get(key: string): T | undefined;
}

export type ResourceList = Record<string, string>;
interface ResourceRequirements {
  requests?: ResourceList;
  limits?: ResourceList;
}

export interface WorkloadObject extends KubeObject {
  spec?: {
    replicas?: number;
    template?: { spec?: { containers?: Array<{ name: string; resources?: ResourceRequirements }> } };
  };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number };
}

export interface TenantObject extends KubeObject {
  spec?: { version?: string; namespace?: string; paused?: boolean };
  status?: { phase?: string; namespace?: string; version?: string; endpoint?: string };
}

export interface ProfileObject extends KubeObject {
  spec?: { targetRef?: { kind?: string; name?: string }; algorithm?: string };
  status?: {
    containers?: Array<{
      name: string;
      target?: ResourceList;
      lowerBound?: ResourceList;
      upperBound?: ResourceList;
      confidenceDays?: number;
      reason?: string;
    }>;
    confidence?: number;
    lastUpdated?: string;
  };
}

/** A ScalingDecision as the dashboard reads it from the cache. */
export type DecisionObject = ScalingDecisionObject;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface NodePoolObject extends KubeObject {
  spec?: { provider?: string; minNodes?: number; maxNodes?: number; dryRun?: boolean };
  status?: {
    nodes?: number;
    readyNodes?: number;
    desiredNodes?: number;
    pendingPods?: number;
    scaleDownCandidates?: string[];
    activeDrain?: string;
    lastScaleTime?: string;
    conditions?: Condition[];
  };
}

export interface NodeDrainObject extends KubeObject {
  spec?: { nodeNames?: string[]; dryRun?: boolean; evictionStrategy?: string };
  status?: {
    phase?: string;
    message?: string;
    startTime?: string;
    completionTime?: string;
    nodes?: Array<{ name: string; state: string; message?: string }>;
    pods?: Array<{ namespace: string; name: string; node?: string; state: string; message?: string }>;
    plan?: Array<{ node: string; pods?: string[]; blockingPDBs?: string[] }>;
  };
}

export interface DashboardCaches {
  tenants: Cache<TenantObject>;
  deployments: Cache<WorkloadObject>;
  statefulSets: Cache<WorkloadObject>;
  profiles: Cache<ProfileObject>;
  decisions: Cache<DecisionObject>;
  nodePools: Cache<NodePoolObject>;
  nodeDrains: Cache<NodeDrainObject>;
  /** For the dry-run plan's bounds; without it the plan names no bounds. */
  clusterScalers?: Cache<KubeObject>;
}

export interface ApiDeps {
  caches: DashboardCaches;
  /** Whether decisions are reported to an ops center; without one, no delivery state is shown. */
  opsCenter?: boolean;
  /** Range queries for the evidence chart; absent without Prometheus. */
  series?: SeriesSource;
  rateWindow?: string;
  now?: () => number;
}

/** The API's clock: the injected one in tests, the wall clock otherwise. */
export const nowOf = (deps: ApiDeps): number => (deps.now ?? Date.now)();
