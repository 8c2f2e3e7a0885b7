// Services and cluster DNS for the pods of real nodes: one kube-proxy (iptables mode) and one CoreDNS per
// meta-cluster, both host processes, both started when the meta-cluster has real nodes and stopped with the last.
//
// kube-proxy writes the host's iptables, so ClusterIPs work from pods on every real node's bridge and from this
// machine itself. Its chain names (KUBE-SERVICES, ...) are fixed: two kube-proxies in one network namespace would
// rewrite each other's rules. So one kube-proxy runs in a network namespace at a time; a second meta-cluster with
// real nodes there finds it, records why its own does not run, and starts its own once the first is gone.
//
// CoreDNS listens on the first real node's bridge address. That address belongs to this machine, so a pod on any
// real node's bridge reaches it through its own gateway, and it lives exactly as long as the meta-cluster has real
// nodes (the first node is the last one removed). It answers cluster.local from the meta-cluster's apiserver and
// NXDOMAIN for every other name: nothing is forwarded off this machine.
import { closeSync, openSync, readFileSync, readlinkSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { podNetwork, pidsWhere, type RealNode } from "./realnodes.js";

/** The meta-cluster's Service range (the apiserver's --service-cluster-ip-range). */
export const serviceNetwork = "10.96.0.0/16";
export const clusterDomain = "cluster.local";
/** The chains the kubelet makes; every other KUBE-* chain is kube-proxy's (pkg/kubelet/kubelet_network_linux.go). */
export const kubeletChainNames = ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"];
/** Identities of the two processes towards the apiserver (client certificates of the meta-cluster's CA). */
export const kubeProxyUser = "system:kube-proxy";
export const corednsUser = "metacluster:coredns";

export interface RealNodeServices {
  dir: string;
  /** Where CoreDNS listens (port 53), and what every real kubelet gives its pods as their nameserver. */
  dnsAddress: string;
  /** The node kube-proxy acts as: its address is kube-proxy's node IP, its pods are "local" endpoints. */
  kubeProxyNode: string;
  ports: { kubeProxyHealthz: number; kubeProxyMetrics: number; corednsReady: number };
  pids: { kubeProxy?: number; coredns?: number };
  /** Why this meta-cluster's kube-proxy does not run: another meta-cluster's kube-proxy owns the chains. */
  kubeProxyBlockedBy?: string;
}

/** Where the services of the meta-cluster in `clusterDir` live, given its real nodes (first is the oldest). Pure. */
export function realNodeServicesLayout(
  clusterDir: string,
  nodes: RealNode[],
  ports: RealNodeServices["ports"],
): RealNodeServices {
  const first = nodes[0];
  if (!first) throw new Error("cluster DNS and kube-proxy need a real node");
  return {
    dir: path.join(clusterDir, "realnode-services"),
    dnsAddress: first.gateway,
    kubeProxyNode: first.name,
    ports,
    pids: {},
  };
}

/** kube-proxy's KubeProxyConfiguration: iptables mode, and no machine-wide setting changed. Pure. */
export function kubeProxyConfig(services: RealNodeServices, kubeconfig: string): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig, qps: 20, burst: 40 },
    hostnameOverride: services.kubeProxyNode,
    healthzBindAddress: `127.0.0.1:${services.ports.kubeProxyHealthz}`,
    metricsBindAddress: `127.0.0.1:${services.ports.kubeProxyMetrics}`,
    // Traffic from outside the pod network (this machine's own) to a ClusterIP is masqueraded to the bridge's
    // address, so that the backend pod's answer comes back through this machine.
    clusterCIDR: podNetwork,
    detectLocalMode: "ClusterCIDR",
    // NodePorts on the real nodes' addresses only, never on this machine's outside interface; and not on
    // 127.0.0.1, which would need route_localnet switched on machine-wide.
    nodePortAddresses: [podNetwork],
    iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: "30s", minSyncPeriod: "1s" },
    // Zeros leave the machine's conntrack table size and timeouts as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    // This machine forbids lowering oom_score_adj (kube-proxy would ask for -999).
    oomScoreAdj: 0,
    logging: { format: "text" },
  };
}

