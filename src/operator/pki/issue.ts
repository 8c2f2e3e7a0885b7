// Carries out a PKI plan: new keys and certificates for the planned parts, everything else kept byte for byte.
// The only side effect is randomness (key generation); nothing here talks to a cluster.
import {
  createCertificateAuthority,
  createSigningKeyPair,
  issueCertificate,
  loadCertificateAuthority,
  type CertificateAuthority,
  type KeyPairPem,
} from "../../pki/certificates.js";
import { renderKubeconfig } from "../../pki/kubeconfig.js";
import { planPki, type PkiPlan, type PkiPlanOptions } from "./plan.js";
import { caGenerationUnit, type TenantPkiSpec } from "./spec.js";
import {
  caParts,
  certificateParts,
  kubeconfigParts,
  type CaPart,
  type ExistingTenantPki,
  type PkiPart,
  type TenantPki,
} from "./types.js";

/**
 * Issues what `plan` says, on top of `existing` (the same PKI the plan was made from). Throws when a part the plan
 * keeps is absent from `existing`, which means plan and PKI do not belong together.
 */
export async function issuePki(plan: PkiPlan, existing: ExistingTenantPki | undefined): Promise<TenantPki> {
  const have = existing ?? {};
  const { desired, now } = plan;
  const planned = new Set<PkiPart>(plan.issue.map((i) => i.part));
  const kept = <P extends PkiPart>(part: P): NonNullable<ExistingTenantPki[P]> => {
    const value = have[part];
    if (value === undefined) throw new Error(`PKI part ${part} is neither planned nor present; re-plan from this PKI`);
    return value as NonNullable<ExistingTenantPki[P]>;
  };

  const cas = {} as Record<CaPart, CertificateAuthority>;
  await Promise.all(
    caParts.map(async (part) => {
      const template = desired.cas[part];
      cas[part] = planned.has(part)
        ? await createCertificateAuthority(template.commonName, desired.caValidityDays, now, {
            organizationalUnits: [caGenerationUnit(template.generation)],
          })
        : await loadCertificateAuthority(kept(part));
    }),
  );

  const certificates = {} as Record<(typeof certificateParts)[number], KeyPairPem>;
  const kubeconfigs = {} as Record<(typeof kubeconfigParts)[number], string>;
  const work: Array<Promise<void>> = [];
  for (const part of certificateParts) {
    if (!planned.has(part)) {
      certificates[part] = kept(part);
      continue;
    }
    const t = desired.certificates[part];
    work.push(
      issueCertificate(cas[t.signer], {
        commonName: t.commonName,
        organizations: t.organizations,
        dnsNames: t.dnsNames,
        ipAddresses: t.ipAddresses,
        usage: t.usage,
        validityDays: desired.validityDays,
        now,
      }).then((pair) => {
        certificates[part] = pair;
      }),
    );
  }
  for (const part of kubeconfigParts) {
    if (!planned.has(part)) {
      kubeconfigs[part] = kept(part);
      continue;
    }
    const t = desired.kubeconfigs[part];
    const ca = cas[t.signer];
    work.push(
      issueCertificate(ca, {
        commonName: t.commonName,
        organizations: t.organizations,
        usage: "client",
        validityDays: desired.validityDays,
        now,
      }).then((pair) => {
        kubeconfigs[part] = renderKubeconfig({
          clusterName: t.clusterName,
          server: t.server,
          caPem: ca.certificatePem,
          userName: t.userName,
          clientCertificatePem: pair.certificatePem,
          clientKeyPem: pair.privateKeyPem,
        });
      }),
    );
  }
  const serviceAccount = planned.has("serviceAccount")
    ? createSigningKeyPair()
    : Promise.resolve(kept("serviceAccount"));
  await Promise.all(work);

  const pem = (ca: CertificateAuthority): KeyPairPem => ({
    certificatePem: ca.certificatePem,
    privateKeyPem: ca.privateKeyPem,
  });
  return {
    ca: pem(cas.ca),
    frontProxyCA: pem(cas.frontProxyCA),
    etcdCA: pem(cas.etcdCA),
    ...certificates,
    serviceAccount: await serviceAccount,
    ...kubeconfigs,
  };
}

/** A complete PKI for a new tenant: plan from nothing, then issue. */
export async function generateTenantPki(
  spec: TenantPkiSpec,
  options: PkiPlanOptions = { renewBeforeDays: 0, rotateCAGeneration: 0 },
): Promise<TenantPki> {
  return issuePki(planPki(undefined, spec, options), undefined);
}
