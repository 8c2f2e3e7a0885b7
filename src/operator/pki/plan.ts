// Reconcile planning for the tenant PKI: a pure, synchronous function of what exists, what is desired, the options
// and the clock. It says which parts to (re)issue and why; `issuePki` carries the plan out.
import {
  certificateDetails,
  keyMatchesCertificate,
  keyMatchesPublicKey,
  verifyIssuedBy,
  type CertificateDetails,
} from "../../pki/inspect.js";
import { parseKubeconfig } from "../../pki/kubeconfig.js";
import {
  caGenerationOf,
  desiredPki,
  type CaGenerations,
  type CaTemplate,
  type CertificateTemplate,
  type DesiredPki,
  type KubeconfigTemplate,
  type TenantPkiSpec,
} from "./spec.js";
import {
  caParts,
  certificateParts,
  kubeconfigParts,
  pkiParts,
  type CaPart,
  type ExistingTenantPki,
  type PkiPart,
} from "./types.js";
import type { KeyPairPem } from "../../pki/certificates.js";

export type PkiReasonCode =
  /** The part does not exist (or its Secret lacks a key). */
  | "missing"
  /** The part exists but cannot be parsed, or a CA certificate is not a CA. */
  | "invalid"
  /** The private key does not belong to the certificate (or public key). */
  | "key-mismatch"
  /** The certificate expires within renewBeforeDays, or already has. */
  | "expiring"
  /** A CA's rotation generation differs from the requested one. */
  | "rotation-requested"
  /** The CA that signs this part is re-issued in this plan, whatever the reason. */
  | "ca-rotated"
  /** The part was not signed by the current CA. */
  | "signed-by-different-ca"
  | "subject-changed"
  | "usage-changed"
  | "sans-changed"
  /** A kubeconfig points at another server than desired. */
  | "server-changed"
  /** A kubeconfig embeds another CA certificate than the current one. */
  | "ca-data-stale";

export interface PkiReason {
  code: PkiReasonCode;
  message: string;
}

export interface PkiPlanItem {
  part: PkiPart;
  reasons: PkiReason[];
}

export interface PkiPlanOptions {
  /** Re-issue a certificate this many days before it expires. Must be below validityDays and caValidityDays. */
  renewBeforeDays: number;
  /** Requested rotation generation of the cluster CA; a value other than the CA's re-issues it and all it signs. */
  rotateCAGeneration: number;
  /** Same for the front-proxy CA. Defaults to rotateCAGeneration, so one bump rotates every trust root. */
  rotateFrontProxyCAGeneration?: number;
  /** Same for the etcd CA. Defaults to rotateCAGeneration; pin it to roll the apiserver CAs without touching etcd. */
  rotateEtcdCAGeneration?: number;
}

export interface PkiPlan {
  /** The clock the plan was made with; issuing uses it as the certificates' start. */
  now: Date;
  desired: DesiredPki;
  /** Parts to (re)issue, trust roots first, each with every reason that applies. */
  issue: PkiPlanItem[];
  /** Parts that stay as they are. */
  keep: PkiPart[];
}

const day = 24 * 60 * 60 * 1000;

export function requestedGenerations(options: PkiPlanOptions): CaGenerations {
  return {
    ca: options.rotateCAGeneration,
    frontProxyCA: options.rotateFrontProxyCAGeneration ?? options.rotateCAGeneration,
    etcdCA: options.rotateEtcdCAGeneration ?? options.rotateCAGeneration,
  };
}

function validateOptions(options: PkiPlanOptions, desired: DesiredPki): void {
  const { renewBeforeDays } = options;
  if (!(renewBeforeDays >= 0)) throw new Error(`renewBeforeDays must be >= 0, got ${renewBeforeDays}`);
  // Otherwise every fresh certificate would already be "expiring", and every reconcile would re-issue it.
  // (caValidityDays >= validityDays is checked with the spec.)
  if (renewBeforeDays >= desired.validityDays) {
    throw new Error(`renewBeforeDays (${renewBeforeDays}) must be below validityDays (${desired.validityDays})`);
  }
  for (const [name, g] of Object.entries(requestedGenerations(options))) {
    if (!Number.isInteger(g) || g < 0)
      throw new Error(`rotation generation for ${name} must be an integer >= 0, got ${g}`);
  }
}

const iso = (d: Date) => d.toISOString();

