// Real nodes of the local meta-cluster: per node its own containerd (with runc) and its own kubelet, built from the
// pinned k8s.io/kubernetes, on a bridge CNI network of its own inside this machine. kwok plays the many fake nodes;
// these few run pods for real, so memory limits give kernel OOM kills and `kubectl logs` reads real logs.
//
// Everything a node makes is named after it and torn down by it: processes by their own pid, mounts under its
// directory, its bridge, its cgroup root, its iptables rule. What the kubelet changes machine-wide (its KUBE-*
// iptables chains, a few sysctls) is undone when the last kubelet on the machine is gone.
import { execFile, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";

const run = promisify(execFile);

/** The label and the NoSchedule taint every real node carries, so that only pods that ask for one land there. */
export const realNodeKindKey = "metapilot.io/node-kind";
export const realNodeKindValue = "real";
/** Pods on real nodes get addresses from 10.88.<index>.0/24; nothing outside 10.88.0.0/16 is forwarded for them. */
export const podNetwork = "10.88.0.0/16";
/** Machine-wide record of the values the kubelet changes, restored when the last real node is gone. */
export const hostRecordDir = "/run/metapilot-realnodes";
/** The sysctls a kubelet with protectKernelDefaults off sets (pkg/kubelet/cm/container_manager_linux.go). */
export const kubeletSysctls = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops"];

export interface RealNode {
  name: string;
  /** The node's slot on this machine: its bridge mpbr<index> and pod range 10.88.<index>.0/24. */
  index: number;
  dir: string;
  bridge: string;
  subnet: string;
  gateway: string;
  containerdSocket: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  /** The kubelet's cgroup root, in every cgroup v1 hierarchy (or the v2 tree). */
  cgroupRoot: string;
  pids: { containerd?: number; kubelet?: number };
}

export interface RealNodeImages {
  /** The sandbox (pause) image reference. */
  sandbox: string;
}

/** Where a node of the meta-cluster in `clusterDir` lives, and what it is called. Pure. */
export function realNodeLayout(
  clusterDir: string,
  ordinal: number,
  index: number,
  ports: { kubelet: number; healthz: number },
  clusterId: string,
): RealNode {
  if (index < 0 || index > 255) throw new Error(`real node slot ${index} is outside 0..255`);
  const name = `metacluster-real-${ordinal}`;
  const dir = path.join(clusterDir, "realnodes", name);
  const containerdSocket = path.join(dir, "containerd.sock");
  // The kernel keeps 108 bytes for a unix socket path, and containerd adds ".ttrpc" for its second socket.
  if (Buffer.byteLength(containerdSocket) + ".ttrpc".length > 107) {
    throw new Error(
      `the containerd socket path ${containerdSocket} is too long for a unix socket; use a shorter METACLUSTER_DIR`,
    );
  }
  return {
    name,
    index,
    dir,
    bridge: `mpbr${index}`,
    subnet: `10.88.${index}.0/24`,
    gateway: `10.88.${index}.1`,
    containerdSocket,
    kubeletPort: ports.kubelet,
    kubeletHealthzPort: ports.healthz,
    cgroupRoot: `/metapilot-${clusterId}-${ordinal}`,
    pids: {},
  };
}

/** A short, stable id of a meta-cluster directory, for names that are machine-wide (cgroups). */
export function clusterIdOf(clusterDir: string): string {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(clusterDir)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** containerd's config: its own root, state and socket; the CRI plugin with runc, overlayfs and our CNI. Pure. */
export function containerdConfig(node: RealNode, images: RealNodeImages): string {
  const q = (s: string) => JSON.stringify(s);
  return `# containerd of real node ${node.name}, written by hack/lib/realnodes.ts
version = 2
root = ${q(path.join(node.dir, "containerd/root"))}
state = ${q(path.join(node.dir, "containerd/state"))}
# Plugins a node here never uses: less memory, fewer warnings.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${q(node.containerdSocket)}

[ttrpc]
  address = ${q(`${node.containerdSocket}.ttrpc`)}

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(path.join(node.dir, "containerd/opt"))}

  [plugins."io.containerd.grpc.v1.cri"]
    # Locally built; nothing is ever pulled.
    sandbox_image = ${q(images.sandbox)}
    # This machine forbids lowering oom_score_adj; without this runc fails every sandbox with
    # "can't get final child's PID from pipe: EOF".
    restrict_oom_score_adj = true
    # Network namespaces are mounted under this node's state directory, not in the shared /var/run/netns.
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    max_container_log_line_size = 16384

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "runc"
          # runc's state of this node's containers, instead of the shared /run/containerd/runc.
          Root = ${q(path.join(node.dir, "containerd/runc"))}
          SystemdCgroup = false

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = ${q(path.join(node.dir, "cni/net.d"))}
      max_conf_num = 1
`;
}

/**
 * The node's CNI network: a bridge of its own with host-local addresses from its /24. No masquerading, so a pod's
 * packet could only leave this machine with an address nobody answers; the FORWARD rule from egressRule() drops it
 * before it does. containerd sets up each pod's loopback itself with the loopback plugin. Pure.
 */
export function cniConfig(node: RealNode): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: node.bridge,
    plugins: [
      {
        type: "bridge",
        bridge: node.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: path.join(node.dir, "cni/ipam"),
          ranges: [[{ subnet: node.subnet, gateway: node.gateway }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
    ],
  };
}

/** The iptables FORWARD rule (without -A/-I/-D) that keeps pods' traffic on this machine. Pure. */
export function egressRule(node: RealNode): string[] {
  return [
    "-s",
    node.subnet,
    "!",
    "-d",
    podNetwork,
    "-m",
    "comment",
    "--comment",
    `metapilot real node ${node.bridge}: pods never leave this machine`,
    "-j",
    "DROP",
  ];
}

/** The ClusterIP of the meta-cluster's `kubernetes` Service: the first address of its Service range. */
export const kubernetesServiceIP = "10.96.0.1";

/**
 * The iptables rules (table, chain, rule without -A/-I/-D) that let the pods of a node reach the meta-cluster's
 * apiserver as in-cluster clients do, at the `kubernetes` Service (10.96.0.1:443). The apiserver listens on
 * 127.0.0.1 only, and the Endpoints it would publish for that address are refused ("may not be in the loopback
 * range"), so the Service has no endpoints and kube-proxy gives it none. Instead, connections from this node's
 * bridge to the ClusterIP are sent to 127.0.0.1:<apiserver port>, and route_localnet on the bridge (set by
 * addApiserverRoute) lets the kernel deliver them. The second rule keeps that to the translated connections: any
 * other packet from the bridge to 127.0.0.0/8 is dropped, as the kubelet's KUBE-FIREWALL does while it runs.
 * Per bridge, so a pod reaches its own meta-cluster's apiserver even when another meta-cluster's kube-proxy owns
 * the KUBE-* chains. Pure.
 */
export function apiserverRouteRules(
  node: RealNode,
  apiserverPort: number,
): Array<{ table: "nat" | "filter"; chain: string; rule: string[] }> {
  return [
    {
      table: "nat",
      chain: "PREROUTING",
      rule: [
        "-i",
        node.bridge,
        "-d",
        `${kubernetesServiceIP}/32`,
        "-p",
        "tcp",
        "-m",
        "tcp",
        "--dport",
        "443",
        "-m",
        "comment",
        "--comment",
        `metapilot real node ${node.bridge}: the kubernetes Service to the apiserver`,
        "-j",
        "DNAT",
        "--to-destination",
        `127.0.0.1:${apiserverPort}`,
      ],
    },
    {
      table: "filter",
      chain: "INPUT",
      rule: [
        "-i",
        node.bridge,
        "-d",
        "127.0.0.0/8",
        "-m",
        "conntrack",
        "!",
        "--ctstate",
        "RELATED,ESTABLISHED,DNAT",
        "-m",
        "comment",
        "--comment",
        `metapilot real node ${node.bridge}: nothing but the kubernetes Service reaches 127.0.0.1`,
        "-j",
        "DROP",
      ],
    },
  ];
}

export interface KubeletFiles {
  caFile: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
}

/** The kubelet's KubeletConfiguration; `clusterDns` is the address of the meta-cluster's CoreDNS. Pure. */
export function kubeletConfig(node: RealNode, files: KubeletFiles, clusterDns: string): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // The node's address: its bridge's, which the apiserver and Prometheus reach from this machine.
    address: node.gateway,
    port: node.kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: node.kubeletHealthzPort,
    tlsCertFile: files.tlsCertFile,
    tlsPrivateKeyFile: files.tlsPrivateKeyFile,
    // The apiserver (kubectl logs, exec) and Prometheus present certificates of the meta-cluster's CA; what they
    // may do is asked of the apiserver.
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: files.caFile },
    },
    authorization: { mode: "Webhook" },
    // This machine kind has cgroup v1 with the memory controller, and no systemd.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    // Two real nodes on one machine must not share /kubepods.
    cgroupRoot: node.cgroupRoot,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${node.containerdSocket}`,
    podLogsDir: path.join(node.dir, "pod-logs"),
    podCIDR: node.subnet,
    registerWithTaints: [{ key: realNodeKindKey, value: realNodeKindValue, effect: "NoSchedule" }],
    maxPods: 30,
    // Pods' names resolve at the meta-cluster's CoreDNS, which answers cluster.local and nothing else. No
    // resolv.conf of this machine: its nameservers and search domains are off the machine, where pods never go.
    clusterDNS: [clusterDns],
    clusterDomain: "cluster.local",
    resolvConf: "",
    // Images are imported, never pulled: garbage-collecting one would leave pods that can never start again.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // The disk and memory are shared with everything else on the machine; evict only when nearly out.
    evictionHard: {
      "memory.available": "100Mi",
      "nodefs.available": "2%",
      "nodefs.inodesFree": "2%",
      "imagefs.available": "2%",
    },
    containerLogMaxSize: "5Mi",
    containerLogMaxFiles: 2,
    serializeImagePulls: false,
    logging: { format: "text" },
  };
}

/** The kubelet's command line. Pure. */
export function kubeletArgs(node: RealNode, kubeconfig: string): string[] {
  return [
    `--config=${path.join(node.dir, "kubelet.yaml")}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${path.join(node.dir, "kubelet")}`,
    `--hostname-override=${node.name}`,
    // The apiserver reaches the kubelet at this address (--kubelet-preferred-address-types=InternalIP): the
    // node's name resolves nowhere. The kubelet refuses a loopback node IP, so it is the bridge's address.
    `--node-ip=${node.gateway}`,
    `--node-labels=${realNodeKindKey}=${realNodeKindValue}`,
    // cAdvisor asks containerd about each cgroup it sees, at /run/containerd/containerd.sock unless told; without
    // an answer its /metrics/cadvisor series carry no container, pod and namespace labels. (Deprecated, and the
    // only way to tell it.)
    `--containerd=${node.containerdSocket}`,
    "--v=1",
  ];
}

// --- what this machine offers ------------------------------------------------------------------------------

export interface HostProbe {
  uid: number;
  /** Contents of /proc/self/mountinfo-like facts: is there a memory controller (v1 or v2)? */
  memoryController: boolean;
  /** Can this machine make a Linux bridge (the bridge module, CAP_NET_ADMIN)? */
  bridge: boolean;
  /** Missing executables and files, by path. */
  missingFiles: string[];
}

/** What stops this machine from running real nodes, one sentence each; empty when nothing does. Pure. */
export function missingForRealNodes(probe: HostProbe): string[] {
  const out: string[] = [];
  if (probe.uid !== 0) out.push(`not root (uid ${probe.uid}): the kubelet and containerd need root`);
  if (!probe.memoryController)
    out.push("no cgroup memory controller (neither /sys/fs/cgroup/memory nor 'memory' in the cgroup v2 controllers)");
  if (!probe.bridge)
    out.push("no bridge support: 'ip link add type bridge' fails here (bridge module or CAP_NET_ADMIN)");
  for (const f of probe.missingFiles) out.push(`missing ${f} (run 'make realnodes-deps binaries')`);
  return out;
}

export function requiredFiles(binDir: string): string[] {
  return [
    path.join(binDir, "kubelet"),
    path.join(binDir, "kube-proxy"),
    path.join(binDir, "coredns"),
    path.join(binDir, "crictl"),
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/ctr",
    "/usr/sbin/runc",
    "/usr/lib/cni/bridge",
    "/usr/lib/cni/host-local",
    "/usr/lib/cni/loopback",
    "/usr/bin/umoci",
    "/bin/busybox",
    "/usr/sbin/iptables",
    "/usr/bin/gcc",
  ];
}

export function probeHost(binDir: string): HostProbe {
  const uid = process.getuid?.() ?? -1;
  let memoryController = existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (!memoryController) {
    try {
      memoryController = readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("memory");
    } catch {
      memoryController = false;
    }
  }
  let bridge = false;
  if (uid === 0) {
    const probe = `mpprobe${process.pid % 100000}`;
    try {
      execFileSync("ip", ["link", "add", "name", probe, "type", "bridge"], { stdio: "ignore" });
      bridge = true;
      execFileSync("ip", ["link", "del", probe], { stdio: "ignore" });
    } catch {
      // bridge stays false when the add failed; a failed delete of our probe leaves bridge true
    }
  }
  return { uid, memoryController, bridge, missingFiles: requiredFiles(binDir).filter((f) => !existsSync(f)) };
}

// --- processes ----------------------------------------------------------------------------------------------

/** True when `pid` is alive and is `binary` (a recycled pid is never signalled). */
export function isProcess(pid: number | undefined, binary: string): boolean {
  if (!pid) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0")[0]?.endsWith(binary) ?? false;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line matches: the containerd shims of a node carry its socket path. */
/**
 * Processes whose command line matches, without the children they fork. A child that a process has forked and that
 * has not exec'd yet has its parent's command line for a moment (kube-proxy and the kubelet fork iptables, mount
 * and others all the time), so a child whose parent matches too is the parent's, not a process of its own.
 */
export function pidsWhere(match: (argv: string[]) => boolean): number[] {
  const found: ProcessEntry[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (!argv.length || !match(argv)) continue;
      found.push({ pid: Number(entry), ppid: parentPid(readFileSync(`/proc/${entry}/stat`, "utf8")) });
    } catch {
      // gone meanwhile
    }
  }
  return topLevel(found);
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
}

/** The parent's pid from a /proc/<pid>/stat line (the field after the state; the name before it may hold spaces and parentheses). Pure. */
export function parentPid(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[1]);
}

/** The processes whose parent is not among them, in their order. Pure. */
export function topLevel(processes: ProcessEntry[]): number[] {
  const pids = new Set(processes.map((p) => p.pid));
  return processes.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}

/** Kubelets running on this machine, ours and anyone else's. */
export function kubeletPids(): number[] {
  return pidsWhere((argv) => path.basename(argv[0] ?? "") === "kubelet");
}

export function spawnLogged(binary: string, args: string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd], cwd });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`${binary} did not start; see ${logFile}`);
  return child.pid;
}

/** Stops `pid` if it is still `binary`: `signal` first, SIGKILL after `graceMs`; returns once it is gone. */
export async function stopPid(
  pid: number | undefined,
  binary: string,
  graceMs = 15_000,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  if (!isProcess(pid, binary) || !pid) return;
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (isProcess(pid, binary) && Date.now() < deadline) await sleep(100);
  if (isProcess(pid, binary)) process.kill(pid, "SIGKILL");
  while (isProcess(pid, binary)) await sleep(50);
}

// --- mounts, cgroups, network -----------------------------------------------------------------------------

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(dir: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const points = mountinfo
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.split("/").length - a.split("/").length || b.localeCompare(a));
}

export function unmountAll(dir: string): string[] {
  const failed: string[] = [];
  // A mount may hide others below it: unmount until nothing under `dir` is left, or nothing changes.
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return [];
    for (const p of points) {
      try {
        execFileSync("umount", [p], { stdio: "ignore" });
      } catch {
        try {
          execFileSync("umount", ["-l", p], { stdio: "ignore" });
        } catch {
          failed.push(p);
        }
      }
    }
  }
  return [...new Set([...failed, ...mountsUnder(dir)])];
}

/** The cgroup directories of `root` in every hierarchy mounted under /sys/fs/cgroup. */
export function cgroupDirs(root: string): string[] {
  const base = "/sys/fs/cgroup";
  if (existsSync(path.join(base, "cgroup.controllers"))) return [path.join(base, root)]; // cgroup v2
  return (
    readdirSync(base)
      // runc also makes the container's cgroup in the hybrid v2 tree ("unified"), so it is cleaned too.
      .filter((h) => existsSync(path.join(base, h, "cgroup.procs")))
      .map((h) => path.join(base, h, root))
  );
}

export function createCgroupRoot(root: string): void {
  for (const d of cgroupDirs(root)) {
    mkdirSync(d, { recursive: true });
    // A new v1 cpuset cgroup has no CPUs and memory nodes; a task cannot join it until they are copied in.
    if (path.basename(path.dirname(d)) === "cpuset" || d.includes("/cpuset/")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        const mine = path.join(d, f);
        if (existsSync(mine) && !readFileSync(mine, "utf8").trim())
          writeFileSync(mine, readFileSync(path.join(path.dirname(d), f), "utf8"));
      }
    }
  }
}

/** Kills what is left in `root`'s cgroups and removes them bottom-up. Returns the directories that stayed. */
export async function removeCgroupRoot(root: string): Promise<string[]> {
  const left: string[] = [];
  for (const d of cgroupDirs(root)) {
    if (!existsSync(d)) continue;
    const tree = walkDirs(d).sort((a, b) => b.length - a.length);
    for (let attempt = 0; attempt < 50; attempt++) {
      let busy = false;
      for (const c of tree) {
        for (const pid of readProcs(c)) {
          busy = true;
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      if (!busy) break;
      await sleep(100);
    }
    for (const c of tree) {
      try {
        rmdirSync(c);
      } catch {
        if (existsSync(c)) left.push(c);
      }
    }
  }
  return left;
}

function walkDirs(d: string): string[] {
  const out = [d];
  try {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) out.push(...walkDirs(path.join(d, e.name)));
  } catch {
    // removed meanwhile
  }
  return out;
}

function readProcs(d: string): number[] {
  try {
    return readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** The real-node bridges on this machine, of every meta-cluster. */
export function realNodeBridges(): string[] {
  try {
    return readdirSync("/sys/class/net").filter((l) => /^mpbr\d+$/.test(l));
  } catch {
    return [];
  }
}

/** The alias a node's bridge carries: whose slot it is, so a stale teardown never removes another's bridge. */
export function bridgeOwner(node: Pick<RealNode, "dir">): string {
  return `metapilot real node ${node.dir}`;
}

/**
 * Whether the bridge with this alias is the node's: its own alias, or none (a slot claimed but not yet set up, or a
 * bridge made before bridges carried an owner). A slot freed by one meta-cluster and claimed by another carries
 * the other's alias; a process of the first that tears its node down late (a run killed without its teardown) must
 * leave that bridge, and the egress rule keyed by it, alone.
 */
export function bridgeIsOurs(alias: string, node: Pick<RealNode, "dir">): boolean {
  const owner = alias.trim();
  return owner === "" || owner === bridgeOwner(node);
}

/** The alias of a link, "" when it has none or is gone. */
export function linkAlias(name: string): string {
  try {
    return readFileSync(`/sys/class/net/${name}/ifalias`, "utf8");
  } catch {
    return "";
  }
}

/** Makes the node's bridge with its gateway address, up, unless it is there already, marked as the node's. */
export function ensureBridge(node: RealNode): void {
  if (!linkExists(node.bridge)) execFileSync("ip", ["link", "add", "name", node.bridge, "type", "bridge"]);
  execFileSync("ip", ["link", "set", "dev", node.bridge, "alias", bridgeOwner(node)]);
  const addresses = execFileSync("ip", ["-4", "-o", "addr", "show", "dev", node.bridge], { encoding: "utf8" });
  if (!addresses.includes(` ${node.gateway}/24 `))
    execFileSync("ip", ["addr", "add", `${node.gateway}/24`, "dev", node.bridge]);
  execFileSync("ip", ["link", "set", node.bridge, "up"]);
}

/** Claims the lowest free slot by creating its bridge: `ip link add` fails when another meta-cluster has it. */
export function claimBridgeSlot(taken: Set<number>): number {
  for (let i = 0; i < 256; i++) {
    if (taken.has(i) || linkExists(`mpbr${i}`)) continue;
    try {
      execFileSync("ip", ["link", "add", "name", `mpbr${i}`, "type", "bridge"], { stdio: "ignore" });
      return i;
    } catch {
      // taken between the check and the add
    }
  }
  throw new Error("no free real-node bridge slot (mpbr0..mpbr255 all exist)");
}

async function iptables(binary: "iptables" | "ip6tables", args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run(binary, ["-w", "5", ...args]);
    return { ok: true, out: stdout };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: string }).stderr ?? err) };
  }
}

export async function addEgressRule(node: RealNode): Promise<void> {
  const rule = egressRule(node);
  if ((await iptables("iptables", ["-C", "FORWARD", ...rule])).ok) return;
  const res = await iptables("iptables", ["-I", "FORWARD", "1", ...rule]);
  if (!res.ok) throw new Error(`adding the egress rule of ${node.name}: ${res.out}`);
}

export async function removeEgressRule(node: RealNode): Promise<void> {
  while ((await iptables("iptables", ["-C", "FORWARD", ...egressRule(node)])).ok) {
    await iptables("iptables", ["-D", "FORWARD", ...egressRule(node)]);
  }
}

/** Sends the node's pods' connections to the `kubernetes` Service to the apiserver (see apiserverRouteRules). */
export async function addApiserverRoute(node: RealNode, apiserverPort: number): Promise<void> {
  // The guard goes in before the translation, so no moment has route_localnet without it.
  for (const r of [...apiserverRouteRules(node, apiserverPort)].reverse()) {
    if ((await iptables("iptables", ["-t", r.table, "-C", r.chain, ...r.rule])).ok) continue;
    const res = await iptables("iptables", ["-t", r.table, "-I", r.chain, "1", ...r.rule]);
    if (!res.ok) throw new Error(`adding the apiserver route of ${node.name}: ${res.out}`);
  }
  // Per interface: only packets that came in on this node's bridge may be routed to 127.0.0.0/8.
  writeFileSync(`/proc/sys/net/ipv4/conf/${node.bridge}/route_localnet`, "1");
}

/** Removes the rules of addApiserverRoute (route_localnet goes with the bridge). */
export async function removeApiserverRoute(node: RealNode, apiserverPort: number): Promise<void> {
  for (const r of apiserverRouteRules(node, apiserverPort)) {
    while ((await iptables("iptables", ["-t", r.table, "-C", r.chain, ...r.rule])).ok)
      await iptables("iptables", ["-t", r.table, "-D", r.chain, ...r.rule]);
  }
}

/**
 * The `-D` commands and chain names that remove every KUBE-* chain (or those `owned` picks) from one table's
 * `iptables-save` output: first the rules of other chains that jump to them, then the chains. Pure.
 */
export function kubeChainCleanup(
  saveOutput: string,
  owned: (chain: string) => boolean = (chain) => chain.startsWith("KUBE-"),
): {
  deletes: Array<{ table: string; rule: string[] }>;
  chains: Array<{ table: string; chain: string }>;
} {
  const deletes: Array<{ table: string; rule: string[] }> = [];
  const chains: Array<{ table: string; chain: string }> = [];
  let table = "";
  for (const line of saveOutput.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    else if (line.startsWith(":")) {
      const chain = line.slice(1).split(" ")[0] ?? "";
      if (owned(chain)) chains.push({ table, chain });
    } else if (line.startsWith("-A ")) {
      const words = splitRule(line);
      const chain = words[1] ?? "";
      const at = words.findIndex((w) => w === "-j" || w === "-g");
      const jump = at >= 0 ? (words[at + 1] ?? "") : "";
      if (!owned(chain) && owned(jump)) deletes.push({ table, rule: words.slice(1) });
    }
  }
  return { deletes, chains };
}

/** Splits an iptables-save rule line into words, keeping quoted comments whole. */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line))
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? ""));
  return out;
}

/**
 * Removes the KUBE-* chains the kubelet and kube-proxy add (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-SERVICES,
 * ...), or only those `owned` picks.
 */
export async function removeKubeChains(owned?: (chain: string) => boolean): Promise<string[]> {
  const left: string[] = [];
  for (const binary of ["iptables", "ip6tables"] as const) {
    const save = await run(`${binary}-save`, []).then(
      (r) => r.stdout,
      () => "",
    );
    const { deletes, chains } = kubeChainCleanup(save, owned);
    for (const d of deletes) await iptables(binary, ["-t", d.table, "-D", ...d.rule]);
    for (const c of chains) await iptables(binary, ["-t", c.table, "-F", c.chain]);
    for (const c of chains) {
      const res = await iptables(binary, ["-t", c.table, "-X", c.chain]);
      if (!res.ok) left.push(`${binary} -t ${c.table} ${c.chain}: ${res.out.trim()}`);
    }
  }
  return left;
}

/** KUBE-* chains (or those `owned` picks) present now, as "iptables filter KUBE-FIREWALL". */
export async function kubeChains(owned?: (chain: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const binary of ["iptables", "ip6tables"] as const) {
    const save = await run(`${binary}-save`, []).then(
      (r) => r.stdout,
      () => "",
    );
    for (const c of kubeChainCleanup(save, owned).chains) out.push(`${binary} ${c.table} ${c.chain}`);
  }
  return out;
}

/** Writes the machine's values of what kubelets and the bridge plugin change, once, before the first changes it. */
export function recordHostDefaults(): void {
  const file = path.join(hostRecordDir, "sysctls.json");
  if (existsSync(file)) return;
  mkdirSync(hostRecordDir, { recursive: true });
  const values: Record<string, string> = {};
  for (const key of [...kubeletSysctls, "net/ipv4/ip_forward"]) {
    values[key] = readFileSync(`/proc/sys/${key}`, "utf8").trim();
  }
  writeFileSync(file, JSON.stringify(values, null, 2));
}

/** Puts the recorded values back and forgets them. */
export function restoreHostDefaults(): void {
  const file = path.join(hostRecordDir, "sysctls.json");
  if (!existsSync(file)) return;
  const values = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  for (const [key, value] of Object.entries(values)) {
    try {
      writeFileSync(`/proc/sys/${key}`, value);
    } catch {
      // read-only here; nothing to restore
    }
  }
  unlinkSync(file);
}

/**
 * Directories containerd, its CNI library and the kubelet create in shared places however they are configured
 * (shim sockets, CNI result cache, log symlinks), and our record of sysctls: removed when empty, when the last real
 * node is gone.
 */
export const sharedRuntimeDirs = [
  "/run/containerd/s",
  "/run/containerd",
  "/var/lib/cni/results",
  "/var/lib/cni",
  // The kubelet makes /var/log/containers for its log symlinks wherever its podLogsDir is.
  "/var/log/containers",
  hostRecordDir,
];

export function removeEmptySharedDirs(): void {
  for (const d of sharedRuntimeDirs) {
    try {
      rmdirSync(d);
    } catch {
      // not empty (someone else's), or not there
    }
  }
}

/**
 * Ids of the pod sandboxes and containers a node's containerd has made: its task and CRI sandbox directories.
 * Read before the node is torn down, to find what they left in shared places when containerd could not remove them.
 */
export function runtimeIds(node: RealNode): string[] {
  const ids = new Set<string>();
  for (const d of [
    path.join(node.dir, "containerd/state/io.containerd.runtime.v2.task/k8s.io"),
    path.join(node.dir, "containerd/state/io.containerd.grpc.v1.cri/sandboxes"),
    path.join(node.dir, "containerd/root/io.containerd.grpc.v1.cri/sandboxes"),
  ]) {
    try {
      for (const id of readdirSync(d)) if (/^[0-9a-f]{64}$/.test(id)) ids.add(id);
    } catch {
      // not there
    }
  }
  return [...ids].sort();
}

/**
 * Files a node's sandboxes leave in shared places when they die without containerd tearing them down (a crashed
 * containerd, killed shims): the shims' sockets, named by containerd 1.6 as the sha256 of
 * "<containerd socket>/<namespace>/<id>", and the CNI library's cached results. Pure.
 */
export function sharedLeftoverFiles(node: RealNode, ids: string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const digest = createHash("sha256").update(`${node.containerdSocket}/k8s.io/${id}`).digest("hex");
    out.push(
      `/run/containerd/s/${digest}`,
      `/var/lib/cni/results/cni-loopback-${id}-lo`,
      `/var/lib/cni/results/${node.bridge}-${id}-eth0`,
    );
  }
  return out;
}

export function removeSharedLeftovers(node: RealNode, ids: string[]): void {
  for (const f of sharedLeftoverFiles(node, ids)) {
    try {
      unlinkSync(f);
    } catch {
      // removed by containerd already
    }
  }
}

/** Removes the kubelet's symlinks in /var/log/containers that point into `podLogsDir`. */
export function removeContainerLogLinks(podLogsDir: string): void {
  const dir = "/var/log/containers";
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    try {
      if (readlinkSync(path.join(dir, f)).startsWith(podLogsDir)) unlinkSync(path.join(dir, f));
    } catch {
      // not a link, or gone
    }
  }
}
