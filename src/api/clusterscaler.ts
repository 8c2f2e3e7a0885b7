// ClusterScaler: the policy that scales tenant control plane components up fast and down slowly.
import { z } from "zod";
import {
  ComponentName,
  conditions,
  Duration,
  LabelSelector,
  parseDuration,
  Quantity,
  ResourceList,
  resourceBoundsRules,
  Timestamp,
} from "./common.js";
import { withRules } from "./rules.js";
import { cronProblem } from "./cron.js";
import { kubeObject } from "./object.js";

export const SCALER_NAMES = [
  "oom",
  "cpu",
  "memory",
  "throttling",
  "cluster-size",
  "probe",
  "apf",
  "latency",
  "etcd-db-size",
] as const;
export type ScalerName = (typeof SCALER_NAMES)[number];
export const ScalerName = z
  .enum(SCALER_NAMES)
  .describe("A scaler: oom, cpu, memory, throttling, cluster-size, probe, apf, latency or etcd-db-size.");

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
          "cluster-size ignores it and follows clusterSizeLadder. The load scalers read the tenant apiserver's own " +
          "metrics: apf, the API Priority and Fairness seats in use (apiserver_flowcontrol_current_executing_seats, " +
          "exempt level left out) as a fraction of the server's seats (the sum of " +
          "apiserver_flowcontrol_nominal_limit_seats, i.e. --max-requests-inflight + " +
          "--max-mutating-requests-inflight, 400 + 200 by default), default 0.8; it also fires on requests APF " +
          "rejects (apiserver_flowcontrol_rejected_requests_total) at the throttling threshold's rate, since APF " +
          "answers them 429. latency, the p99 of apiserver_request_duration_seconds per verb and scope (WATCH and " +
          "CONNECT left out) as a fraction of the SIG-scalability API call latency SLO (mutating calls and " +
          "single-object reads 1s, namespace-scoped LIST 5s, cluster-scoped LIST 30s), default 1. etcd-db-size, " +
          "the etcd database size (apiserver_storage_size_bytes) as a fraction of etcd's memory request, default " +
          "0.5: bbolt maps the whole file into memory, and etcd's default space quota of 2 GiB " +
          "(--quota-backend-bytes; 8 GiB is the largest etcd recommends) then asks for 4 GiB. The scaler's " +
          "default when unset.",
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
    objects: z
      .int()
      .min(0)
      .max(1_000_000_000)
      .describe(
        "From this many objects stored in the tenant apiserver on (all resources, apiserver_storage_objects), the " +
          "step applies too, whatever the node count: an apiserver's memory follows what its watch cache holds, " +
          "and TKE sizes managed control planes by pods, ConfigMaps and CRDs as well as nodes. SIG-scalability's " +
          "tested limits (5,000 nodes, 150,000 pods, 10,000 namespaces and services) put about 30 pods per node; " +
          "objects of every kind run to a few hundred per node in such clusters. Unset: nodes alone reach the step.",
      )
      .optional(),
    watchers: z
      .int()
      .min(0)
      .max(100_000_000)
      .describe(
        'From this many open watches on one tenant apiserver pod on (apiserver_longrunning_requests{verb="WATCH"}), ' +
          "the step applies too: every watcher holds a goroutine and a buffer, and every event is sent to each. A " +
          "kubelet and kube-proxy hold about 10 watches per node, so a step for N nodes serves about 10×N watches. " +
          "Unset: nodes alone reach the step.",
      )
      .optional(),
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
        "Sizes by the size of the tenant cluster: a step is reached by its node count, or by its stored objects or " +
          "watchers where the step sets them; the highest step reached applies. A step reached by objects or watchers " +
          "names apiserver_storage_objects or apiserver_longrunning_requests and its value in the decision's " +
          "evidence. While a signal a step keys on is stale or missing, it reaches no step, and no scale-down " +
          "happens (the ladder's floor is unknown).",
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

export const DISRUPTION_REASONS = ["ScaleUp", "ScaleDown", "RestartRequiring", "Drain"] as const;
export type DisruptionReason = (typeof DISRUPTION_REASONS)[number];

/** A budget's limit: a count ("10") or a percentage of the tenants the ClusterScaler governs ("10%"). */
export const BUDGET_LIMIT_PATTERN = "^([0-9]{1,6}|(100|[1-9]?[0-9])%)$";

