// Scale-ups that cannot be made, on the real meta-cluster: an OOM bump whose memory request no node the
// apiserver may run on can hold (its nodeSelector picks one kwok node of 700Mi) is Blocked with ExceedsNodeCapacity,
// naming that node and proposing the larger NodePool; OOM kills at maxAllowed give one Blocked decision however many
// follow; both show in the ClusterScaler's ScaleUpBlocked condition. No Prometheus: OOM kills come from pod status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import type { Workload } from "../../src/scaler/workload.js";
import { apiserverImage, createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { ownNode, podPlacement, testPoolLabel, testTaintKey } from "../nodes/manifests.js";

interface Decision extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    capacity?: { largestNode?: { name?: string }; proposedNodePool?: { name?: string } };
  };
}

describe("ClusterScaler: scale-ups that cannot be made", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const id = Date.now().toString(36);
  const tenant = `blocked-${id}`;
  const pool = `blocked-${id}`;
  const nodeName = `blocked-small-${id}`;
  const nodePool = `blocked-big-${id}`;
  const stop = new AbortController();
  const watchStop = new AbortController();
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let deployments: Informer<Workload>;
  let decisions: Informer<Decision>;
  let restarts = 0;

  const memLimit = () =>
    deployments.get(`${ns.name}/kube-apiserver`)?.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory;
  const blocked = (reason: string) =>
    decisions.list((d) => d.status?.phase === "Blocked" && d.status.reason === reason);
  const oom = () => markOomKilled(client, ns.name, ++restarts);
  const condition = async () => {
    const cs = await client.get<KubeObject & { status?: { conditions?: Array<Record<string, string>> } }>(
      Resources.ClusterScaler,
      tenant,
    );
    return cs.status?.conditions?.find((c) => c.type === "ScaleUpBlocked");
  };
  const components = (maxMemory: string) => [
    {
      name: "kube-apiserver",
      scalers: [{ name: "oom" }],
      estimators: ["oom-memory"],
      minAllowed: { cpu: "100m", memory: "128Mi" },
      maxAllowed: { cpu: "4", memory: maxMemory },
      replicas: { min: 1, max: 1 },
    },
  ];

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "blocked");
    // The only node the apiserver may run on: 2 cores, 700Mi allocatable.
    const node = ownNode(nodeName, pool);
    await client.create(Resources.Node, {
      ...node,
      status: {
        ...node.status,
        allocatable: { cpu: "2", memory: "700Mi", pods: "110" },
        capacity: { cpu: "2", memory: "700Mi", pods: "110" },
      },
    } as KubeObject);
    await client.create(Resources.NodePool, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodePool",
      metadata: { name: nodePool },
      spec: {
        provider: "kwok",
        maxNodes: 3,
        shape: { cpu: "16", memory: "64Gi" },
        labels: { [testPoolLabel]: pool },
        taints: [{ key: testTaintKey, value: pool, effect: "NoSchedule" }],
      },
    } as KubeObject);
    await createApiserver(client, ns.name, tenant, { victim: true });
    await client.patch(
      Resources.Deployment,
      "kube-apiserver",
      ns.name,
      { spec: { template: { spec: podPlacement(pool) } } },
      "strategic",
    );
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: tenant },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
        components: components("100Gi"),
        fleetBudget: { maxChangesPerInterval: 1000, interval: "5m" },
      },
    } as KubeObject);
    deployments = new Informer<Workload>(client, { resource: Resources.Deployment, namespace: ns.name });
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision, namespace: ns.name });
    void deployments.start(watchStop.signal);
    void decisions.start(watchStop.signal);
    await deployments.waitForSync();
    await decisions.waitForSync();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `blocked-${id}`,
      qps: 100,
      burst: 100,
    });
    addClusterScalerController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "scaler caches synced");
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    watchStop.abort();
    await client.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    await client.delete(Resources.NodePool, nodePool).catch(() => undefined);
    await client.delete(Resources.Node, nodeName).catch(() => undefined);
    await ns?.cleanup();
  }, 60_000);

  it("blocks a bump no node can hold with ExceedsNodeCapacity and proposes the larger NodePool, once", async () => {
    // 1Gi → 1229Mi, request 615Mi: fits the 700Mi node.
    await oom();
    await eventually(async () => (memLimit() === "1229Mi" ? true : undefined), 15_000, "first OOM bump");
    // 1229Mi → 1475Mi, request 738Mi: fits no node the apiserver may run on.
    await oom();
    const [decision] = await eventually(
      async () => {
        const list = blocked("ExceedsNodeCapacity");
        return list.length ? list : undefined;
      },
      15_000,
      "an ExceedsNodeCapacity decision",
    );
    expect(decision?.status?.capacity?.largestNode?.name).toBe(nodeName);
    expect(decision?.status?.capacity?.proposedNodePool?.name).toBe(nodePool);
    expect(decision?.status?.message).toMatch(new RegExp(`proposal: scale up NodePool ${nodePool}`));
    await eventually(
      async () => ((await condition())?.reason === "ExceedsNodeCapacity" ? true : undefined),
      15_000,
      "ScaleUpBlocked: ExceedsNodeCapacity",
    );
    // More kills at the same size: nothing more recorded, nothing changed.
    await oom();
    await oom();
    await new Promise((r) => setTimeout(r, 2000));
    expect(blocked("ExceedsNodeCapacity")).toHaveLength(1);
    expect(memLimit()).toBe("1229Mi");
  }, 60_000);

  it("gives one Blocked decision for OOM kills at maxAllowed, however many follow", async () => {
    await client.patch(
      Resources.ClusterScaler,
      tenant,
      undefined,
      { spec: { components: components("1229Mi") } },
      "merge",
    );
    await new Promise((r) => setTimeout(r, 1000)); // the policy change reaches the scaler's cache
    for (let i = 0; i < 4; i++) await oom();
    await eventually(async () => (blocked("MaxAllowed").length ? true : undefined), 15_000, "a MaxAllowed decision");
    await eventually(
      async () => ((await condition())?.reason === "MaxAllowed" ? true : undefined),
      15_000,
      "ScaleUpBlocked: MaxAllowed",
    );
    for (let i = 0; i < 4; i++) await oom();
    await new Promise((r) => setTimeout(r, 2000));
    expect(blocked("MaxAllowed")).toHaveLength(1);
    expect(memLimit()).toBe("1229Mi");
    // The container restarts for another reason (its lastState no longer says OOMKilled): the condition clears, and
    // the ClusterScaler's status says so without a decision or a Prometheus poll to wake it.
    const now = new Date().toISOString();
    await client.patch(
      Resources.Pod,
      "victim",
      ns.name,
      {
        status: {
          containerStatuses: [
            {
              name: "kube-apiserver",
              image: apiserverImage,
              imageID: "",
              ready: true,
              started: true,
              restartCount: ++restarts,
              state: { running: { startedAt: now } },
              lastState: { terminated: { reason: "Error", exitCode: 1, finishedAt: now, startedAt: now } },
            },
          ],
        },
      },
      "strategic",
      "status",
    );
    await eventually(
      async () => ((await condition())?.status === "False" ? true : undefined),
      15_000,
      "ScaleUpBlocked: False",
    );
  }, 60_000);
});
