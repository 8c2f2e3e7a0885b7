// Manifests of our own kwok nodes (labelled and tainted so nobody else's pods land on them) and tenant-like
// Deployments with PDBs. No vitest import, so that bench/nodes.ts can use them too.
import { kwokNode } from "../../hack/lib/metacluster.js";
import type { KubeObject } from "../../src/kube/resources.js";

export const testPoolLabel = "metapilot.io/test-pool";
export const testTaintKey = "metapilot.io/test-pool";

export function ownNode(name: string, pool: string, labels: Record<string, string> = {}) {
  const n = kwokNode(name, { [testPoolLabel]: pool, ...labels });
  return { ...n, spec: { taints: [{ key: testTaintKey, value: pool, effect: "NoSchedule" }] } };
}

export function podPlacement(pool: string) {
  return {
    nodeSelector: { [testPoolLabel]: pool },
    tolerations: [{ key: testTaintKey, operator: "Equal", value: pool, effect: "NoSchedule" }],
  };
}

export function deployment(
  namespace: string,
  name: string,
  pool: string,
  opts: { replicas: number; labels?: Record<string, string>; cpu?: string; memory?: string },
): KubeObject & Record<string, unknown> {
  const labels = { app: name, ...(opts.labels ?? {}) };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          ...podPlacement(pool),
          terminationGracePeriodSeconds: 0,
          containers: [
            {
              name: "main",
              image: "registry.k8s.io/pause:3.10",
              resources: { requests: { cpu: opts.cpu ?? "10m", memory: opts.memory ?? "16Mi" } },
            },
          ],
        },
      },
    },
  };
}

export function pdbFor(
  namespace: string,
  name: string,
  spec: { maxUnavailable?: number; minAvailable?: number },
): KubeObject & Record<string, unknown> {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace },
    spec: { ...spec, selector: { matchLabels: { app: name } } },
  };
}