export const DisruptionBudget = withRules(
  z.object({
    limit: z
      .string()
      .max(7)
      .regex(new RegExp(BUDGET_LIMIT_PATTERN), { error: 'must be a count such as "10" or a percentage such as "10%"' })
      .describe(
        'Most tenants changed per interval, as a count ("10") or a percentage of the tenants this ClusterScaler ' +
          'governs ("10%", rounded up, as Karpenter rounds its node budgets: 10% of 5 tenants is 1, and any ' +
          'percentage above 0 allows at least one change while a tenant is governed). "0" or "0%" allows no change ' +
          "of the budget's reasons while it is active, except the OOM scale-ups of spec.disruption.oomFloorPerTenant. " +
          "Every workload change counts once (a tenant's kube-apiserver and etcd changed are two).",
      ),
    interval: Duration.describe(
      "Length of the sliding interval the limit is counted over: at any moment, at most limit changes with one of " +
        "the budget's reasons were decided in the interval before it. Must be above 0.",
    ),
    reasons: z
      .array(
        z
          .enum(DISRUPTION_REASONS)
          .describe(
            "ScaleUp, ScaleDown, RestartRequiring (a change that restarts the component's pods, see " +
              "spec.disruption), or Drain: a NodeDrain evicting one pod of a governed tenant's control plane, " +
              "which counts as one change of that tenant's workload.",
          ),
      )
      .min(1)
      .max(DISRUPTION_REASONS.length)
      .meta({ "x-kubernetes-list-type": "set" })
      .describe(
        "The changes the budget limits: those with at least one of these reasons (a scale-down that restarts pods " +
          "has two: ScaleDown and RestartRequiring). Every reason when unset, Drain included.",
      )
      .optional(),
    schedule: z
      .string()
      .min(1)
      .max(128)
      .regex(/^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|\S+\s+\S+\s+\S+\s+\S+\s+\S+)$/, {
        error: "must be a five-field cron expression or a macro such as @daily",
      })
      .refine((v) => cronProblem(v) === undefined, { error: (i) => cronProblem(String(i.input)) ?? "invalid cron" })
      .describe(
        'When the budget starts to be active: a five-field cron expression ("minute hour day-of-month month ' +
          "day-of-week\", as a Kubernetes CronJob's, or @hourly, @daily, @weekly, @monthly, @yearly), evaluated in " +
          "UTC. The budget is active for duration from each start. Always active when unset. Requires duration.",
      )
      .optional(),
    duration: Duration.describe(
      "How long the budget stays active after each start of schedule. Requires schedule; must be above 0.",
    ).optional(),
  }),
  [
    {
      rule: "has(self.schedule) == has(self.duration)",
      message: "schedule and duration must be set together",
      check: (v) => (v?.schedule === undefined) === (v?.duration === undefined),
    },
    {
      rule: "duration(self.interval) > duration('0s')",
      message: "interval must be above 0",
      check: (v) => positiveDuration(v?.interval),
    },
    {
      rule: "!has(self.duration) || duration(self.duration) > duration('0s')",
      message: "duration must be above 0",
      check: (v) => v?.duration === undefined || positiveDuration(v.duration),
    },
  ],
).describe(
  "One disruption budget: at most limit changes with one of its reasons per sliding interval, while it is active.",
);
export type DisruptionBudget = z.infer<typeof DisruptionBudget>;

