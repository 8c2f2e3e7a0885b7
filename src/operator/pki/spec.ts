// From a tenant description to the desired shape of every part of its PKI: subjects, SANs, usages, signers and
// kubeconfig servers. No keys here; planning compares these templates with what exists, issuing fills them in.
import { isIP } from "node:net";
import type { CertificateUsage } from "../../pki/certificates.js";
import { normalizeIp } from "../../pki/inspect.js";
import { signerOf, type CaPart, type CertificatePart, type KubeconfigPart } from "./types.js";

export interface TenantPkiSpec {
  /** TenantControlPlane name; goes into Secret names and the `metapilot.io/tenant` label. */
  tenantName: string;
  /** The tenant's namespace in the meta-cluster. */
  namespace: string;
  /** The apiserver's Service in that namespace. */
  serviceName: string;
  /** The Service's ClusterIP, once known. */
  clusterIP?: string;
  /** How clients outside reach the apiserver: host, host:port or URL (LoadBalancer address, ingress name). */
  externalEndpoint?: string;
  /** Extra SANs for the serving certificate (spec.certSANs): DNS names, `*.` wildcards or IP addresses. */
  certSANs: string[];
  /** The etcd StatefulSet's headless Service. */
  etcdServiceName: string;
  /** The etcd StatefulSet; pods are <etcdStatefulSetName>-<i>. Defaults to etcdServiceName. */
  etcdStatefulSetName?: string;
  etcdReplicas: number;
  /** Lifetime of leaf certificates and kubeconfig client certificates. */
  validityDays: number;
  /** Lifetime of the three CAs. */
  caValidityDays: number;
  /** Issue time, and the planning clock unless one is passed explicitly. */
  now: Date;
  /** Meta-cluster DNS domain for the Service names. Default cluster.local. */
  clusterDomain?: string;
  /** The tenant cluster's own DNS domain, for kubernetes.default.svc.<domain>. Default cluster.local. */
  tenantClusterDomain?: string;
  /** First address of the tenant's service CIDR: the in-tenant `kubernetes` Service. Default 10.96.0.1. */
  tenantServiceIP?: string;
  /** Apiserver port on the Service. Default 6443. */
  apiServerPort?: number;
  /** Server URL written into every kubeconfig. Default https://<serviceName>.<namespace>.svc:<apiServerPort>. */
  kubeconfigServer?: string;
}

export interface CaTemplate {
  commonName: string;
  /** Rotation generation, recorded in the CA's subject as OU=ca-generation-<n>. */
  generation: number;
}

export interface CertificateTemplate {
  signer: CaPart;
  commonName: string;
  organizations: string[];
  usage: CertificateUsage;
  /** Sorted, lower case, de-duplicated. */
  dnsNames: string[];
  /** Sorted, normalized, de-duplicated. */
  ipAddresses: string[];
}

export interface KubeconfigTemplate {
  signer: CaPart;
  commonName: string;
  organizations: string[];
  server: string;
  clusterName: string;
  userName: string;
}

export interface DesiredPki {
  tenantName: string;
  validityDays: number;
  caValidityDays: number;
  cas: Record<CaPart, CaTemplate>;
  certificates: Record<CertificatePart, CertificateTemplate>;
  kubeconfigs: Record<KubeconfigPart, KubeconfigTemplate>;
}

export type CaGenerations = Record<CaPart, number>;

/** kubeadm's group for admin identities since 1.29, bound to cluster-admin by a ClusterRoleBinding in the tenant. */
export const clusterAdminsGroup = "kubeadm:cluster-admins";

/**
 * The bootstrap group that the apiserver's own ClusterRoleBinding system:monitoring binds to the ClusterRole of the
 * same name: GET on /metrics, /metrics/slis, /livez, /readyz and /healthz, and nothing else (no resources at all).
 */
export const monitoringGroup = "system:monitoring";
/** The user name of the metrics client certificate, as audit logs of the tenant apiserver show it. */
export const metricsClientCommonName = "metapilot:metrics-scraper";

const caGenerationPrefix = "ca-generation-";

export function caGenerationUnit(generation: number): string {
  return `${caGenerationPrefix}${generation}`;
}

