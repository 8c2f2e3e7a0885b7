import { beforeAll, describe, expect, it } from "vitest";
import { describeCertificate } from "../../pki/certificates.js";
import { parseKubeconfig, renderKubeconfig } from "../../pki/kubeconfig.js";
import { generateTenantPki, issuePki } from "./issue.js";
import { describePlan, planPki, type PkiPlan, type PkiPlanOptions, type PkiReasonCode } from "./plan.js";
import type { TenantPkiSpec } from "./spec.js";
import { caParts, certificateParts, kubeconfigParts, pkiParts, type PkiPart, type TenantPki } from "./types.js";

// The clock: issued 2025-03-01T00:00Z. Leaves live 365 days (until 2026-03-01T00:00Z), CAs 3650 days (until
// 2035-02-27T00:00Z); renewal starts 30 days before, i.e. at 2026-01-30T00:00Z and 2035-01-28T00:00Z.
const issuedAt = new Date("2025-03-01T00:00:00Z");
const spec: TenantPkiSpec = {
  tenantName: "acme",
  namespace: "tcp-acme",
  serviceName: "kube-apiserver",
  clusterIP: "10.0.12.7",
  certSANs: ["api.acme.io"],
  etcdServiceName: "etcd",
  etcdReplicas: 3,
  validityDays: 365,
  caValidityDays: 3650,
  now: issuedAt,
};
const options: PkiPlanOptions = { renewBeforeDays: 30, rotateCAGeneration: 0 };

let pki: TenantPki;
let other: TenantPki;

beforeAll(async () => {
  [pki, other] = await Promise.all([generateTenantPki(spec), generateTenantPki(spec)]);
});

const planned = (plan: PkiPlan) => plan.issue.map((i) => i.part);
const codes = (plan: PkiPlan, part: PkiPart): PkiReasonCode[] =>
  plan.issue.find((i) => i.part === part)?.reasons.map((r) => r.code) ?? [];
const signedByClusterCa: PkiPart[] = ["apiserver", "apiserverKubeletClient", "metricsClient", ...kubeconfigParts];
const leavesAndKubeconfigs: PkiPart[] = [...certificateParts, ...kubeconfigParts];

