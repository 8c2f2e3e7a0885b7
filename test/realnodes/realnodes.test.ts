// Real nodes of the local meta-cluster: a kubelet with containerd and runc that really runs pods. Proves the node
// registers Ready with its label and taint, a pod runs and its log is read through the apiserver, a memory limit
// ends in a kernel OOM kill that the kubelet reports, and removing the node leaves nothing on the machine.
//
// This file gets its real node itself (and removes it again unless the meta-cluster had real nodes before), so the
// rest of the suite never pays for one. On a machine that cannot run real nodes it fails, naming what is missing.
import * as k8s from "@kubernetes/client-node";
import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureRealNodes, readState, realNodeImages, type MetaclusterState } from "../../hack/lib/metacluster.js";
import {
  cgroupDirs,
  egressRule,
  hostRecordDir,
  isProcess,
  kubeChains,
  kubeletPids,
  mountsUnder,
  pidsWhere,
  realNodeKindKey,
  realNodeBridges,
  realNodeKindValue,
  runtimeIds,
  sharedLeftoverFiles,
  sharedRuntimeDirs,
  type RealNode,
} from "../../hack/lib/realnodes.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";

const readIpForward = () => readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
const log = (l: string) => process.stderr.write(`[realnodes] ${l}\n`);
const toleration = { key: realNodeKindKey, operator: "Equal", value: realNodeKindValue, effect: "NoSchedule" };

