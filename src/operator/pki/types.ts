// The tenant PKI as plain data: what a tenant control plane needs to run, one named part per Secret.
import type { KeyPairPem } from "../../pki/certificates.js";

/** The three trust roots. Each signs its own set of parts (see `signerOf`). */
export const caParts = ["ca", "frontProxyCA", "etcdCA"] as const;
export type CaPart = (typeof caParts)[number];

/** Leaf certificates with their own key, mounted as files. */
export const certificateParts = [
  "apiserver",
  "apiserverKubeletClient",
  "frontProxyClient",
  "etcdServer",
  "etcdPeer",
  "apiserverEtcdClient",
  "metricsClient",
] as const;
export type CertificatePart = (typeof certificateParts)[number];

/** Client certificates that ship inside a kubeconfig (all signed by the cluster CA). */
export const kubeconfigParts = ["adminKubeconfig", "controllerManagerKubeconfig", "schedulerKubeconfig"] as const;
export type KubeconfigPart = (typeof kubeconfigParts)[number];

export type PkiPart = CaPart | CertificatePart | KubeconfigPart | "serviceAccount";

/** Every part, in issue order: trust roots before what they sign. */
export const pkiParts: readonly PkiPart[] = [...caParts, ...certificateParts, "serviceAccount", ...kubeconfigParts];

export interface ServiceAccountKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

export interface TenantPki {
  /** Cluster CA: signs the serving certificate, the kubelet client and every kubeconfig; the client CA. */
  ca: KeyPairPem;
  /** Signs the front-proxy client; the apiserver's --requestheader-client-ca-file. */
  frontProxyCA: KeyPairPem;
  /** Signs etcd's server and peer certificates and the apiserver's etcd client. */
  etcdCA: KeyPairPem;
  apiserver: KeyPairPem;
  apiserverKubeletClient: KeyPairPem;
  frontProxyClient: KeyPairPem;
  etcdServer: KeyPairPem;
  etcdPeer: KeyPairPem;
  apiserverEtcdClient: KeyPairPem;
  /**
   * The identity that scrapes the tenant apiserver's /metrics (O=system:monitoring, nothing else). Mounted by no
   * component: it is for the meta-cluster's Prometheus (a ServiceMonitor's tlsConfig or a scrape job).
   */
  metricsClient: KeyPairPem;
  /** Service-account token signing key; not a certificate, so it never expires and never follows a CA rotation. */
  serviceAccount: ServiceAccountKeyPair;
  adminKubeconfig: string;
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
}

/** What was found in the meta-cluster: any part may be missing. */
export type ExistingTenantPki = Partial<TenantPki>;

/** The control-plane components that mount PKI Secrets (the values of the `metapilot.io/component` label). */
export const controlPlaneComponents = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;
export type ControlPlaneComponent = (typeof controlPlaneComponents)[number];

/** Which CA signs each certificate and kubeconfig client certificate. */
export const signerOf = (part: CertificatePart | KubeconfigPart): CaPart => signers[part];

const signers: Record<CertificatePart | KubeconfigPart, CaPart> = {
  apiserver: "ca",
  apiserverKubeletClient: "ca",
  frontProxyClient: "frontProxyCA",
  etcdServer: "etcdCA",
  etcdPeer: "etcdCA",
  apiserverEtcdClient: "etcdCA",
  metricsClient: "ca",
  adminKubeconfig: "ca",
  controllerManagerKubeconfig: "ca",
  schedulerKubeconfig: "ca",
};

export function isCaPart(part: PkiPart): part is CaPart {
  return (caParts as readonly PkiPart[]).includes(part);
}

export function isCertificatePart(part: PkiPart): part is CertificatePart {
  return (certificateParts as readonly PkiPart[]).includes(part);
}

export function isKubeconfigPart(part: PkiPart): part is KubeconfigPart {
  return (kubeconfigParts as readonly PkiPart[]).includes(part);
}
