// Real nodes of the meta-cluster (containerd and a kubelet each, see ./realnodes.ts for the host side): brought to
// a count, started with their images and certificates, waited for until Ready, and stopped with all they made.
import path from "node:path";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { type BuiltImage, buildImage, busyboxRecipe, controlPlaneRecipes, importImage, pauseRecipe } from "./images.js";
import { adminCall } from "./metacluster-client.js";
import { ensureKubeletPki, ensurePki } from "./metacluster-pki.js";
import { freePort } from "./metacluster-ports.js";
import { kubeletAddressTypesFlag, startComponent, stopComponent } from "./metacluster-processes.js";
import { syncKubeletScrape } from "./metacluster-prometheus.js";
import { ensureRealNodeServices, stopRealNodeServices } from "./metacluster-realnode-services.js";
import {
  type MetaclusterState,
  binDir,
  readState,
  refreshPids,
  repoRoot,
  tail,
  writeState,
} from "./metacluster-state.js";
import {
  type RealNode,
  addApiserverRoute,
  addEgressRule,
  bridgeIsOurs,
  claimBridgeSlot,
  clusterIdOf,
  cniConfig,
  containerdConfig,
  createCgroupRoot,
  ensureBridge,
  isProcess,
  kubeChains,
  kubeletArgs,
  kubeletConfig,
  kubeletPids,
  linkAlias,
  linkExists,
  missingForRealNodes,
  mountsUnder,
  unmountAll,
  pidsWhere,
  probeHost,
  realNodeBridges,
  realNodeLayout,
  recordHostDefaults,
  removeApiserverRoute,
  removeCgroupRoot,
  removeContainerLogLinks,
  removeEgressRule,
  removeEmptySharedDirs,
  removeKubeChains,
  removeSharedLeftovers,
  restoreHostDefaults,
  runtimeIds,
  spawnLogged,
  stopPid,
} from "./realnodes.js";

/**
 * The images every real node has: the sandbox (pause) image, a busybox for test pods, and kube-apiserver,
 * kube-controller-manager, kube-scheduler and etcd from the binaries in .cache/bin, named as the operator asks for
 * them with its default registry.
 */
export interface RealNodeImageSet {
  pause: BuiltImage;
  busybox: BuiltImage;
  controlPlane: BuiltImage[];
}

function kubernetesVersion(): string {
  const version = /^KUBERNETES_VERSION=(\S+)/m.exec(readFileSync(path.join(repoRoot, "hack/versions.env"), "utf8"));
  if (!version?.[1]) throw new Error("KUBERNETES_VERSION is not set in hack/versions.env");
  return version[1];
}

/** Builds (or takes from .cache/images) the images real nodes import. */
export function realNodeImages(): RealNodeImageSet {
  return {
    pause: buildImage(repoRoot, pauseRecipe(repoRoot, kubernetesVersion())),
    busybox: buildImage(repoRoot, busyboxRecipe()),
    controlPlane: controlPlaneRecipes(binDir).map((recipe) => buildImage(repoRoot, recipe)),
  };
}

/** What stops this machine from running real nodes; empty when nothing does. */
export function realNodePreflight(): string[] {
  return missingForRealNodes(probeHost(binDir));
}

/**
 * Brings the meta-cluster to exactly `count` real nodes, each Ready: starts missing ones (and restarts the
 * processes of any that died), stops and removes extra ones. Returns what removing nodes left behind on this
 * machine (mounts, cgroups, links, chains), which is empty when cleanup is complete.
 */
