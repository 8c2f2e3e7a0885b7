// Where a tenant's control plane pods run (spec.scheduling, also per component) and where their images come from
// (spec.imageRegistry). The shapes are the Pod API's own, with bounds on every list and string so the CRD stays
// cheap for the apiserver's CEL cost estimate; the Pod API validates the rest when the workloads are applied.
import { z } from "zod";
import { StringMap } from "./common.js";

// ---------------------------------------------------------------------------------------------------------------
// Scheduling

const Key = z.string().min(1).max(317);
const Values = z.array(z.string().max(63)).max(32);

/** A label selector without rules of its own: the Pod API checks its operators and values. */
const PodLabelSelector = z
  .object({
    matchLabels: StringMap.meta({ maxProperties: 16 })
      .describe("Labels that must all be present with these values.")
      .optional(),
    matchExpressions: z
      .array(
        z
          .object({
            key: Key.describe("The label key."),
            operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("In, NotIn, Exists or DoesNotExist."),
            values: Values.describe("Values for In and NotIn; empty for Exists and DoesNotExist.").optional(),
          })
          .describe("A label requirement."),
      )
      .max(16)
      .describe("Requirements that must all hold.")
      .optional(),
  })
  .meta({ "x-kubernetes-map-type": "atomic" });

export const Toleration = z
  .object({
    key: Key.describe(
      "Taint key the toleration applies to; empty with operator Exists matches every taint.",
    ).optional(),
    operator: z
      .enum(["Exists", "Equal"])
      .describe("Equal (the default) matches the value; Exists matches any value.")
      .optional(),
    value: z.string().max(63).describe("Taint value to match with operator Equal.").optional(),
    effect: z
      .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
      .describe("Taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; empty matches all effects.")
      .optional(),
    tolerationSeconds: z
      .int()
      .describe("For effect NoExecute: how long the pod stays on a node after the taint appears; unset is forever.")
      .optional(),
  })
  .describe("A toleration, as in a Pod's spec.tolerations.");

const NodeSelectorTerm = z
  .object({
    matchExpressions: z
      .array(
        z
          .object({
            key: Key.describe("The node label key."),
            operator: z
              .enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"])
              .describe("In, NotIn, Exists, DoesNotExist, Gt or Lt."),
            values: Values.describe("Values to compare with; one integer for Gt and Lt, none for Exists.").optional(),
          })
          .describe("A node label requirement."),
      )
      .max(16)
      .describe("Requirements on node labels; all must hold.")
      .optional(),
    matchFields: z
      .array(
        z
          .object({
            key: z.string().min(1).max(64).describe("The node field, e.g. metadata.name."),
            operator: z.enum(["In", "NotIn"]).describe("In or NotIn."),
            values: Values.describe("Values to compare with."),
          })
          .describe("A node field requirement."),
      )
      .max(4)
      .describe("Requirements on node fields; all must hold.")
      .optional(),
  })
  .meta({ "x-kubernetes-map-type": "atomic" })
  .describe("A node selector term: its requirements are ANDed.");

const PodAffinityTerm = z
  .object({
    labelSelector: PodLabelSelector.describe("The pods this term is about.").optional(),
    namespaces: z
      .array(z.string().max(63))
      .max(16)
      .describe("Namespaces of those pods; the tenant namespace when unset and namespaceSelector is unset.")
      .optional(),
    namespaceSelector: PodLabelSelector.describe(
      "Namespaces of those pods, by label; {} is every namespace.",
    ).optional(),
    topologyKey: Key.describe('Node label that defines the topology domain, e.g. "kubernetes.io/hostname".'),
    matchLabelKeys: z
      .array(Key)
      .max(8)
      .describe("Pod label keys whose values are taken from the incoming pod and added to labelSelector.")
      .optional(),
    mismatchLabelKeys: z
      .array(Key)
      .max(8)
      .describe("Pod label keys whose values from the incoming pod must not match, added to labelSelector.")
      .optional(),
  })
  .describe("A pod affinity term, as in the Pod API.");

const WeightedPodAffinityTerm = z
  .object({
    weight: z.int().min(1).max(100).describe("Weight, 1 to 100."),
    podAffinityTerm: PodAffinityTerm,
  })
  .describe("A preferred pod affinity term with its weight.");

const podAffinity = (what: string) =>
  z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .array(PodAffinityTerm)
        .max(8)
        .describe(`Terms that must all hold: ${what}.`)
        .optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z
        .array(WeightedPodAffinityTerm)
        .max(8)
        .describe(`Weighted preferences: ${what}.`)
        .optional(),
    })
    .describe(`Pod ${what}, as in the Pod API.`);

export const Affinity = z
  .object({
    nodeAffinity: z
      .object({
        requiredDuringSchedulingIgnoredDuringExecution: z
          .object({
            nodeSelectorTerms: z.array(NodeSelectorTerm).min(1).max(8).describe("Terms, ORed."),
          })
          .meta({ "x-kubernetes-map-type": "atomic" })
          .describe("Nodes the pods must run on.")
          .optional(),
        preferredDuringSchedulingIgnoredDuringExecution: z
          .array(
            z
              .object({
                weight: z.int().min(1).max(100).describe("Weight, 1 to 100."),
                preference: NodeSelectorTerm,
              })
              .describe("A preferred node selector term with its weight."),
          )
          .max(8)
          .describe("Nodes the pods should preferably run on.")
          .optional(),
      })
      .describe("Node affinity, as in the Pod API.")
      .optional(),
    podAffinity: podAffinity("run near these pods").optional(),
    podAntiAffinity: podAffinity("run away from these pods").optional(),
  })
  .describe(
    "Affinity, as in a Pod's spec.affinity. When set, it replaces metapilot's default, a preferred anti-affinity " +
      "that puts a component's pods on different nodes.",
  );

