// NodeDrain: cordon and drain meta-cluster nodes through the Eviction API, with rate limits, dry-run and abort.
import { z } from "zod";
import { conditions, DnsSubdomain, Duration, LabelSelector, Timestamp } from "./common.js";
import { withRules } from "./rules.js";
import { kubeObject } from "./object.js";

export const DRAIN_PHASES = ["Pending", "Planning", "Draining", "Succeeded", "Failed", "Aborted", "DryRun"] as const;
export type DrainPhase = (typeof DRAIN_PHASES)[number];

export const POD_DRAIN_STATES = ["Pending", "Evicting", "Evicted", "Blocked", "Skipped", "Failed"] as const;
export type PodDrainState = (typeof POD_DRAIN_STATES)[number];

export const NODE_DRAIN_STATES = ["Pending", "Cordoned", "Draining", "Drained", "Failed", "Skipped"] as const;
export type NodeDrainState = (typeof NODE_DRAIN_STATES)[number];

const PodRef = z.string().max(317).describe("A pod as namespace/name.");

export const NodeDrainSpec = withRules(
  z.object({
    nodeNames: z
      .array(DnsSubdomain.describe("Name of a node."))
      .min(1)
      .max(1000)
      .meta({ "x-kubernetes-list-type": "set" })
      .describe("The nodes to drain, by name. Exactly one of nodeNames and nodeSelector must be set.")
      .optional(),
    nodeSelector: LabelSelector.describe(
      "The nodes to drain, by label; resolved once, when the drain is planned. Exactly one of nodeNames and " +
        "nodeSelector must be set, and a selector must not be empty (an empty one would select every node). " +
        "A drain that selects more nodes than the controller's budget (--max-drain-nodes, --max-drain-percent of " +
        "the cluster) or than a NodePool can spare above its minNodes (one node may always be drained) is refused.",
    ).optional(),
    evictionStrategy: z
      .enum(["eviction", "delete"])
      .default("eviction")
      .describe(
        "How pods are removed: eviction uses the Eviction API, which honours PodDisruptionBudgets; delete deletes " +
          "pods directly and ignores them, and must be confirmed with confirmDeleteBypassesPDB.",
      ),
    confirmDeleteBypassesPDB: z
      .boolean()
      .default(false)
      .describe(
        "Must be true when evictionStrategy is delete: a second field that says the PodDisruptionBudgets of the " +
          "drained pods will not be honoured.",
      ),
    dryRun: z
      .boolean()
      .default(false)
      .describe("Plan the drain and report it in status.plan, but cordon and evict nothing."),
    abort: z
      .boolean()
      .default(false)
      .describe("Set to true to stop the drain: no further evictions start, and the drain ends in phase Aborted."),
    rateLimit: z
      .object({
        nodesPerInterval: z.int().min(1).max(1000).default(1).describe("Nodes whose drain may start per interval."),
        interval: Duration.default("1m").describe("Length of the interval."),
        maxConcurrent: z.int().min(1).max(1000).default(1).describe("Nodes drained at the same time."),
      })
      .prefault({})
      .describe("How fast nodes are drained."),
    timeout: Duration.default("10m").describe("A node that is not drained after this long fails the drain."),
    maxGracePeriodSeconds: z
      .int()
      .min(0)
      .max(86400)
      .describe("Upper bound on the termination grace period given to each pod; the pod's own when unset.")
      .optional(),
    force: z
      .boolean()
      .default(false)
      .describe(
        "Also evict pods that are skipped otherwise: pods without a controller, pods with local storage (emptyDir) " +
          "and pods marked do-not-disrupt. DaemonSet and mirror pods are always skipped.",
      ),
    createMissingPDBs: z
      .boolean()
      .default(false)
      .describe(
        "Before draining, create a PodDisruptionBudget (maxUnavailable 1) for every tenant workload that has " +
          "none, so the drain cannot take all of its pods at once. They are removed when the drain ends.",
      ),
    disruptionBudget: z
      .object({
        maxUnavailable: z
          .int()
          .min(1)
          .max(1000)
          .describe("Most nodes of one NodePool that may be cordoned or draining at the same time."),
      })
      .describe("Limits on unavailable nodes, per NodePool.")
      .optional(),
  }),
  [
    {
      rule: "has(self.nodeNames) != has(self.nodeSelector)",
      message: "exactly one of nodeNames and nodeSelector must be set",
      check: (v) => (v?.nodeNames === undefined) !== (v?.nodeSelector === undefined),
    },
    {
      rule:
        "!has(self.nodeSelector) || " +
        "(has(self.nodeSelector.matchLabels) && size(self.nodeSelector.matchLabels) > 0) || " +
        "(has(self.nodeSelector.matchExpressions) && size(self.nodeSelector.matchExpressions) > 0)",
      message: "nodeSelector must not be empty: an empty selector selects every node",
      fieldPath: ".nodeSelector",
      reason: "FieldValueForbidden",
      check: (v) =>
        v?.nodeSelector === undefined ||
        Object.keys(v.nodeSelector.matchLabels ?? {}).length > 0 ||
        (v.nodeSelector.matchExpressions ?? []).length > 0,
    },
    {
      rule:
        "!has(self.evictionStrategy) || self.evictionStrategy != 'delete' || " +
        "(has(self.confirmDeleteBypassesPDB) && self.confirmDeleteBypassesPDB)",
      message: "evictionStrategy delete ignores PodDisruptionBudgets: set confirmDeleteBypassesPDB: true to confirm it",
      fieldPath: ".confirmDeleteBypassesPDB",
      reason: "FieldValueRequired",
      check: (v) => v?.evictionStrategy !== "delete" || v.confirmDeleteBypassesPDB === true,
    },
  ],
).describe("Which nodes to drain and how.");

