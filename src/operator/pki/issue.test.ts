import { beforeAll, describe, expect, it } from "vitest";
import { verifyIssuedBy } from "../../pki/inspect.js";
import { parseKubeconfig } from "../../pki/kubeconfig.js";
import { generateTenantPki, issuePki } from "./issue.js";
import { planPki, type PkiPlanOptions } from "./plan.js";
import type { TenantPkiSpec } from "./spec.js";
import { caParts, certificateParts, kubeconfigParts, pkiParts, signerOf, type TenantPki } from "./types.js";

const spec: TenantPkiSpec = {
  tenantName: "acme",
  namespace: "tcp-acme",
  serviceName: "kube-apiserver",
  certSANs: [],
  etcdServiceName: "etcd",
  etcdReplicas: 1,
  validityDays: 365,
  caValidityDays: 3650,
  now: new Date("2025-03-01T00:00:00Z"),
};
const options: PkiPlanOptions = { renewBeforeDays: 30, rotateCAGeneration: 0 };

let pki: TenantPki;
beforeAll(async () => {
  pki = await generateTenantPki(spec);
});

describe("generateTenantPki", () => {
  it("signs every leaf and kubeconfig with its CA", () => {
    for (const part of certificateParts) {
      expect(verifyIssuedBy(pki[part].certificatePem, pki[signerOf(part)].certificatePem), part).toBe(true);
    }
    for (const part of kubeconfigParts) {
      const parsed = parseKubeconfig(pki[part]);
      expect(verifyIssuedBy(parsed.clientCertificatePem ?? "", pki.ca.certificatePem), part).toBe(true);
    }
    expect(verifyIssuedBy(pki.etcdServer.certificatePem, pki.ca.certificatePem)).toBe(false);
  });

  it("uses distinct keys for every part", () => {
    const keys = [
      ...[...caParts, ...certificateParts].map((p) => pki[p].privateKeyPem),
      pki.serviceAccount.privateKeyPem,
      ...kubeconfigParts.map((p) => parseKubeconfig(pki[p]).clientKeyPem),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("issuePki", () => {
  it("re-issues only the planned parts and keeps the rest byte for byte", async () => {
    const { etcdServer: _, ...withoutEtcdServer } = pki;
    const partial = planPki(withoutEtcdServer, spec, options);
    const next = await issuePki(partial, withoutEtcdServer);
    for (const part of pkiParts.filter((p) => p !== "etcdServer")) expect(next[part]).toEqual(pki[part]);
    expect(next.etcdServer.certificatePem).not.toBe(pki.etcdServer.certificatePem);
    expect(verifyIssuedBy(next.etcdServer.certificatePem, pki.etcdCA.certificatePem)).toBe(true);
    expect(planPki(next, spec, options).issue).toEqual([]);
  });

  it("starts new certificates at the plan's clock", async () => {
    const later = new Date("2026-02-01T00:00:00Z");
    const renewed = await issuePki(planPki(pki, spec, options, later), pki);
    expect(planPki(renewed, spec, options, later).issue).toEqual([]);
    // The CAs were kept, so a year later still only the leaves are due.
    const plan = planPki(renewed, spec, options, new Date("2027-01-03T00:00:00Z"));
    expect(plan.keep).toEqual(["ca", "frontProxyCA", "etcdCA", "serviceAccount"]);
  });

  it("refuses a plan that keeps a part the PKI does not have", async () => {
    const plan = planPki(pki, spec, options);
    const { adminKubeconfig: _, ...incomplete } = pki;
    await expect(issuePki(plan, incomplete)).rejects.toThrow(/adminKubeconfig/);
  });
});
