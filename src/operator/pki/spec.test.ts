import { describe, expect, it } from "vitest";
import {
  apiserverSans,
  caGenerationOf,
  desiredPki,
  endpointHost,
  etcdSans,
  kubeconfigServer,
  validateTenantPkiSpec,
  type TenantPkiSpec,
} from "./spec.js";

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

describe("apiserverSans", () => {
  it("covers the Service, the in-tenant kubernetes Service, localhost and the defaults", () => {
    expect(apiserverSans(spec)).toEqual({
      dnsNames: [
        "kube-apiserver",
        "kube-apiserver.tcp-acme",
        "kube-apiserver.tcp-acme.svc",
        "kube-apiserver.tcp-acme.svc.cluster.local",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
      ],
      ipAddresses: ["10.96.0.1", "127.0.0.1"],
    });
  });

  it("adds the ClusterIP, the external endpoint host and certSANs, de-duplicated and normalized", () => {
    const sans = apiserverSans({
      ...spec,
      clusterIP: "10.0.12.7",
      externalEndpoint: "https://API.acme.example:443",
      certSANs: ["api.acme.io", "*.tenants.example", "2001:DB8:0:0::1", "127.0.0.1", "Kubernetes"],
    });
    expect(sans.dnsNames).toEqual([
      "*.tenants.example",
      "api.acme.example",
      "api.acme.io",
      "kube-apiserver",
      "kube-apiserver.tcp-acme",
      "kube-apiserver.tcp-acme.svc",
      "kube-apiserver.tcp-acme.svc.cluster.local",
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local",
      "localhost",
    ]);
    expect(sans.ipAddresses).toEqual(["10.0.12.7", "10.96.0.1", "127.0.0.1", "2001:db8::1"]);
  });

  it("takes an IP external endpoint as an IP SAN, and honours custom domains and service IP", () => {
    const sans = apiserverSans({
      ...spec,
      externalEndpoint: "203.0.113.10:6443",
      clusterDomain: "meta.local",
      tenantClusterDomain: "acme.local",
      tenantServiceIP: "10.100.0.1",
    });
    expect(sans.ipAddresses).toEqual(["10.100.0.1", "127.0.0.1", "203.0.113.10"]);
    expect(sans.dnsNames).toContain("kube-apiserver.tcp-acme.svc.meta.local");
    expect(sans.dnsNames).toContain("kubernetes.default.svc.acme.local");
    expect(sans.dnsNames).not.toContain("kubernetes.default.svc.cluster.local");
  });
});

describe("etcdSans", () => {
  it("names every member under the headless Service, the Service itself and localhost", () => {
    expect(etcdSans(spec)).toEqual({
      dnsNames: [
        "etcd",
        "etcd-0.etcd.tcp-acme.svc",
        "etcd-0.etcd.tcp-acme.svc.cluster.local",
        "etcd-1.etcd.tcp-acme.svc",
        "etcd-1.etcd.tcp-acme.svc.cluster.local",
        "etcd-2.etcd.tcp-acme.svc",
        "etcd-2.etcd.tcp-acme.svc.cluster.local",
        "etcd.tcp-acme",
        "etcd.tcp-acme.svc",
        "etcd.tcp-acme.svc.cluster.local",
        "localhost",
      ],
      ipAddresses: ["127.0.0.1"],
    });
  });

  it("uses the StatefulSet name for pods when it differs from the headless Service", () => {
    const sans = etcdSans({ ...spec, etcdServiceName: "etcd-headless", etcdStatefulSetName: "etcd", etcdReplicas: 1 });
    expect(sans.dnsNames).toContain("etcd-0.etcd-headless.tcp-acme.svc");
    expect(sans.dnsNames).toContain("etcd-0.etcd-headless.tcp-acme.svc.cluster.local");
    expect(sans.dnsNames.filter((n) => n.startsWith("etcd-0"))).toHaveLength(2);
    expect(sans.dnsNames).not.toContain("etcd-1.etcd-headless.tcp-acme.svc");
  });
});

describe("endpointHost", () => {
  it.each([
    ["api.example.com", "api.example.com"],
    ["api.example.com:6443", "api.example.com"],
    ["https://api.example.com:6443/", "api.example.com"],
    ["203.0.113.10", "203.0.113.10"],
    ["203.0.113.10:443", "203.0.113.10"],
    ["2001:db8::1", "2001:db8::1"],
    ["[2001:db8::1]:6443", "2001:db8::1"],
    ["https://[2001:db8::1]:6443", "2001:db8::1"],
  ])("%s -> %s", (endpoint, host) => {
    expect(endpointHost(endpoint)).toBe(host);
  });
});

describe("validateTenantPkiSpec", () => {
  it.each<[string, Partial<TenantPkiSpec>, RegExp]>([
    ["tenant name too long", { tenantName: "a".repeat(64) }, /tenantName/],
    ["namespace with capitals", { namespace: "Tcp-Acme" }, /namespace/],
    ["zero etcd replicas", { etcdReplicas: 0 }, /etcdReplicas/],
    ["CA shorter-lived than leaves", { caValidityDays: 100 }, /caValidityDays/],
    ["bad certSAN", { certSANs: ["not a name"] }, /SAN/],
    ["bad clusterIP", { clusterIP: "10.0.0" }, /clusterIP/],
  ])("rejects %s", (_, patch, message) => {
    expect(() => validateTenantPkiSpec({ ...spec, ...patch })).toThrow(message);
  });
});

describe("desiredPki", () => {
  it("follows kubeadm's subjects and points kubeconfigs at the in-namespace Service", () => {
    const d = desiredPki(spec, { ca: 2, frontProxyCA: 0, etcdCA: 1 });
    expect(d.cas.ca).toEqual({ commonName: "kubernetes", generation: 2 });
    expect(d.certificates.apiserverKubeletClient).toMatchObject({
      signer: "ca",
      commonName: "kube-apiserver-kubelet-client",
      organizations: ["kubeadm:cluster-admins"],
      usage: "client",
    });
    expect(d.certificates.etcdPeer).toMatchObject({ signer: "etcdCA", usage: "server-and-client" });
    expect(d.certificates.frontProxyClient.signer).toBe("frontProxyCA");
    expect(d.kubeconfigs.adminKubeconfig).toMatchObject({
      commonName: "kubernetes-admin",
      organizations: ["system:masters"],
      server: "https://kube-apiserver.tcp-acme.svc:6443",
    });
    expect(d.kubeconfigs.controllerManagerKubeconfig.commonName).toBe("system:kube-controller-manager");
    expect(d.kubeconfigs.schedulerKubeconfig.commonName).toBe("system:kube-scheduler");
  });

  it("lets the kubeconfig server and port be overridden", () => {
    expect(kubeconfigServer({ ...spec, apiServerPort: 443 })).toBe("https://kube-apiserver.tcp-acme.svc:443");
    expect(kubeconfigServer({ ...spec, kubeconfigServer: "https://api.acme.io" })).toBe("https://api.acme.io");
  });
});

describe("caGenerationOf", () => {
  it("reads the generation OU, 0 when absent", () => {
    expect(caGenerationOf(["ca-generation-7"])).toBe(7);
    expect(caGenerationOf(["something-else"])).toBe(0);
    expect(caGenerationOf([])).toBe(0);
  });
});
