// NodePool: a group of meta-cluster nodes that grows when pods are Pending and shrinks by draining idle nodes.
import { z } from "zod";
import {
  conditions,
  DnsLabel,
  DnsSubdomain,
  Duration,
  LabelKey,
  LabelSelector,
  Quantity,
  StringMap,
  Timestamp,
} from "./common.js";
import { withRules } from "./rules.js";
import { kubeObject } from "./object.js";

export const SCALE_DOWN_STRATEGIES = ["empty-first", "underutilized", "oldest-first", "label-selector"] as const;
export type ScaleDownStrategy = (typeof SCALE_DOWN_STRATEGIES)[number];

export const Taint = z
  .object({
    key: LabelKey.describe("Taint key."),
    value: z.string().max(63).describe("Taint value.").optional(),
    effect: z
      .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
      .describe("NoSchedule, PreferNoSchedule or NoExecute."),
  })
  .describe("A taint on every node of the pool.");
export type Taint = z.infer<typeof Taint>;

export const NodeShape = z
  .object({
    cpu: Quantity.describe('Allocatable CPU of one node, e.g. "16".'),
    memory: Quantity.describe('Allocatable memory of one node, e.g. "64Gi".'),
    gpu: z.int().min(0).max(64).default(0).describe("GPUs per node."),
    architecture: z.enum(["amd64", "arm64"]).default("amd64").describe("CPU architecture: amd64 or arm64."),
  })
  .describe("What one node of the pool offers; scale-up uses it to tell whether new nodes would fit Pending pods.");

export const NodePoolSpec = withRules(
  z.object({
    provider: z
      .enum(["clusterapi", "kwok"])
      .describe(
        "How nodes are made: clusterapi scales a Cluster API MachineDeployment; kwok creates fake nodes for simulation.",
      ),
    minNodes: z.int().min(0).max(10000).default(0).describe("The pool never shrinks below this many nodes."),
    maxNodes: z.int().min(0).max(10000).describe("The pool never grows above this many nodes."),
    shape: NodeShape,
    labels: StringMap.meta({ maxProperties: 64 }).describe("Labels on every node of the pool.").optional(),
    taints: z.array(Taint).max(32).describe("Taints on every node of the pool.").optional(),
    clusterAPI: z
      .object({
        machineDeploymentRef: z
          .object({
            name: DnsSubdomain.describe("Name of the MachineDeployment."),
            namespace: DnsLabel.describe("Namespace of the MachineDeployment."),
          })
          .describe("The MachineDeployment whose replicas metapilot sets."),
      })
      .describe("Settings for provider clusterapi.")
      .optional(),
    scaleUp: z
      .object({
        enabled: z.boolean().default(true).describe("Whether the pool grows when pods are Pending."),
      })
      .prefault({})
      .describe("Growing the pool."),
    scaleDown: withRules(
      z.object({
        enabled: z.boolean().default(true).describe("Whether the pool shrinks."),
        strategy: z
          .enum(SCALE_DOWN_STRATEGIES)
          .default("empty-first")
          .describe(
            "Which nodes go first: empty-first (nodes without workload pods), underutilized (requests below " +
              "utilizationThreshold), oldest-first, or label-selector (nodes matching selector).",
          ),
        utilizationThreshold: z
          .number()
          .min(0)
          .max(1)
          .default(0.5)
          .describe("A node whose requested CPU and memory are both below this fraction of allocatable is unneeded."),
        unneededTime: Duration.default("10m").describe("How long a node must be unneeded before it is drained."),
        maxNodesPerHour: z
          .int()
          .min(0)
          .max(10000)
          .describe("Most nodes removed per hour; no limit when unset.")
          .optional(),
        selector: LabelSelector.describe("Nodes eligible for removal with strategy label-selector.").optional(),
      }),
      [
        {
          rule: "self.strategy != 'label-selector' || has(self.selector)",
          message: "selector must be set when strategy is label-selector",
          check: (v) => v?.strategy !== "label-selector" || v.selector !== undefined,
        },
      ],
    )
      .prefault({})
      .describe("Shrinking the pool, by draining unneeded nodes with NodeDrains."),
    dryRun: z.boolean().default(false).describe("Compute and report scaling, but change no nodes."),
  }),
  [
    {
      rule: "!has(self.minNodes) || self.minNodes <= self.maxNodes",
      message: "minNodes must not be greater than maxNodes",
      check: (v) => !(v?.minNodes > v?.maxNodes),
    },
    {
      rule: "self.provider != 'clusterapi' || has(self.clusterAPI)",
      message: "clusterAPI must be set when provider is clusterapi",
      check: (v) => v?.provider !== "clusterapi" || v.clusterAPI !== undefined,
    },
  ],
).describe("Size limits, node shape and scaling behaviour of the pool.");

export const NodePoolStatus = z
  .object({
    nodes: z.int().min(0).describe("Nodes in the pool.").optional(),
    readyNodes: z.int().min(0).describe("Nodes in the pool that are Ready.").optional(),
    desiredNodes: z.int().min(0).describe("Nodes the pool is scaling to.").optional(),
    pendingPods: z.int().min(0).describe("Pending pods that a new node of this pool would fit.").optional(),
    scaleDownCandidates: z
      .array(z.string().max(253).describe("A node name."))
      .max(1000)
      .describe("Nodes chosen for removal at the last evaluation.")
      .optional(),
    activeDrain: z.string().max(253).describe("The NodeDrain removing nodes from the pool right now.").optional(),
    outOfSyncNodes: z.int().min(0).describe("Nodes whose labels or taints still differ from the template.").optional(),
    conditions: conditions("Conditions of the pool, e.g. Ready, ScalingUp, ScalingDown.").optional(),
    lastScaleTime: Timestamp.describe("When the pool last changed size.").optional(),
    observedGeneration: z.int().min(0).describe("The metadata.generation this status describes.").optional(),
  })
  .describe("Observed state of the pool.");

export const NodePool = kubeObject("NodePool", NodePoolSpec, NodePoolStatus).describe(
  "A group of meta-cluster nodes of one shape. It grows when pods are Pending and shrinks by draining nodes.",
);

export type NodePool = z.infer<typeof NodePool>;
export type NodePoolInput = z.input<typeof NodePool>;
export type NodePoolSpec = z.infer<typeof NodePoolSpec>;
export type NodePoolStatus = z.infer<typeof NodePoolStatus>;
