import { parse, stringify } from "yaml";

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

export interface ParsedKubeconfig {
  clusterName: string;
  userName: string;
  server: string;
  caPem?: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  token?: string;
}

const unb64 = (s: unknown) => (typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : undefined);

/** Reads the current context's cluster and user back out of a kubeconfig with embedded credentials. */
export function parseKubeconfig(text: string): ParsedKubeconfig {
  const doc: unknown = parse(text);
  if (!doc || typeof doc !== "object") throw new Error("kubeconfig: not a YAML mapping");
  const config = doc as {
    clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
    users?: Array<{ name?: string; user?: Record<string, unknown> }>;
    contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
    "current-context"?: string;
  };
  const context = config.contexts?.find((c) => c.name === config["current-context"])?.context;
  if (!context) throw new Error(`kubeconfig: current context ${String(config["current-context"])} not found`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context.user)?.user;
  if (!cluster || typeof cluster.server !== "string")
    throw new Error(`kubeconfig: cluster ${context.cluster} has no server`);
  if (!user) throw new Error(`kubeconfig: user ${context.user} not found`);
  const parsed: ParsedKubeconfig = {
    clusterName: context.cluster ?? "",
    userName: context.user ?? "",
    server: cluster.server,
  };
  const caPem = unb64(cluster["certificate-authority-data"]);
  const clientCertificatePem = unb64(user["client-certificate-data"]);
  const clientKeyPem = unb64(user["client-key-data"]);
  if (caPem !== undefined) parsed.caPem = caPem;
  if (clientCertificatePem !== undefined) parsed.clientCertificatePem = clientCertificatePem;
  if (clientKeyPem !== undefined) parsed.clientKeyPem = clientKeyPem;
  if (typeof user.token === "string") parsed.token = user.token;
  return parsed;
}
