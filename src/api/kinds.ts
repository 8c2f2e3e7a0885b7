// The metadata table: names, scope, printer columns and rules of every kind, next to its schema.
import type { z } from "zod";
import { ClusterScaler } from "./clusterscaler.js";
import { API_VERSION, GROUP, VERSION } from "./common.js";
import { NodeDrain } from "./nodedrain.js";
import { NodePool } from "./nodepool.js";
import { celRulesOf, type JSONSchemaProps, kindOpenAPISchema, type LocatedCelRule } from "./openapi.js";
import type { UpdateCheck } from "./rules.js";
import { ScalingDecision, scalingDecisionUpdateChecks } from "./scalingdecision.js";
import { TenantControlPlane, tenantControlPlaneUpdateChecks } from "./tenantcontrolplane.js";
import { WorkloadProfile } from "./workloadprofile.js";

/** An entry of a CRD's additionalPrinterColumns (what `kubectl get` shows). */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  format?: string;
  /** 0 shows in `kubectl get`, 1 only with `-o wide`. */
  priority?: number;
}

export type Scope = "Cluster" | "Namespaced";

export interface KindInfo<S extends z.ZodObject = z.ZodObject> {
  group: typeof GROUP;
  version: typeof VERSION;
  apiVersion: typeof API_VERSION;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  scope: Scope;
  namespaced: boolean;
  categories: readonly string[];
  /** The whole object: apiVersion, kind, metadata, spec, status. */
  schema: S;
  printerColumns: readonly PrinterColumn[];
  /** Transition rules (they need the old object), checked by validateUpdate. */
  updateChecks: readonly UpdateCheck[];
  /** The CRD's openAPIV3Schema (computed on first use). */
  readonly openAPISchema: JSONSchemaProps;
  /** Every CEL rule of the CRD with where it sits (computed on first use). */
  readonly celRules: readonly LocatedCelRule[];
}

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

function defineKind<S extends z.ZodObject>(k: {
  kind: string;
  plural: string;
  shortNames: string[];
  scope: Scope;
  schema: S;
  printerColumns: PrinterColumn[];
  updateChecks?: readonly UpdateCheck[];
}): KindInfo<S> {
  let openAPI: JSONSchemaProps | undefined;
  let rules: LocatedCelRule[] | undefined;
  return {
    group: GROUP,
    version: VERSION,
    apiVersion: API_VERSION,
    kind: k.kind,
    listKind: `${k.kind}List`,
    plural: k.plural,
    singular: k.kind.toLowerCase(),
    shortNames: k.shortNames,
    scope: k.scope,
    namespaced: k.scope === "Namespaced",
    categories: ["metapilot"],
    schema: k.schema,
    printerColumns: k.printerColumns,
    updateChecks: k.updateChecks ?? [],
    get openAPISchema() {
      openAPI ??= kindOpenAPISchema(k.schema);
      return openAPI;
    },
    get celRules() {
      rules ??= celRulesOf(this.openAPISchema);
      return rules;
    },
  };
}