describe("issued certificates (hand-checked)", () => {
  it("have the expected validity windows", () => {
    const leaf = describeCertificate(pki.apiserver.certificatePem);
    expect(leaf.notBefore.toISOString()).toBe("2025-02-28T23:55:00.000Z");
    expect(leaf.notAfter.toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(describeCertificate(pki.ca.certificatePem).notAfter.toISOString()).toBe("2035-02-27T00:00:00.000Z");
    const admin = parseKubeconfig(pki.adminKubeconfig);
    expect(describeCertificate(admin.clientCertificatePem ?? "").notAfter.toISOString()).toBe(
      "2026-03-01T00:00:00.000Z",
    );
  });

  it("carry the subjects and issuers of their role", () => {
    expect(describeCertificate(pki.ca.certificatePem).subject).toBe("CN=kubernetes, OU=ca-generation-0");
    expect(describeCertificate(pki.apiserver.certificatePem).issuer).toBe("CN=kubernetes, OU=ca-generation-0");
    expect(describeCertificate(pki.apiserverKubeletClient.certificatePem).subject).toBe(
      "CN=kube-apiserver-kubelet-client, O=kubeadm:cluster-admins",
    );
    expect(describeCertificate(pki.frontProxyClient.certificatePem).issuer).toBe(
      "CN=front-proxy-ca, OU=ca-generation-0",
    );
    expect(describeCertificate(pki.apiserverEtcdClient.certificatePem).issuer).toBe("CN=etcd-ca, OU=ca-generation-0");
    const admin = parseKubeconfig(pki.adminKubeconfig);
    expect(describeCertificate(admin.clientCertificatePem ?? "").subject).toBe("CN=kubernetes-admin, O=system:masters");
    expect(admin.server).toBe("https://kube-apiserver.tcp-acme.svc:6443");
    expect(admin.caPem).toBe(pki.ca.certificatePem);
  });

  it("put the expected SANs in the serving and etcd certificates", () => {
    const serving = describeCertificate(pki.apiserver.certificatePem);
    expect(serving.ipAddresses.sort()).toEqual(["10.0.12.7", "10.96.0.1", "127.0.0.1"]);
    expect(serving.dnsNames).toContain("api.acme.io");
    expect(serving.dnsNames).toContain("kube-apiserver.tcp-acme.svc.cluster.local");
    expect(serving.dnsNames).toContain("kubernetes.default.svc.cluster.local");
    const peer = describeCertificate(pki.etcdPeer.certificatePem);
    expect(peer.dnsNames).toContain("etcd-2.etcd.tcp-acme.svc.cluster.local");
    expect(peer.dnsNames).toEqual(describeCertificate(pki.etcdServer.certificatePem).dnsNames);
    expect(describeCertificate(pki.apiserverEtcdClient.certificatePem).dnsNames).toEqual([]);
  });
});

describe("planPki", () => {
  it("issues everything for a new tenant, each part as missing", () => {
    const plan = planPki(undefined, spec, options);
    expect(planned(plan)).toEqual(pkiParts);
    expect(plan.keep).toEqual([]);
    for (const part of pkiParts) expect(codes(plan, part)).toEqual(["missing"]);
  });

  it("keeps a fresh, matching PKI as it is", () => {
    const plan = planPki(pki, spec, options);
    expect(plan.issue).toEqual([]);
    expect(plan.keep).toEqual(pkiParts);
  });

  it("re-issues only the missing part", () => {
    const { apiserverEtcdClient: _, ...rest } = pki;
    expect(planned(planPki(rest, spec, options))).toEqual(["apiserverEtcdClient"]);
  });

  describe("expiry, with an injected clock", () => {
    it("keeps leaves with 31 days left", () => {
      expect(planPki(pki, spec, options, new Date("2026-01-29T00:00:00Z")).issue).toEqual([]);
    });

    it("renews every leaf and kubeconfig with exactly 30 days left, but not the CAs or the SA key", () => {
      const plan = planPki(pki, spec, options, new Date("2026-01-30T00:00:00Z"));
      expect(planned(plan)).toEqual(leavesAndKubeconfigs);
      for (const part of leavesAndKubeconfigs) expect(codes(plan, part)).toEqual(["expiring"]);
      expect(plan.issue[0]?.reasons[0]?.message).toBe(
        "expires at 2026-03-01T00:00:00.000Z, within 30 days of 2026-01-30T00:00:00.000Z",
      );
      expect(plan.keep).toEqual([...caParts, "serviceAccount"]);
    });

    it("reports an already expired certificate as expired", () => {
      const plan = planPki(pki, spec, options, new Date("2026-03-02T00:00:00Z"));
      expect(plan.issue[0]?.reasons[0]?.message).toBe("expired at 2026-03-01T00:00:00.000Z");
    });

    it("renews an expiring CA and re-issues everything it signed", () => {
      // Leaves renewed in time along the way: only the CAs' age matters here.
      const plan = planPki(pki, spec, options, new Date("2035-01-28T00:00:00Z"));
      for (const ca of caParts) expect(codes(plan, ca)).toEqual(["expiring"]);
      for (const part of leavesAndKubeconfigs) expect(codes(plan, part)).toEqual(["ca-rotated", "expiring"]);
      expect(plan.keep).toEqual(["serviceAccount"]);
      expect(planPki(pki, spec, options, new Date("2035-01-27T00:00:00Z")).issue.map((i) => i.part)).not.toContain(
        "ca",
      );
    });
  });

  describe("SAN changes", () => {
    it("re-issues only the serving certificate when certSANs change, and says what changes", () => {
      const plan = planPki(pki, { ...spec, certSANs: ["api2.acme.io"] }, options);
      expect(planned(plan)).toEqual(["apiserver"]);
      expect(plan.issue[0]?.reasons).toEqual([
        { code: "sans-changed", message: "SANs change: adds api2.acme.io; removes api.acme.io" },
      ]);
    });

    it("re-issues the serving certificate when the ClusterIP or external endpoint appears", () => {
      expect(planned(planPki(pki, { ...spec, clusterIP: "10.0.99.9" }, options))).toEqual(["apiserver"]);
      const plan = planPki(pki, { ...spec, externalEndpoint: "203.0.113.10:6443" }, options);
      expect(plan.issue[0]?.reasons[0]?.message).toBe("SANs change: adds 203.0.113.10");
    });

    it("re-issues etcd server and peer certificates when etcd scales", () => {
      const plan = planPki(pki, { ...spec, etcdReplicas: 5 }, options);
      expect(planned(plan)).toEqual(["etcdServer", "etcdPeer"]);
      expect(plan.issue[0]?.reasons[0]?.message).toBe(
        "SANs change: adds etcd-3.etcd.tcp-acme.svc, etcd-3.etcd.tcp-acme.svc.cluster.local, " +
          "etcd-4.etcd.tcp-acme.svc, etcd-4.etcd.tcp-acme.svc.cluster.local",
      );
    });

    it("ignores SAN order and IPv6 spelling", async () => {
      const withV6 = { ...spec, certSANs: ["2001:db8::1", "api.acme.io"] };
      const p = await generateTenantPki(withV6);
      const reordered = { ...withV6, certSANs: ["API.acme.io", "2001:DB8:0:0:0:0:0:1"] };
      expect(planPki(p, reordered, options).issue).toEqual([]);
    });
  });

  describe("CA rotation", () => {
    it("a bumped generation re-issues every CA and everything they sign, never the SA key", () => {
      const plan = planPki(pki, spec, { ...options, rotateCAGeneration: 1 });
      expect(plan.keep).toEqual(["serviceAccount"]);
      for (const ca of caParts) {
        expect(plan.issue.find((i) => i.part === ca)?.reasons).toEqual([
          { code: "rotation-requested", message: "rotation generation 1 requested, CA is generation 0" },
        ]);
      }
      for (const part of leavesAndKubeconfigs) expect(codes(plan, part)).toEqual(["ca-rotated"]);
      expect(plan.issue.find((i) => i.part === "etcdPeer")?.reasons[0]?.message).toBe(
        "etcdCA is re-issued (rotation-requested)",
      );
    });

    it("can rotate the cluster CA alone, leaving etcd and the front proxy untouched", () => {
      const plan = planPki(pki, spec, {
        ...options,
        rotateCAGeneration: 1,
        rotateEtcdCAGeneration: 0,
        rotateFrontProxyCAGeneration: 0,
      });
      expect(planned(plan)).toEqual(["ca", ...signedByClusterCa]);
    });

    it("is done once: the rotated PKI is stable at the new generation", async () => {
      const rotatedOptions = { ...options, rotateCAGeneration: 1 };
      const rotated = await issuePki(planPki(pki, spec, rotatedOptions), pki);
      expect(describeCertificate(rotated.ca.certificatePem).subject).toBe("CN=kubernetes, OU=ca-generation-1");
      expect(planPki(rotated, spec, rotatedOptions).issue).toEqual([]);
    });
  });

  describe("signed by a different CA", () => {
    it("re-issues a leaf that another CA signed", () => {
      const plan = planPki({ ...pki, apiserver: other.apiserver }, spec, options);
      expect(planned(plan)).toEqual(["apiserver"]);
      expect(plan.issue[0]?.reasons).toEqual([
        { code: "signed-by-different-ca", message: "not signed by the current ca" },
      ]);
    });

    it("re-issues everything under a CA that was replaced by another valid CA", () => {
      const plan = planPki({ ...pki, etcdCA: other.etcdCA }, spec, options);
      expect(planned(plan)).toEqual(["etcdServer", "etcdPeer", "apiserverEtcdClient"]);
      for (const part of planned(plan)) expect(codes(plan, part)).toEqual(["signed-by-different-ca"]);
    });

    it("re-issues a kubeconfig whose client certificate another CA signed", () => {
      const plan = planPki({ ...pki, schedulerKubeconfig: other.schedulerKubeconfig }, spec, options);
      expect(planned(plan)).toEqual(["schedulerKubeconfig"]);
      expect(codes(plan, "schedulerKubeconfig")).toEqual(["signed-by-different-ca", "ca-data-stale"]);
    });
  });

  describe("damaged or changed parts", () => {
    it("re-issues a certificate whose key does not match", () => {
      const plan = planPki(
        { ...pki, etcdPeer: { ...pki.etcdPeer, privateKeyPem: pki.etcdServer.privateKeyPem } },
        spec,
        options,
      );
      expect(planned(plan)).toEqual(["etcdPeer"]);
      expect(codes(plan, "etcdPeer")).toEqual(["key-mismatch"]);
    });

    it("re-issues a CA with a mismatched key, and everything it signs", () => {
      const plan = planPki(
        { ...pki, frontProxyCA: { ...pki.frontProxyCA, privateKeyPem: pki.ca.privateKeyPem } },
        spec,
        options,
      );
      expect(planned(plan)).toEqual(["frontProxyCA", "frontProxyClient"]);
      expect(codes(plan, "frontProxyClient")).toEqual(["ca-rotated"]);
    });

    it("treats unparseable material as invalid", () => {
      const plan = planPki(
        { ...pki, apiserver: { certificatePem: "garbage", privateKeyPem: "garbage" }, adminKubeconfig: "[" },
        spec,
        options,
      );
      expect(planned(plan)).toEqual(["apiserver", "adminKubeconfig"]);
      expect(codes(plan, "apiserver")).toEqual(["invalid"]);
      expect(codes(plan, "adminKubeconfig")).toEqual(["invalid"]);
    });

    it("treats a leaf in a CA's place as an invalid CA", () => {
      const plan = planPki({ ...pki, ca: pki.apiserver }, spec, options);
      expect(codes(plan, "ca")).toEqual(["invalid"]);
      expect(codes(plan, "apiserver")).toEqual(["ca-rotated"]);
    });

    it("replaces a service-account key pair whose halves do not match", () => {
      const plan = planPki(
        { ...pki, serviceAccount: { ...pki.serviceAccount, publicKeyPem: other.serviceAccount.publicKeyPem } },
        spec,
        options,
      );
      expect(planned(plan)).toEqual(["serviceAccount"]);
      expect(codes(plan, "serviceAccount")).toEqual(["key-mismatch"]);
    });

    it("re-issues a kubeconfig with the wrong identity", () => {
      const plan = planPki({ ...pki, schedulerKubeconfig: pki.controllerManagerKubeconfig }, spec, options);
      expect(plan.issue).toEqual([
        {
          part: "schedulerKubeconfig",
          reasons: [
            {
              code: "subject-changed",
              message: "subject is CN=system:kube-controller-manager, want CN=system:kube-scheduler",
            },
          ],
        },
      ]);
    });

    it("re-issues every kubeconfig when the server URL changes", () => {
      const plan = planPki(pki, { ...spec, kubeconfigServer: "https://api.acme.io:443" }, options);
      expect(planned(plan)).toEqual([...kubeconfigParts]);
      expect(plan.issue[0]?.reasons[0]?.message).toBe(
        "server is https://kube-apiserver.tcp-acme.svc:6443, want https://api.acme.io:443",
      );
    });

    it("re-issues a kubeconfig that embeds another CA's certificate", () => {
      const admin = parseKubeconfig(pki.adminKubeconfig);
      const stale = renderKubeconfig({
        clusterName: admin.clusterName,
        server: admin.server,
        userName: admin.userName,
        caPem: other.ca.certificatePem,
        clientCertificatePem: admin.clientCertificatePem,
        clientKeyPem: admin.clientKeyPem,
      });
      const plan = planPki({ ...pki, adminKubeconfig: stale }, spec, options);
      expect(planned(plan)).toEqual(["adminKubeconfig"]);
      expect(codes(plan, "adminKubeconfig")).toEqual(["ca-data-stale"]);
    });
  });

  it("refuses options that would re-issue on every reconcile", () => {
    expect(() => planPki(pki, spec, { ...options, renewBeforeDays: 365 })).toThrow(/renewBeforeDays/);
    expect(() => planPki(pki, spec, { ...options, rotateCAGeneration: -1 })).toThrow(/generation/);
  });

  it("describes itself in one line per part", () => {
    const lines = describePlan(planPki(pki, { ...spec, etcdReplicas: 4 }, options));
    expect(lines).toEqual([
      "etcdServer: sans-changed (SANs change: adds etcd-3.etcd.tcp-acme.svc, etcd-3.etcd.tcp-acme.svc.cluster.local)",
      "etcdPeer: sans-changed (SANs change: adds etcd-3.etcd.tcp-acme.svc, etcd-3.etcd.tcp-acme.svc.cluster.local)",
    ]);
  });
});
