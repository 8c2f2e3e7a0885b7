import { beforeAll, describe, expect, it } from "vitest";
import { generateTenantPki, issuePki } from "./issue.js";
import { planPki, type PkiPlanOptions } from "./plan.js";
import {
  componentChecksum,
  componentsAffectedBy,
  pkiFromSecrets,
  pkiSecretNames,
  pkiToSecrets,
  secretDataChecksum,
  secretsMountedBy,
  type SecretObject,
} from "./secrets.js";
import type { TenantPkiSpec } from "./spec.js";
import { controlPlaneComponents, pkiParts, type TenantPki } from "./types.js";
import { checksumAnnotation } from "../../api/labels.js";

const spec: TenantPkiSpec = {
  tenantName: "acme",
  namespace: "tcp-acme",
  serviceName: "kube-apiserver",
  certSANs: [],
  etcdServiceName: "etcd",
  etcdReplicas: 3,
  validityDays: 365,
  caValidityDays: 3650,
  now: new Date("2025-03-01T00:00:00Z"),
};
const options: PkiPlanOptions = { renewBeforeDays: 30, rotateCAGeneration: 0 };

let pki: TenantPki;
let secrets: SecretObject[];
beforeAll(async () => {
  pki = await generateTenantPki(spec);
  secrets = pkiToSecrets(pki, spec);
});

const byName = (list: SecretObject[], name: string) => list.find((s) => s.metadata.name === name);
const decode = (s: SecretObject | undefined, key: string) => Buffer.from(s?.data[key] ?? "", "base64").toString();

describe("pkiSecretNames", () => {
  it("derives stable names from the tenant", () => {
    expect(pkiSecretNames("acme")).toEqual({
      ca: "acme-ca",
      frontProxyCA: "acme-front-proxy-ca",
      etcdCA: "acme-etcd-ca",
      apiserver: "acme-apiserver-serving",
      apiserverKubeletClient: "acme-apiserver-kubelet-client",
      frontProxyClient: "acme-front-proxy-client",
      etcdServer: "acme-etcd-server",
      etcdPeer: "acme-etcd-peer",
      apiserverEtcdClient: "acme-apiserver-etcd-client",
      metricsClient: "acme-metrics-client",
      serviceAccount: "acme-service-account",
      adminKubeconfig: "acme-admin-kubeconfig",
      controllerManagerKubeconfig: "acme-controller-manager-kubeconfig",
      schedulerKubeconfig: "acme-scheduler-kubeconfig",
    });
  });
});

