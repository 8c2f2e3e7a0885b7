// A TenantControlPlane that serves, on a real node: the operator's own Deployments and StatefulSet (commands,
// flags, probes, PKI volumes, DNS names) run as real pods from the locally built control-plane images, etcd on a
// real local PersistentVolume. The TenantControlPlane becomes Ready because the pods pass their probes, and its
// admin kubeconfig works from this machine with only the server changed to the apiserver Service's ClusterIP (the
// CA still verifies it): namespaces are listed, a Deployment gets its ReplicaSet from the tenant's
// controller-manager and its pod an answer from the tenant's scheduler, and a ServiceAccount token from the
// TokenRequest API passes a TokenReview.
//
// The time to Ready and the memory of each component (VmRSS of its processes, found through the kubelet's cgroup
// of the container) are written by this test into bench/results/realnodes.json, key tenantControlPlane.
//
// Like realnodes.test.ts this file gets its real node itself and removes it again unless the meta-cluster had real
// nodes before. On a machine that cannot run real nodes every test fails with what is missing.
import * as k8s from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { localVolumePath } from "../../hack/lib/localvolumes.js";
import { containerRss, machineNow, RealTenant, recordRealNodeResult } from "../harness/realtenant.js";
import { eventually } from "../harness/cluster.js";

const log = (l: string) => process.stderr.write(`[realnodes-tcp] ${l}\n`);
const components = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

