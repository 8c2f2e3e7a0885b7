// Schemas shared by several kinds: quantities, durations, names, resources, conditions, label selectors.
import { z } from "zod";
import { withRules } from "./rules.js";

export const GROUP = "metapilot.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

// ---------------------------------------------------------------------------------------------------------------
// Patterns. They are used both by zod (JavaScript RegExp) and by the apiserver (Go RE2 through OpenAPI `pattern`),
// so they stick to the syntax both understand.

/** A non-negative Kubernetes resource quantity: "500m", "2", "1.5Gi", "1e3". */
export const QUANTITY_PATTERN =
  "^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
/**
 * A duration in Go's `time.ParseDuration` syntax without a sign: "90s", "2m", "1h30m", "1.5h", ".5s", "500ms",
 * "250us", "0". `parseDuration` accepts exactly the strings this pattern matches (up to Go's ~292 years).
 */
export const DURATION_PATTERN = "^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";
export const DNS1123_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const DNS1123_SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** metav1.Condition reason: CamelCase, starts with a letter. */
export const CONDITION_REASON_PATTERN = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
/** metav1.Condition type: an optional DNS subdomain prefix, then a name. */
export const CONDITION_TYPE_PATTERN =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";
/** A label or annotation key: optional DNS subdomain prefix and a name of up to 63 characters. */
export const LABEL_KEY_PATTERN =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$";

const re = (pattern: string) => new RegExp(pattern);

// ---------------------------------------------------------------------------------------------------------------
// Scalars

export const Quantity = z
  .string()
  .max(64)
  .regex(re(QUANTITY_PATTERN), { error: "must be a Kubernetes quantity such as 500m, 2, 512Mi or 1.5Gi" })
  .describe("A Kubernetes resource quantity, written as a string: 500m, 2, 512Mi, 1.5Gi.");

export const Duration = z
  .string()
  .max(32)
  .regex(re(DURATION_PATTERN), { error: 'must be a duration such as "90s", "2m", "1h30m" or "1.5h"' })
  .describe(
    'A duration in Go syntax without a sign, such as "90s", "2m", "1h30m", "1.5h" or "500ms" (units ns, us, ms, s, m, h).',
  );

export const DnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(re(DNS1123_LABEL_PATTERN), {
    error: "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit",
  })
  .describe("A DNS-1123 label (at most 63 characters).");

export const DnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(re(DNS1123_SUBDOMAIN_PATTERN), {
    error: "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.'",
  })
  .describe("A DNS-1123 subdomain (at most 253 characters), the form of most Kubernetes object names.");

export const Timestamp = z.iso
  .datetime({ offset: true, error: "must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z" })
  .describe("An RFC 3339 date-time.");

export const LabelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(re(LABEL_KEY_PATTERN), { error: "must be a label key such as app or metapilot.io/tenant" });

export const StringMap = z.record(z.string().max(63 + 254), z.string().max(4096));

// ---------------------------------------------------------------------------------------------------------------
// Quantities and durations in TypeScript, for the rules below and for consumers of the API.

const binarySuffixes: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const decimalSuffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The value of a quantity in base units (cores, bytes). Throws on a malformed quantity. */
export function parseQuantity(q: string): number {
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(q);
  if (!m || !new RegExp(QUANTITY_PATTERN).test(q.replace(/^-/, ""))) throw new Error(`invalid quantity "${q}"`);
  const value = Number(m[1]);
  const suffix = m[2] ?? "";
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) return value * binary;
  const decimal = decimalSuffixes[suffix];
  if (decimal !== undefined) return value * decimal;
  if (/^[eE]/.test(suffix)) return value * 10 ** Number(suffix.slice(1));
  throw new Error(`invalid quantity "${q}"`);
}

export function isQuantity(q: unknown): q is string {
  return typeof q === "string" && new RegExp(QUANTITY_PATTERN).test(q);
}