describe("pkiToSecrets", () => {
  it("makes one Secret per part with type, labels and a checksum of its data", () => {
    expect(secrets.map((s) => s.metadata.name)).toEqual(pkiParts.map((p) => pkiSecretNames("acme")[p]));
    for (const s of secrets) {
      expect(s.metadata.namespace).toBe("tcp-acme");
      expect(s.metadata.labels).toEqual({ "metapilot.io/tenant": "acme", "metapilot.io/component": "pki" });
      expect(s.metadata.annotations[checksumAnnotation]).toBe(secretDataChecksum(s.data));
      expect(s.metadata.annotations[checksumAnnotation]).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const types = Object.fromEntries(secrets.map((s) => [s.metadata.name, s.type]));
    expect(types["acme-ca"]).toBe("kubernetes.io/tls");
    expect(types["acme-etcd-peer"]).toBe("kubernetes.io/tls");
    expect(types["acme-service-account"]).toBe("Opaque");
    expect(types["acme-admin-kubeconfig"]).toBe("Opaque");
  });

  it("gives each leaf its signer as ca.crt, and CA keys only to the CA Secrets", () => {
    expect(Object.keys(byName(secrets, "acme-ca")?.data ?? {}).sort()).toEqual(["tls.crt", "tls.key"]);
    expect(Object.keys(byName(secrets, "acme-etcd-server")?.data ?? {}).sort()).toEqual([
      "ca.crt",
      "tls.crt",
      "tls.key",
    ]);
    expect(decode(byName(secrets, "acme-apiserver-serving"), "ca.crt")).toBe(pki.ca.certificatePem);
    expect(decode(byName(secrets, "acme-front-proxy-client"), "ca.crt")).toBe(pki.frontProxyCA.certificatePem);
    expect(decode(byName(secrets, "acme-apiserver-etcd-client"), "ca.crt")).toBe(pki.etcdCA.certificatePem);
    expect(decode(byName(secrets, "acme-admin-kubeconfig"), "kubeconfig")).toBe(pki.adminKubeconfig);
    expect(decode(byName(secrets, "acme-service-account"), "sa.key")).toBe(pki.serviceAccount.privateKeyPem);
    const caKeys = secrets.filter((s) => "tls.key" in s.data && !("ca.crt" in s.data)).map((s) => s.metadata.name);
    expect(caKeys.sort()).toEqual(["acme-ca", "acme-etcd-ca", "acme-front-proxy-ca"]);
  });
});

describe("secretDataChecksum", () => {
  it("does not depend on key order and changes with any value", () => {
    expect(secretDataChecksum({ a: "MQ==", b: "Mg==" })).toBe(secretDataChecksum({ b: "Mg==", a: "MQ==" }));
    expect(secretDataChecksum({ a: "MQ==", b: "Mg==" })).not.toBe(secretDataChecksum({ a: "MQ==", b: "Mw==" }));
    expect(secretDataChecksum({ ab: "" })).not.toBe(secretDataChecksum({ a: "b" }));
  });
});

describe("pkiFromSecrets", () => {
  it("round-trips a PKI, ignoring other Secrets", () => {
    const foreign = { metadata: { name: "unrelated" }, data: { x: "eQ==" } };
    expect(pkiFromSecrets("acme", [...secrets, foreign])).toEqual({ pki, problems: [] });
  });

  it("leaves out parts whose Secret is absent or incomplete, so planning re-issues them", () => {
    const damaged = secrets
      .filter((s) => s.metadata.name !== "acme-etcd-peer")
      .map((s) =>
        s.metadata.name === "acme-apiserver-serving" ? { ...s, data: { "tls.crt": s.data["tls.crt"] ?? "" } } : s,
      );
    const loaded = pkiFromSecrets("acme", damaged);
    expect(loaded.problems).toEqual(["Secret acme-apiserver-serving has no tls.key"]);
    expect(loaded.pki.apiserver).toBeUndefined();
    expect(loaded.pki.etcdPeer).toBeUndefined();
    expect(planPki(loaded.pki, spec, options).issue.map((i) => i.part)).toEqual(["apiserver", "etcdPeer"]);
  });

  it("loads nothing from nothing", () => {
    expect(pkiFromSecrets("acme", [])).toEqual({ pki: {}, problems: [] });
  });
});

describe("component mounts and checksums", () => {
  it("lists the Secrets each component mounts", () => {
    expect(secretsMountedBy("kube-apiserver", "acme")).toEqual([
      "acme-apiserver-serving",
      "acme-apiserver-kubelet-client",
      "acme-front-proxy-client",
      "acme-apiserver-etcd-client",
      "acme-service-account",
    ]);
    expect(secretsMountedBy("kube-controller-manager", "acme")).toEqual([
      "acme-controller-manager-kubeconfig",
      "acme-ca",
      "acme-service-account",
    ]);
    expect(secretsMountedBy("kube-scheduler", "acme")).toEqual(["acme-scheduler-kubeconfig"]);
    expect(secretsMountedBy("etcd", "acme")).toEqual(["acme-etcd-server", "acme-etcd-peer"]);
  });

  it("changes the checksum of exactly the components that mount a re-issued Secret", async () => {
    const plan = planPki(pki, { ...spec, etcdReplicas: 5 }, options);
    expect(componentsAffectedBy(plan)).toEqual(["etcd"]);
    const next = pkiToSecrets(await issuePki(plan, pki), spec);
    const changed = controlPlaneComponents.filter(
      (c) => componentChecksum(c, "acme", secrets) !== componentChecksum(c, "acme", next),
    );
    expect(changed).toEqual(["etcd"]);
  });

  it("rolls the apiserver and the controller-manager, not the scheduler, when the SA key is replaced", async () => {
    const { serviceAccount: _, ...rest } = pki;
    const plan = planPki(rest, spec, options);
    expect(componentsAffectedBy(plan)).toEqual(["kube-apiserver", "kube-controller-manager"]);
    const next = pkiToSecrets(await issuePki(plan, rest), spec);
    const changed = controlPlaneComponents.filter(
      (c) => componentChecksum(c, "acme", secrets) !== componentChecksum(c, "acme", next),
    );
    expect(changed).toEqual(["kube-apiserver", "kube-controller-manager"]);
  });

  it("fails loudly when a mounted Secret is not given", () => {
    expect(() => componentChecksum("etcd", "acme", [])).toThrow(/acme-etcd-server/);
  });
});