export const DrainPlanEntry = z
  .object({
    node: DnsSubdomain.describe("The node."),
    pods: z
      .array(PodRef)
      .max(1000)
      .describe("Pods to remove from the node, as namespace/name, in the order they will be evicted.")
      .optional(),
    blockingPDBs: z
      .array(z.string().max(317).describe("A PodDisruptionBudget as namespace/name."))
      .max(1000)
      .describe("PodDisruptionBudgets that currently allow no disruption and would hold the drain up.")
      .optional(),
    skipped: z
      .array(
        z
          .object({
            pod: PodRef,
            reason: z.string().max(512).describe("Why the pod stays: DaemonSet, mirror pod, local storage, ..."),
          })
          .describe("A pod the drain leaves on the node."),
      )
      .max(1000)
      .describe("Pods the drain leaves on the node, with the reason.")
      .optional(),
    missingPDBs: z
      .array(z.string().max(317).describe("A control-plane component as namespace/tenant/component."))
      .max(1000)
      .describe("Control-plane components with pods on the node and no PodDisruptionBudget.")
      .optional(),
    refusal: z.string().max(1024).describe("Why the node will not be drained, if it will not.").optional(),
  })
  .describe("The plan for one node.");

export const PodDrainStatus = z
  .object({
    namespace: z.string().max(63).describe("Namespace of the pod."),
    name: z.string().max(253).describe("Name of the pod."),
    node: z.string().max(253).describe("Node the pod ran on.").optional(),
    state: z
      .enum(POD_DRAIN_STATES)
      .describe(
        "Pending, Evicting, Evicted, Blocked (a PodDisruptionBudget refuses), Skipped (DaemonSet, mirror pod) or Failed.",
      ),
    message: z.string().max(1024).describe("Details, e.g. the PodDisruptionBudget that blocks.").optional(),
    attempts: z.int().min(0).describe("Eviction attempts so far.").optional(),
    disruption: z
      .object({
        clusterScaler: z.string().max(253).describe("The ClusterScaler that governs the pod's tenant."),
        tenant: z.string().max(253).describe("The tenant (metapilot.io/tenant) the pod belongs to."),
        evictedAt: Timestamp.describe(
          "When the drain evicted the pod: one Drain change of the ClusterScaler's disruption budgets from then.",
        ).optional(),
        heldBy: z
          .string()
          .max(64)
          .describe('The budget that holds the eviction back now ("spec.disruption.budgets[0]", "default[0]").')
          .optional(),
        heldSince: Timestamp.describe("When the budget first held the eviction back.").optional(),
      })
      .describe(
        "For a pod of a tenant control plane that a ClusterScaler governs: its eviction as a Drain change of that " +
          "ClusterScaler's disruption budgets. The budgets are counted from these records, so a restarted " +
          "controller carries on with what was spent.",
      )
      .optional(),
  })
  .describe("Progress of one pod.");

export const NodeDrainStatus = z
  .object({
    phase: z
      .enum(DRAIN_PHASES)
      .describe("Pending, Planning, Draining, Succeeded, Failed, Aborted, or DryRun (planned only).")
      .optional(),
    plan: z.array(DrainPlanEntry).max(1000).describe("The plan: per node, the pods in eviction order.").optional(),
    pods: z.array(PodDrainStatus).max(10000).describe("Progress per pod.").optional(),
    nodes: z
      .array(
        z
          .object({
            name: z.string().max(253).describe("The node."),
            state: z.enum(NODE_DRAIN_STATES).describe("Pending, Cordoned, Draining, Drained, Failed or Skipped."),
            message: z.string().max(1024).describe("Why the node is Failed or Skipped.").optional(),
            startTime: Timestamp.describe("When the drain of this node started (it was cordoned).").optional(),
            completionTime: Timestamp.describe("When the node was drained or given up.").optional(),
          })
          .describe("Progress of one node."),
      )
      .max(1000)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Progress per node.")
      .optional(),
    startTime: Timestamp.describe("When the drain started.").optional(),
    completionTime: Timestamp.describe("When the drain ended.").optional(),
    conditions: conditions("Conditions of the drain.").optional(),
    message: z.string().max(4096).describe("Summary of the progress or the failure.").optional(),
    observedGeneration: z.int().min(0).describe("The metadata.generation this status describes.").optional(),
  })
  .describe("Progress of the drain.");

export const NodeDrain = kubeObject("NodeDrain", NodeDrainSpec, NodeDrainStatus).describe(
  "Cordons and drains meta-cluster nodes, honouring PodDisruptionBudgets, with rate limits, dry-run and abort.",
);

export type NodeDrain = z.infer<typeof NodeDrain>;
export type NodeDrainInput = z.input<typeof NodeDrain>;
export type NodeDrainSpec = z.infer<typeof NodeDrainSpec>;
export type NodeDrainStatus = z.infer<typeof NodeDrainStatus>;
