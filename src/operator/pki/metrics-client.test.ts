// The metrics client certificate: the identity the meta-cluster's Prometheus scrapes a tenant apiserver's /metrics
// with. It must be allowed exactly that (the bootstrap group system:monitoring, nothing more), be a client
// certificate only, verify the apiserver through the ca.crt of its own Secret, and be renewed and rotated with the
// rest of the PKI without rolling any control-plane component, since none mounts it.
import { beforeAll, describe, expect, it } from "vitest";
import * as x509 from "@peculiar/x509";
import { certificateDetails, keyMatchesCertificate, verifyIssuedBy } from "../../pki/inspect.js";
import { generateTenantPki, issuePki } from "./issue.js";
import { planPki, type PkiPlan, type PkiPlanOptions } from "./plan.js";
import { componentsAffectedBy, pkiSecretName, pkiToSecrets, secretsMountedBy } from "./secrets.js";
import { metricsClientCommonName, monitoringGroup, type TenantPkiSpec } from "./spec.js";
import { controlPlaneComponents, type TenantPki } from "./types.js";

const issuedAt = new Date("2025-03-01T00:00:00Z");
const spec: TenantPkiSpec = {
  tenantName: "acme",
  namespace: "tcp-acme",
  serviceName: "kube-apiserver",
  clusterIP: "10.0.12.7",
  certSANs: [],
  etcdServiceName: "etcd",
  etcdReplicas: 1,
  validityDays: 365,
  caValidityDays: 3650,
  now: issuedAt,
};
const options: PkiPlanOptions = { renewBeforeDays: 30, rotateCAGeneration: 0 };
const reasonsFor = (plan: PkiPlan) => plan.issue.find((i) => i.part === "metricsClient")?.reasons.map((r) => r.code);

let pki: TenantPki;
let other: TenantPki;
beforeAll(async () => {
  [pki, other] = await Promise.all([generateTenantPki(spec), generateTenantPki(spec)]);
});

describe("the metrics client certificate", () => {
  it("is user metapilot:metrics-scraper in group system:monitoring and no other group", () => {
    const d = certificateDetails(pki.metricsClient.certificatePem);
    expect(d.commonName).toBe(metricsClientCommonName);
    expect(d.organizations).toEqual([monitoringGroup]);
    expect(monitoringGroup).toBe("system:monitoring");
    expect(d.organizations).not.toContain("system:masters");
  });

  it("is a client certificate only: clientAuth, no serverAuth, not a CA, no SANs, a signing key usage", () => {
    const d = certificateDetails(pki.metricsClient.certificatePem);
    expect(d.clientAuth).toBe(true);
    expect(d.serverAuth).toBe(false);
    expect(d.isCA).toBe(false);
    expect([...d.dnsNames, ...d.ipAddresses]).toEqual([]);
    const cert = new x509.X509Certificate(pki.metricsClient.certificatePem);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    expect(keyUsage?.critical).toBe(true);
    expect((keyUsage!.usages & x509.KeyUsageFlags.digitalSignature) !== 0).toBe(true);
    expect((keyUsage!.usages & x509.KeyUsageFlags.keyCertSign) !== 0).toBe(false);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String)).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
    ]);
  });

  it("lives as long as the other leaves, signed by the cluster CA (the apiserver's client CA)", () => {
    const d = certificateDetails(pki.metricsClient.certificatePem);
    expect(d.notAfter.toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(d.notAfter).toEqual(certificateDetails(pki.apiserverKubeletClient.certificatePem).notAfter);
    expect(verifyIssuedBy(pki.metricsClient.certificatePem, pki.ca.certificatePem)).toBe(true);
    expect(verifyIssuedBy(pki.metricsClient.certificatePem, pki.etcdCA.certificatePem)).toBe(false);
    expect(keyMatchesCertificate(pki.metricsClient.certificatePem, pki.metricsClient.privateKeyPem)).toBe(true);
  });

  it("is the Secret <tenant>-metrics-client: tls.crt, tls.key and a ca.crt that verifies the serving certificate", () => {
    const secret = pkiToSecrets(pki, spec).find((s) => s.metadata.name === pkiSecretName("acme", "metricsClient"));
    expect(secret?.metadata.name).toBe("acme-metrics-client");
    expect(secret?.type).toBe("kubernetes.io/tls");
    expect(Object.keys(secret!.data).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
    const decode = (k: string) => Buffer.from(secret!.data[k]!, "base64").toString("utf8");
    expect(decode("tls.crt")).toBe(pki.metricsClient.certificatePem);
    expect(decode("tls.key")).toBe(pki.metricsClient.privateKeyPem);
    // A scraper verifies the apiserver with ca.crt: the same CA signs the serving certificate.
    expect(verifyIssuedBy(pki.apiserver.certificatePem, decode("ca.crt"))).toBe(true);
    // The CA's key is not in it.
    expect(decode("ca.crt")).not.toContain("PRIVATE KEY");
  });

  it("is mounted by no control-plane component", () => {
    for (const c of controlPlaneComponents) expect(secretsMountedBy(c, "acme")).not.toContain("acme-metrics-client");
  });
});