function expiryReason(details: CertificateDetails, renewBeforeDays: number, now: Date): PkiReason | undefined {
  const left = details.notAfter.getTime() - now.getTime();
  if (left > renewBeforeDays * day) return undefined;
  return {
    code: "expiring",
    message:
      left <= 0
        ? `expired at ${iso(details.notAfter)}`
        : `expires at ${iso(details.notAfter)}, within ${renewBeforeDays} days of ${iso(now)}`,
  };
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

function subjectReason(
  details: CertificateDetails,
  commonName: string,
  organizations: string[],
): PkiReason | undefined {
  if (details.commonName === commonName && sameSet(details.organizations, organizations)) return undefined;
  const show = (cn: string, o: string[]) => `CN=${cn}${o.map((x) => `, O=${x}`).join("")}`;
  return {
    code: "subject-changed",
    message: `subject is ${show(details.commonName, details.organizations)}, want ${show(commonName, organizations)}`,
  };
}

function sansReason(details: CertificateDetails, template: CertificateTemplate): PkiReason | undefined {
  const have = [...details.dnsNames, ...details.ipAddresses];
  const want = [...template.dnsNames, ...template.ipAddresses];
  const added = want.filter((x) => !have.includes(x));
  const removed = have.filter((x) => !want.includes(x));
  if (added.length === 0 && removed.length === 0) return undefined;
  const parts = [];
  if (added.length) parts.push(`adds ${added.join(", ")}`);
  if (removed.length) parts.push(`removes ${removed.join(", ")}`);
  return { code: "sans-changed", message: `SANs change: ${parts.join("; ")}` };
}

function usageReason(details: CertificateDetails, template: CertificateTemplate): PkiReason | undefined {
  const server = template.usage !== "client";
  const client = template.usage !== "server";
  if (details.serverAuth === server && details.clientAuth === client) return undefined;
  return { code: "usage-changed", message: `extended key usage differs from ${template.usage}` };
}

/** Reads a certificate, or returns the reason it cannot be used. */
function readCertificate(
  pair: KeyPairPem | undefined,
): { details: CertificateDetails; pair: KeyPairPem } | { reason: PkiReason } {
  if (!pair?.certificatePem || !pair.privateKeyPem) return { reason: { code: "missing", message: "not issued yet" } };
  try {
    return { details: certificateDetails(pair.certificatePem), pair };
  } catch (err) {
    return { reason: { code: "invalid", message: `certificate does not parse: ${(err as Error).message}` } };
  }
}

function planCa(pair: KeyPairPem | undefined, template: CaTemplate, options: PkiPlanOptions, now: Date): PkiReason[] {
  const read = readCertificate(pair);
  if ("reason" in read) return [read.reason];
  const { details, pair: ca } = read;
  if (!details.isCA) return [{ code: "invalid", message: "certificate is not a CA (basicConstraints cA=false)" }];
  const reasons: PkiReason[] = [];
  if (!keyMatchesCertificate(ca.certificatePem, ca.privateKeyPem)) {
    reasons.push({ code: "key-mismatch", message: "private key does not belong to the certificate" });
  }
  const generation = caGenerationOf(details.organizationalUnits);
  if (generation !== template.generation) {
    reasons.push({
      code: "rotation-requested",
      message: `rotation generation ${template.generation} requested, CA is generation ${generation}`,
    });
  }
  const expiring = expiryReason(details, options.renewBeforeDays, now);
  if (expiring) reasons.push(expiring);
  if (details.commonName !== template.commonName) {
    reasons.push({ code: "subject-changed", message: `CN is ${details.commonName}, want ${template.commonName}` });
  }
  return reasons;
}

interface SignerState {
  part: CaPart;
  reissued: PkiReason[];
  certificatePem: string | undefined;
}

/** Reasons shared by leaf certificates and kubeconfig client certificates. */
function planSigned(
  pair: KeyPairPem | undefined,
  signer: SignerState,
  options: PkiPlanOptions,
  now: Date,
): { reasons: PkiReason[]; details?: CertificateDetails } {
  const read = readCertificate(pair);
  if ("reason" in read) return { reasons: [read.reason] };
  const { details, pair: leaf } = read;
  const reasons: PkiReason[] = [];
  if (signer.reissued.length > 0) {
    reasons.push({
      code: "ca-rotated",
      message: `${signer.part} is re-issued (${signer.reissued.map((r) => r.code).join(", ")})`,
    });
  } else if (!signer.certificatePem || !verifyIssuedBy(leaf.certificatePem, signer.certificatePem)) {
    reasons.push({ code: "signed-by-different-ca", message: `not signed by the current ${signer.part}` });
  }
  if (!keyMatchesCertificate(leaf.certificatePem, leaf.privateKeyPem)) {
    reasons.push({ code: "key-mismatch", message: "private key does not belong to the certificate" });
  }
  const expiring = expiryReason(details, options.renewBeforeDays, now);
  if (expiring) reasons.push(expiring);
  return { reasons, details };
}

function planCertificate(
  pair: KeyPairPem | undefined,
  template: CertificateTemplate,
  signer: SignerState,
  options: PkiPlanOptions,
  now: Date,
): PkiReason[] {
  const { reasons, details } = planSigned(pair, signer, options, now);
  if (!details) return reasons;
  for (const r of [
    subjectReason(details, template.commonName, template.organizations),
    usageReason(details, template),
    sansReason(details, template),
  ]) {
    if (r) reasons.push(r);
  }
  return reasons;
}

function planKubeconfig(
  text: string | undefined,
  template: KubeconfigTemplate,
  signer: SignerState,
  options: PkiPlanOptions,
  now: Date,
): PkiReason[] {
  if (!text) return [{ code: "missing", message: "not issued yet" }];
  let parsed: ReturnType<typeof parseKubeconfig>;
  try {
    parsed = parseKubeconfig(text);
  } catch (err) {
    return [{ code: "invalid", message: (err as Error).message }];
  }
  if (!parsed.clientCertificatePem || !parsed.clientKeyPem) {
    return [{ code: "invalid", message: "kubeconfig has no embedded client certificate and key" }];
  }
  const pair = { certificatePem: parsed.clientCertificatePem, privateKeyPem: parsed.clientKeyPem };
  const { reasons, details } = planSigned(pair, signer, options, now);
  if (!details) return reasons.map((r) => (r.code === "missing" ? { ...r, code: "invalid" } : r));
  const subject = subjectReason(details, template.commonName, template.organizations);
  if (subject) reasons.push(subject);
  if (!details.clientAuth) reasons.push({ code: "usage-changed", message: "client certificate lacks clientAuth" });
  if (parsed.server !== template.server) {
    reasons.push({ code: "server-changed", message: `server is ${parsed.server}, want ${template.server}` });
  }
  if (signer.reissued.length === 0 && signer.certificatePem && parsed.caPem?.trim() !== signer.certificatePem.trim()) {
    reasons.push({ code: "ca-data-stale", message: `certificate-authority-data is not the current ${signer.part}` });
  }
  return reasons;
}

function planServiceAccount(existing: ExistingTenantPki["serviceAccount"]): PkiReason[] {
  if (!existing?.publicKeyPem || !existing.privateKeyPem) return [{ code: "missing", message: "not issued yet" }];
  if (!keyMatchesPublicKey(existing.publicKeyPem, existing.privateKeyPem)) {
    return [{ code: "key-mismatch", message: "sa.key does not belong to sa.pub (or does not parse)" }];
  }
  return [];
}

/**
 * Decides which parts of a tenant's PKI to (re)issue. `existing` is what was loaded from the meta-cluster (or
 * undefined for a new tenant); `now` defaults to `spec.now`. The result is plain data and safe to log.
 */
export function planPki(
  existing: ExistingTenantPki | undefined,
  spec: TenantPkiSpec,
  options: PkiPlanOptions,
  now: Date = spec.now,
): PkiPlan {
  const desired = desiredPki(spec, requestedGenerations(options));
  validateOptions(options, desired);
  const have = existing ?? {};
  const reasons = new Map<PkiPart, PkiReason[]>();
  const signers = {} as Record<CaPart, SignerState>;
  for (const part of caParts) {
    const r = planCa(have[part], desired.cas[part], options, now);
    reasons.set(part, r);
    signers[part] = { part, reissued: r, certificatePem: have[part]?.certificatePem };
  }
  for (const part of certificateParts) {
    const template = desired.certificates[part];
    reasons.set(part, planCertificate(have[part], template, signers[template.signer], options, now));
  }
  reasons.set("serviceAccount", planServiceAccount(have.serviceAccount));
  for (const part of kubeconfigParts) {
    const template = desired.kubeconfigs[part];
    reasons.set(part, planKubeconfig(have[part], template, signers[template.signer], options, now));
  }
  const issue: PkiPlanItem[] = [];
  const keep: PkiPart[] = [];
  for (const part of pkiParts) {
    const r = reasons.get(part) ?? [];
    if (r.length > 0) issue.push({ part, reasons: r });
    else keep.push(part);
  }
  return { now, desired, issue, keep };
}

/** One line per re-issued part, for Events and logs. */
export function describePlan(plan: PkiPlan): string[] {
  return plan.issue.map((i) => `${i.part}: ${i.reasons.map((r) => `${r.code} (${r.message})`).join("; ")}`);
}
