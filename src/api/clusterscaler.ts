// ClusterScaler: the policy that scales tenant control plane components up fast and down slowly.
import { z } from "zod";
import {
  ComponentName,
  conditions,
  Duration,
  LabelSelector,
  Quantity,
  ResourceList,
  resourceBoundsRules,
  Timestamp,
} from "./common.js";
import { withRules } from "./rules.js";
import { kubeObject } from "./object.js";

export const SCALER_NAMES = ["oom", "cpu", "memory", "throttling", "cluster-size", "probe"] as const;
export type ScalerName = (typeof SCALER_NAMES)[number];
export const ScalerName = z
  .enum(SCALER_NAMES)
  .describe("A scaler: oom, cpu, memory, throttling, cluster-size or probe.");

export const ESTIMATOR_NAMES = ["oom-memory", "profile", "cluster-size", "fleet-regression"] as const;
export type EstimatorName = (typeof ESTIMATOR_NAMES)[number];

export const ScalerConfig = z
  .object({
    name: ScalerName,
    enabled: z.boolean().default(true).describe("Whether the scaler runs."),
    threshold: z
      .number()
      .min(0)
      .describe(
        "When the scaler fires. Its unit depends on the scaler: cpu and memory, a fraction of the request (0.8); " +
          "throttling, 429 responses per second; probe, failed probes in the window; oom, OOM kills in the window. " +
          "cluster-size ignores it and follows clusterSizeLadder. The scaler's default when unset.",
      )
      .optional(),
    window: Duration.describe(
      'How long the signal must stay over the threshold, e.g. "2m". The scaler\'s default when unset.',
    ).optional(),
  })
  .describe("A scaler: a signal that triggers a scale-up (or allows a scale-down) and its threshold.");
export type ScalerConfig = z.infer<typeof ScalerConfig>;

const scalerList = (description: string) =>
  z
    .array(ScalerConfig)
    .max(SCALER_NAMES.length)
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
    .describe(description);

export const ClusterSizeStep = z
  .object({
    nodes: z.int().min(0).max(1_000_000).describe("From this many tenant nodes on, the step applies."),
    cpu: Quantity.describe("CPU request per pod from this size on.").optional(),
    memory: Quantity.describe("Memory request per pod from this size on.").optional(),
    replicas: z.int().min(1).max(50).describe("Replicas from this size on.").optional(),
  })
  .describe("One step of the cluster-size ladder.");

const Replicas = withRules(
  z.object({
    min: z.int().min(1).max(50).describe("Fewest replicas.").optional(),
    max: z.int().min(1).max(50).describe("Most replicas.").optional(),
  }),
  [
    {
      rule: "!has(self.min) || !has(self.max) || self.min <= self.max",
      message: "replicas.min must not be greater than replicas.max",
      check: (v) => v?.min === undefined || v?.max === undefined || v.min <= v.max,
    },
  ],
).describe("Bounds on the number of replicas. Only Deployments (not etcd) are scaled horizontally.");

export const ComponentPolicy = withRules(
  z.object({
    name: ComponentName,
    scalers: scalerList(
      "The scalers that watch this component. When empty, every scaler runs with its defaults.",
    ).optional(),
    estimators: z
      .array(z.enum(ESTIMATOR_NAMES).describe("An estimator: oom-memory, profile, cluster-size or fleet-regression."))
      .max(ESTIMATOR_NAMES.length)
      .meta({ "x-kubernetes-list-type": "set" })
      .describe(
        "How new sizes are computed. oom-memory answers OOM kills (memory at the kill plus a bump); without it, " +
          "OOM kills are not answered. cluster-size (clusterSizeLadder, or a linear size by node count) and " +
          "fleet-regression (what the fleet's tenants of that size use, see spec.fleetRegression) size a tenant by " +
          "its size when the cluster-size scaler runs: they are tried in list order, and the first that gives an " +
          "answer sets the size. For scale-downs, profile (the WorkloadProfile recommendation), cluster-size and " +
          "fleet-regression are floors: no scale-down goes below what a listed one says. Default: oom-memory, " +
          "profile, cluster-size.",
      )
      .optional(),
    minAllowed: ResourceList.describe("Requests never go below these amounts.").optional(),
    maxAllowed: ResourceList.describe(
      "Requests never go above these amounts (nor a memory limit above the memory). An OOM kill with memory " +
        "already here is recorded as one Blocked ScalingDecision (status.reason MaxAllowed) however many kills follow, " +
        "until the size or this bound changes or the pods stop showing a kill.",
    ).optional(),
    replicas: Replicas.optional(),
    clusterSizeLadder: z
      .array(ClusterSizeStep)
      .max(32)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["nodes"] })
      .describe(
        "Sizes by the number of nodes in the tenant cluster; the step with the most nodes not above the count applies.",
      )
      .optional(),
  }),
  resourceBoundsRules("minAllowed", "maxAllowed"),
).describe("The scaling policy of one component.");
export type ComponentPolicy = z.infer<typeof ComponentPolicy>;

