// ScalingDecision: the record of one scaling decision, its root cause and evidence, and whether it was applied.
import { z } from "zod";
import { ComponentName, DnsLabel, DnsSubdomain, Quantity, ResourceRequirements, Timestamp } from "./common.js";
import { DISRUPTION_REASONS, ESTIMATOR_NAMES, ScalerName } from "./clusterscaler.js";
import { type TransitionRule, type UpdateCheck, updateCheck, withRules } from "./rules.js";
import { kubeObject } from "./object.js";
import { RESIZE_REASONS } from "./tenantcontrolplane.js";

/** Why a decision took (or would take) its path: the operator's resize reasons, and TemplateChange. */
export const APPLY_PATH_REASONS = [...RESIZE_REASONS, "TemplateChange"] as const;
export type ApplyPathReason = (typeof APPLY_PATH_REASONS)[number];

export const ROOT_CAUSE_CATEGORIES = [
  "OOMKilled",
  "CPUSaturation",
  "MemoryPressure",
  "Throttling",
  "ClusterGrowth",
  "ProbeFailure",
  "Underutilized",
  "APFSaturation",
  "RequestLatency",
  "EtcdDatabaseSize",
] as const;
export type RootCauseCategory = (typeof ROOT_CAUSE_CATEGORIES)[number];

export const DECISION_PHASES = ["Applied", "DryRun", "Blocked", "Failed"] as const;
export type DecisionPhase = (typeof DECISION_PHASES)[number];

/** Why a decision is Blocked (status.reason). */
export const BLOCKED_REASONS = ["MaxAllowed", "FleetBudget", "ExceedsNodeCapacity"] as const;
export type BlockedReason = (typeof BLOCKED_REASONS)[number];

