// The foundation's proof: a Deployment on the real apiserver becomes pods through the real
// kube-controller-manager and kube-scheduler, and kwok marks them Running on fake nodes.
import * as k8s from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";

describe("local meta-cluster", () => {
  const kc = adminKubeConfig();
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it("lists the kwok nodes as Ready", async () => {
    const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode({ labelSelector: "type=kwok" });
    expect(nodes.items.length).toBeGreaterThanOrEqual(20);
    for (const node of nodes.items) {
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    }
  });

  it("runs a Deployment's pods on kwok nodes", async () => {
    const ns = await freshNamespace(kc);
    cleanups.push(ns.cleanup);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              containers: [{ name: "web", image: "registry.invalid/web:1", resources: { requests: { cpu: "100m" } } }],
            },
          },
        },
      },
    });
    const pods = await eventually(
      async () => {
        const list = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" });
        const running = list.items.filter((p) => p.status?.phase === "Running");
        return running.length === 3 ? running : undefined;
      },
      60_000,
      "3 Running pods",
    );
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toMatch(/^metacluster-node-\d+$/);
      expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe("ReplicaSet");
    }
    const deployment = await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns.name });
        return d.status?.availableReplicas === 3 ? d : undefined;
      },
      30_000,
      "Deployment Available",
    );
    expect(deployment.status?.readyReplicas).toBe(3);

    // The node lifecycle controller marks a pod NotReady when its node's heartbeat lapses (an apiserver restart
    // can do that); once the node is back, its kubelet (here kwok's pod-ready-again stage) reports it Ready again.
    const victim = pods[0]!.metadata!.name!;
    await core.patchNamespacedPodStatus(
      {
        name: victim,
        namespace: ns.name,
        body: { status: { conditions: [{ type: "Ready", status: "False", reason: "NodeNotReady" }] } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
    );
    await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns.name });
        return (d.status?.availableReplicas ?? 0) < 3 ? true : undefined;
      },
      15_000,
      "Deployment sees the NotReady pod",
    ).catch(() => undefined); // the stage may win the race; what matters is what follows
    const ready = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ name: victim, namespace: ns.name });
        return p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? p : undefined;
      },
      15_000,
      "pod Ready again",
    );
    expect(ready.status?.phase).toBe("Running");
    await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns.name });
        return d.status?.availableReplicas === 3 ? true : undefined;
      },
      30_000,
      "Deployment Available again",
    );
  });

  it("computes PodDisruptionBudget status through kube-controller-manager", async () => {
    const ns = await freshNamespace(kc);
    cleanups.push(ns.cleanup);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const policy = kc.makeApiClient(k8s.PolicyV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: "db" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "db" } },
          template: {
            metadata: { labels: { app: "db" } },
            spec: { containers: [{ name: "db", image: "registry.invalid/db:1" }] },
          },
        },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns.name,
      body: { metadata: { name: "db" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "db" } } } },
    });
    const pdb = await eventually(
      async () => {
        const p = await policy.readNamespacedPodDisruptionBudget({ name: "db", namespace: ns.name });
        return p.status?.currentHealthy === 2 ? p : undefined;
      },
      60_000,
      "PDB status with 2 healthy pods",
    );
    expect(pdb.status?.disruptionsAllowed).toBe(1);
  });
});
