// Per-test helpers over the shared meta-cluster: a client for it, and a fresh namespace per test.
import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import type { MetaclusterState } from "../../hack/lib/metacluster.js";
import { serviceAccountTokenKubeConfig } from "./tokens.js";

export function metacluster(): MetaclusterState {
  return inject("metacluster");
}

export function adminKubeConfig(state: MetaclusterState = metacluster()): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  return kc;
}

/** Creates a uniquely named namespace and returns it with a cleanup function. */
export async function freshNamespace(
  kc: k8s.KubeConfig,
  prefix = "t",
): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name, labels: { "metapilot.io/test": "true" } } } });
  return {
    name,
    cleanup: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

export { eventually } from "./eventually.js";

/**
 * A kubeconfig for a fresh ServiceAccount with a Role of `rules` in `namespace`, authenticated by a token from the
 * TokenRequest API. Unlike the admin (system:masters), it is subject to RBAC and to the apiserver's inflight limits.
 */
export async function serviceAccountKubeConfig(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  rules: k8s.V1PolicyRule[],
): Promise<k8s.KubeConfig> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
  return serviceAccountTokenKubeConfig(kc, namespace, name);
}
