// A ScalingDecision is a record, not a command: one metapilot did not sign never marks an OOM kill as handled
// (which would keep the kill from being answered after a restart), while metapilot's own signed record does.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import { createLogger } from "../kube/logger.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { signDecision } from "./signature.js";
import { componentLabel, oomIdsAnnotation, signatureAnnotation, tenantLabel } from "../api/labels.js";
import { Store } from "./testing.js";

const ns = "hand";
const labels = { [tenantLabel]: "hand", [componentLabel]: "kube-apiserver" };
const now = Date.parse("2026-12-05T12:00:00Z");

function world(decision: KubeObject, key: Buffer) {
  const created: KubeObject[] = [];
  const caches = {
    clusterScalers: new Store([
      {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: "all", uid: "cs", resourceVersion: "1" },
        spec: {
          components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }], maxAllowed: { memory: "8Gi" } }],
        },
      } as KubeObject,
    ]),
    tenants: new Store(),
    deployments: new Store([
      {
        metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
        spec: {
          replicas: 1,
          template: {
            spec: {
              containers: [
                { name: "kube-apiserver", resources: { requests: { memory: "512Mi" }, limits: { memory: "1Gi" } } },
              ],
            },
          },
        },
      } as KubeObject,
    ]),
    statefulSets: new Store(),
    pods: new Store([
      {
        metadata: { name: "api-0", namespace: ns, uid: "p1", labels },
        spec: { containers: [{ name: "kube-apiserver", resources: { limits: { memory: "1Gi" } } }] },
        status: {
          containerStatuses: [
            {
              name: "kube-apiserver",
              restartCount: 1,
              lastState: { terminated: { reason: "OOMKilled", finishedAt: new Date(now - 1000).toISOString() } },
            },
          ],
        },
      } as KubeObject,
    ]),
    decisions: new Store([decision]),
    profiles: new Store(),
  } as unknown as ScalerCaches;
  const reconciler = new ScalerReconciler({
    caches,
    client: {
      create: async (_t: unknown, o: KubeObject) => {
        created.push(o);
        return o;
      },
      applyStatus: async (_t: unknown, o: KubeObject) => o,
    } as never,
    actuator: { dryRun: false, apply: async () => undefined },
    recorder: { record: () => undefined } as never,
    dryRun: false,
    now: () => now,
    signingKey: async () => key,
  });
  return { reconciler, created };
}

/** A phase-less decision claiming the pod's OOM kill (p1/kube-apiserver/1) as handled. */
function claim(key?: Buffer): KubeObject {
  const d = {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ScalingDecision",
    metadata: {
      name: "kube-apiserver-up-claim",
      namespace: ns,
      uid: "sd1",
      creationTimestamp: new Date(now).toISOString(),
      annotations: { [oomIdsAnnotation]: "p1/kube-apiserver/1" } as Record<string, string>,
    },
    spec: {
      target: { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver", namespace: ns, tenant: "hand" },
      component: "kube-apiserver",
      direction: "Up",
      dryRun: false,
      after: { replicas: 1, resources: { requests: { memory: "512Mi" }, limits: { memory: "1Gi" } } },
      decidedAt: new Date(now).toISOString(),
      clusterScaler: "all",
    },
  };
  if (key) d.metadata.annotations[signatureAnnotation] = signDecision(key, d);
  return d as KubeObject;
}

describe("an OOM kill claimed by a decision without a phase", () => {
  const key = randomBytes(32);
  const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
  const oomDecisions = (created: KubeObject[]) =>
    created.filter(
      (o) => (o as { spec?: { rootCause?: { category?: string } } }).spec?.rootCause?.category === "OOMKilled",
    );

  it("is still answered when metapilot did not sign the claim", async () => {
    const { reconciler, created } = world(claim(), key);
    await reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
    expect(oomDecisions(created)).toHaveLength(1);
    // Another key's signature is no better than none.
    const other = world(claim(randomBytes(32)), key);
    await other.reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
    expect(oomDecisions(other.created)).toHaveLength(1);
  });

  it("counts as handled when metapilot signed it (its own record, interrupted before the phase)", async () => {
    const { reconciler, created } = world(claim(key), key);
    await reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
    expect(oomDecisions(created)).toHaveLength(0);
  });
});