export const ScalerOverride = withRules(
  z.object({
    tenantSelector: LabelSelector.describe(
      "Tenants the override applies to; all selected tenants when unset.",
    ).optional(),
    component: ComponentName.describe("The component the override applies to; all components when unset.").optional(),
    scalers: scalerList("Scaler settings that replace the component's, by scaler name.").optional(),
    thresholds: z
      .partialRecord(ScalerName, z.number().min(0))
      .meta({ maxProperties: SCALER_NAMES.length })
      .describe('Shorthand for scaler thresholds by scaler name, e.g. {"cpu": 0.9}.')
      .optional(),
    dryRun: z.boolean().describe("Overrides spec.dryRun for the matching tenants and components.").optional(),
  }),
  [
    {
      rule: `!has(self.thresholds) || self.thresholds.all(k, k in [${SCALER_NAMES.map((n) => `'${n}'`).join(", ")}])`,
      message: `thresholds keys must be scaler names: ${SCALER_NAMES.join(", ")}`,
      check: (v) => Object.keys(v?.thresholds ?? {}).every((k) => (SCALER_NAMES as readonly string[]).includes(k)),
    },
  ],
).describe("Settings for some tenants and/or one component.");
export type ScalerOverride = z.infer<typeof ScalerOverride>;

export const ClusterScalerSpec = z
  .object({
    tenantSelector: LabelSelector.describe(
      "Tenants this policy applies to, by the labels of their TenantControlPlane plus metapilot.io/tenant=<name> " +
        "(or, for control planes metapilot did not create, the labels of their workloads labelled " +
        "metapilot.io/tenant). Every tenant when unset.",
    ).optional(),
    priority: z
      .int()
      .min(-1000)
      .max(1000)
      .default(0)
      .describe(
        "Which policy wins when several select the same tenant: the highest priority applies, alone (policies " +
          "are not merged). On equal priority, the oldest ClusterScaler wins, then the first by name.",
      ),
    components: z
      .array(ComponentPolicy)
      .min(1)
      .max(4)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Policies per component; components not listed are not scaled."),
    scaleUp: z
      .object({
        cooldown: Duration.default("1m").describe("Minimum time between two scale-ups of the same component."),
      })
      .prefault({})
      .describe("Scale-ups happen as soon as a scaler fires, at most once per cooldown."),
    scaleDown: z
      .object({
        enabled: z.boolean().default(true).describe("Whether components are ever scaled down."),
        stabilizationWindow: Duration.default("3h").describe(
          "A scale-down happens only when every recommendation in this window was lower than the current size.",
        ),
        maxStepPercent: z
          .int()
          .min(1)
          .max(100)
          .default(20)
          .describe("Largest reduction in one step, in percent of the current requests or replicas."),
        cooldown: Duration.describe(
          "Minimum time between a change of a component and its next scale-down. Only the stabilization window applies when unset.",
        ).optional(),
      })
      .prefault({})
      .describe("Scale-downs happen slowly and in small steps."),
    dryRun: z.boolean().default(false).describe("Record ScalingDecisions without changing any workload."),
    paused: z
      .boolean()
      .default(false)
      .describe(
        "Make no decisions for the tenants this policy governs (it still governs them: no lower-priority policy " +
          "takes over). Same as the annotation metapilot.io/paused on each of their workloads.",
      ),
    fleetBudget: z
      .object({
        maxChangesPerInterval: z
          .int()
          .min(1)
          .max(10000)
          .default(10)
          .describe(
            "Most workload changes (scale-ups and scale-downs, OOM scale-ups included) this policy makes across all " +
              "its tenants per interval; in dry-run, the changes it records. A change the budget holds back is " +
              "recorded as a Blocked ScalingDecision and made once the budget allows it.",
          ),
        interval: Duration.default("5m").describe(
          "Length of the sliding interval. The default, 5m, is about how long a control-plane rollout takes to " +
            "finish and show its effect, so at most maxChangesPerInterval rollouts are in flight at once.",
        ),
        oomFloorPerTenant: z
          .int()
          .min(1)
          .max(100)
          .default(2)
          .describe(
            "OOM scale-ups each tenant still gets per interval when the budget is spent: an OOM-killed tenant is " +
              "never left crash-looping because other tenants used the budget. They count against the budget all " +
              "the same. The default, 2, covers a tenant's kube-apiserver and etcd killed by the same list storm.",
          ),
      })
      .prefault({})
      .describe(
        "Limits how many changes happen across the fleet, so a bad signal cannot resize everything at once. When " +
          "unset: 10 changes per 5 minutes (120 an hour), with 2 OOM scale-ups per tenant per interval that the " +
          "budget never takes away. It is counted from the ScalingDecisions this policy recorded (Applied or " +
          "DryRun, by decidedAt), so a restart or a new leader carries on with what was spent.",
      ),
    fleetRegression: z
      .object({
        minTenants: z
          .int()
          .min(3)
          .max(100000)
          .default(10)
          .describe("Fewest tenants with fresh usage and size a fit needs; with fewer, the estimator gives nothing."),
        minR2: z
          .number()
          .min(0)
          .max(1)
          .default(0.7)
          .describe(
            "Lowest R² (share of the usage's variance the fit explains) the estimator trusts; below it, it gives nothing.",
          ),
      })
      .prefault({})
      .describe(
        "The fleet-regression estimator: for each component that lists it, the usage (CPU, memory) of every tenant " +
          "this policy governs is fitted by least squares against the tenant's size (its node count, and its " +
          "stored object count when every tenant reports one), and a tenant is sized by the fit at its own size, " +
          "with the usual headroom (CPU for 60% utilisation, memory 30% over) and bounds. status.fleetRegression " +
          "shows each fit, its R² and sample count, or why there is none.",
      ),
    overrides: z
      .array(ScalerOverride)
      .max(64)
      .describe(
        "Settings that replace the component policies for some tenants and/or one component. All matching " +
          "overrides apply in list order, so a later one wins over an earlier one.",
      )
      .optional(),
  })
  .describe("The scaling policy.");