export const DisruptionSpec = z
  .object({
    budgets: z
      .array(DisruptionBudget)
      .max(50)
      .describe(
        "The budgets. A change is made only when every active budget that covers one of its reasons has room " +
          "for it: the most restrictive active budget wins. Unset (and no spec.fleetBudget): the controller's " +
          "default budgets (--default-disruption-budgets; 10 changes per 5 minutes unless changed).",
      )
      .optional(),
    oomFloorPerTenant: z
      .int()
      .min(1)
      .max(100)
      .describe(
        "OOM scale-ups each tenant still gets per interval of the budget that holds them back, however spent the " +
          "budgets are (a budget of 0 included): an OOM-killed tenant is never left crash-looping because other " +
          "tenants used the budget. They count against the budgets all the same. Default: spec.fleetBudget's " +
          "oomFloorPerTenant, else 2 (a tenant's kube-apiserver and etcd killed by the same list storm).",
      )
      .optional(),
  })
  .describe(
    "Disruption budgets: how many tenant control-plane changes this policy makes across all its tenants, as " +
      "Karpenter's disruption budgets do for nodes. Counted from the ScalingDecisions this policy recorded " +
      "(Applied, DryRun and unfinished ones, by decidedAt, signed by metapilot), so a restart or a new leader " +
      "carries on with what was spent. A change held back is recorded as a Blocked ScalingDecision (reason " +
      "FleetBudget) and made once the budgets allow it. RestartRequiring is decided when the change is: a change " +
      "of CPU or memory restarts pods when the workload is not owned by a TenantControlPlane (its template " +
      "changes, which rolls), when the TenantControlPlane's spec.resourceUpdates.strategy is Restart, or when a " +
      "running pod of the component cannot be resized in place (its kubelet reports no container resources, its " +
      "container is not ready, or the new size changes its QoS class). A change of replicas alone restarts " +
      "nothing. A resize that the node later refuses (Infeasible, Deferred too long) falls back to a rollout that " +
      "was not counted as RestartRequiring. Drain: each pod of a governed tenant's control plane that a " +
      "NodeDrain evicts is one change, counted from the evictions the NodeDrains record in status.pods[].disruption " +
      "(evictedAt); an eviction that a budget holds back waits, and the NodeDrain's DisruptionBudget condition names " +
      "the ClusterScaler and the budget.",
  );
export type DisruptionSpec = z.infer<typeof DisruptionSpec>;

function positiveDuration(d: unknown): boolean {
  try {
    return parseDuration(String(d)) > 0;
  } catch {
    return false;
  }
}

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
    disruption: DisruptionSpec.optional(),
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
      .describe(
        "The first form of the disruption budget, kept for existing objects: one budget of maxChangesPerInterval " +
          "changes per interval for every reason, counted as spec.disruption.budgets are and applied together with " +
          "them, plus the OOM floor (spec.disruption.oomFloorPerTenant wins when both are set). When neither this " +
          "nor spec.disruption.budgets is set, the controller's default budgets apply " +
          "(--default-disruption-budgets, 10 changes per 5 minutes unless changed). ClusterScalers stored before " +
          "spec.disruption existed had this field defaulted to 10 per 5m with a floor of 2, and keep it.",
      )
      .optional(),
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
      .describe(
        "The most restrictive active disruption budget (the one with the fewest changes left; the first on a tie), " +
          "in the form spec.fleetBudget had; status.disruptionBudgets shows each.",
      )
      .optional(),
    disruptionBudgets: z
      .array(
        z
          .object({
            budget: z
              .string()
              .max(64)
              .describe(
                'Which budget: "spec.disruption.budgets[i]", "spec.fleetBudget", or "default[i]" (the ' +
                  "controller's --default-disruption-budgets, for a ClusterScaler that sets none).",
              ),
            active: z.boolean().describe("Whether the budget applies now (always, when it has no schedule)."),
            limit: z
              .int()
              .min(0)
              .describe("The limit in force: its count, or its percentage of the governed tenants, rounded up."),
            limitSpec: z.string().max(7).describe('The limit as written, e.g. "10" or "10%".'),
            reasons: z
              .array(z.enum(DISRUPTION_REASONS))
              .max(DISRUPTION_REASONS.length)
              .describe("The reasons of the changes it limits."),
            interval: Duration.describe("Its sliding interval."),
            changes: z.int().min(0).describe("Changes with one of its reasons counted in its interval."),
            remaining: z.int().min(0).describe("Changes it allows now: 0 while it is spent; limit when inactive."),
            heldBack: z
              .int()
              .min(0)
              .describe("Workloads whose change this budget held back in its interval (Blocked decisions)."),
            heldBackWorkloads: z
              .array(z.string().max(317))
              .max(20)
              .describe("Up to 20 of those workloads, as namespace/name, the most recent first.")
              .optional(),
            nextChangeAt: Timestamp.describe(
              "While it is active and spent: when the counted change that frees one leaves the interval.",
            ).optional(),
            windowChangesAt: Timestamp.describe(
              "For a scheduled budget: when its window next opens (inactive) or closes (active).",
            ).optional(),
          })
          .describe("One disruption budget at the time of the status."),
      )
      .max(52)
      .describe("Every disruption budget in force, active or not, in the order they are listed.")
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