describe("real nodes", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let state: MetaclusterState;
  let node: RealNode;
  let realNodesBefore = 0;
  let ipForwardBefore = "";
  let sharedDirsBefore: string[] = [];
  let setupError: unknown;
  let namespace: { name: string; cleanup: () => Promise<void> };
  const busybox = () => realNodeImages().busybox.ref;

  beforeAll(async () => {
    state = readState(metacluster().dir) ?? metacluster();
    realNodesBefore = state.realNodes?.length ?? 0;
    ipForwardBefore = readIpForward();
    sharedDirsBefore = sharedRuntimeDirs.filter((d) => existsSync(d));
    // On a machine that cannot run real nodes this throws the list of what it lacks (root, the memory
    // controller, bridges, binaries). Kept for every test to throw, so each one fails rather than shows as skipped.
    try {
      await ensureRealNodes(state, Math.max(1, realNodesBefore), log);
      node = state.realNodes![0]!;
      namespace = await freshNamespace(kc, "realnode");
    } catch (err) {
      setupError = err;
    }
  }, 600_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    await namespace?.cleanup();
  });

  it("registers Ready, labelled and tainted metapilot.io/node-kind=real", async () => {
    const n = await core.readNode({ name: node.name });
    expect(n.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(n.metadata?.labels?.[realNodeKindKey]).toBe(realNodeKindValue);
    expect(n.spec?.taints).toContainEqual({ key: realNodeKindKey, value: realNodeKindValue, effect: "NoSchedule" });
    expect(n.status?.addresses).toContainEqual({ type: "InternalIP", address: node.gateway });
    expect(n.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(n.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  it("runs a pod that tolerates the taint, with an address on the node's bridge, and serves its log", async () => {
    await core.createNamespacedPod({
      namespace: namespace.name,
      body: {
        metadata: { name: "hello" },
        spec: {
          nodeSelector: { [realNodeKindKey]: realNodeKindValue },
          tolerations: [toleration],
          containers: [
            {
              name: "hello",
              image: busybox(),
              imagePullPolicy: "Never",
              command: ["sh", "-c", "echo hello from $(hostname); sleep 3600"],
              resources: { limits: { memory: "32Mi", cpu: "100m" } },
            },
          ],
          terminationGracePeriodSeconds: 1,
        },
      },
    });
    const pod = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: namespace.name, name: "hello" });
        return p.status?.phase === "Running" ? p : undefined;
      },
      180_000,
      "pod hello Running on the real node",
    );
    expect(pod.spec?.nodeName).toBe(node.name);
    const prefix = node.subnet.replace(/\.0\/24$/, ".");
    expect(pod.status?.podIP?.startsWith(prefix)).toBe(true);
    // Through the apiserver, which reaches the kubelet at the node's InternalIP with its client certificate.
    const text = await eventually(
      async () => {
        const l = await core.readNamespacedPodLog({ namespace: namespace.name, name: "hello", container: "hello" });
        return l.includes("hello from hello") ? l : undefined;
      },
      60_000,
      "the log of pod hello through the apiserver",
    );
    expect(text.trim()).toBe("hello from hello");
  }, 300_000);

  it("serves cAdvisor series of the pod's container with namespace, pod and container labels", async () => {
    // Through the apiserver's node proxy, as a kube-prometheus scrape of /metrics/cadvisor would see them.
    const series = await eventually(
      async () => {
        const text = await core.connectGetNodeProxyWithPath({ name: node.name, path: "metrics/cadvisor" });
        const line = text
          .split("\n")
          .find(
            (l) =>
              l.startsWith("container_memory_working_set_bytes{") &&
              l.includes(`namespace="${namespace.name}"`) &&
              l.includes('pod="hello"') &&
              l.includes('container="hello"'),
          );
        return line;
      },
      120_000,
      "container_memory_working_set_bytes of container hello in /metrics/cadvisor",
    );
    expect(series).toContain(`image="${busybox()}"`);
    expect(Number(series.split(" ")[1])).toBeGreaterThan(0);
  }, 180_000);

  it("a pod over its memory limit is OOM-killed by the kernel, and the kubelet reports it", async () => {
    // dd allocates its whole block size, 80 MB, as one buffer and fills it from /dev/zero: over the 32Mi limit.
    await core.createNamespacedPod({
      namespace: namespace.name,
      body: {
        metadata: { name: "hog" },
        spec: {
          nodeSelector: { [realNodeKindKey]: realNodeKindValue },
          tolerations: [toleration],
          restartPolicy: "Never",
          containers: [
            {
              name: "hog",
              image: busybox(),
              imagePullPolicy: "IfNotPresent",
              command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=80M", "count=1"],
              resources: { limits: { memory: "32Mi", cpu: "200m" } },
            },
          ],
        },
      },
    });
    const terminated = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: namespace.name, name: "hog" });
        const s = p.status?.containerStatuses?.find((c) => c.name === "hog");
        return s?.state?.terminated ?? s?.lastState?.terminated;
      },
      180_000,
      "container hog terminated",
    );
    expect(terminated.reason).toBe("OOMKilled");
    expect(terminated.exitCode).toBe(137);
    // The kubelet's record, not ours: it carries the container's id on this node's containerd.
    expect(terminated.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
  }, 300_000);

  /** Removes every real node and checks that `removed` left nothing on this machine or in the apiserver. */
  async function removeAndExpectNothingLeft(removed: RealNode, ids: string[]): Promise<void> {
    // Real nodes of other meta-clusters on this machine keep what is machine-wide.
    const othersOnMachine = [
      ...kubeletPids().filter((p) => p !== removed.pids.kubelet),
      ...realNodeBridges().filter((b) => b !== removed.bridge),
    ];
    const pids = { ...removed.pids };
    const servicePids = { ...readState(state.dir)?.realNodeServices?.pids };
    const left = await ensureRealNodes(state, 0, log);
    expect(left).toEqual([]);
    expect(readState(state.dir)?.realNodes ?? []).toEqual([]);
    // CoreDNS and kube-proxy go with the last real node; kube-proxy's chains are checked with the others below.
    expect(readState(state.dir)?.realNodeServices).toBeUndefined();
    expect(isProcess(servicePids.coredns, "coredns"), "CoreDNS").toBe(false);
    expect(isProcess(servicePids.kubeProxy, "kube-proxy"), "kube-proxy").toBe(false);
    expect(isProcess(pids.kubelet, "kubelet")).toBe(false);
    expect(isProcess(pids.containerd, "containerd")).toBe(false);
    expect(
      pidsWhere((argv) => argv.some((a) => a.startsWith(removed.dir) || a === removed.containerdSocket)),
      "processes of the node",
    ).toEqual([]);
    // Pods' processes (pause and the containers) lived in the node's cgroups, which are gone: none is left.
    expect(
      cgroupDirs(removed.cgroupRoot).filter((d) => existsSync(d)),
      "cgroups",
    ).toEqual([]);
    expect(mountsUnder(removed.dir), "mounts under the node's directory").toEqual([]);
    expect(existsSync(removed.dir)).toBe(false);
    expect(existsSync(`/sys/class/net/${removed.bridge}`), `bridge ${removed.bridge}`).toBe(false);
    const forward = execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" });
    expect(forward).not.toContain(egressRule(removed)[egressRule(removed).indexOf("--comment") + 1]!);
    // Network namespaces were mounted under the node's state directory (gone, above); none was left in the
    // shared place either.
    const netns = existsSync("/var/run/netns") ? execFileSync("ls", ["/var/run/netns"], { encoding: "utf8" }) : "";
    expect(netns.split("\n").filter((n) => n.startsWith("cni-"))).toEqual([]);
    expect(
      sharedLeftoverFiles(removed, ids).filter((f) => existsSync(f)),
      "shim sockets, CNI results",
    ).toEqual([]);
    const nodes = await core.listNode({ labelSelector: `${realNodeKindKey}=${realNodeKindValue}` });
    expect(nodes.items.map((n) => n.metadata?.name)).not.toContain(removed.name);
    // The kubelet's chains, the sysctls it changed and the shared directories are machine-wide: they go with the
    // last kubelet on this machine.
    if (othersOnMachine.length === 0) {
      expect(await kubeChains()).toEqual([]);
      expect(existsSync(path.join(hostRecordDir, "sysctls.json"))).toBe(false);
      expect(sharedRuntimeDirs.filter((d) => existsSync(d) && !sharedDirsBefore.includes(d))).toEqual([]);
      // The bridge plugin turned forwarding on for the pods; it is as it was before.
      expect(readIpForward()).toBe(ipForwardBefore);
    }
  }

  it("removing the node stops its processes and leaves no mount, bridge, iptables rule or chain, or cgroup", async () => {
    if (realNodesBefore > 0) {
      // The meta-cluster had real nodes before this file: they stay. Check their processes are the ones recorded.
      expect(isProcess(node.pids.kubelet, "kubelet")).toBe(true);
      return;
    }
    // Pod "hello" still runs: its sandbox, mounts and veth are torn down with the node.
    await removeAndExpectNothingLeft(node, runtimeIds(node));
  }, 300_000);

  it("a node whose containerd and kubelet were killed is removed just as cleanly", async () => {
    if (realNodesBefore > 0) return; // the meta-cluster's own real nodes are not this file's to kill
    await ensureRealNodes(state, 1, log);
    const crashed = state.realNodes![0]!;
    await core.createNamespacedPod({
      namespace: namespace.name,
      body: {
        metadata: { name: "survivor" },
        spec: {
          nodeName: crashed.name,
          tolerations: [toleration],
          containers: [{ name: "s", image: busybox(), imagePullPolicy: "Never", command: ["sleep", "3600"] }],
          terminationGracePeriodSeconds: 1,
        },
      },
    });
    await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: namespace.name, name: "survivor" });
        return p.status?.phase === "Running" ? p : undefined;
      },
      180_000,
      "pod survivor Running",
    );
    const ids = runtimeIds(crashed);
    expect(ids.length).toBeGreaterThan(0);
    // No graceful stop: containerd cannot tear the sandbox down, and its shim and the pod's processes stay.
    process.kill(crashed.pids.kubelet!, "SIGKILL");
    process.kill(crashed.pids.containerd!, "SIGKILL");
    await eventually(
      async () =>
        isProcess(crashed.pids.kubelet, "kubelet") || isProcess(crashed.pids.containerd, "containerd")
          ? undefined
          : true,
      30_000,
      "kubelet and containerd gone",
    );
    expect(pidsWhere((argv) => argv.includes(crashed.containerdSocket)).length, "shims still running").toBeGreaterThan(
      0,
    );
    await removeAndExpectNothingLeft(crashed, ids);
  }, 400_000);
});