export const ClusterScalerStatus = z
  .object({
    conditions: conditions("Conditions of the policy, e.g. Ready.").optional(),
    matchedTenants: z.int().min(0).describe("Tenants this policy applies to (after priority resolution).").optional(),
    observedGeneration: z.int().min(0).describe("The metadata.generation this status describes.").optional(),
    lastDecisionTime: Timestamp.describe("When the policy last made a ScalingDecision.").optional(),
    fleetRegression: z
      .array(
        z
          .object({
            component: ComponentName,
            resource: z.enum(["cpu", "memory"]).describe("cpu (cores) or memory (bytes)."),
            fitted: z.boolean().describe("Whether the fit is good enough to size tenants by."),
            samples: z.int().min(0).describe("Tenants in the fit: those with fresh usage and size."),
            r2: z.number().describe("The fit's R²; absent when nothing could be fitted.").optional(),
            predictors: z
              .array(z.enum(["nodes", "objects"]))
              .max(2)
              .describe("What usage is fitted against: nodes, and objects when every tenant reports them.")
              .optional(),
            coefficients: z
              .array(z.number())
              .max(3)
              .describe("Intercept, then one coefficient per predictor, in cores or bytes.")
              .optional(),
            reason: z
              .enum(["Fitted", "InsufficientTenants", "PoorFit", "Degenerate"])
              .describe("Fitted, or why the estimator gives nothing: InsufficientTenants, PoorFit or Degenerate."),
            message: z.string().max(1024).describe("The fit as a line, or why there is none."),
          })
          .describe("One fit of the fleet-regression estimator."),
      )
      .max(8)
      .describe("The fleet-regression fits of the components that list the estimator, from the last Prometheus poll.")
      .optional(),
    fleetBudget: z
      .object({
        maxChangesPerInterval: z.int().min(0).describe("The budget in force: changes per interval."),
        interval: Duration.describe("The budget's interval in force."),
        oomFloorPerTenant: z
          .int()
          .min(0)
          .describe("OOM scale-ups per tenant per interval the budget never holds back."),
        changes: z
          .int()
          .min(0)
          .describe(
            "Changes counted in the last interval: Applied and DryRun decisions of this policy (OOM scale-ups " +
              "included) and those still being recorded.",
          ),
        remaining: z.int().min(0).describe("Changes left in the last interval."),
        heldBack: z
          .int()
          .min(0)
          .describe("Workloads whose change the budget held back in the last interval (Blocked decisions)."),
        heldBackWorkloads: z
          .array(z.string().max(317))
          .max(20)
          .describe("Up to 20 of those workloads, as namespace/name, the most recent first.")
          .optional(),
        nextChangeAt: Timestamp.describe(
          "When the oldest counted change leaves the interval and frees one change; unset while changes remain.",
        ).optional(),
      })
      .describe("What the fleet budget holds now, counted from this policy's ScalingDecisions.")
      .optional(),
  })
  .describe("Observed state of the policy.");

export const ClusterScaler = kubeObject("ClusterScaler", ClusterScalerSpec, ClusterScalerStatus).describe(
  "A scaling policy for tenant control plane components: which scalers react to which signals, bounds, " +
    "cooldowns and how fast to scale down.",
);

export type ClusterScaler = z.infer<typeof ClusterScaler>;
export type ClusterScalerInput = z.input<typeof ClusterScaler>;
export type ClusterScalerSpec = z.infer<typeof ClusterScalerSpec>;
export type ClusterScalerStatus = z.infer<typeof ClusterScalerStatus>;
