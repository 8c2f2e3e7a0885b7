// Lasting Blocked conditions through the ScalerReconciler (its caches, decision recording, metrics): OOM kills at
// maxAllowed give one Blocked decision however many follow, also after a restart of the controller, with the
// workload in the ClusterScaler's ScaleUpBlocked condition and metric while the pods keep showing kills; and a size
// no node holds is Blocked with ExceedsNodeCapacity, the need, the largest node and the NodePool proposal.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { scaleUpBlockedCondition } from "./held.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { decisionsClient, Store, storeCaches } from "./testing.js";
import { blockedKeyAnnotation, componentLabel, tenantLabel } from "../api/labels.js";

const ns = "tcp-a";
const labels = { [tenantLabel]: "a", [componentLabel]: "kube-apiserver" };
const clusterScaler = (maxMemory: string) =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "cs", uid: "cs1", generation: 1 },
    spec: {
      components: [
        { name: "kube-apiserver", replicas: { min: 1, max: 1 }, maxAllowed: { cpu: "8", memory: maxMemory } },
      ],
    },
  }) as KubeObject;

const deployment = (memory: string) =>
  ({
    metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            { name: "kube-apiserver", resources: { requests: { cpu: "500m", memory }, limits: { memory } } },
          ],
        },
      },
    },
  }) as KubeObject;

/** The pod, OOM-killed `restarts` times (0: never), at `memory`. */
const pod = (restarts: number, memory: string) =>
  ({
    metadata: { name: "kube-apiserver-0", namespace: ns, uid: "p1", labels, ownerReferences: [{ controller: true }] },
    spec: { containers: [{ name: "kube-apiserver", resources: { limits: { memory } } }] },
    status: {
      containerStatuses: [
        {
          name: "kube-apiserver",
          restartCount: restarts,
          ...(restarts
            ? { lastState: { terminated: { reason: "OOMKilled", finishedAt: "2026-12-06T03:00:00Z" } } }
            : {}),
        },
      ],
    },
  }) as unknown as KubeObject;

type Recorded = KubeObject & {
  status?: { phase?: string; reason?: string; message?: string; capacity?: unknown };
};

function setup(caches: ReturnType<typeof storeCaches> & { nodes?: Store; nodePools?: Store }, registry?: Registry) {
  let clock = Date.parse("2026-12-06T03:00:10Z");
  const woken: string[] = [];
  const reconciler = new ScalerReconciler({
    onBlockedChange: (cs) => woken.push(cs),
    caches: caches as unknown as ScalerCaches,
    client: decisionsClient(caches.decisions) as never,
    actuator: { dryRun: false, apply: async () => undefined },
    recorder: { record: () => undefined } as never,
    dryRun: false,
    registry,
    now: () => clock,
    signingKey: async () => Buffer.alloc(32, 1),
  });
  const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
  return {
    reconciler,
    woken,
    round: async (p: KubeObject) => {
      clock += 15_000;
      caches.pods.items.splice(0, caches.pods.items.length, p);
      await reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);
    },
  };
}

describe("OOM kills at maxAllowed, through the reconciler", () => {
  it("give one Blocked decision, kept across a restart, and the ScaleUpBlocked condition and metric while they last", async () => {
    const caches = storeCaches({ clusterScalers: [clusterScaler("1Gi")], deployments: [deployment("1Gi")] });
    const registry = new Registry();
    const first = setup(caches, registry);
    for (let restarts = 1; restarts <= 6; restarts++) await first.round(pod(restarts, "1Gi"));
    const decisions = caches.decisions.items as Recorded[];
    expect(decisions).toHaveLength(1);
    expect(decisions[0]?.status).toMatchObject({ phase: "Blocked", reason: "MaxAllowed" });
    expect(decisions[0]?.metadata?.annotations?.[blockedKeyAnnotation]).toMatch(/^max-allowed\//);
    const condition = scaleUpBlockedCondition(first.reconciler.blockedFor("cs"));
    expect(condition).toMatchObject({ type: "ScaleUpBlocked", status: "True", reason: "MaxAllowed" });
    expect(condition.message).toMatch(/^tcp-a\/kube-apiserver: MaxAllowed: already at maxAllowed/);
    expect(await registry.metrics()).toContain(
      'metapilot_scaler_blocked_workloads{cluster_scaler="cs",reason="MaxAllowed"} 1',
    );
    // A new leader rebuilds the condition from the recorded decision: more kills record nothing more.
    const second = setup(caches);
    for (let restarts = 7; restarts <= 9; restarts++) await second.round(pod(restarts, "1Gi"));
    expect(caches.decisions.items).toHaveLength(1);
    expect(second.reconciler.blockedFor("cs").size).toBe(1);
    // The ClusterScaler's status is woken once when the workload enters the set, not on every kill after it.
    expect(first.woken).toEqual(["cs"]);
    // The pods stop showing a kill (the container ended otherwise): the condition clears, and the status is woken.
    const wokenBefore = second.woken.length;
    await second.round(pod(0, "1Gi"));
    expect(second.reconciler.blockedFor("cs").size).toBe(0);
    expect(second.woken.slice(wokenBefore)).toEqual(["cs"]);
    expect(scaleUpBlockedCondition(second.reconciler.blockedFor("cs"))).toMatchObject({ status: "False" });
  });
});

describe("a size no node holds, through the reconciler", () => {
  it("is Blocked with ExceedsNodeCapacity, the need, the largest node and a NodePool proposal", async () => {
    const caches = {
      ...storeCaches({ clusterScalers: [clusterScaler("64Gi")], deployments: [deployment("7Gi")] }),
      nodes: new Store([
        { metadata: { name: "n1" }, status: { allocatable: { cpu: "4", memory: "8Gi" } } },
        { metadata: { name: "n2" }, status: { allocatable: { cpu: "2", memory: "4Gi" } } },
      ] as unknown as KubeObject[]),
      nodePools: new Store([
        {
          apiVersion: "metapilot.io/v1alpha1",
          kind: "NodePool",
          metadata: { name: "big", generation: 1 },
          spec: { provider: "kwok", maxNodes: 5, shape: { cpu: "16", memory: "64Gi" } },
        },
      ] as unknown as KubeObject[]),
    };
    const { round, reconciler } = setup(caches);
    await round(pod(1, "7Gi"));
    await round(pod(2, "7Gi"));
    const decisions = caches.decisions.items as Recorded[];
    expect(decisions).toHaveLength(1);
    // 7Gi × 1.2 = 8602Mi, above n1's 8Gi.
    expect(decisions[0]?.status).toMatchObject({
      phase: "Blocked",
      reason: "ExceedsNodeCapacity",
      capacity: {
        need: { cpu: "500m", memory: "8602Mi" },
        largestNode: { name: "n1", allocatable: { cpu: "4000m", memory: "8192Mi" } },
        proposedNodePool: { name: "big", nodeShape: { cpu: "16000m", memory: "65536Mi" } },
      },
    });
    expect(decisions[0]?.status?.message).toMatch(/proposal: scale up NodePool big/);
    expect(scaleUpBlockedCondition(reconciler.blockedFor("cs"))).toMatchObject({ reason: "ExceedsNodeCapacity" });
  });
});
