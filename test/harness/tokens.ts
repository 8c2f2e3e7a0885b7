// A KubeConfig that authenticates as a ServiceAccount through a TokenRequest token, for tests and benchmarks that
// run metapilot with the identity (and RBAC) it has in production. No vitest import, so benchmarks can load it.
import * as k8s from "@kubernetes/client-node";

export async function serviceAccountTokenKubeConfig(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<k8s.KubeConfig> {
  const token = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: ["https://kubernetes.default.svc.cluster.local"], expirationSeconds } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster || !token.status?.token)
    throw new Error(`could not mint a token for ServiceAccount ${namespace}/${name}`);
  const out = new k8s.KubeConfig();
  out.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: token.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return out;
}
