// The tenant PKI as Kubernetes Secrets in the tenant namespace, one Secret per part, and back.
//
// Secret names (T = tenant name):
//
//   T-ca                                kubernetes.io/tls  tls.crt tls.key          cluster CA
//   T-front-proxy-ca                    kubernetes.io/tls  tls.crt tls.key          front-proxy CA
//   T-etcd-ca                           kubernetes.io/tls  tls.crt tls.key          etcd CA
//   T-apiserver-serving                 kubernetes.io/tls  tls.crt tls.key ca.crt   apiserver serving (ca.crt: cluster CA)
//   T-apiserver-kubelet-client          kubernetes.io/tls  tls.crt tls.key ca.crt   apiserver -> kubelet client
//   T-front-proxy-client                kubernetes.io/tls  tls.crt tls.key ca.crt   ca.crt: front-proxy CA
//   T-etcd-server                       kubernetes.io/tls  tls.crt tls.key ca.crt   ca.crt: etcd CA
//   T-etcd-peer                         kubernetes.io/tls  tls.crt tls.key ca.crt   ca.crt: etcd CA
//   T-apiserver-etcd-client             kubernetes.io/tls  tls.crt tls.key ca.crt   ca.crt: etcd CA
//   T-metrics-client                    kubernetes.io/tls  tls.crt tls.key ca.crt   O=system:monitoring; ca.crt: cluster CA
//   T-service-account                   Opaque             sa.pub sa.key            token signing key pair
//   T-admin-kubeconfig                  Opaque             kubeconfig               O=system:masters
//   T-controller-manager-kubeconfig     Opaque             kubeconfig
//   T-scheduler-kubeconfig              Opaque             kubeconfig
//
// Leaf Secrets carry their signer's certificate as ca.crt, so no component mounts a CA private key except
// kube-controller-manager, which signs CSRs with the cluster CA. T-metrics-client is mounted by no component: it is
// what the meta-cluster's Prometheus scrapes the tenant apiserver's /metrics with (tls.crt/tls.key as the client
// certificate, ca.crt to verify the serving certificate, which the same CA signs). Every Secret has the labels metapilot.io/tenant=T
// and metapilot.io/component=pki, and the annotation metapilot.io/checksum=sha256:<hex> over its data.
import { createHash } from "node:crypto";
import type { PkiPlan } from "./plan.js";
import { kubeconfigTrusting, trustBundle } from "./rotation.js";
import {
  isCaPart,
  isCertificatePart,
  isKubeconfigPart,
  pkiParts,
  signerOf,
  type CaPart,
  type ControlPlaneComponent,
  type ExistingTenantPki,
  type PkiPart,
  type TenantPki,
} from "./types.js";
import { checksumAnnotation, componentLabel, tenantLabel } from "../../api/labels.js";

export const pkiComponentValue = "pki";

/** The shape of a core/v1 Secret this module reads and writes (data is base64, as on the wire). */
export interface SecretObject {
  apiVersion: "v1";
  kind: "Secret";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  type: "kubernetes.io/tls" | "Opaque";
  data: Record<string, string>;
}

/** Any Secret as read from the API (or the informer cache). */
export interface SecretLike {
  metadata?: { name?: string };
  data?: Record<string, string>;
}

const secretSuffixes: Record<PkiPart, string> = {
  ca: "ca",
  frontProxyCA: "front-proxy-ca",
  etcdCA: "etcd-ca",
  apiserver: "apiserver-serving",
  apiserverKubeletClient: "apiserver-kubelet-client",
  frontProxyClient: "front-proxy-client",
  etcdServer: "etcd-server",
  etcdPeer: "etcd-peer",
  apiserverEtcdClient: "apiserver-etcd-client",
  metricsClient: "metrics-client",
  serviceAccount: "service-account",
  adminKubeconfig: "admin-kubeconfig",
  controllerManagerKubeconfig: "controller-manager-kubeconfig",
  schedulerKubeconfig: "scheduler-kubeconfig",
};