export const TopologySpreadConstraint = z
  .object({
    maxSkew: z.int().min(1).max(1000).describe("The largest allowed difference in pod counts between domains."),
    topologyKey: Key.describe('Node label that defines the domains, e.g. "topology.kubernetes.io/zone".'),
    whenUnsatisfiable: z
      .enum(["DoNotSchedule", "ScheduleAnyway"])
      .describe("DoNotSchedule (a hard rule) or ScheduleAnyway (a preference)."),
    labelSelector: PodLabelSelector.describe(
      "Pods counted in each domain. Unlike in the Pod API, an unset selector means the component's own pods " +
        "(metapilot.io/tenant and metapilot.io/component of this tenant and component), so one constraint at " +
        "spec.scheduling spreads each component by itself.",
    ).optional(),
    minDomains: z.int().min(1).max(1000).describe("Minimum number of eligible domains, with DoNotSchedule.").optional(),
    matchLabelKeys: z
      .array(Key)
      .max(8)
      .describe("Pod label keys whose values from the incoming pod are added to labelSelector.")
      .optional(),
    nodeAffinityPolicy: z
      .enum(["Honor", "Ignore"])
      .describe("Whether the pod's node affinity and nodeSelector limit the domains: Honor or Ignore.")
      .optional(),
    nodeTaintsPolicy: z
      .enum(["Honor", "Ignore"])
      .describe("Whether node taints limit the domains: Honor or Ignore.")
      .optional(),
  })
  .describe("A topology spread constraint, as in a Pod's spec.topologySpreadConstraints.");

export const Scheduling = z
  .object({
    nodeSelector: StringMap.meta({ maxProperties: 16 })
      .describe('Node labels the pods must match, e.g. {"metapilot.io/node-kind": "real"}.')
      .optional(),
    tolerations: z.array(Toleration).max(16).describe("Tolerations of the pods, e.g. for dedicated nodes.").optional(),
    affinity: Affinity.optional(),
    topologySpreadConstraints: z
      .array(TopologySpreadConstraint)
      .max(8)
      .describe(
        "How the pods spread over nodes and zones. When set, it replaces metapilot's default, which spreads each " +
          "component's pods over kubernetes.io/hostname and topology.kubernetes.io/zone with ScheduleAnyway.",
      )
      .optional(),
  })
  .meta({ "x-kubernetes-map-type": "atomic" });
export type Scheduling = z.infer<typeof Scheduling>;

export const SCHEDULING_FIELDS = ["nodeSelector", "tolerations", "affinity", "topologySpreadConstraints"] as const;

/**
 * The scheduling of one component: each of the four fields comes from the component's scheduling when it sets
 * that field (an empty map or list included, which clears it), and from the TenantControlPlane's otherwise.
 */
export function effectiveScheduling(top: Scheduling | undefined, component: Scheduling | undefined): Scheduling {
  const out: Scheduling = {};
  for (const field of SCHEDULING_FIELDS) {
    const value = component?.[field] !== undefined ? component[field] : top?.[field];
    if (value !== undefined) (out as Record<string, unknown>)[field] = value;
  }
  return out;
}

export const topLevelSchedulingDescription =
  "Where every component's pods run: nodeSelector, tolerations, affinity and topologySpreadConstraints, as in " +
  "the Pod API, applied to the etcd StatefulSet and the kube-apiserver, kube-controller-manager and " +
  "kube-scheduler Deployments. A component's own scheduling overrides it field by field: a field the component " +
  "sets (even to an empty map or list) replaces this one whole, the others come from here. Without affinity or " +
  "topologySpreadConstraints metapilot keeps its defaults, which spread a component's pods over nodes and zones.";

export const componentSchedulingDescription = (component: string) =>
  `Where the ${component} pods run. Each field set here (even to an empty map or list) replaces the same field ` +
  "of spec.scheduling whole for this component; the fields left unset come from spec.scheduling.";

// ---------------------------------------------------------------------------------------------------------------
// Image registry

/**
 * A registry host, optional port and optional path, without a scheme, tag or digest: "registry.example.com",
 * "mirror.local:5000/k8s". Path components follow the OCI distribution spec (lower case).
 */
export const IMAGE_REGISTRY_PATTERN =
  "^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])" +
  "(:[0-9]{1,5})?(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$";

export const DEFAULT_IMAGE_REGISTRY = "registry.k8s.io";

const IMAGE_REGISTRY_MESSAGE =
  'must be a registry host with an optional port and path and no scheme, tag or digest, e.g. "registry.example.com" ' +
  'or "mirror.local:5000/k8s"';

export const ImageRegistry = z
  .string()
  .max(255)
  .regex(new RegExp(IMAGE_REGISTRY_PATTERN), { error: IMAGE_REGISTRY_MESSAGE });

/** Why a registry string is refused, or undefined when it is valid. */
export function imageRegistryError(value: string): string | undefined {
  const r = ImageRegistry.safeParse(value);
  if (r.success) return undefined;
  return value.length > 255 ? "must be at most 255 characters" : IMAGE_REGISTRY_MESSAGE;
}