describe("a TenantControlPlane on a real node", () => {
  const t = new RealTenant({ prefix: "real", log });
  const { core, name, namespace } = t;
  const volumeName = `${name}-etcd-0`;
  let setupError: unknown;
  let created = 0;
  let readyAfterMs = 0;
  let tenant: k8s.KubeConfig;

  const get = () => t.get();

  beforeAll(async () => {
    try {
      await t.setUp();
    } catch (err) {
      setupError = err;
    }
  }, 900_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(() => t.tearDown(), 600_000);

  it("becomes Ready because its etcd, kube-apiserver, kube-controller-manager and kube-scheduler pods run on the real node and pass their probes", async () => {
    created = Date.now();
    await t.create();
    const ready = await t.waitReady();
    readyAfterMs = Date.now() - created;
    log(`${name} Ready in ${(readyAfterMs / 1000).toFixed(1)} s`);
    for (const type of ["EtcdReady", "APIServerReady", "ControllerManagerReady", "SchedulerReady", "Ready"])
      expect(ready.status?.conditions?.find((c) => c.type === type)?.status, type).toBe("True");

    const pods = (await core.listNamespacedPod({ namespace })).items;
    expect(pods.map((p) => p.metadata?.labels?.["metapilot.io/component"]).sort()).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    for (const p of pods) {
      const what = p.metadata!.name!;
      expect(p.spec?.nodeName, what).toBe(t.node.name);
      expect(p.status?.phase, what).toBe("Running");
      expect(p.status?.conditions?.find((c) => c.type === "Ready")?.status, what).toBe("True");
      // Started by containerd on this node, from the imported image, as the operator's non-root user.
      expect(p.status?.containerStatuses?.[0]?.containerID, what).toMatch(/^containerd:\/\//);
      expect(p.status?.containerStatuses?.[0]?.imageID, what).toMatch(/sha256:/);
      expect(p.status?.podIP?.startsWith(t.node.subnet.replace(/\.0\/24$/, ".")), what).toBe(true);
    }
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace, name: "data-etcd-0" });
    expect(pvc.spec?.volumeName).toBe(volumeName);
    expect(pvc.status?.phase).toBe("Bound");
    // etcd wrote its data onto the local volume, as uid 65532.
    expect(existsSync(path.join(localVolumePath(t.node, volumeName), "data/member/snap/db"))).toBe(true);
  }, 960_000);

  it("serves its admin kubeconfig from this machine at the apiserver Service's ClusterIP, with the CA verifying", async () => {
    const { kubeConfig, clusterIP } = await t.tenantKubeConfig();
    tenant = kubeConfig;
    const cluster = tenant.getCurrentCluster()!;
    expect(cluster.server).toBe(`https://${clusterIP}:6443`);
    expect(cluster.caData, "the kubeconfig carries its CA").toBeTruthy();
    expect(cluster.skipTLSVerify).toBeFalsy();
    const tenantCore = tenant.makeApiClient(k8s.CoreV1Api);
    const namespaces = await eventually(
      async () => {
        const list = await tenantCore.listNamespace();
        const names = list.items.map((n) => n.metadata!.name!);
        return names.includes("kube-system") && names.includes("default") ? names : undefined;
      },
      120_000,
      "the tenant's namespaces through the ClusterIP",
    );
    expect(namespaces).toEqual(expect.arrayContaining(["default", "kube-system", "kube-public"]));
    // The tenant's own cluster, not the meta-cluster: the meta-cluster's tenant namespace is not in it.
    expect(namespaces).not.toContain(namespace);
  }, 300_000);

  it("runs the tenant's controller-manager and scheduler: a Deployment gets its ReplicaSet, its pod a scheduling answer", async () => {
    const apps = tenant.makeApiClient(k8s.AppsV1Api);
    const tenantCore = tenant.makeApiClient(k8s.CoreV1Api);
    const deployment = await apps.createNamespacedDeployment({
      namespace: "default",
      body: {
        metadata: { name: "hello" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "hello" } },
          template: {
            metadata: { labels: { app: "hello" } },
            spec: { containers: [{ name: "hello", image: "localhost/metapilot/busybox:1.35.0" }] },
          },
        },
      },
    });
    const replicaSet = await eventually(
      async () => {
        const list = await apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=hello" });
        return list.items.find((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid));
      },
      180_000,
      "the tenant controller-manager's ReplicaSet of Deployment hello",
    );
    expect(replicaSet.spec?.replicas).toBe(1);
    // The tenant has no nodes, so its scheduler's answer is that the pod does not fit anywhere.
    const pod = await eventually(
      async () => {
        const list = await tenantCore.listNamespacedPod({ namespace: "default", labelSelector: "app=hello" });
        return list.items.find((p) =>
          p.status?.conditions?.some(
            (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
          ),
        );
      },
      180_000,
      "the tenant scheduler's Unschedulable answer for the pod of Deployment hello",
    );
    expect(pod.metadata?.ownerReferences?.[0]?.uid).toBe(replicaSet.metadata?.uid);
  }, 420_000);

  it("issues a ServiceAccount token through the TokenRequest API and verifies it with a TokenReview", async () => {
    const tenantCore = tenant.makeApiClient(k8s.CoreV1Api);
    const auth = tenant.makeApiClient(k8s.AuthenticationV1Api);
    await tenantCore.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "probe" } } });
    const request = await tenantCore.createNamespacedServiceAccountToken({
      namespace: "default",
      name: "probe",
      // No audiences: the apiserver's own, which a TokenReview without audiences accepts.
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    // client-node 2.x types status.token as optional; a TokenRequest that issued nothing fails here, not later.
    const token = request.status?.token;
    if (!token) throw new Error(`the TokenRequest issued no token: ${JSON.stringify(request.status)}`);
    expect(token.split(".")).toHaveLength(3);
    const review = await auth.createTokenReview({ body: { spec: { token } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe("system:serviceaccount:default:probe");
    // A token the tenant did not sign is refused: the review really checks.
    const [header, payload] = token.split(".");
    const forged = await auth.createTokenReview({ body: { spec: { token: `${header}.${payload}.AAAA` } } });
    expect(forged.status?.authenticated).toBeFalsy();
  }, 120_000);

  it("records the time to Ready and the memory of each idle component", async () => {
    expect(readyAfterMs).toBeGreaterThan(0);
    const pods = (await core.listNamespacedPod({ namespace })).items;
    const createdAt = new Date((await get()).metadata!.creationTimestamp!).getTime();
    const rss: Record<
      string,
      { kib: number; pods: number; restarts: number; readyAfterSeconds: number; processes: string[] }
    > = {};
    for (const p of pods) {
      const component = p.metadata!.labels!["metapilot.io/component"]!;
      const status = p.status!.containerStatuses![0]!;
      const id = status.containerID!.replace(/^containerd:\/\//, "");
      const m = containerRss(t.node, p.metadata!.uid!, id);
      expect(m.processes, component).toContain(component.slice(0, 15));
      const entry = (rss[component] ??= { kib: 0, pods: 0, restarts: 0, readyAfterSeconds: 0, processes: [] });
      // Both times are the meta-cluster apiserver's (whole seconds): the slowest pod of the component counts.
      const readyAt = p.status?.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
      if (readyAt)
        entry.readyAfterSeconds = Math.max(entry.readyAfterSeconds, (new Date(readyAt).getTime() - createdAt) / 1000);
      entry.kib += m.kib;
      entry.pods += 1;
      entry.restarts += status.restartCount;
      entry.processes.push(...m.processes);
    }
    for (const c of components) expect(rss[c]?.kib, c).toBeGreaterThan(1024);
    const perPod = Object.fromEntries(
      Object.entries(rss).map(([c, e]) => [c, { rssMiBPerPod: Math.round(e.kib / e.pods / 1024), ...e }]),
    );
    recordRealNodeResult("tenantControlPlane", {
      recordedBy: "test/realnodes/tcp.test.ts",
      measuredAt: new Date().toISOString(),
      // The machine is shared with other test runs: its load says how much of the time to Ready is waiting.
      machine: machineNow(),
      kubernetesVersion: t.versions.kubernetes,
      etcdVersion: t.versions.etcd,
      timeToReadySeconds: Math.round(readyAfterMs / 100) / 10,
      timeToReadyMeaning: "TenantControlPlane created → phase Ready (all five pods Running and passing probes)",
      rssSource: "VmRSS from /proc of every process in the container's cgroup under the kubelet's cgroup root",
      components: perPod,
    });
    log(
      `RSS per component (MiB per pod): ${JSON.stringify(Object.fromEntries(Object.entries(perPod).map(([c, e]) => [c, e.rssMiBPerPod])))}`,
    );
  }, 120_000);
});