/** Negative, zero or positive like `Quantity.compareTo` in Kubernetes CEL. */
export function compareQuantities(a: string, b: string): number {
  return Math.sign(parseQuantity(a) - parseQuantity(b));
}

/** Nanoseconds per unit, as in Go's time package. */
const nanosPerUnit: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const maxDurationNanos = 2n ** 63n - 1n;

/**
 * Milliseconds in a duration, with Go's `time.ParseDuration` semantics less the sign: "1h30m" and "1.5h" are
 * 5,400,000; "0" is 0; a number without a unit, an empty string or an unknown unit throws, and so does a duration
 * past Go's range (about 292 years). Like Go, it counts whole nanoseconds (a fraction below 1 ns is dropped), so
 * "1.1s" is exactly 1100. This is metapilot's one duration parser: CRD fields (their pattern is DURATION_PATTERN),
 * CLI flags and the controllers all use it.
 */
export function parseDuration(d: string): number {
  if (typeof d !== "string" || !new RegExp(DURATION_PATTERN).test(d)) throw new Error(`invalid duration "${d}"`);
  let nanos = 0n;
  for (const m of d.matchAll(/([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)/g)) {
    const unit = nanosPerUnit[m[3] ?? ""] ?? 0n;
    const fraction = m[2] ?? "";
    nanos += BigInt(m[1] || "0") * unit;
    if (fraction) nanos += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    if (nanos > maxDurationNanos) throw new Error(`invalid duration "${d}": longer than Go's ~292 years`);
  }
  return Number(nanos) / 1e6;
}

// ---------------------------------------------------------------------------------------------------------------
// Resources

/** Both present and both quantities, but a > b. */
function quantityGreater(a: unknown, b: unknown): boolean {
  return isQuantity(a) && isQuantity(b) && compareQuantities(a, b) > 0;
}

/** CEL: the quantity at `a` is at most the one at `b`, when both are set. */
export function celQuantityLessOrEqual(a: string, b: string): string {
  return (
    `!has(self.${a}) || !has(self.${b}) || !isQuantity(self.${a}) || !isQuantity(self.${b}) || ` +
    `quantity(self.${a}).compareTo(quantity(self.${b})) <= 0`
  );
}

export const ResourceList = z
  .object({
    cpu: Quantity.describe('CPU in cores: "500m" is half a core.').optional(),
    memory: Quantity.describe('Memory in bytes: "512Mi", "2Gi".').optional(),
  })
  .describe("CPU and memory amounts.");
export type ResourceList = z.infer<typeof ResourceList>;

export const ResourceRequirements = withRules(
  z.object({
    requests: ResourceList.describe("What the scheduler reserves for the container.").optional(),
    limits: ResourceList.describe("The most the container may use; memory beyond it is an OOM kill.").optional(),
  }),
  [
    {
      rule:
        "!has(self.requests) || !has(self.limits) || (" + celQuantityLessOrEqual("requests.cpu", "limits.cpu") + ")",
      message: "requests.cpu must not be greater than limits.cpu",
      check: (v) => !quantityGreater(v?.requests?.cpu, v?.limits?.cpu),
    },
    {
      rule:
        "!has(self.requests) || !has(self.limits) || (" +
        celQuantityLessOrEqual("requests.memory", "limits.memory") +
        ")",
      message: "requests.memory must not be greater than limits.memory",
      check: (v) => !quantityGreater(v?.requests?.memory, v?.limits?.memory),
    },
  ],
).describe("Compute resources of a container: requests and limits for CPU and memory.");
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

/** min <= max for both cpu and memory of two ResourceLists named `min` and `max` on the same object. */
export function resourceBoundsRules(
  min: string,
  max: string,
): Array<{ rule: string; message: string; check: (v: Record<string, unknown> | undefined) => boolean }> {
  const get = (v: Record<string, unknown> | undefined, list: string, res: "cpu" | "memory"): unknown => {
    const l = v?.[list];
    return l && typeof l === "object" ? (l as Record<string, unknown>)[res] : undefined;
  };
  return (["cpu", "memory"] as const).map((res) => ({
    rule: `!has(self.${min}) || !has(self.${max}) || (${celQuantityLessOrEqual(`${min}.${res}`, `${max}.${res}`)})`,
    message: `${min}.${res} must not be greater than ${max}.${res}`,
    check: (v) => !quantityGreater(get(v, min, res), get(v, max, res)),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Conditions (the shape of metav1.Condition)

export const ConditionStatus = z.enum(["True", "False", "Unknown"]);

export const Condition = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(re(CONDITION_TYPE_PATTERN), { error: "must be a condition type such as Ready" })
      .describe("Type of the condition in CamelCase, e.g. Ready, Progressing, Degraded."),
    status: ConditionStatus.describe("Status of the condition: True, False or Unknown."),
    observedGeneration: z.int().min(0).describe("The metadata.generation the condition was computed from.").optional(),
    lastTransitionTime: Timestamp.describe("When the condition last changed from one status to another."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(re(CONDITION_REASON_PATTERN), { error: "must be a CamelCase reason such as RolloutComplete" })
      .describe("Programmatic identifier of the last transition, in CamelCase."),
    message: z.string().max(32768).describe("Human readable details about the last transition. May be empty."),
  })
  .describe("A condition in the shape of metav1.Condition.");
export type Condition = z.infer<typeof Condition>;

/** A list of conditions, one per type. */
export function conditions(description: string) {
  return z
    .array(Condition)
    .max(32)
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
    .describe(description);
}

// ---------------------------------------------------------------------------------------------------------------
// Label selectors (metav1.LabelSelector)

export const LabelSelectorRequirement = withRules(
  z.object({
    key: LabelKey.describe("The label key the requirement applies to."),
    operator: z
      .enum(["In", "NotIn", "Exists", "DoesNotExist"])
      .describe("How the key relates to the values: In, NotIn, Exists or DoesNotExist."),
    values: z
      .array(z.string().max(63))
      .max(64)
      .describe("Values for In and NotIn (must not be empty); must be empty for Exists and DoesNotExist.")
      .optional(),
  }),
  [
    {
      rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: "values must be set for the operators In and NotIn, and empty for Exists and DoesNotExist",
      check: (v) =>
        v?.operator === "In" || v?.operator === "NotIn" ? (v.values?.length ?? 0) > 0 : (v?.values?.length ?? 0) === 0,
    },
  ],
).describe("A label selector requirement: a key, an operator and values.");

export const LabelSelector = z
  .object({
    matchLabels: StringMap.meta({ maxProperties: 64 })
      .describe("Labels that must all be present with these values.")
      .optional(),
    matchExpressions: z.array(LabelSelectorRequirement).max(32).describe("Requirements that must all hold.").optional(),
  })
  .meta({ "x-kubernetes-map-type": "atomic" })
  .describe("A label selector: matchLabels and matchExpressions are ANDed. An empty selector matches everything.");
export type LabelSelector = z.infer<typeof LabelSelector>;

// ---------------------------------------------------------------------------------------------------------------
// Control plane components, shared by TenantControlPlane, ClusterScaler and ScalingDecision.

export const COMPONENT_NAMES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"] as const;
export const ComponentName = z
  .enum(COMPONENT_NAMES)
  .describe("A control plane component: kube-apiserver, kube-controller-manager, kube-scheduler or etcd.");
export type ComponentName = z.infer<typeof ComponentName>;

export const SecretReference = z
  .object({
    name: DnsSubdomain.describe("Name of the Secret."),
    namespace: DnsLabel.describe("Namespace of the Secret.").optional(),
  })
  .describe("A reference to a Secret.");

/** For `x-kubernetes-preserve-unknown-fields` subtrees: stored as-is, without a schema. */
export function opaqueObject(description: string) {
  return z.record(z.string(), z.unknown()).meta({ "x-kubernetes-preserve-unknown-fields": true }).describe(description);
}
