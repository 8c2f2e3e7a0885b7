// Parse and validate helpers: the same rules as the CRD (schema and CEL), with readable "path: problem" messages.
import type { z } from "zod";
import { type KindInfo, type KindName, kinds, type KindTypes } from "./kinds.js";
import type { JSONSchemaProps } from "./openapi.js";

export interface ParseOptions {
  /** Report unknown fields as errors (as `kubectl --validate=strict` does) instead of warnings. */
  strict?: boolean;
}

export type ParseResult<T> =
  { ok: true; value: T; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

export class ValidationError extends Error {
  constructor(
    readonly kind: string,
    readonly errors: string[],
  ) {
    super(`invalid ${kind}:\n  ${errors.join("\n  ")}`);
    this.name = "ValidationError";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** ["spec", "taints", 0, "key"] → "spec.taints[0].key"; odd map keys are quoted: labels["app.kubernetes.io/name"]. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const s = String(seg);
      out += IDENTIFIER.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out || "(root)";
}

function show(value: unknown): string {
  let s: string;
  try {
    s = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

const expectedNames: Record<string, string> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  object: "an object",
  array: "a list",
  record: "an object",
  date: "a date",
};

type RawIssue = z.core.$ZodRawIssue;

const INTEGER_FORMATS = new Set(["safeint", "int32", "uint32", "int64", "uint64"]);

/** z.int() and friends report a string input as "expected number"; their format says they want an integer. */
function isIntegerSchema(inst: unknown): boolean {
  const def = (inst as { _zod?: { def?: { format?: unknown } } } | undefined)?._zod?.def;
  return typeof def?.format === "string" && INTEGER_FORMATS.has(def.format);
}

/** The problem part of a message for one zod issue (no path). Used as zod's per-parse error map. */
export function describeIssue(issue: RawIssue): string {
  const input = issue.input;
  const i = issue as RawIssue & Record<string, unknown>;
  switch (issue.code) {
    case "invalid_type": {
      if (input === undefined) return "required";
      let expected = String(i.expected);
      if (expected === "int" && typeof input === "number") return `must be a whole number, not ${input}`;
      if (expected === "number" && isIntegerSchema(issue.inst)) expected = "int";
      return `must be ${expectedNames[expected] ?? expected}, not ${typeName(input)} (${show(input)})`;
    }
    case "too_small": {
      const min = Number(i.minimum);
      const inclusive = i.inclusive !== false;
      switch (i.origin) {
        case "string":
          return min === 1 ? "must not be empty" : `must be at least ${min} characters long`;
        case "array":
        case "set":
          return `must have at least ${min} item${min === 1 ? "" : "s"}`;
        default:
          return `must be ${inclusive ? "at least" : "greater than"} ${min}, not ${show(input)}`;
      }
    }
    case "too_big": {
      const max = Number(i.maximum);
      const inclusive = i.inclusive !== false;
      switch (i.origin) {
        case "string":
          return `must be at most ${max} characters long`;
        case "array":
        case "set":
          return `must have at most ${max} item${max === 1 ? "" : "s"}`;
        default:
          return `must be ${inclusive ? "at most" : "less than"} ${max}, not ${show(input)}`;
      }
    }
    case "invalid_value": {
      const values = (i.values as unknown[] | undefined) ?? [];
      return values.length === 1
        ? `must be ${show(values[0])}, not ${show(input)}`
        : `must be one of ${values.map((v) => show(v)).join(", ")}, not ${show(input)}`;
    }
    case "invalid_format":
      return `must be a valid ${String(i.format)}, not ${show(input)}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(i.divisor)}`;
    case "unrecognized_keys": {
      const keys = (i.keys as string[] | undefined) ?? [];
      return `unknown field${keys.length === 1 ? "" : "s"} ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
    }
    case "invalid_key":
      return `invalid key ${show(input)}`;
    case "invalid_union":
      return `does not match any allowed form: ${show(input)}`;
    default:
      return issue.message ?? "invalid value";
  }
}

export function formatIssue(issue: z.core.$ZodIssue): string {
  return `${formatPath(issue.path)}: ${issue.message}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Unknown fields: the apiserver prunes them (and kubectl refuses them with --validate=strict).

/** Paths of fields in `value` that the structural schema does not know. */
export function unknownFields(schema: JSONSchemaProps, value: unknown, path: PropertyKey[] = []): string[] {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return [];
  if (Array.isArray(value)) {
    return schema.items ? value.flatMap((v, i) => unknownFields(schema.items as JSONSchemaProps, v, [...path, i])) : [];
  }
  if (typeof value !== "object" || value === null || value instanceof Date) return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const sub = schema.properties ? schema.properties[key] : schema.additionalProperties;
    if (sub) out.push(...unknownFields(sub, child, [...path, key]));
    else if (schema.properties) out.push(formatPath([...path, key]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** Parses and validates an object of the given kind: defaults applied, CEL rules checked, messages readable. */
export function parseObject<K extends KindName>(
  kind: K,
  obj: unknown,
  options: ParseOptions = {},
): ParseResult<KindTypes[K]> {
  const info: KindInfo = kinds[kind];
  const unknown = unknownFields(info.openAPISchema, obj).map((p) => `${p}: unknown field`);
  const result = info.schema.safeParse(obj, { error: describeIssue });
  const errors = result.success ? [] : result.error.issues.map(formatIssue);
  if (options.strict) errors.push(...unknown);
  const warnings = options.strict ? [] : unknown;
  if (errors.length > 0 || !result.success) return { ok: false, errors, warnings };
  // The schema in kinds[kind] is the one KindTypes[K] is inferred from.
  return { ok: true, value: result.data as KindTypes[K], warnings };
}

/** Like parseObject, but throws a ValidationError listing every problem. */
export function mustParse<K extends KindName>(kind: K, obj: unknown, options?: ParseOptions): KindTypes[K] {
  const r = parseObject(kind, obj, options);
  if (!r.ok) throw new ValidationError(kind, r.errors);
  return r.value;
}

function valueAt(obj: unknown, path: string): { found: boolean; value: unknown } {
  let cur: unknown = obj;
  for (const seg of path ? path.split(".") : []) {
    if (typeof cur !== "object" || cur === null || !(seg in cur)) return { found: false, value: undefined };
    cur = (cur as Record<string, unknown>)[seg];
  }
  return { found: cur !== undefined, value: cur };
}

/**
 * Validates an update: the new object must parse, and the transition rules (no version downgrade or minor skip,
 * immutable fields, ...) must allow the change from the old one. Like the apiserver, a transition rule only runs
 * where both objects have a value. The old object is trusted as stored; if it does not parse, only the new one is
 * checked.
 */
export function validateUpdate<K extends KindName>(
  kind: K,
  oldObj: unknown,
  newObj: unknown,
  options?: ParseOptions,
): ParseResult<KindTypes[K]> {
  const next = parseObject(kind, newObj, options);
  if (!next.ok) return next;
  const prev = parseObject(kind, oldObj);
  if (!prev.ok) return next;
  const errors: string[] = [];
  for (const check of kinds[kind].updateChecks) {
    const o = valueAt(prev.value, check.path);
    const n = valueAt(next.value, check.path);
    if (!o.found || !n.found) continue;
    for (const message of check.check(o.value, n.value)) errors.push(`${check.path || "(root)"}: ${message}`);
  }
  return errors.length ? { ok: false, errors, warnings: next.warnings } : next;
}

// One helper per kind, for call sites that know what they hold.
export const parseTenantControlPlane = (obj: unknown, options?: ParseOptions) =>
  parseObject("TenantControlPlane", obj, options);
export const parseWorkloadProfile = (obj: unknown, options?: ParseOptions) =>
  parseObject("WorkloadProfile", obj, options);
export const parseClusterScaler = (obj: unknown, options?: ParseOptions) => parseObject("ClusterScaler", obj, options);
export const parseScalingDecision = (obj: unknown, options?: ParseOptions) =>
  parseObject("ScalingDecision", obj, options);
export const parseNodePool = (obj: unknown, options?: ParseOptions) => parseObject("NodePool", obj, options);
export const parseNodeDrain = (obj: unknown, options?: ParseOptions) => parseObject("NodeDrain", obj, options);
