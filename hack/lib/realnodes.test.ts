import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  bridgeIsOurs,
  bridgeOwner,
  clusterIdOf,
  cniConfig,
  containerdConfig,
  egressRule,
  apiserverRouteRules,
  kubeChainCleanup,
  kubeletArgs,
  kubeletConfig,
  missingForRealNodes,
  mountsUnder,
  parentPid,
  pidsWhere,
  realNodeLayout,
  sharedLeftoverFiles,
  splitRule,
  topLevel,
} from "./realnodes.js";

const node = realNodeLayout("/work/.cache/mc", 0, 3, { kubelet: 21001, healthz: 21002 }, "abcd1234");

describe("realNodeLayout", () => {
  it("names the node, its bridge, pod range, socket and cgroup root after its ordinal and slot", () => {
    expect(node).toMatchObject({
      name: "metacluster-real-0",
      index: 3,
      dir: "/work/.cache/mc/realnodes/metacluster-real-0",
      bridge: "mpbr3",
      subnet: "10.88.3.0/24",
      gateway: "10.88.3.1",
      containerdSocket: "/work/.cache/mc/realnodes/metacluster-real-0/containerd.sock",
      kubeletPort: 21001,
      kubeletHealthzPort: 21002,
      cgroupRoot: "/metapilot-abcd1234-0",
      pids: {},
    });
  });

  it("keeps bridge names within the kernel's 15 characters", () => {
    expect(realNodeLayout("/d", 7, 255, { kubelet: 1, healthz: 2 }, "x").bridge.length).toBeLessThanOrEqual(15);
  });

  it("refuses a slot outside 10.88.0.0/16 and a socket path too long for a unix socket", () => {
    expect(() => realNodeLayout("/d", 0, 256, { kubelet: 1, healthz: 2 }, "x")).toThrow(/outside 0..255/);
    expect(() => realNodeLayout(`/${"a".repeat(80)}`, 0, 0, { kubelet: 1, healthz: 2 }, "x")).toThrow(
      /too long for a unix socket/,
    );
  });

  it("gives two meta-cluster directories different ids, and one directory always the same", () => {
    expect(clusterIdOf("/a/mc-one")).toBe(clusterIdOf("/a/mc-one"));
    expect(clusterIdOf("/a/mc-one")).not.toBe(clusterIdOf("/a/mc-two"));
    expect(clusterIdOf("/a/mc-one")).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe("containerdConfig", () => {
  const toml = containerdConfig(node, { sandbox: "localhost/metapilot/pause:3.10.1" });
  const line = (key: string) =>
    toml
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith(`${key} =`));

  it("keeps root, state, sockets and CNI config under the node's directory", () => {
    expect(line("root")).toBe('root = "/work/.cache/mc/realnodes/metacluster-real-0/containerd/root"');
    expect(line("state")).toBe('state = "/work/.cache/mc/realnodes/metacluster-real-0/containerd/state"');
    expect(toml).toContain('address = "/work/.cache/mc/realnodes/metacluster-real-0/containerd.sock"');
    expect(toml).toContain('address = "/work/.cache/mc/realnodes/metacluster-real-0/containerd.sock.ttrpc"');
    expect(line("conf_dir")).toBe('conf_dir = "/work/.cache/mc/realnodes/metacluster-real-0/cni/net.d"');
    expect(line("Root")).toBe('Root = "/work/.cache/mc/realnodes/metacluster-real-0/containerd/runc"');
    expect(line("path")).toBe('path = "/work/.cache/mc/realnodes/metacluster-real-0/containerd/opt"');
  });

  it("sets what this machine kind needs: restricted oom_score_adj, the local sandbox image, netns under state", () => {
    expect(line("restrict_oom_score_adj")).toBe("restrict_oom_score_adj = true");
    expect(line("sandbox_image")).toBe('sandbox_image = "localhost/metapilot/pause:3.10.1"');
    expect(line("netns_mounts_under_state_dir")).toBe("netns_mounts_under_state_dir = true");
    expect(line("SystemdCgroup")).toBe("SystemdCgroup = false");
    expect(line("snapshotter")).toBe('snapshotter = "overlayfs"');
    expect(line("bin_dir")).toBe('bin_dir = "/usr/lib/cni"');
  });
});

describe("cniConfig", () => {
  it("is a bridge on the node's own /24 with no masquerading and host-local state under the node", () => {
    expect(cniConfig(node)).toEqual({
      cniVersion: "1.0.0",
      name: "mpbr3",
      plugins: [
        {
          type: "bridge",
          bridge: "mpbr3",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: "/work/.cache/mc/realnodes/metacluster-real-0/cni/ipam",
            ranges: [[{ subnet: "10.88.3.0/24", gateway: "10.88.3.1" }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ],
    });
  });

  it("drops forwarded pod traffic to anywhere outside the pod network", () => {
    const rule = egressRule(node);
    expect(rule.slice(0, 5)).toEqual(["-s", "10.88.3.0/24", "!", "-d", "10.88.0.0/16"]);
    expect(rule.slice(-2)).toEqual(["-j", "DROP"]);
  });

  it("sends only its own bridge's connections to the kubernetes Service to the apiserver on 127.0.0.1, and guards 127/8", () => {
    const [dnat, guard] = apiserverRouteRules(node, 34567);
    expect(dnat?.table).toBe("nat");
    expect(dnat?.chain).toBe("PREROUTING");
    expect(dnat?.rule.join(" ")).toMatch(/^-i mpbr3 -d 10\.96\.0\.1\/32 -p tcp -m tcp --dport 443 /);
    expect(dnat?.rule.slice(-3)).toEqual(["DNAT", "--to-destination", "127.0.0.1:34567"]);
    expect(guard?.table).toBe("filter");
    expect(guard?.chain).toBe("INPUT");
    expect(guard?.rule.join(" ")).toMatch(
      /^-i mpbr3 -d 127\.0\.0\.0\/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT /,
    );
    expect(guard?.rule.slice(-2)).toEqual(["-j", "DROP"]);
  });
});

describe("kubeletConfig and kubeletArgs", () => {
  const config = kubeletConfig(
    node,
    { caFile: "/ca.crt", tlsCertFile: "/k.crt", tlsPrivateKeyFile: "/k.key" },
    "10.88.3.1",
  );

  it("runs on cgroup v1 with cgroupfs under its own root, with swap, on its bridge address, port and containerd", () => {
    expect(config).toMatchObject({
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: "/metapilot-abcd1234-0",
      failSwapOn: false,
      address: "10.88.3.1",
      port: 21001,
      healthzPort: 21002,
      readOnlyPort: 0,
      containerRuntimeEndpoint: "unix:///work/.cache/mc/realnodes/metacluster-real-0/containerd.sock",
      podLogsDir: "/work/.cache/mc/realnodes/metacluster-real-0/pod-logs",
    });
  });

  it("gives pods the meta-cluster's CoreDNS and cluster.local, and none of this machine's resolvers", () => {
    expect(config).toMatchObject({ clusterDNS: ["10.88.3.1"], clusterDomain: "cluster.local", resolvConf: "" });
  });

  it("registers with the NoSchedule taint and never garbage-collects the imported images", () => {
    expect(config.registerWithTaints).toEqual([{ key: "metapilot.io/node-kind", value: "real", effect: "NoSchedule" }]);
    expect(config.imageGCHighThresholdPercent).toBe(100);
  });

  it("authenticates clients by the meta-cluster CA and asks the apiserver what they may do", () => {
    expect(config.authentication).toEqual({
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: "/ca.crt" },
    });
    expect(config.authorization).toEqual({ mode: "Webhook" });
  });

  it("has its own root dir, the node label, and its bridge's address as the one the apiserver uses", () => {
    const args = kubeletArgs(node, "/kc");
    expect(args).toContain("--root-dir=/work/.cache/mc/realnodes/metacluster-real-0/kubelet");
    expect(args).toContain("--node-ip=10.88.3.1");
    expect(args).toContain("--hostname-override=metacluster-real-0");
    expect(args).toContain("--node-labels=metapilot.io/node-kind=real");
    expect(args).toContain("--kubeconfig=/kc");
    // cAdvisor's own containerd client: without it its series have no pod, namespace and container labels.
    expect(args).toContain("--containerd=/work/.cache/mc/realnodes/metacluster-real-0/containerd.sock");
    expect(args).toContain("--config=/work/.cache/mc/realnodes/metacluster-real-0/kubelet.yaml");
  });
});

describe("missingForRealNodes", () => {
  it("names each thing that is missing", () => {
    const missing = missingForRealNodes({
      uid: 1000,
      memoryController: false,
      bridge: false,
      missingFiles: ["/usr/bin/containerd"],
    });
    expect(missing).toHaveLength(4);
    expect(missing[0]).toMatch(/^not root \(uid 1000\)/);
    expect(missing[1]).toMatch(/^no cgroup memory controller/);
    expect(missing[2]).toMatch(/^no bridge support/);
    expect(missing[3]).toMatch(/^missing \/usr\/bin\/containerd/);
  });

  it("is empty on a machine that has everything", () => {
    expect(missingForRealNodes({ uid: 0, memoryController: true, bridge: true, missingFiles: [] })).toEqual([]);
  });
});

describe("mountsUnder", () => {
  const mountinfo = [
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
    "300 22 0:50 / /work/mc/realnodes/n0/containerd/state/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw - overlay overlay rw",
    "301 22 0:51 / /work/mc/realnodes/n0/kubelet/pods/uid/volumes/kubernetes.io~projected/kube-api-access-x rw - tmpfs tmpfs rw",
    "302 22 0:52 / /work/mc/realnodes/n0/containerd/state/netns/cni-1 rw - nsfs nsfs rw",
    "303 22 0:53 / /work/mc/realnodes/n0\\040space/x rw - tmpfs tmpfs rw",
    "304 22 0:54 / /work/mc/realnodes/n01/y rw - tmpfs tmpfs rw",
  ].join("\n");

  it("lists mount points below the directory, deepest first, decoding escaped spaces", () => {
    expect(mountsUnder("/work/mc/realnodes/n0", mountinfo)).toEqual([
      "/work/mc/realnodes/n0/kubelet/pods/uid/volumes/kubernetes.io~projected/kube-api-access-x",
      "/work/mc/realnodes/n0/containerd/state/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
      "/work/mc/realnodes/n0/containerd/state/netns/cni-1",
    ]);
    expect(mountsUnder("/work/mc/realnodes/n0 space", mountinfo)).toEqual(["/work/mc/realnodes/n0 space/x"]);
  });
});

describe("kubeChainCleanup", () => {
  // iptables-save after a kubelet ran, with someone else's chain and rule that must stay.
  const save = [
    "# Generated by iptables-save v1.8.9 (nf_tables)",
    "*mangle",
    ":PREROUTING ACCEPT [0:0]",
    ":KUBE-IPTABLES-HINT - [0:0]",
    ":KUBE-KUBELET-CANARY - [0:0]",
    "COMMIT",
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":KUBE-FIREWALL - [0:0]",
    ":OTHER - [0:0]",
    "-A INPUT -j KUBE-FIREWALL",
    "-A OUTPUT -j KUBE-FIREWALL",
    '-A FORWARD -s 10.88.3.0/24 ! -d 10.88.0.0/16 -m comment --comment "metapilot real node mpbr3: pods never leave this machine" -j DROP',
    "-A INPUT -j OTHER",
    '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    "COMMIT",
  ].join("\n");

  it("deletes the jumps into KUBE-* chains from other chains, then the chains, and nothing else", () => {
    const { deletes, chains } = kubeChainCleanup(save);
    expect(deletes).toEqual([
      { table: "filter", rule: ["INPUT", "-j", "KUBE-FIREWALL"] },
      { table: "filter", rule: ["OUTPUT", "-j", "KUBE-FIREWALL"] },
    ]);
    expect(chains).toEqual([
      { table: "mangle", chain: "KUBE-IPTABLES-HINT" },
      { table: "mangle", chain: "KUBE-KUBELET-CANARY" },
      { table: "filter", chain: "KUBE-FIREWALL" },
    ]);
  });

  it("splits rules keeping quoted comments whole", () => {
    expect(splitRule('-A X -m comment --comment "a b \\"c\\"" -j DROP')).toEqual([
      "-A",
      "X",
      "-m",
      "comment",
      "--comment",
      'a b "c"',
      "-j",
      "DROP",
    ]);
  });
});

describe("sharedLeftoverFiles", () => {
  it("names a sandbox's shim socket as containerd 1.6 does, and its CNI result files", () => {
    // Seen on this machine kind after the containerd of a node in /work/main/.cache/mc-realnodes was killed.
    const crashed = realNodeLayout("/work/main/.cache/mc-realnodes", 0, 0, { kubelet: 1, healthz: 2 }, "x");
    const id = "3cd01612afc04f9bd919d2c4a84fdae956c71b42d18b18efb4940c224af22df8";
    expect(sharedLeftoverFiles(crashed, [id])).toEqual([
      "/run/containerd/s/aee2199b7c48d4db1bb2bcbbd086a949db8446a13611c0471116887e7539d20b",
      `/var/lib/cni/results/cni-loopback-${id}-lo`,
      `/var/lib/cni/results/mpbr0-${id}-eth0`,
    ]);
  });
});

describe("bridgeIsOurs", () => {
  const mine = { dir: "/tmp/ci-a/.cache/metacluster/real/metacluster-real-0" };
  const theirs = { dir: "/tmp/ci-b/.cache/metacluster/real/metacluster-real-0" };

  it("is the node's bridge when it carries the node's alias, or none yet", () => {
    expect(bridgeIsOurs(bridgeOwner(mine) + "\n", mine)).toBe(true); // /sys/class/net/<link>/ifalias ends in \n
    expect(bridgeIsOurs("", mine)).toBe(true);
  });

  it("is not when another meta-cluster claimed the slot after this one let it go", () => {
    expect(bridgeIsOurs(bridgeOwner(theirs) + "\n", mine)).toBe(false);
    expect(bridgeIsOurs("something else", mine)).toBe(false);
  });
});

describe("pidsWhere", () => {
  it("reads the parent from a stat line whose name holds spaces and parentheses", () => {
    expect(parentPid("4242 (kube proxy) (x)) S 4100 4242 4242 0 -1 4194560 1 0 0 0")).toBe(4100);
  });

  it("drops a process whose parent is among the matches, at any depth, and keeps the order", () => {
    expect(
      topLevel([
        { pid: 30, ppid: 1 },
        { pid: 31, ppid: 30 },
        { pid: 32, ppid: 31 },
        { pid: 40, ppid: 7 },
      ]),
    ).toEqual([30, 40]);
  });

  it("does not count a forked child that still has its parent's command line (CI: two kube-proxies seen)", async () => {
    // bash forks a subshell for the parentheses; the subshell keeps bash's command line, as a Go program's child
    // does between fork and exec. The marker is bash's $0, so nothing else on the machine matches.
    const marker = `pidswhere-test-${process.pid}-${Date.now()}`;
    const child = spawn("bash", ["-c", "(sleep 30; true); true", marker], { stdio: "ignore" });
    try {
      const withMarker = () =>
        readdirSync("/proc")
          .filter((e) => /^\d+$/.test(e))
          .filter((e) => {
            try {
              return readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").includes(marker);
            } catch {
              return false;
            }
          });
      for (let i = 0; i < 200 && withMarker().length < 2; i++) await sleep(25);
      expect(withMarker(), "bash and its subshell").toHaveLength(2);
      expect(pidsWhere((argv) => argv.includes(marker))).toEqual([child.pid]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
