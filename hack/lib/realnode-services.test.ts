import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  clusterDirOfKubeProxy,
  corednsRbac,
  corednsUser,
  corefile,
  isKubeProxyChain,
  kubeProxyArgs,
  kubeProxyConfig,
  realNodeServicesLayout,
  withHostLock,
} from "./realnode-services.js";
import { kubeChainCleanup, realNodeLayout } from "./realnodes.js";

const nodes = [
  realNodeLayout("/work/.cache/mc", 0, 3, { kubelet: 21001, healthz: 21002 }, "abcd1234"),
  realNodeLayout("/work/.cache/mc", 1, 4, { kubelet: 21003, healthz: 21004 }, "abcd1234"),
];
const services = realNodeServicesLayout("/work/.cache/mc", nodes, {
  kubeProxyHealthz: 22001,
  kubeProxyMetrics: 22002,
  corednsReady: 22003,
});

describe("realNodeServicesLayout", () => {
  it("puts DNS on the first node's bridge address and makes kube-proxy act as that node", () => {
    expect(services).toEqual({
      dir: "/work/.cache/mc/realnode-services",
      dnsAddress: "10.88.3.1",
      kubeProxyNode: "metacluster-real-0",
      ports: { kubeProxyHealthz: 22001, kubeProxyMetrics: 22002, corednsReady: 22003 },
      pids: {},
    });
  });

  it("refuses a meta-cluster without real nodes", () => {
    expect(() => realNodeServicesLayout("/d", [], services.ports)).toThrow(/need a real node/);
  });
});