describe("planning the metrics client certificate", () => {
  it("issues it alone for a tenant whose PKI predates it, rolling no component", async () => {
    const { metricsClient: _, ...before } = pki;
    const plan = planPki(before, spec, options);
    expect(plan.issue.map((i) => i.part)).toEqual(["metricsClient"]);
    expect(reasonsFor(plan)).toEqual(["missing"]);
    expect(componentsAffectedBy(plan)).toEqual([]);
    const issued = await issuePki(plan, before);
    expect(certificateDetails(issued.metricsClient.certificatePem).organizations).toEqual([monitoringGroup]);
    expect(issued.apiserver).toBe(pki.apiserver);
  });

  it("renews it 30 days before expiry, without rolling any component, and the renewed one is stable", async () => {
    expect(reasonsFor(planPki(pki, spec, options, new Date("2026-01-29T00:00:00Z")))).toBeUndefined();
    const at = new Date("2026-01-30T00:00:00Z");
    const plan = planPki(pki, spec, options, at);
    expect(reasonsFor(plan)).toEqual(["expiring"]);
    const renewed = await issuePki(plan, pki);
    const d = certificateDetails(renewed.metricsClient.certificatePem);
    expect(d.notAfter.toISOString()).toBe("2027-01-30T00:00:00.000Z");
    expect(d.organizations).toEqual([monitoringGroup]);
    expect(reasonsFor(planPki(renewed, spec, options, at))).toBeUndefined();
    // Only the metrics client renewing touches nobody's mounts.
    expect(componentsAffectedBy({ ...plan, issue: plan.issue.filter((i) => i.part === "metricsClient") })).toEqual([]);
  });

  it("re-issues it when the cluster CA rotates, signed by the new CA", async () => {
    const rotated = { ...options, rotateCAGeneration: 1 };
    const plan = planPki(pki, spec, rotated);
    expect(reasonsFor(plan)).toEqual(["ca-rotated"]);
    const next = await issuePki(plan, pki);
    expect(verifyIssuedBy(next.metricsClient.certificatePem, next.ca.certificatePem)).toBe(true);
    expect(verifyIssuedBy(next.metricsClient.certificatePem, pki.ca.certificatePem)).toBe(false);
  });

  it("replaces one edited to carry more privilege, a server usage, or another CA's signature", () => {
    // The apiserver's kubelet client certificate (O=kubeadm:cluster-admins) put in its place by hand.
    const escalated = planPki({ ...pki, metricsClient: { ...pki.apiserverKubeletClient } }, spec, options);
    expect(reasonsFor(escalated)).toEqual(["subject-changed"]);
    const serving = planPki({ ...pki, metricsClient: pki.apiserver }, spec, options);
    expect(reasonsFor(serving)).toEqual(expect.arrayContaining(["subject-changed", "usage-changed", "sans-changed"]));
    const foreign = planPki({ ...pki, metricsClient: other.metricsClient }, spec, options);
    expect(reasonsFor(foreign)).toEqual(["signed-by-different-ca"]);
  });
});
