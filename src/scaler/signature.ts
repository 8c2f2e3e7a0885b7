// Who recorded a ScalingDecision. A decision left without a phase is finished by the next leader
// (finishInterrupted), which may actuate it: so it must be able to tell metapilot's own records from objects
// anyone with create rights on ScalingDecisions could write. metapilot signs what it records with HMAC-SHA256
// under a key only the controller holds (src/scaler/signing-key.ts); a user can copy a signature but not make
// one for other content, and every field that decides what an actuation does is under it.
import { createHmac, timingSafeEqual } from "node:crypto";
import { signatureAnnotation } from "../api/labels.js";

const version = "v1";

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

/** The signed content: where the decision lives, what it targets, and everything an actuation would use. */
function content(d: SignedDecision): string {
  const s = d.spec ?? {};
  return canonical({
    namespace: d.metadata?.namespace,
    name: d.metadata?.name,
    target: s.target,
    component: s.component,
    direction: s.direction,
    dryRun: s.dryRun,
    after: s.after,
    decidedAt: s.decidedAt,
    clusterScaler: s.clusterScaler,
  });
}

/** The value of the signature annotation for `d`. */
export function signDecision(key: Buffer, d: SignedDecision): string {
  return `${version}:${createHmac("sha256", key).update(content(d)).digest("hex")}`;
}

/** Whether `d` carries a signature made with `key` over its current content. */
export function verifyDecision(key: Buffer, d: SignedDecision): boolean {
  const got = d.metadata?.annotations?.[signatureAnnotation];
  if (!got) return false;
  const want = Buffer.from(signDecision(key, d));
  const have = Buffer.from(got);
  return have.length === want.length && timingSafeEqual(have, want);
}
