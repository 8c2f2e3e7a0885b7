// CEL validation rules that live next to the zod schema they guard. Each rule carries the CEL text that goes into
// the CRD (`x-kubernetes-validations`, enforced by the apiserver) and, where it can be evaluated without the old
// object, the same rule in TypeScript so the parse helpers report it too. Transition rules (those that read
// `oldSelf`) are checked in TypeScript by `validateUpdate`, through the kind's update rules.
import type { z } from "zod";

export type CelReason = "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";

/** One entry of `x-kubernetes-validations`, exactly as the apiserver reads it. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: CelReason;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

/** A CEL rule about one value, mirrored in TypeScript by `check`. */
export interface ValueRule<T> extends CelRule {
  message: string;
  /** Returns true when the value is valid. Must not throw on partially invalid input. */
  check: (self: T) => boolean;
  /** The TypeScript message when `check` fails; defaults to `message`. Mirrors `messageExpression`. */
  explain?: (self: T) => string;
}

/** A CEL transition rule (reads `oldSelf`), mirrored in TypeScript by `transition`. */
export interface TransitionRule<T> extends CelRule {
  message: string;
  /** Returns true when the change from `oldSelf` to `self` is allowed. */
  transition: (oldSelf: T, self: T) => boolean;
  explain?: (oldSelf: T, self: T) => string;
}

export type Rule<T> = ValueRule<T> | TransitionRule<T>;

export const VALIDATIONS_KEY = "x-kubernetes-validations";

export function isTransitionRule<T>(r: Rule<T>): r is TransitionRule<T> {
  return "transition" in r;
}

/** The part of a rule that goes into the CRD. */
export function celOf(r: CelRule): CelRule {
  const out: CelRule = { rule: r.rule };
  if (r.messageExpression !== undefined) out.messageExpression = r.messageExpression;
  if (r.message !== undefined) out.message = r.message;
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.fieldPath !== undefined) out.fieldPath = r.fieldPath;
  if (r.optionalOldSelf !== undefined) out.optionalOldSelf = r.optionalOldSelf;
  return out;
}

/** ".replicas.min" → ["replicas", "min"]; only the simple dotted form of CEL field paths is supported. */
export function fieldPathSegments(fieldPath: string | undefined): string[] {
  if (!fieldPath) return [];
  return fieldPath.split(".").filter((s) => s.length > 0);
}

/**
 * Attaches rules to a schema: value rules become zod refinements, all rules become `x-kubernetes-validations`.
 * Call it before `.describe()`/`.optional()`: zod drops metadata when a refinement clones a schema, so existing
 * metadata is re-applied here.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: ReadonlyArray<Rule<z.output<S>>>): S {
  const previous = schema.meta() ?? {};
  let out = schema;
  for (const r of rules) {
    if (isTransitionRule(r)) continue;
    const path = fieldPathSegments(r.fieldPath);
    out = out.superRefine((value, ctx) => {
      if (!r.check(value)) {
        ctx.addIssue({ code: "custom", message: r.explain ? r.explain(value) : r.message, path, input: value });
      }
    });
  }
  const existing = (previous[VALIDATIONS_KEY] as CelRule[] | undefined) ?? [];
  return out.meta({ ...previous, [VALIDATIONS_KEY]: [...existing, ...rules.map(celOf)] });
}

/** Transition rules at one place in the object (dotted path from the root, e.g. "spec.version"). */
export interface UpdateCheck {
  path: string;
  rules: readonly CelRule[];
  /** Messages of the rules that the change from `oldSelf` to `self` breaks; empty when it is allowed. */
  check: (oldSelf: unknown, self: unknown) => string[];
}

/**
 * Pairs a path with the transition rules attached to the schema at that path. Like the apiserver, the rules only
 * run when the value exists in both the old and the new object; `validateUpdate` takes care of that.
 */
export function updateCheck<T>(path: string, rules: ReadonlyArray<TransitionRule<T>>): UpdateCheck {
  return {
    path,
    rules: rules.map(celOf),
    check: (oldSelf, self) => {
      // The values come from objects that already passed the kind's schema, so the path holds a T.
      const o = oldSelf as T;
      const s = self as T;
      return rules.filter((r) => !r.transition(o, s)).map((r) => (r.explain ? r.explain(o, s) : r.message));
    },
  };
}