/** Secret name of one part. Tenant names are at most 63 characters, so the result is a valid Secret name. */
export function pkiSecretName(tenantName: string, part: PkiPart): string {
  return `${tenantName}-${secretSuffixes[part]}`;
}

export function pkiSecretNames(tenantName: string): Record<PkiPart, string> {
  return Object.fromEntries(pkiParts.map((p) => [p, pkiSecretName(tenantName, p)])) as Record<PkiPart, string>;
}

/** Data keys of the kubeconfig Secrets; status.kubeconfigSecretRef points at T-admin-kubeconfig / this key. */
export const kubeconfigSecretKey = "kubeconfig";

/**
 * The parts each component mounts. kube-apiserver gets its client CA, front-proxy CA and etcd CA from the ca.crt of
 * its leaf Secrets; kube-controller-manager mounts the cluster CA with its key (--cluster-signing-*, --root-ca-file).
 */
export const componentParts: Record<ControlPlaneComponent, readonly PkiPart[]> = {
  etcd: ["etcdServer", "etcdPeer"],
  "kube-apiserver": [
    "apiserver",
    "apiserverKubeletClient",
    "frontProxyClient",
    "apiserverEtcdClient",
    "serviceAccount",
  ],
  "kube-controller-manager": ["controllerManagerKubeconfig", "ca", "serviceAccount"],
  "kube-scheduler": ["schedulerKubeconfig"],
};

/** Names of the PKI Secrets a component mounts. */
export function secretsMountedBy(component: ControlPlaneComponent, tenantName: string): string[] {
  return componentParts[component].map((p) => pkiSecretName(tenantName, p));
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** sha256 over the data's keys and (base64) values in key order; the same data always gives the same checksum. */
export function secretDataChecksum(data: Record<string, string>): string {
  const entries = Object.keys(data)
    .sort()
    .map((k) => [k, data[k]]);
  return `sha256:${createHash("sha256").update(JSON.stringify(entries)).digest("hex")}`;
}

/**
 * CA certificates trusted next to the signing CA, per CA: during a rotation (see rotation.ts) the other
 * generation's certificate.
 */
export type AlsoTrusted = Partial<Record<CaPart, readonly string[]>>;

function partData(
  pki: TenantPki,
  part: PkiPart,
  alsoTrust: AlsoTrusted,
): { type: SecretObject["type"]; data: Record<string, string> } {
  // Without extra CAs the signer's PEM as it is, byte for byte: the Secrets' checksums (and so the pods) stay put.
  const trusted = (signer: CaPart) => {
    const extra = alsoTrust[signer] ?? [];
    return extra.length > 0 ? trustBundle([pki[signer].certificatePem, ...extra]) : pki[signer].certificatePem;
  };
  if (isCaPart(part)) {
    const ca = pki[part];
    return { type: "kubernetes.io/tls", data: { "tls.crt": b64(ca.certificatePem), "tls.key": b64(ca.privateKeyPem) } };
  }
  if (isCertificatePart(part)) {
    const leaf = pki[part];
    return {
      type: "kubernetes.io/tls",
      data: {
        "tls.crt": b64(leaf.certificatePem),
        "tls.key": b64(leaf.privateKeyPem),
        "ca.crt": b64(trusted(signerOf(part))),
      },
    };
  }
  if (isKubeconfigPart(part)) {
    const extra = alsoTrust[signerOf(part)] ?? [];
    const kubeconfig = extra.length > 0 ? kubeconfigTrusting(pki[part], trusted(signerOf(part))) : pki[part];
    return { type: "Opaque", data: { [kubeconfigSecretKey]: b64(kubeconfig) } };
  }
  return {
    type: "Opaque",
    data: { "sa.pub": b64(pki.serviceAccount.publicKeyPem), "sa.key": b64(pki.serviceAccount.privateKeyPem) },
  };
}

/**
 * Every PKI Secret of a tenant, ready for server-side apply, in issue order. With `alsoTrust`, each leaf's ca.crt and
 * each kubeconfig's certificate-authority-data is a bundle of its signer and those CAs (signer first); without it,
 * the signer alone.
 */
export function pkiToSecrets(
  pki: TenantPki,
  tenant: { tenantName: string; namespace: string },
  alsoTrust: AlsoTrusted = {},
): SecretObject[] {
  return pkiParts.map((part) => {
    const { type, data } = partData(pki, part, alsoTrust);
    return {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: pkiSecretName(tenant.tenantName, part),
        namespace: tenant.namespace,
        labels: { [tenantLabel]: tenant.tenantName, [componentLabel]: pkiComponentValue },
        annotations: { [checksumAnnotation]: secretDataChecksum(data) },
      },
      type,
      data,
    };
  });
}