export const kinds = {
  TenantControlPlane: defineKind({
    kind: "TenantControlPlane",
    plural: "tenantcontrolplanes",
    shortNames: ["tcp"],
    scope: "Cluster",
    schema: TenantControlPlane,
    updateChecks: tenantControlPlaneUpdateChecks,
    printerColumns: [
      { name: "Version", type: "string", jsonPath: ".spec.version", description: "Desired Kubernetes version." },
      { name: "Current", type: "string", jsonPath: ".status.version", description: "Version every component runs." },
      { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Summary of the control plane." },
      { name: "Endpoint", type: "string", jsonPath: ".status.endpoint", description: "URL of the tenant apiserver." },
      {
        name: "Kubeconfig",
        type: "string",
        jsonPath: ".status.kubeconfigSecretRef.name",
        description: "Secret with an admin kubeconfig, in status.kubeconfigSecretRef.namespace.",
      },
      {
        name: "Namespace",
        type: "string",
        jsonPath: ".status.namespace",
        description: "Namespace of the control plane.",
        priority: 1,
      },
      age,
    ],
  }),
  WorkloadProfile: defineKind({
    kind: "WorkloadProfile",
    plural: "workloadprofiles",
    shortNames: ["wp"],
    scope: "Namespaced",
    schema: WorkloadProfile,
    printerColumns: [
      { name: "Kind", type: "string", jsonPath: ".spec.targetRef.kind", description: "Kind of the workload." },
      { name: "Target", type: "string", jsonPath: ".spec.targetRef.name", description: "Name of the workload." },
      { name: "Algorithm", type: "string", jsonPath: ".spec.algorithm", description: "Recommendation algorithm." },
      {
        name: "Confidence",
        type: "number",
        jsonPath: ".status.confidence",
        description: "Confidence of the recommendation, 0 to 1.",
      },
      {
        name: "History",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="HistoryAvailable")].reason',
        description: "SamplesFound, or NoData when no container has usage samples (the reason for a confidence of 0).",
      },
      {
        name: "Updated",
        type: "date",
        jsonPath: ".status.lastUpdated",
        description: "When the recommendation was computed.",
      },
      age,
    ],
  }),
  ClusterScaler: defineKind({
    kind: "ClusterScaler",
    plural: "clusterscalers",
    // Not "cs": that is ComponentStatus's short name.
    shortNames: ["csc"],
    scope: "Cluster",
    schema: ClusterScaler,
    printerColumns: [
      {
        name: "Ready",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: "Whether the policy is valid and in effect.",
      },
      { name: "Paused", type: "boolean", jsonPath: ".spec.paused", description: "No changes are made." },
      {
        name: "Tenants",
        type: "integer",
        jsonPath: ".status.matchedTenants",
        description: "Tenants the policy applies to.",
      },
      { name: "Priority", type: "integer", jsonPath: ".spec.priority", description: "Higher wins." },
      { name: "DryRun", type: "boolean", jsonPath: ".spec.dryRun", description: "Decisions are only recorded." },
      age,
    ],
  }),
  ScalingDecision: defineKind({
    kind: "ScalingDecision",
    plural: "scalingdecisions",
    shortNames: ["sd"],
    scope: "Namespaced",
    schema: ScalingDecision,
    updateChecks: scalingDecisionUpdateChecks,
    printerColumns: [
      // Names are hashes, so Age comes first: `kubectl get sd --sort-by=.metadata.creationTimestamp` lists in time.
      age,
      { name: "Tenant", type: "string", jsonPath: ".spec.target.tenant", description: "The tenant." },
      { name: "Component", type: "string", jsonPath: ".spec.component", description: "The component scaled." },
      { name: "Direction", type: "string", jsonPath: ".spec.direction", description: "Up or Down." },
      { name: "Root Cause", type: "string", jsonPath: ".spec.rootCause.category", description: "Root cause category." },
      { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Applied, DryRun, Blocked or Failed." },
      { name: "Summary", type: "string", jsonPath: ".spec.rootCause.summary", description: "Why.", priority: 1 },
    ],
  }),
  NodePool: defineKind({
    kind: "NodePool",
    plural: "nodepools",
    shortNames: ["np"],
    scope: "Cluster",
    schema: NodePool,
    printerColumns: [
      { name: "Provider", type: "string", jsonPath: ".spec.provider", description: "clusterapi or kwok." },
      { name: "Min", type: "integer", jsonPath: ".spec.minNodes", description: "Fewest nodes." },
      { name: "Max", type: "integer", jsonPath: ".spec.maxNodes", description: "Most nodes." },
      { name: "Desired", type: "integer", jsonPath: ".status.desiredNodes", description: "Nodes the pool scales to." },
      { name: "Nodes", type: "integer", jsonPath: ".status.nodes", description: "Nodes in the pool." },
      { name: "Ready", type: "integer", jsonPath: ".status.readyNodes", description: "Ready nodes in the pool." },
      age,
    ],
  }),
  NodeDrain: defineKind({
    kind: "NodeDrain",
    plural: "nodedrains",
    shortNames: ["nd"],
    scope: "Cluster",
    schema: NodeDrain,
    printerColumns: [
      { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Progress of the drain." },
      { name: "Strategy", type: "string", jsonPath: ".spec.evictionStrategy", description: "eviction or delete." },
      { name: "DryRun", type: "boolean", jsonPath: ".spec.dryRun", description: "Planned only." },
      { name: "Started", type: "date", jsonPath: ".status.startTime", description: "When the drain started." },
      age,
      { name: "Message", type: "string", jsonPath: ".status.message", description: "Progress.", priority: 1 },
    ],
  }),
} as const;

export type KindName = keyof typeof kinds;

/** The TypeScript type of each kind, by kind name. */
export type KindTypes = { [K in KindName]: z.infer<(typeof kinds)[K]["schema"]> };

export const kindNames = Object.keys(kinds) as KindName[];

export const allKinds: ReadonlyArray<KindInfo> = kindNames.map((k) => kinds[k]);

/** Looks a kind up by kind name, plural, singular or short name (case-insensitive). */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  return allKinds.find(
    (k) => k.kind.toLowerCase() === n || k.plural === n || k.singular === n || k.shortNames.includes(n),
  );
}
