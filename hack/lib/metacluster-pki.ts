// The meta-cluster's PKI: its CA, the apiserver's serving certificate, a client identity per component and the
// kubeconfigs made of them, and each real node's kubelet certificates.
import path from "node:path";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import {
  createCertificateAuthority,
  createSigningKeyPair,
  issueCertificate,
  loadCertificateAuthority,
} from "../../src/pki/certificates.js";
import { renderKubeconfig } from "../../src/pki/kubeconfig.js";
import { kubeletScrapeIdentity, kubeletScrapeUser } from "./kubelet-scrape.js";
import { type MetaclusterState } from "./metacluster-state.js";
import { type RealNode } from "./realnodes.js";

export async function ensurePki(dir: string): Promise<Record<string, string>> {
  const pkiDir = path.join(dir, "pki");
  const files = {
    ca: path.join(pkiDir, "ca.crt"),
    caKey: path.join(pkiDir, "ca.key"),
    apiserver: path.join(pkiDir, "apiserver.crt"),
    apiserverKey: path.join(pkiDir, "apiserver.key"),
    admin: path.join(pkiDir, "admin.crt"),
    adminKey: path.join(pkiDir, "admin.key"),
    saPub: path.join(pkiDir, "sa.pub"),
    saKey: path.join(pkiDir, "sa.key"),
  };
  if (!Object.values(files).every((f) => existsSync(f))) {
    mkdirSync(pkiDir, { recursive: true });
    const ca = await createCertificateAuthority("metacluster-ca", 3650);
    const serving = await issueCertificate(ca, {
      commonName: "kube-apiserver",
      usage: "server",
      validityDays: 3650,
      dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      ipAddresses: ["127.0.0.1", "10.96.0.1"],
    });
    const admin = await issueCertificate(ca, {
      commonName: "metacluster-admin",
      organizations: ["system:masters"],
      usage: "client",
      validityDays: 3650,
    });
    const sa = await createSigningKeyPair();
    writeFileSync(files.ca, ca.certificatePem);
    writeFileSync(files.caKey, ca.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.apiserver, serving.certificatePem);
    writeFileSync(files.apiserverKey, serving.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.admin, admin.certificatePem);
    writeFileSync(files.adminKey, admin.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicKeyPem);
    writeFileSync(files.saKey, sa.privateKeyPem, { mode: 0o600 });
  }
  // One client identity per component, so the audit log tells them apart. Each is issued when missing, so a
  // meta-cluster made before an identity was added gets it too.
  const identities: Array<[string, string, string[]]> = [
    ["kube-controller-manager", "system:kube-controller-manager", ["system:masters"]],
    ["kube-scheduler", "system:kube-scheduler", []],
    ["kwok", "kwok-controller", ["system:masters"]],
    // The apiserver's identity towards real kubelets (logs, exec); the kubelets ask the apiserver what it may do.
    ["apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]],
    // Real nodes' kube-proxy (bound to system:node-proxier by the apiserver's bootstrap policy) and CoreDNS.
    ["kube-proxy", "system:kube-proxy", []],
    ["coredns", "metacluster:coredns", []],
    // Prometheus towards real kubelets: only get nodes/metrics (hack/lib/kubelet-scrape.ts).
    [kubeletScrapeIdentity, kubeletScrapeUser, []],
  ];
  for (const [file, cn, orgs] of identities) {
    if (existsSync(path.join(pkiDir, `${file}.crt`)) && existsSync(path.join(pkiDir, `${file}.key`))) continue;
    const pair = await issueCertificate(await loadMetaclusterCa(dir), {
      commonName: cn,
      organizations: orgs,
      usage: "client",
      validityDays: 3650,
    });
    writeFileSync(path.join(pkiDir, `${file}.crt`), pair.certificatePem);
    writeFileSync(path.join(pkiDir, `${file}.key`), pair.privateKeyPem, { mode: 0o600 });
  }
  return files;
}

/** The meta-cluster's CA, to sign more certificates with (real nodes' kubelets). */
export async function loadMetaclusterCa(dir: string) {
  const read = (f: string) => readFileSync(path.join(dir, "pki", f), "utf8");
  return loadCertificateAuthority({ certificatePem: read("ca.crt"), privateKeyPem: read("ca.key") });
}

export function writeKubeconfigs(dir: string, apiserverPort: number): void {
  const pkiDir = path.join(dir, "pki");
  const read = (f: string) => readFileSync(path.join(pkiDir, f), "utf8");
  const server = `https://127.0.0.1:${apiserverPort}`;
  const users: Array<[string, string]> = [
    ["admin", "admin"],
    ["kube-controller-manager", "kube-controller-manager"],
    ["kube-scheduler", "kube-scheduler"],
    ["kwok", "kwok"],
  ];
  for (const [name, cert] of users) {
    writeFileSync(
      path.join(dir, `${name}.kubeconfig`),
      renderKubeconfig({
        clusterName: "metacluster",
        server,
        caPem: read("ca.crt"),
        userName: name,
        clientCertificatePem: read(`${cert}.crt`),
        clientKeyPem: read(`${cert}.key`),
      }),
      { mode: 0o600 },
    );
  }
}

export async function ensureKubeletPki(state: MetaclusterState, node: RealNode): Promise<void> {
  const pkiDir = path.join(node.dir, "pki");
  const files = ["kubelet-client.crt", "kubelet-client.key", "kubelet.crt", "kubelet.key"].map((f) =>
    path.join(pkiDir, f),
  );
  if (files.every((f) => existsSync(f))) return;
  mkdirSync(pkiDir, { recursive: true });
  const ca = await loadMetaclusterCa(state.dir);
  // The Node authorizer knows a kubelet by this name and group.
  const client = await issueCertificate(ca, {
    commonName: `system:node:${node.name}`,
    organizations: ["system:nodes"],
    usage: "client",
    validityDays: 3650,
  });
  const serving = await issueCertificate(ca, {
    commonName: `system:node:${node.name}`,
    organizations: ["system:nodes"],
    usage: "server",
    validityDays: 3650,
    dnsNames: [node.name],
    ipAddresses: [node.gateway],
  });
  writeFileSync(files[0]!, client.certificatePem);
  writeFileSync(files[1]!, client.privateKeyPem, { mode: 0o600 });
  writeFileSync(files[2]!, serving.certificatePem);
  writeFileSync(files[3]!, serving.privateKeyPem, { mode: 0o600 });
  writeFileSync(
    path.join(node.dir, "kubelet.kubeconfig"),
    renderKubeconfig({
      clusterName: "metacluster",
      server: state.apiserverUrl,
      caPem: readFileSync(path.join(state.dir, "pki/ca.crt"), "utf8"),
      userName: `system:node:${node.name}`,
      clientCertificatePem: client.certificatePem,
      clientKeyPem: client.privateKeyPem,
    }),
    { mode: 0o600 },
  );
}