export async function ensureRealNodes(
  state: MetaclusterState,
  count: number,
  log: (l: string) => void,
): Promise<string[]> {
  const saved = readState(state.dir);
  if (saved?.realNodes) state.realNodes = saved.realNodes;
  const nodes = state.realNodes ?? [];
  const left: string[] = [];
  // CoreDNS listens on the first node's bridge, and kube-proxy acts as that node: both go before it does.
  if (count === 0) left.push(...(await stopRealNodeServices(state, log)));
  while (nodes.length > count) {
    const node = nodes[nodes.length - 1]!;
    left.push(...(await stopRealNode(state, node, log)));
    nodes.pop();
    state.realNodes = nodes;
    writeState(state);
    await syncKubeletScrape(state, log);
  }
  if (nodes.length === 0) {
    delete state.realNodes;
    writeState(state);
    left.push(...(await cleanupHostIfLastKubelet()));
  }
  if (count === 0) return left;

  const missing = realNodePreflight();
  if (missing.length) throw new Error(`this machine cannot run real nodes: ${missing.join("; ")}`);
  await ensureApiserverServesRealNodes(state, log);
  const images = realNodeImages();
  const started = Date.now();
  for (let ordinal = 0; ordinal < count; ordinal++) {
    let node = nodes[ordinal];
    if (!node) {
      const taken = new Set(nodes.map((n) => n.index));
      const index = claimBridgeSlot(taken);
      node = realNodeLayout(
        state.dir,
        ordinal,
        index,
        { kubelet: await freePort(), healthz: await freePort() },
        clusterIdOf(state.dir),
      );
      nodes.push(node);
      state.realNodes = nodes;
      writeState(state);
    }
    await startRealNode(state, node, images, nodes[0]!.gateway, log);
    writeState(state);
  }
  for (const node of nodes) await waitNodeReady(state, node, 180_000);
  await syncKubeletScrape(state, log);
  await ensureRealNodeServices(state, log);
  log(`real nodes: ${count} Ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return left;
}

/**
 * A meta-cluster started before real nodes existed has an apiserver that neither reaches kubelets at their
 * InternalIP nor authenticates to them: give it its client certificate and restart it with the flags.
 */
async function ensureApiserverServesRealNodes(state: MetaclusterState, log: (l: string) => void): Promise<void> {
  refreshPids(state);
  const pid = state.pids["kube-apiserver"];
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    // not running: started below with the flags
  }
  if (cmdline.split("\0").includes(kubeletAddressTypesFlag)) return;
  log("restarting kube-apiserver with the flags real nodes need");
  await ensurePki(state.dir);
  await stopComponent(state, "kube-apiserver");
  await startComponent(state, "kube-apiserver");
}

function realNodeLog(state: MetaclusterState, node: RealNode, process: "containerd" | "kubelet"): string {
  return path.join(state.dir, "logs", `${node.name}-${process}.log`);
}

async function startRealNode(
  state: MetaclusterState,
  node: RealNode,
  images: RealNodeImageSet,
  clusterDns: string,
  log: (l: string) => void,
): Promise<void> {
  const kubeletYaml = stringify(
    kubeletConfig(
      node,
      {
        caFile: path.join(state.dir, "pki/ca.crt"),
        tlsCertFile: path.join(node.dir, "pki/kubelet.crt"),
        tlsPrivateKeyFile: path.join(node.dir, "pki/kubelet.key"),
      },
      clusterDns,
    ),
  );
  const kubeletYamlFile = path.join(node.dir, "kubelet.yaml");
  const containerdUp = isProcess(node.pids.containerd, "containerd");
  let kubeletUp = isProcess(node.pids.kubelet, "kubelet");
  // A kubelet started with other settings (one from before cluster DNS existed) is restarted with these; its pods
  // keep running.
  if (kubeletUp && existsSync(kubeletYamlFile) && readFileSync(kubeletYamlFile, "utf8") !== kubeletYaml) {
    log(`${node.name}: restarting the kubelet with its new configuration`);
    await stopPid(node.pids.kubelet, "kubelet");
    kubeletUp = false;
  }
  if (containerdUp && kubeletUp) {
    // A node started before the apiserver route existed gets it now; present already, nothing changes.
    await addApiserverRoute(node, state.ports["kube-apiserver"]);
    return;
  }
  for (const subdir of [
    "containerd/root",
    "containerd/state",
    "containerd/opt",
    "cni/net.d",
    "cni/ipam",
    "kubelet",
    "pod-logs",
  ])
    mkdirSync(path.join(node.dir, subdir), { recursive: true });
  // The kubelet listens on the bridge's address, so the bridge has it before the first pod.
  ensureBridge(node);
  // Before the bridge plugin turns on forwarding and the kubelet sets its sysctls.
  recordHostDefaults();
  await addEgressRule(node);
  // In-cluster clients in its pods (the chart's metapilot) reach the apiserver at the kubernetes Service.
  await addApiserverRoute(node, state.ports["kube-apiserver"]);
  createCgroupRoot(node.cgroupRoot);
  writeFileSync(path.join(node.dir, "containerd.toml"), containerdConfig(node, { sandbox: images.pause.ref }));
  writeFileSync(path.join(node.dir, "cni/net.d/10-bridge.conflist"), JSON.stringify(cniConfig(node), null, 2));
  await ensureKubeletPki(state, node);
  writeFileSync(kubeletYamlFile, kubeletYaml);
  if (!containerdUp) {
    const logFile = realNodeLog(state, node, "containerd");
    node.pids.containerd = spawnLogged(
      "/usr/bin/containerd",
      ["--config", path.join(node.dir, "containerd.toml")],
      logFile,
      node.dir,
    );
    writeState(state);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        execFileSync("ctr", ["--address", node.containerdSocket, "version"], { stdio: "ignore", timeout: 10_000 });
        break;
      } catch {
        if (!isProcess(node.pids.containerd, "containerd"))
          throw new Error(`containerd of ${node.name} exited while starting; see ${logFile}:\n${tail(logFile)}`);
        if (Date.now() > deadline)
          throw new Error(`containerd of ${node.name} did not answer within 60s; see ${logFile}:\n${tail(logFile)}`);
        await sleep(250);
      }
    }
  }
  for (const image of [images.pause, images.busybox, ...images.controlPlane])
    await importImage(node.containerdSocket, image);
  if (!kubeletUp) {
    node.pids.kubelet = spawnLogged(
      path.join(binDir, "kubelet"),
      kubeletArgs(node, path.join(node.dir, "kubelet.kubeconfig")),
      realNodeLog(state, node, "kubelet"),
      node.dir,
    );
    writeState(state);
  }
  log(`${node.name}: containerd pid ${node.pids.containerd}, kubelet pid ${node.pids.kubelet}, pods on ${node.subnet}`);
}

async function waitNodeReady(state: MetaclusterState, node: RealNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logFile = realNodeLog(state, node, "kubelet");
  for (;;) {
    const res = await adminCall(state, "GET", `/api/v1/nodes/${node.name}`);
    if (res.status === 200) {
      const conditions = (JSON.parse(res.body) as { status?: { conditions?: Array<{ type: string; status: string }> } })
        .status?.conditions;
      if (conditions?.some((c) => c.type === "Ready" && c.status === "True")) return;
    }
    if (!isProcess(node.pids.kubelet, "kubelet"))
      throw new Error(`the kubelet of ${node.name} exited; see ${logFile}:\n${tail(logFile, 30)}`);
    if (Date.now() > deadline)
      throw new Error(`${node.name} not Ready within ${timeoutMs / 1000}s; see ${logFile}:\n${tail(logFile, 30)}`);
    await sleep(1000);
  }
}

/**
 * Stops a real node and removes all it made: the kubelet first (so it restarts nothing), then every pod sandbox
 * through CRI (containerd tears down their network, mounts and containers), then containerd, any shim of it still
 * running, the processes left in its cgroups, its mounts, bridge, egress and apiserver-route rules and Node object.
 */
async function stopRealNode(state: MetaclusterState, node: RealNode, log: (l: string) => void): Promise<string[]> {
  const left: string[] = [];
  const ids = runtimeIds(node);
  await stopPid(node.pids.kubelet, "kubelet");
  if (isProcess(node.pids.containerd, "containerd")) {
    try {
      execFileSync(
        path.join(binDir, "crictl"),
        ["--runtime-endpoint", `unix://${node.containerdSocket}`, "--timeout", "60s", "rmp", "--all", "--force"],
        { stdio: "ignore", timeout: 180_000 },
      );
    } catch (err) {
      log(`${node.name}: removing pod sandboxes failed (${String(err).slice(0, 200)}); killing what is left`);
    }
  }
  await stopPid(node.pids.containerd, "containerd");
  const shims = pidsWhere(
    (argv) => path.basename(argv[0] ?? "").startsWith("containerd-shim") && argv.includes(node.containerdSocket),
  );
  for (const pid of shims) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  left.push(...(await removeCgroupRoot(node.cgroupRoot)).map((d) => `cgroup ${d}`));
  left.push(...unmountAll(node.dir).map((m) => `mount ${m}`));
  // The bridge's slot may have been freed and claimed by another meta-cluster since (this teardown runs late):
  // then the bridge, and the egress rule keyed by its name and subnet, are that one's.
  const slotStillOurs = !linkExists(node.bridge) || bridgeIsOurs(linkAlias(node.bridge), node);
  if (!slotStillOurs) log(`${node.name}: ${node.bridge} now belongs to another meta-cluster; left alone`);
  if (slotStillOurs && linkExists(node.bridge)) {
    try {
      execFileSync("ip", ["link", "del", node.bridge], { stdio: "ignore" });
    } catch {
      left.push(`link ${node.bridge}`);
    }
  }
  if (slotStillOurs) await removeEgressRule(node);
  await removeApiserverRoute(node, state.ports["kube-apiserver"]);
  removeContainerLogLinks(path.join(node.dir, "pod-logs"));
  removeSharedLeftovers(node, ids);
  if (isProcess(state.pids["kube-apiserver"], "kube-apiserver")) {
    await adminCall(state, "DELETE", `/api/v1/nodes/${node.name}`).catch(() => undefined);
  }
  if (!mountsUnder(node.dir).length) rmSync(node.dir, { recursive: true, force: true });
  node.pids = {};
  log(`${node.name}: stopped and removed`);
  return left;
}

/**
 * The kubelet's KUBE-* iptables chains and sysctls are machine-wide: they go when the last kubelet on this
 * machine (ours or another meta-cluster's) has stopped.
 */
async function cleanupHostIfLastKubelet(): Promise<string[]> {
  // A real node of another meta-cluster whose kubelet is down for a moment still has its bridge and pods, which
  // need forwarding: only a machine with neither kubelets nor real-node bridges is cleaned.
  if (kubeletPids().length || realNodeBridges().length) return [];
  const left = await removeKubeChains();
  restoreHostDefaults();
  removeEmptySharedDirs();
  return [...left, ...(await kubeChains()).map((c) => `chain ${c}`)];
}