/** The generation recorded in a CA's subject OUs; 0 for a CA without one (e.g. one that was imported). */
export function caGenerationOf(organizationalUnits: string[]): number {
  for (const ou of organizationalUnits) {
    const m = /^ca-generation-(\d+)$/.exec(ou);
    if (m?.[1]) return Number(m[1]);
  }
  return 0;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsName = /^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function requireDnsLabel(what: string, value: string): void {
  if (value.length > 63 || !dnsLabel.test(value))
    throw new Error(`${what} ${JSON.stringify(value)} is not a DNS-1123 label`);
}

/** Throws on a description no PKI can be issued for; returns nothing. */
export function validateTenantPkiSpec(spec: TenantPkiSpec): void {
  if (!spec.tenantName || spec.tenantName.length > 63 || !labelValue.test(spec.tenantName)) {
    throw new Error(`tenantName ${JSON.stringify(spec.tenantName)} must be a valid label value (1-63 characters)`);
  }
  requireDnsLabel("namespace", spec.namespace);
  requireDnsLabel("serviceName", spec.serviceName);
  requireDnsLabel("etcdServiceName", spec.etcdServiceName);
  requireDnsLabel("etcdStatefulSetName", spec.etcdStatefulSetName ?? spec.etcdServiceName);
  if (!Number.isInteger(spec.etcdReplicas) || spec.etcdReplicas < 1) {
    throw new Error(`etcdReplicas must be a positive integer, got ${spec.etcdReplicas}`);
  }
  if (!(spec.validityDays > 0)) throw new Error(`validityDays must be positive, got ${spec.validityDays}`);
  if (!(spec.caValidityDays >= spec.validityDays)) {
    throw new Error(`caValidityDays (${spec.caValidityDays}) must be at least validityDays (${spec.validityDays})`);
  }
  if (Number.isNaN(spec.now.getTime())) throw new Error("now is not a valid date");
  if (spec.clusterIP !== undefined && !isIP(spec.clusterIP))
    throw new Error(`clusterIP ${spec.clusterIP} is not an IP`);
  for (const san of spec.certSANs) classifySan(san);
  if (spec.externalEndpoint) classifySan(endpointHost(spec.externalEndpoint));
}

/** The host part of "host", "host:port", "[v6]:port", a bare IPv6 address or a URL. */
export function endpointHost(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed.includes("://")) {
    const host = new URL(trimmed).hostname;
    return host.startsWith("[") ? host.slice(1, -1) : host;
  }
  if (isIP(trimmed)) return trimmed;
  if (trimmed.startsWith("[")) {
    const end = trimmed.indexOf("]");
    if (end < 0) throw new Error(`endpoint ${endpoint}: unbalanced [`);
    return trimmed.slice(1, end);
  }
  const colon = trimmed.lastIndexOf(":");
  return colon >= 0 && /^\d+$/.test(trimmed.slice(colon + 1)) ? trimmed.slice(0, colon) : trimmed;
}

function classifySan(value: string): { type: "dns" | "ip"; value: string } {
  const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  if (isIP(bare)) return { type: "ip", value: normalizeIp(bare) };
  const lower = value.toLowerCase().replace(/\.$/, "");
  if (lower.length > 253 || !dnsName.test(lower))
    throw new Error(`SAN ${JSON.stringify(value)} is neither an IP nor a DNS name`);
  return { type: "dns", value: lower };
}

function sanLists(values: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const v of values) {
    const san = classifySan(v);
    (san.type === "dns" ? dns : ips).add(san.value);
  }
  return { dnsNames: [...dns].sort(), ipAddresses: [...ips].sort() };
}

