// The master-operator as a list of steps, in the shape of Kamaji's internal/resources: each managed resource of a
// tenant control plane is one Step with define (its desired objects, pure), apply (apply-if-changed), status (its
// conditions) and cleanup (at finalization). walker.ts walks the list in order, and in reverse to finalize; a new
// resource is one new file added to the list in index.ts.
import type { Counter } from "prom-client";
import type { TenantControlPlane, TenantPhase } from "../../api/index.js";
import type { KubeClient } from "../../kube/client.js";
import type { ReconcileContext, ReconcileResult } from "../../kube/controller.js";
import type { EventRecorder } from "../../kube/events.js";
import type { KubeObject, ResourceType } from "../../kube/resources.js";
import type { TenantContext } from "../manifests.js";
import type { ControlPlaneComponent, SecretObject as PkiSecret } from "../pki/index.js";
import type { ConditionInput } from "../../api/conditions.js";
import type { SecretObject, TenantSecrets } from "../tenant-secrets.js";

/** The raw object as it sits in the cache: not yet validated or defaulted. */
export interface RawTenantControlPlane extends KubeObject {
  spec?: Record<string, unknown>;
  status?: TenantControlPlane["status"];
}

export interface WorkloadStatus extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    unavailableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

export interface Pod extends KubeObject {
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ image?: string; state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

export interface ServiceObject extends KubeObject {
  spec?: { clusterIP?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

/** What the steps read of an informer (an Informer is one; unit tests pass a plain list). */
export interface Cache<T extends KubeObject> {
  get(key: string): T | undefined;
  list(filter?: (obj: T) => boolean): T[];
  listNamespace(namespace: string, filter?: (obj: T) => boolean): T[];
}

export interface OperatorCaches {
  tenants: Cache<RawTenantControlPlane>;
  namespaces: Cache<KubeObject>;
  deployments: Cache<WorkloadStatus>;
  statefulSets: Cache<WorkloadStatus>;
  services: Cache<ServiceObject>;
  pdbs: Cache<KubeObject>;
  networkPolicies: Cache<KubeObject>;
  resourceQuotas: Cache<KubeObject>;
  /** Metadata only: which ReplicaSet is a Deployment's current one (src/operator/steps/resize.ts). */
  replicaSets: Cache<KubeObject>;
  pods: Cache<Pod>;
}

/** The world a step acts on: the apiserver, the caches, the tenant's Secrets, events, the clock, the options. */
export interface StepDeps {
  client: Pick<KubeClient, "apply" | "create" | "delete" | "getOptional" | "patch">;
  caches: OperatorCaches;
  secrets: Pick<
    TenantSecrets,
    "ensureAccess" | "list" | "get" | "remember" | "unbind" | "isUnbound" | "forget" | "access"
  >;
  recorder: Pick<EventRecorder, "record">;
  now: () => Date;
  /** metapilot_drift_repairs_total, when metrics are on. */
  driftRepairs?: Counter<"kind">;
  /** metapilot's own namespaces (its leader-election namespace): never a tenant's. */
  ownNamespaces: readonly string[];
  /** Namespaces besides the tenant's own from which spec.etcd.external.secretRef may copy a Secret. */
  externalEtcdSecretNamespaces: readonly string[];
  /** Requeue period for Ready tenants. */
  resyncMs: number;
}

/** How the last CPU or memory change of a component reached its pods (status.components[].resize). */
export type ComponentResize = NonNullable<
  NonNullable<NonNullable<TenantControlPlane["status"]>["components"]>[number]["resize"]
>;

/** Settings derived from a component's size, in force and desired (status.components[].derivedSettings). */
export type ComponentDerivedSettings = NonNullable<
  NonNullable<NonNullable<TenantControlPlane["status"]>["components"]>[number]["derivedSettings"]
>;

export type ComponentState = {
  ready: boolean;
  /** The condition's reason when not ready, where a generic one would hide what to fix. */
  reason?: string;
  version?: string;
  message: string;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  resize?: ComponentResize;
  derivedSettings?: ComponentDerivedSettings;
};

export interface PkiOutcome {
  /** The Secrets the components mount, as issued or as found. */
  secrets: PkiSecret[];
  /** Per component, the checksum of the Secrets it mounts: a change rolls its pods. */
  checksums: Record<ControlPlaneComponent, string>;
  renewInMs: number;
  status: NonNullable<TenantControlPlane["status"]>["pki"];
}

/**
 * What the steps found and decided in this pass, for the steps behind them: a step reads only what a step before
 * it wrote here, which is what makes the order matter (the Service's ClusterIP goes into the certificates, etcd's
 * readiness lets the apiserver move to a new version, the apiserver's lets the rest).
 */
export interface Found {
  /** uid of the tenant namespace (a precondition of later writes to it). */
  namespaceUid: string;
  clusterIP?: string;
  externalEndpoint?: string;
  pki?: PkiOutcome;
  /** spec.etcd.external.secretRef's Secret, read (only when its namespace is allowed) before it is copied. */
  externalEtcdSource?: SecretObject;
  /** The Kubernetes version each component is rolled to in this pass (later ones wait for earlier ones). */
  versions: Partial<Record<ControlPlaneComponent, string>>;
  /** Readiness of each component, in the order the steps ran. */
  components: Partial<Record<ControlPlaneComponent, ComponentState>>;
  /** The earliest time a step wants to look again (an in-place resize that may run out of time), in ms. */
  recheckAtMs?: number;
}

export function emptyFound(): Found {
  return { namespaceUid: "", versions: {}, components: {} };
}

export interface StepContext {
  deps: StepDeps;
  raw: RawTenantControlPlane;
  ctx: TenantContext;
  found: Found;
  rc: Pick<ReconcileContext, "signal" | "logger">;
}

/** Ends the walk: the steps behind this one do not run in this pass. */
export interface StepStop {
  result: ReconcileResult;
  /** The status to write instead of the full one (it replaces the conditions). */
  status?: { phase: TenantPhase; conditions: ConditionInput[] };
  /** An event to record once that status is written. */
  event?: { type: "Normal" | "Warning"; reason: string; action: string; note: string };
}

/** A TenantControlPlane being deleted, as the finalizer sees it (its spec may no longer parse). */
export interface FinalizeContext {
  deps: StepDeps;
  raw: RawTenantControlPlane;
  tenant: string;
  namespace: string;
  /** The namespace object, which metapilot created for this TenantControlPlane (else nothing is finalized). */
  namespaceObject: KubeObject;
  /** spec.etcd.managed.deletionPolicy Retain: the namespace and etcd's claims stay, the rest goes. */
  retain: boolean;
  signal: AbortSignal;
}

/** What a cleanup still waits for: objects deleted and not gone yet, by kind, or a sentence. */
export type Pending = { resource: ResourceType; count: number } | { what: string };

export interface Step {
  readonly name: string;
  /** The objects this step wants, from the spec and what the steps before it found. Pure: no I/O, no clock. */
  define(ctx: TenantContext, found: Found): KubeObject[];
  /** Makes the objects so, writing only what changed; records what it found for the steps behind it. */
  apply(sc: StepContext): Promise<StepStop | void>;
  /** Its conditions, from what apply found (in the walk's order they make status.conditions). */
  status(sc: StepContext): ConditionInput[];
  /** At deletion, in reverse order: deletes what it made, and says what it still waits for. */
  cleanup(fc: FinalizeContext, pendingBehind: readonly Pending[]): Promise<Pending[]>;
}

export function cond(type: string, ok: boolean, reason: string, message: string): ConditionInput {
  return { type, status: ok ? "True" : "False", reason, message };
}
