// Who recorded a ScalingDecision. A decision left without a phase is finished by the next leader
// (finishInterrupted), which may actuate it: so it must be able to tell metapilot's own records from objects
// anyone with create rights on ScalingDecisions could write. metapilot signs what it records with HMAC-SHA256
// under a key only the controller holds (src/scaler/signing-key.ts); a user can copy a signature but not make
// one for other content, and every field that decides what an actuation does, or what a later pass reads back from
// the record (the OOM kills it answered, the condition a Blocked decision stands for, its root-cause category), is
// under it.
//
// Versions. v1 covered the spec fields an actuation uses. v2 (the one written now) adds spec.rootCause.category,
// spec.disruptionReasons (what the budgets count a decision under) and the metapilot.io/* annotations that later
// passes read (signedAnnotations): without them one of metapilot's own
// decisions with an edited blocked-key or category still verified, and the history rebuilt from it could be steered.
// v1 signatures still verify, over v1's content, so decisions stored before v2 keep counting in the fleet budget
// and the history; an edit of a v1 decision's annotations or category is not seen (v1 never covered them).
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  blockedByAnnotation,
  blockedKeyAnnotation,
  observedSizeAnnotation,
  oomIdsAnnotation,
  signatureAnnotation,
  workloadAnnotation,
} from "../api/labels.js";

/** The version signDecision writes. */
export const signatureVersion = "v2";

/**
 * The annotations under a v2 signature: every metapilot.io/* annotation a decision is created with and that is read
 * back from it (src/scaler/history.ts, fleet-budget.ts, reports.ts). Absent ones are signed as absent, so adding one
 * breaks the signature too.
 */
export const signedAnnotations = [
  workloadAnnotation,
  oomIdsAnnotation,
  observedSizeAnnotation,
  blockedByAnnotation,
  blockedKeyAnnotation,
] as const;

export interface SignedDecision {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: {
    target?: unknown;
    component?: unknown;
    direction?: unknown;
    dryRun?: unknown;
    after?: unknown;
    decidedAt?: unknown;
    clusterScaler?: unknown;
    rootCause?: { category?: unknown };
    disruptionReasons?: unknown;
  };
}

/** JSON with object keys sorted, so the same content always gives the same bytes. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/** v1's content: where the decision lives, what it targets, and everything an actuation would use. */
function contentV1(d: SignedDecision) {
  const s = d.spec ?? {};
  return {
    namespace: d.metadata?.namespace,
    name: d.metadata?.name,
    target: s.target,
    component: s.component,
    direction: s.direction,
    dryRun: s.dryRun,
    after: s.after,
    decidedAt: s.decidedAt,
    clusterScaler: s.clusterScaler,
  };
}

/**
 * v2's content: v1's, the root-cause category, the reasons the disruption budgets count it under, and the signed
 * annotations (absent ones as absent).
 */
function contentV2(d: SignedDecision) {
  const annotations = d.metadata?.annotations ?? {};
  return {
    ...contentV1(d),
    category: d.spec?.rootCause?.category,
    disruptionReasons: d.spec?.disruptionReasons,
    annotations: Object.fromEntries(signedAnnotations.map((k) => [k, annotations[k]])),
  };
}

const contents: Record<string, (d: SignedDecision) => unknown> = { v1: contentV1, v2: contentV2 };

function sign(key: Buffer, version: string, d: SignedDecision): string {
  return `${version}:${createHmac("sha256", key)
    .update(canonical(contents[version]!(d)))
    .digest("hex")}`;
}

/** The value of the signature annotation for `d`, in the current version. */
export function signDecision(key: Buffer, d: SignedDecision): string {
  return sign(key, signatureVersion, d);
}

/** The value of the signature annotation for `d` in an older version, for tests of decisions stored before. */
export function signDecisionAs(key: Buffer, version: "v1" | "v2", d: SignedDecision): string {
  return sign(key, version, d);
}

/** Whether `d` carries a signature made with `key` over its current content, in the version it names. */
export function verifyDecision(key: Buffer, d: SignedDecision): boolean {
  const got = d.metadata?.annotations?.[signatureAnnotation];
  if (!got) return false;
  const version = got.slice(0, got.indexOf(":"));
  if (!Object.hasOwn(contents, version)) return false;
  const want = Buffer.from(sign(key, version, d));
  const have = Buffer.from(got);
  return have.length === want.length && timingSafeEqual(have, want);
}