export const DELIVERY_STATES = ["Pending", "Delivered", "Failed"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const Evidence = z
  .object({
    signal: z
      .string()
      .min(1)
      .max(253)
      .describe('What was measured, e.g. "container_oom_kills" or "apiserver_429_rate".'),
    value: z.string().max(256).describe('The observed value, as text, e.g. "3" or "0.97".'),
    threshold: z.string().max(256).describe("The threshold it was compared with, as text.").optional(),
    observedAt: Timestamp.describe("When the value was observed.").optional(),
    source: z
      .string()
      .max(253)
      .describe('Where the value comes from, e.g. "prometheus", "pod-status", "event".')
      .optional(),
  })
  .describe("One observation behind the decision.");
export type Evidence = z.infer<typeof Evidence>;

export const WorkloadState = z
  .object({
    replicas: z.int().min(0).describe("Replicas of the workload.").optional(),
    resources: ResourceRequirements.optional(),
  })
  .describe("Size of the component's workload: replicas and the resources of its main container.");
export type WorkloadState = z.infer<typeof WorkloadState>;

export const ScalingDecisionSpec = z
  .object({
    target: z
      .object({
        apiVersion: z.string().max(64).default("apps/v1").describe('API version of the workload, "apps/v1".'),
        kind: z.enum(["Deployment", "StatefulSet"]).describe("Kind of the workload: Deployment or StatefulSet."),
        name: DnsSubdomain.describe("Name of the workload."),
        namespace: DnsLabel.describe("Namespace of the workload (the tenant namespace)."),
        tenant: z.string().max(253).describe("The tenant: the value of the workload's metapilot.io/tenant label."),
      })
      .describe("The workload the decision is about."),
    component: ComponentName,
    direction: z.enum(["Up", "Down"]).describe("Up or Down."),
    dryRun: z.boolean().default(false).describe("Whether the decision was only recorded, not applied."),
    scaler: ScalerName.describe(
      "The scaler that fired (for Down, the scaler whose signal allowed the scale-down).",
    ).optional(),
    rootCause: z
      .object({
        category: z
          .enum(ROOT_CAUSE_CATEGORIES)
          .describe(
            "The kind of cause: OOMKilled, CPUSaturation, MemoryPressure, Throttling, ClusterGrowth (nodes, stored " +
              "objects or watchers reached a cluster-size step), ProbeFailure, Underutilized, APFSaturation (API " +
              "Priority and Fairness seats in use or rejected requests), RequestLatency (p99 request latency over " +
              "its SLO) or EtcdDatabaseSize.",
          ),
        summary: z.string().min(1).max(1024).describe("One sentence for humans: what happened and why this change."),
        evidence: z.array(Evidence).max(32).describe("The observations behind the decision.").optional(),
      })
      .describe("Why the decision was made."),
    before: WorkloadState.describe("Size of the workload before the decision."),
    after: WorkloadState.describe("Size of the workload the decision asks for."),
    estimator: z
      .enum(ESTIMATOR_NAMES)
      .describe(
        "The estimator that computed the new size (oom-memory, cluster-size or fleet-regression); the summary and " +
          "evidence say what it rested on, e.g. the fleet fit and its R².",
      )
      .optional(),
    clusterScaler: DnsSubdomain.describe("The ClusterScaler whose policy made the decision.").optional(),
    disruptionReasons: z
      .array(z.enum(DISRUPTION_REASONS).describe("ScaleUp, ScaleDown or RestartRequiring."))
      .max(DISRUPTION_REASONS.length)
      .describe(
        "The reasons the ClusterScaler's disruption budgets count the change under: its direction, and " +
          "RestartRequiring when it restarts the component's pods (see the ClusterScaler's spec.disruption). A " +
          "decision without it (recorded before budgets had reasons) counts under its direction and RestartRequiring.",
      )
      .optional(),
    decidedAt: Timestamp.describe("When the decision was made.").optional(),
  })
  .describe("The decision. It is a record and does not change after creation.");

export const ScalingDecisionStatus = z
  .object({
    phase: z
      .enum(DECISION_PHASES)
      .describe(
        "Applied (the workload was changed), DryRun (only recorded), Blocked (a limit such as a cooldown, bound or " +
          "the fleet budget held it back) or Failed.",
      )
      .optional(),
    reason: z
      .enum(BLOCKED_REASONS)
      .describe(
        "For a Blocked decision, what blocked it: MaxAllowed (an OOM kill with memory already at the ClusterScaler's " +
          "maxAllowed; recorded once while the workload keeps that size and bound and its pods keep being killed), " +
          "FleetBudget (the fleet budget is spent), or ExceedsNodeCapacity (the requests exceed the allocatable of " +
          "every node the component may run on, by its nodeSelector, required node affinity and tolerations; " +
          "recorded once while the size and the largest node stay the same; see capacity).",
      )
      .optional(),
    capacity: z
      .object({
        need: z
          .object({
            cpu: Quantity.describe("CPU request of the main container.").optional(),
            memory: Quantity.describe("Memory request of the main container.").optional(),
          })
          .describe(
            "The main container's requests that fit no node (counted with the requests of the pod's other " +
              "containers, which the message gives).",
          ),
        largestNode: z
          .object({
            name: DnsSubdomain.describe("Name of the node."),
            allocatable: z
              .object({
                cpu: Quantity.describe("Allocatable CPU.").optional(),
                memory: Quantity.describe("Allocatable memory.").optional(),
              })
              .describe("Its allocatable CPU and memory."),
          })
          .describe("The largest node the component may run on, by the resource that does not fit.")
          .optional(),
        proposedNodePool: z
          .object({
            name: DnsSubdomain.describe("Name of the NodePool."),
            nodeShape: z
              .object({
                cpu: Quantity.describe("Allocatable CPU of one node of the pool.").optional(),
                memory: Quantity.describe("Allocatable memory of one node of the pool.").optional(),
              })
              .describe("The pool's spec.shape."),
          })
          .describe(
            "A NodePool whose nodes would hold the requests and whose labels and taints the component may use: a " +
              "proposal to scale that pool up (metapilot does not do it for this decision), the smallest such shape.",
          )
          .optional(),
      })
      .describe("For reason ExceedsNodeCapacity: the need, the largest node and a NodePool that would hold it.")
      .optional(),
    message: z.string().max(4096).describe("Details, e.g. what blocked the decision or why it failed.").optional(),
    appliedAt: Timestamp.describe("When the workload was changed.").optional(),
    applyPath: z
      .object({
        method: z
          .enum(["InPlace", "Rolling"])
          .describe(
            "InPlace: the running pods were resized through their resize subresource, with no restart. Rolling: a " +
              "rolling update replaced them.",
          ),
        reason: z
          .enum(APPLY_PATH_REASONS)
          .describe(
            "Why: the TenantControlPlane's status.components[].resize.reason for a component it owns (Resized for " +
              "in place; Restart, RestartRequired, KubeletCannotResize, NotReady, QoSClassChange, Infeasible, " +
              "DeferredTooLong, ResizeRefused or DerivedSettings for a rolling update), or TemplateChange for a " +
              "workload no TenantControlPlane owns, whose pod template metapilot changes, which rolls.",
          ),
        state: z
          .enum(["InProgress", "Done"])
          .describe("InProgress until every pod runs with the decision's size, as the operator reports it.")
          .optional(),
        predicted: z
          .boolean()
          .describe(
            "True on a dry-run decision: the path a live decision would take, as far as it can be known when the " +
              "decision is made (a workload no TenantControlPlane owns, strategy Restart, a pod whose kubelet " +
              "cannot resize, a QoS class change); a dry-run decision whose path only the kubelet would tell has none.",
          )
          .optional(),
        message: z.string().max(1024).describe("The operator's words, or why this path.").optional(),
        observedAt: Timestamp.describe("When metapilot learnt the path.").optional(),
      })
      .describe(
        "How the change reached the pods. The scaler fills it for an Applied decision that changes CPU or memory " +
          "once the operator reports the component's resize in the TenantControlPlane's status (read from its " +
          "informer, with no polling), at once for a workload no TenantControlPlane owns, and as a prediction " +
          "for a dry-run decision where it can. Absent for a change of replicas alone, which resizes no pod.",
      )
      .optional(),
    delivery: z
      .object({
        state: z
          .enum(DELIVERY_STATES)
          .default("Pending")
          .describe("Whether the ops center has the report: Pending, Delivered or Failed (gave up)."),
        attempts: z.int().min(0).default(0).describe("Delivery attempts so far."),
        lastAttemptTime: Timestamp.describe("When the last attempt was made.").optional(),
        lastError: z.string().max(4096).describe("Error of the last failed attempt.").optional(),
        deliveredAt: Timestamp.describe("When the ops center acknowledged the report.").optional(),
      })
      .describe("Delivery of the decision report to the ops center.")
      .optional(),
  })
  .describe("What became of the decision.");

const specImmutable: TransitionRule<unknown> = {
  rule: "self == oldSelf",
  message: "spec is immutable: a ScalingDecision is a record",
  reason: "FieldValueForbidden",
  transition: (o, s) => JSON.stringify(o) === JSON.stringify(s),
};

export const ScalingDecision = kubeObject(
  "ScalingDecision",
  withRules(ScalingDecisionSpec, [specImmutable]),
  ScalingDecisionStatus,
).describe("The record of one scaling decision: what changed, why (root cause and evidence), and what became of it.");

export type ScalingDecision = z.infer<typeof ScalingDecision>;
export type ScalingDecisionInput = z.input<typeof ScalingDecision>;
export type ScalingDecisionSpec = z.infer<typeof ScalingDecisionSpec>;
export type ScalingDecisionStatus = z.infer<typeof ScalingDecisionStatus>;

export const scalingDecisionUpdateChecks: readonly UpdateCheck[] = [updateCheck("spec", [specImmutable])];

/** An object as read from the apiserver or a cache, where nothing is guaranteed: every field optional, at any depth. */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * A ScalingDecision as a cache or a LIST gives it, before anyone validated it: the schema's spec and status with
 * nothing required (the reports, the dashboard and the CloudEvents read these).
 */
export interface ScalingDecisionObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ScalingDecision["metadata"];
  spec?: DeepPartial<ScalingDecision["spec"]>;
  status?: DeepPartial<ScalingDecision["status"]>;
}