describe("kubeProxyConfig", () => {
  const config = kubeProxyConfig(services, "/k/kube-proxy.kubeconfig");

  it("runs iptables mode as the first node, with health and metrics on loopback only", () => {
    expect(config).toMatchObject({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clientConnection: { kubeconfig: "/k/kube-proxy.kubeconfig" },
      hostnameOverride: "metacluster-real-0",
      healthzBindAddress: "127.0.0.1:22001",
      metricsBindAddress: "127.0.0.1:22002",
    });
  });

  it("treats the pod network as local, so this machine's own traffic to a ClusterIP is masqueraded", () => {
    expect(config).toMatchObject({ clusterCIDR: "10.88.0.0/16", detectLocalMode: "ClusterCIDR" });
    expect(config.iptables).toMatchObject({ masqueradeAll: false });
  });

  it("changes no machine-wide setting: no NodePorts outside the pod network or on 127.0.0.1, conntrack as it is", () => {
    expect(config.nodePortAddresses).toEqual(["10.88.0.0/16"]);
    expect(config.iptables).toMatchObject({ localhostNodePorts: false });
    expect(config.conntrack).toEqual({ maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" });
    expect(config.oomScoreAdj).toBe(0);
  });

  it("is started with its config file", () => {
    expect(kubeProxyArgs("/k/kube-proxy.yaml")).toEqual(["--config=/k/kube-proxy.yaml", "--v=1"]);
  });
});

describe("corefile", () => {
  const text = corefile(services, "/k/coredns.kubeconfig");
  // The server blocks, each from its "zone:53 {" line to its closing brace.
  const blocks = text
    .split(/\n(?=\S*:53 \{)/)
    .filter((b) => !b.startsWith("#"))
    .map((b) => b.trimEnd());

  it("serves cluster.local from the apiserver, and only on the DNS address", () => {
    expect(blocks[0]).toBe(
      [
        "cluster.local:53 {",
        "    bind 10.88.3.1",
        "    ready 127.0.0.1:22003",
        "    errors",
        "    kubernetes cluster.local {",
        '        kubeconfig "/k/coredns.kubeconfig"',
        "        ttl 5",
        "    }",
        "}",
      ].join("\n"),
    );
  });

  it("answers NXDOMAIN for every other name and forwards nothing", () => {
    expect(blocks[1]).toContain(".:53 {\n    bind 10.88.3.1\n");
    expect(blocks[1]).toMatch(/template ANY ANY \{\s+rcode NXDOMAIN\s+\}/);
    expect(text).not.toMatch(/\bforward\b|\bproxy\b/);
    expect(blocks).toHaveLength(2);
  });
});

describe("corednsRbac", () => {
  it("lets CoreDNS's identity list and watch what its kubernetes plugin reads, and nothing else", () => {
    const [role, binding] = corednsRbac();
    expect(role?.body.rules).toEqual([
      { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    ]);
    expect(binding?.body).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "metacluster:coredns" },
      subjects: [{ kind: "User", name: corednsUser }],
    });
  });
});

describe("kube-proxy's chains", () => {
  // iptables-save with the kubelet's and kube-proxy's chains (shapes as kube-proxy v1.35 writes them), and
  // someone else's rule that must stay.
  const save = [
    "*mangle",
    ":PREROUTING ACCEPT [0:0]",
    ":KUBE-IPTABLES-HINT - [0:0]",
    ":KUBE-KUBELET-CANARY - [0:0]",
    ":KUBE-PROXY-CANARY - [0:0]",
    "COMMIT",
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":KUBE-FIREWALL - [0:0]",
    ":KUBE-FORWARD - [0:0]",
    ":KUBE-SERVICES - [0:0]",
    "-A INPUT -j KUBE-FIREWALL",
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A FORWARD -s 10.88.3.0/24 ! -d 10.88.0.0/16 -m comment --comment "metapilot real node mpbr3: pods never leave this machine" -j DROP',
    "COMMIT",
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":KUBE-SERVICES - [0:0]",
    ":KUBE-SVC-ABCDEF - [0:0]",
    ":KUBE-SEP-ABCDEF - [0:0]",
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    "-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -j KUBE-SVC-ABCDEF",
    "COMMIT",
  ].join("\n");

  it("are every KUBE-* chain but the kubelet's three", () => {
    expect(["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"].filter(isKubeProxyChain)).toEqual([]);
    expect(["KUBE-SERVICES", "KUBE-SVC-ABCDEF", "KUBE-PROXY-CANARY", "OTHER"].filter(isKubeProxyChain)).toEqual([
      "KUBE-SERVICES",
      "KUBE-SVC-ABCDEF",
      "KUBE-PROXY-CANARY",
    ]);
  });

  it("are removed with the jumps into them, leaving the kubelet's chains and other rules", () => {
    const { deletes, chains } = kubeChainCleanup(save, isKubeProxyChain);
    expect(deletes).toEqual([
      {
        table: "filter",
        rule: [
          "INPUT",
          "-m",
          "conntrack",
          "--ctstate",
          "NEW",
          "-m",
          "comment",
          "--comment",
          "kubernetes service portals",
          "-j",
          "KUBE-SERVICES",
        ],
      },
      {
        table: "filter",
        rule: ["FORWARD", "-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD"],
      },
      {
        table: "nat",
        rule: ["PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
      },
    ]);
    expect(chains).toEqual([
      { table: "mangle", chain: "KUBE-PROXY-CANARY" },
      { table: "filter", chain: "KUBE-FORWARD" },
      { table: "filter", chain: "KUBE-SERVICES" },
      { table: "nat", chain: "KUBE-SERVICES" },
      { table: "nat", chain: "KUBE-SVC-ABCDEF" },
      { table: "nat", chain: "KUBE-SEP-ABCDEF" },
    ]);
  });
});

describe("clusterDirOfKubeProxy", () => {
  it("finds the meta-cluster a running kube-proxy belongs to from its --config", () => {
    expect(
      clusterDirOfKubeProxy(["/b/kube-proxy", "--config=/work/.cache/mc/realnode-services/kube-proxy.yaml", "--v=1"]),
    ).toBe("/work/.cache/mc");
    expect(clusterDirOfKubeProxy(["/usr/sbin/kube-proxy"])).toBeUndefined();
  });
});

describe("withHostLock", () => {
  const lockFile = () => path.join(mkdtempSync(path.join(tmpdir(), "hostlock-")), "kube-proxy.lock");

  it("runs one holder at a time: the check and the start of two callers never interleave", async () => {
    const file = lockFile();
    const events: string[] = [];
    const critical = (who: string) => async () => {
      events.push(`${who} in`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${who} out`);
      return who;
    };
    const results = await Promise.all([withHostLock(file, critical("a"), 5), withHostLock(file, critical("b"), 5)]);
    expect(results).toEqual(["a", "b"]);
    // Each "in" is followed by its own "out" before the other enters.
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]!.replace(" in", " out"));
    expect(existsSync(file)).toBe(false);
  });

  it("takes over a lock whose holder died, and releases the lock when the work throws", async () => {
    const file = lockFile();
    // A pid that is not running: the highest pid the kernel allows is below 2^22.
    writeFileSync(file, String(2 ** 22 + 1));
    await expect(withHostLock(file, () => Promise.reject(new Error("boom")), 5)).rejects.toThrow("boom");
    expect(existsSync(file)).toBe(false);
    expect(await withHostLock(file, () => Promise.resolve("ok"), 5)).toBe("ok");
  });

  it("waits for a live holder", async () => {
    const file = lockFile();
    writeFileSync(file, String(process.pid));
    let ran = false;
    const waiting = withHostLock(
      file,
      () => {
        ran = true;
        return Promise.resolve();
      },
      5,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(ran).toBe(false);
    rmSync(file);
    await waiting;
    expect(ran).toBe(true);
  });
});