export interface LoadedPki {
  pki: ExistingTenantPki;
  /** Secrets that exist but lack a key; their parts count as missing. */
  problems: string[];
}

/**
 * Reads a tenant's PKI back from its Secrets (any other Secrets are ignored). Parts whose Secret is absent or
 * incomplete are left out; `planPki` reports them as missing, and judges whether the rest is usable.
 */
export function pkiFromSecrets(tenantName: string, secrets: readonly SecretLike[]): LoadedPki {
  const byName = new Map(secrets.map((s) => [s.metadata?.name, s.data ?? {}]));
  const pki: ExistingTenantPki = {};
  const problems: string[] = [];
  for (const part of pkiParts) {
    const name = pkiSecretName(tenantName, part);
    const data = byName.get(name);
    if (!data) continue;
    const read = (key: string): string | undefined => {
      const value = data[key];
      if (value === undefined || value === "") {
        problems.push(`Secret ${name} has no ${key}`);
        return undefined;
      }
      return unb64(value);
    };
    if (isCaPart(part) || isCertificatePart(part)) {
      const certificatePem = read("tls.crt");
      const privateKeyPem = read("tls.key");
      if (certificatePem && privateKeyPem) pki[part] = { certificatePem, privateKeyPem };
    } else if (isKubeconfigPart(part)) {
      const kubeconfig = read(kubeconfigSecretKey);
      if (kubeconfig) pki[part] = kubeconfig;
    } else {
      const publicKeyPem = read("sa.pub");
      const privateKeyPem = read("sa.key");
      if (publicKeyPem && privateKeyPem) pki.serviceAccount = { publicKeyPem, privateKeyPem };
    }
  }
  return { pki, problems };
}

/**
 * The combined checksum of the PKI Secrets a component mounts, for its pod template's `pkiChecksumAnnotation`.
 * It changes exactly when one of those Secrets' data changes, so the operator rolls only the affected components.
 * Throws when one of the Secrets is not among `secrets`.
 */
export function componentChecksum(
  component: ControlPlaneComponent,
  tenantName: string,
  secrets: readonly SecretObject[],
): string {
  const byName = new Map(secrets.map((s) => [s.metadata.name, s]));
  const sums = secretsMountedBy(component, tenantName).map((name) => {
    const secret = byName.get(name);
    if (!secret) throw new Error(`componentChecksum(${component}): Secret ${name} not given`);
    return `${name}=${secretDataChecksum(secret.data)}`;
  });
  return `sha256:${createHash("sha256").update(sums.join("\n")).digest("hex")}`;
}

/**
 * Components whose mounted Secrets a plan changes. A re-issued CA also changes the ca.crt of the leaf Secrets it
 * signs; those leaves are always re-issued with it, so following the planned parts is enough.
 */
export function componentsAffectedBy(plan: PkiPlan): ControlPlaneComponent[] {
  const planned = new Set(plan.issue.map((i) => i.part));
  return (Object.keys(componentParts) as ControlPlaneComponent[]).filter((c) =>
    componentParts[c].some((p) => planned.has(p)),
  );
}
