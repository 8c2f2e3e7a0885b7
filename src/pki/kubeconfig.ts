import { stringify } from "yaml";

export interface KubeconfigOptions {
  clusterName: string;
  server: string;
  caPem: string;
  userName: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  token?: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Renders a kubeconfig with embedded credentials; every component gets one of its own. */
export function renderKubeconfig(o: KubeconfigOptions): string {
  const user: Record<string, string> = {};
  if (o.clientCertificatePem) user["client-certificate-data"] = b64(o.clientCertificatePem);
  if (o.clientKeyPem) user["client-key-data"] = b64(o.clientKeyPem);
  if (o.token) user.token = o.token;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: o.clusterName, cluster: { server: o.server, "certificate-authority-data": b64(o.caPem) } }],
    users: [{ name: o.userName, user }],
    contexts: [{ name: o.clusterName, context: { cluster: o.clusterName, user: o.userName } }],
    "current-context": o.clusterName,
  });
}
