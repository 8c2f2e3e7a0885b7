// WorkloadProfile: a resource recommendation for one Deployment or StatefulSet, built from Prometheus history.
import { z } from "zod";
import { conditions, DnsSubdomain, opaqueObject, Quantity, ResourceList, Timestamp } from "./common.js";
import { withRules } from "./rules.js";
import { kubeObject } from "./object.js";

export const ALGORITHMS = ["vpa-histogram", "percentile", "peak-margin"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** How a pod's memory samples become peaks: src/recommender/model/container.ts. */
export const MEMORY_PEAK_RULES = ["PerDay", "VPA"] as const;
export type MemoryPeakRule = (typeof MEMORY_PEAK_RULES)[number];

const fraction = (description: string) => z.number().gt(0).max(1).describe(description).optional();

const ordered = (a: string, b: string) => ({
  rule: `!has(self.${a}) || !has(self.${b}) || self.${a} <= self.${b}`,
  message: `${a} must not be greater than ${b}`,
  check: (v: Record<string, unknown> | undefined) => {
    const x = v?.[a];
    const y = v?.[b];
    return typeof x !== "number" || typeof y !== "number" || x <= y;
  },
});

export const WorkloadProfileParameters = withRules(
  z.object({
    targetPercentile: fraction("vpa-histogram: percentile of the usage histogram used as target, e.g. 0.9."),
    lowerBoundPercentile: fraction("vpa-histogram: percentile used as lower bound, e.g. 0.5."),
    upperBoundPercentile: fraction("vpa-histogram: percentile used as upper bound, e.g. 0.95."),
    safetyMarginFraction: z
      .number()
      .min(0)
      .max(10)
      .describe("vpa-histogram: margin added on top of every estimate, as a fraction: 0.15 adds 15%.")
      .optional(),
    halfLifeHours: z
      .number()
      .gt(0)
      .max(8760)
      .describe("vpa-histogram: half-life of sample weights, in hours; older samples count less.")
      .optional(),
    historyDays: z
      .number()
      .gt(0)
      .max(90)
      .describe("How many days of Prometheus history the profile is built from.")
      .optional(),
    cpuPercentile: fraction("percentile: percentile of CPU usage used as target, e.g. 0.95."),
    memoryPercentile: fraction(
      "percentile: percentile of the daily memory peaks (one per pod and day, as VPA counts them) used as target; 1 is the maximum.",
    ),
    cpuMarginFraction: z
      .number()
      .min(0)
      .max(10)
      .describe("percentile and peak-margin: margin over the CPU estimate, as a fraction: 0.2 adds 20%.")
      .optional(),
    memoryMarginFraction: z
      .number()
      .min(0)
      .max(10)
      .describe("percentile and peak-margin: margin over the memory estimate, as a fraction: 0.2 adds 20%.")
      .optional(),
    memoryPeakRule: z
      .enum(MEMORY_PEAK_RULES)
      .describe(
        "Every algorithm: how each pod's memory samples become the peaks the memory estimate is built from. " +
          "PerDay (default): one peak per pod and UTC day, weighted at the time it was seen, so a spike earlier " +
          "in the day keeps its full weight until the day leaves the history: safer for control planes that are " +
          "prone to OOM kills. VPA: the Vertical Pod " +
          "Autoscaler's rule, one peak per pod and 24-hour window anchored at the pod's first sample, weighted at " +
          "the window's end; right after a history read each pod's latest sample is alone in its window and " +
          "weighs about half, so a spike before it counts less. Choose VPA to reproduce VPA's numbers. Changing " +
          "it drops the profile's checkpoint and reads the history again.",
      )
      .optional(),
    upperBoundConfidenceMultiplier: z
      .number()
      .min(0)
      .max(100)
      .describe("vpa-histogram: the upper bound is multiplied by (1 + this/confidence in days)^exponent; VPA: 1.")
      .optional(),
    upperBoundConfidenceExponent: z
      .number()
      .min(-10)
      .max(10)
      .describe("vpa-histogram: exponent of the upper bound's confidence multiplier; VPA: 1.")
      .optional(),
    lowerBoundConfidenceMultiplier: z
      .number()
      .min(0)
      .max(100)
      .describe("vpa-histogram: the lower bound is multiplied by (1 + this/confidence in days)^exponent; VPA: 0.001.")
      .optional(),
    lowerBoundConfidenceExponent: z
      .number()
      .min(-10)
      .max(10)
      .describe("vpa-histogram: exponent of the lower bound's confidence multiplier; VPA: -2.")
      .optional(),
    minSampleCount: z
      .int()
      .min(1)
      .max(1_000_000)
      .describe("Fewer CPU samples than this is InsufficientData: no recommendation is published.")
      .optional(),
    oomBumpBytes: z
      .int()
      .min(0)
      .describe(
        "Memory added to the peak when a container was OOM-killed, in bytes (the larger of this and the ratio wins).",
      )
      .optional(),
    oomBumpRatio: z
      .number()
      .min(1)
      .max(10)
      .describe("Factor applied to the memory at the time of an OOM kill, e.g. 1.2.")
      .optional(),
    minCPU: Quantity.describe(
      "No recommendation goes below this CPU amount per pod (shared among its containers, as VPA does).",
    ).optional(),
    minMemory: Quantity.describe(
      "No recommendation goes below this memory amount per pod (shared among its containers, as VPA does).",
    ).optional(),
  }),
  [ordered("lowerBoundPercentile", "targetPercentile"), ordered("targetPercentile", "upperBoundPercentile")],
).describe(
  "Overrides of the algorithm's parameters; unset ones keep the recommender's defaults. Each parameter names the " +
    "algorithm it applies to.",
);

export const WorkloadProfileSpec = z
  .object({
    targetRef: z
      .object({
        apiVersion: z.string().max(64).default("apps/v1").describe('API version of the workload, "apps/v1".'),
        kind: z.enum(["Deployment", "StatefulSet"]).describe("Kind of the workload: Deployment or StatefulSet."),
        name: DnsSubdomain.describe("Name of the workload, in the profile's namespace."),
      })
      .describe("The workload this profile describes. It lives in the same namespace as the profile."),
    algorithm: z
      .enum(ALGORITHMS)
      .default("vpa-histogram")
      .describe(
        "How recommendations are computed: vpa-histogram (decaying histograms as the Vertical Pod Autoscaler " +
          "does, with bounds and confidence), percentile (a percentile of the history), peak-margin (the peak " +
          "plus a margin).",
      ),
    parameters: WorkloadProfileParameters.optional(),
  })
  .describe("Which workload to profile and how.");

const Bounds = (what: string) => ResourceList.describe(`${what} per container: CPU and memory.`);

export const ContainerRecommendation = z
  .object({
    name: z.string().min(1).max(253).describe("Name of the container."),
    target: Bounds("The recommended requests").optional(),
    lowerBound: Bounds("Below this the container is likely starved").optional(),
    upperBound: Bounds("Above this resources are likely wasted").optional(),
    confidenceDays: z
      .number()
      .min(0)
      .describe("Days of history behind the recommendation (VPA's confidence).")
      .optional(),
    sampleCount: z.int().min(0).describe("CPU samples the recommendation is built from.").optional(),
    reason: z
      .enum(["Recommended", "NoData", "InsufficientData"])
      .describe("Recommended, or why there is no recommendation: NoData (no samples), InsufficientData.")
      .optional(),
  })
  .describe("The recommendation for one container.");

export const WorkloadProfileStatus = z
  .object({
    containers: z
      .array(ContainerRecommendation)
      .max(64)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Recommendations per container.")
      .optional(),
    confidence: z
      .number()
      .min(0)
      .max(1)
      .describe("How much the recommendation can be trusted, from 0 (no data) to 1 (a full history).")
      .optional(),
    sampleCount: z.int().min(0).describe("Samples the recommendation is built from.").optional(),
    window: z
      .object({
        start: Timestamp.describe("First sample.").optional(),
        end: Timestamp.describe("Last sample.").optional(),
      })
      .describe("The time range of the samples.")
      .optional(),
    lastUpdated: Timestamp.describe("When the recommendation was last computed.").optional(),
    algorithm: z
      .string()
      .max(64)
      .describe("The algorithm in effect: the workload's metapilot.io/recommender annotation, else spec.algorithm.")
      .optional(),
    observedGeneration: z.int().min(0).describe("The metadata.generation this status describes.").optional(),
    conditions: conditions("Conditions of the profile, e.g. Ready, HistoryAvailable.").optional(),
    checkpoint: opaqueObject(
      "The recommender's saved model state (per-container histogram checkpoints), so profiles survive restarts. " +
        "Its layout belongs to the recommender; do not edit.",
    ).optional(),
  })
  .describe("The recommendation.");

export const WorkloadProfile = kubeObject("WorkloadProfile", WorkloadProfileSpec, WorkloadProfileStatus).describe(
  "Resource recommendations for one Deployment or StatefulSet, built from its Prometheus history.",
);

export type WorkloadProfile = z.infer<typeof WorkloadProfile>;
export type WorkloadProfileInput = z.input<typeof WorkloadProfile>;
export type WorkloadProfileSpec = z.infer<typeof WorkloadProfileSpec>;
export type WorkloadProfileStatus = z.infer<typeof WorkloadProfileStatus>;
export type ContainerRecommendation = z.infer<typeof ContainerRecommendation>;