/** SANs of the apiserver's serving certificate. */
export function apiserverSans(spec: TenantPkiSpec): { dnsNames: string[]; ipAddresses: string[] } {
  const domain = spec.clusterDomain ?? "cluster.local";
  const tenantDomain = spec.tenantClusterDomain ?? "cluster.local";
  const svc = spec.serviceName;
  const ns = spec.namespace;
  return sanLists([
    svc,
    `${svc}.${ns}`,
    `${svc}.${ns}.svc`,
    `${svc}.${ns}.svc.${domain}`,
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${tenantDomain}`,
    "localhost",
    "127.0.0.1",
    spec.tenantServiceIP ?? "10.96.0.1",
    ...(spec.clusterIP ? [spec.clusterIP] : []),
    ...(spec.externalEndpoint ? [endpointHost(spec.externalEndpoint)] : []),
    ...spec.certSANs,
  ]);
}

/** SANs shared by etcd's server and peer certificates: every member's stable DNS name and the headless Service. */
export function etcdSans(spec: TenantPkiSpec): { dnsNames: string[]; ipAddresses: string[] } {
  const domain = spec.clusterDomain ?? "cluster.local";
  const headless = spec.etcdServiceName;
  const sts = spec.etcdStatefulSetName ?? headless;
  const ns = spec.namespace;
  const members = Array.from({ length: spec.etcdReplicas }, (_, i) => [
    `${sts}-${i}.${headless}.${ns}.svc`,
    `${sts}-${i}.${headless}.${ns}.svc.${domain}`,
  ]).flat();
  return sanLists([
    ...members,
    headless,
    `${headless}.${ns}`,
    `${headless}.${ns}.svc`,
    `${headless}.${ns}.svc.${domain}`,
    "localhost",
    "127.0.0.1",
  ]);
}

export function kubeconfigServer(spec: TenantPkiSpec): string {
  return spec.kubeconfigServer ?? `https://${spec.serviceName}.${spec.namespace}.svc:${spec.apiServerPort ?? 6443}`;
}

/** The desired shape of every part. Subjects follow kubeadm, so tenant RBAC behaves as on a kubeadm cluster. */
export function desiredPki(spec: TenantPkiSpec, generations: CaGenerations): DesiredPki {
  validateTenantPkiSpec(spec);
  const api = apiserverSans(spec);
  const etcd = etcdSans(spec);
  const noSans = { dnsNames: [], ipAddresses: [] };
  const certificate = (
    part: CertificatePart,
    commonName: string,
    organizations: string[],
    usage: CertificateUsage,
    sans: { dnsNames: string[]; ipAddresses: string[] },
  ): CertificateTemplate => ({ signer: signerOf(part), commonName, organizations, usage, ...sans });
  const server = kubeconfigServer(spec);
  const kubeconfig = (
    part: KubeconfigPart,
    commonName: string,
    organizations: string[],
    userName: string,
  ): KubeconfigTemplate => ({
    signer: signerOf(part),
    commonName,
    organizations,
    server,
    clusterName: spec.tenantName,
    userName,
  });
  return {
    tenantName: spec.tenantName,
    validityDays: spec.validityDays,
    caValidityDays: spec.caValidityDays,
    cas: {
      ca: { commonName: "kubernetes", generation: generations.ca },
      frontProxyCA: { commonName: "front-proxy-ca", generation: generations.frontProxyCA },
      etcdCA: { commonName: "etcd-ca", generation: generations.etcdCA },
    },
    certificates: {
      apiserver: certificate("apiserver", "kube-apiserver", [], "server", api),
      apiserverKubeletClient: certificate(
        "apiserverKubeletClient",
        "kube-apiserver-kubelet-client",
        [clusterAdminsGroup],
        "client",
        noSans,
      ),
      frontProxyClient: certificate("frontProxyClient", "front-proxy-client", [], "client", noSans),
      // etcd's grpc-gateway dials etcd itself with the server certificate, so it needs client usage too.
      etcdServer: certificate("etcdServer", "etcd-server", [], "server-and-client", etcd),
      etcdPeer: certificate("etcdPeer", "etcd-peer", [], "server-and-client", etcd),
      apiserverEtcdClient: certificate("apiserverEtcdClient", "kube-apiserver-etcd-client", [], "client", noSans),
      // Least privilege: the one group the tenant's bootstrap RBAC lets read /metrics, no other group, client only.
      metricsClient: certificate("metricsClient", metricsClientCommonName, [monitoringGroup], "client", noSans),
    },
    kubeconfigs: {
      adminKubeconfig: kubeconfig("adminKubeconfig", "kubernetes-admin", ["system:masters"], "kubernetes-admin"),
      controllerManagerKubeconfig: kubeconfig(
        "controllerManagerKubeconfig",
        "system:kube-controller-manager",
        [],
        "system:kube-controller-manager",
      ),
      schedulerKubeconfig: kubeconfig("schedulerKubeconfig", "system:kube-scheduler", [], "system:kube-scheduler"),
    },
  };
}