export function kubeProxyArgs(configFile: string): string[] {
  return [`--config=${configFile}`, "--v=1"];
}

/**
 * The Corefile: cluster.local from the apiserver (Services, headless Services' pods by hostname, as a
 * StatefulSet's `etcd-0.etcd.<ns>.svc`), NXDOMAIN for everything else. Both blocks bind only the DNS address, so
 * another meta-cluster's CoreDNS (on its own first node's address) and this machine's port 53 stay free. Pure.
 */
export function corefile(services: RealNodeServices, kubeconfig: string): string {
  return `# CoreDNS of the meta-cluster's real nodes, written by hack/lib/realnode-services.ts
${clusterDomain}:53 {
    bind ${services.dnsAddress}
    ready 127.0.0.1:${services.ports.corednsReady}
    errors
    kubernetes ${clusterDomain} {
        kubeconfig ${JSON.stringify(kubeconfig)}
        ttl 5
    }
}
.:53 {
    bind ${services.dnsAddress}
    errors
    # Pods never send traffic off this machine: no forwarding, every other name does not exist.
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`;
}

/** What CoreDNS's kubernetes plugin reads (the same as upstream's system:coredns ClusterRole), and its binding. */
export function corednsRbac(): Array<{ path: string; body: Record<string, unknown> }> {
  const name = "metacluster:coredns";
  return [
    {
      path: "/apis/rbac.authorization.k8s.io/v1/clusterroles",
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name },
        rules: [
          { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
      },
    },
    {
      path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: corednsUser }],
      },
    },
  ];
}

/** True for a KUBE-* chain that kube-proxy makes (every one the kubelet does not). */
export function isKubeProxyChain(chain: string): boolean {
  return chain.startsWith("KUBE-") && !kubeletChainNames.includes(chain);
}

/**
 * kube-proxy processes of every meta-cluster in this network namespace (whose iptables they share; a meta-cluster
 * started in a network namespace of its own has its own).
 */
export function kubeProxyPids(): number[] {
  const netns = (pid: number | "self") => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      return undefined;
    }
  };
  const mine = netns("self");
  return pidsWhere((argv) => path.basename(argv[0] ?? "") === "kube-proxy").filter((pid) => netns(pid) === mine);
}

/** The meta-cluster directory a kube-proxy's --config points into, from its command line. Pure. */
export function clusterDirOfKubeProxy(argv: string[]): string | undefined {
  const config = argv.find((a) => a.startsWith("--config="))?.slice("--config=".length);
  return config ? path.dirname(path.dirname(config)) : undefined;
}

/** True while a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` while holding the machine-wide lock file `lockFile` (created with O_EXCL; it holds the holder's pid).
 * A lock whose holder has died is taken over. Used where two meta-clusters would otherwise both see "no kube-proxy
 * runs here" and both start one.
 */
export async function withHostLock<T>(lockFile: string, fn: () => Promise<T>, pollMs = 100): Promise<T> {
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lockFile, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return await fn();
      } finally {
        rmSync(lockFile, { force: true });
      }
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(lockFile, "utf8"));
    } catch {
      // removed between open and read: try again
    }
    // A holder that died (or a file it had not written its pid into yet, if it never will): take it over.
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(lockFile, { force: true });
    await sleep(pollMs);
  }
}

/** The lock of the kube-proxy in this process's network namespace (kube-proxy's chains are per namespace). */
export function kubeProxyLockFile(runDir = "/run"): string {
  const netns = readlinkSync("/proc/self/ns/net").replace(/\D/g, "");
  return path.join(runDir, `metapilot-kube-proxy-${netns}.lock`);
}
