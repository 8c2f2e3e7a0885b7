// Services and cluster DNS on real nodes: the meta-cluster's kube-proxy makes ClusterIPs work in pods and on this
// machine, and its CoreDNS answers `*.svc` names, a StatefulSet pod's name under its headless Service among them
// (the operator's etcd is `etcd-0.etcd.<ns>.svc`), and nothing outside cluster.local. Removing the real nodes
// stops both and leaves none of kube-proxy's chains.
//
// Like realnodes.test.ts, it gets its real node itself and removes it again unless the meta-cluster had real nodes
// before. On a machine that cannot run real nodes every test fails, naming what is missing.
import * as k8s from "@kubernetes/client-node";
import { Resolver } from "node:dns/promises";
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureRealNodes, readState, realNodeImages, type MetaclusterState } from "../../hack/lib/metacluster.js";
import { isProcess, kubeChains, realNodeKindKey, realNodeKindValue } from "../../hack/lib/realnodes.js";
import { isKubeProxyChain, kubeProxyPids, type RealNodeServices } from "../../hack/lib/realnode-services.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";

const log = (l: string) => process.stderr.write(`[realnode-services] ${l}\n`);
const toleration = { key: realNodeKindKey, operator: "Equal", value: realNodeKindValue, effect: "NoSchedule" };

function rssKiB(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]);
}

/**
 * A GET on a connection of its own (no keep-alive agent), so that each attempt of a retry loop is a new connection
 * that meets kube-proxy's rules as they are then. With Node's default agent (keep-alive since Node 19), an attempt
 * made before kube-proxy had written the Service's rule opened a connection that is never DNAT'd (NAT is decided on
 * a connection's first packet), to whatever answers on the default route: on this machine an egress proxy, which
 * answers any port-80 request with 404 and keeps the connection open. eventually's retries every 200 ms reused it
 * and kept it from idling out, so every later attempt, and the next test's (one global agent), got the 404 too:
 * both ClusterIP checks failed for 60 s each in one CI run. Reproduced with a DNAT rule of our own added 3 s into
 * such a loop: all 14 attempts of the next 4.9 s went over the first connection and got 404; with a connection per
 * attempt, the first attempt after the rule got 200.
 */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 10_000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

describe("Services and cluster DNS on real nodes", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let state: MetaclusterState;
  let services: RealNodeServices;
  let realNodesBefore = 0;
  let setupError: unknown;
  let namespace: { name: string; cleanup: () => Promise<void> };
  let clusterIP = "";
  const busybox = () => realNodeImages().busybox.ref;

  beforeAll(async () => {
    state = readState(metacluster().dir) ?? metacluster();
    realNodesBefore = state.realNodes?.length ?? 0;
    // On a machine that cannot run real nodes this throws the list of what it lacks. Kept for every test to throw.
    try {
      await ensureRealNodes(state, Math.max(1, realNodesBefore), log);
      services = state.realNodeServices!;
      namespace = await freshNamespace(kc, "svc");
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

  it("runs one CoreDNS and one kube-proxy for the meta-cluster, and measures their memory", () => {
    if (services.kubeProxyBlockedBy) throw new Error(`kube-proxy is not running: ${services.kubeProxyBlockedBy}`);
    expect(isProcess(services.pids.coredns, "coredns")).toBe(true);
    expect(isProcess(services.pids.kubeProxy, "kube-proxy")).toBe(true);
    expect(kubeProxyPids()).toEqual([services.pids.kubeProxy]);
    expect(services.dnsAddress).toBe(state.realNodes![0]!.gateway);
    log(`RSS: kube-proxy ${rssKiB(services.pids.kubeProxy)} KiB, CoreDNS ${rssKiB(services.pids.coredns)} KiB`);
  });

  it("a pod on the real node resolves a Service and a StatefulSet pod's name, and reaches the ClusterIP", async () => {
    const ns = namespace.name;
    const labels = { app: "web" };
    // A StatefulSet under its headless Service, as the operator's etcd: web-0.web.<ns>.svc. It serves its name.
    await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: { clusterIP: "None", selector: labels, ports: [{ name: "http", port: 8080 }] },
      },
    });
    const svc = await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: "web-svc" },
        spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
      },
    });
    clusterIP = svc.spec!.clusterIP!;
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          serviceName: "web",
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              nodeSelector: { [realNodeKindKey]: realNodeKindValue },
              tolerations: [toleration],
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: "httpd",
                  image: busybox(),
                  imagePullPolicy: "Never",
                  command: [
                    "sh",
                    "-c",
                    'mkdir -p /www && echo "served by $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www',
                  ],
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
                  resources: { limits: { memory: "16Mi", cpu: "100m" } },
                },
              ],
            },
          },
        },
      },
    });
    await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: ns, name: "web-0" }).catch(() => undefined);
        return p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
      },
      180_000,
      "pod web-0 Ready on the real node",
    );
    // kube-proxy and CoreDNS learn the Service's endpoint and web-0's name from the EndpointSlices, which follow
    // web-0's Ready by the endpoint controller and then each one's watch: under load, seconds later (in one CI run
    // the pod below found the ClusterIP refused and web-0's name unknown, and the ClusterIP served a moment later).
    // What the pod checks is its own path to them, so first this machine sees both in place.
    const ready = await core.readNamespacedPod({ namespace: ns, name: "web-0" });
    await eventually(() => httpGet(`http://${clusterIP}:80/`), 60_000, "kube-proxy serving the Service");
    const dns = new Resolver({ timeout: 5_000, tries: 2 });
    dns.setServers([services.dnsAddress]);
    await eventually(
      async () =>
        (await dns.resolve4(`web-0.web.${ns}.svc.cluster.local`).catch(() => []))[0] === ready.status?.podIP
          ? true
          : undefined,
      60_000,
      "CoreDNS answering web-0's name",
    );
    // Names through the pod's search path: the Service by its short name, the StatefulSet's pod by
    // <pod>.<headless service>.<ns>.svc; and a name outside cluster.local, which must not resolve. Every step runs
    // and prints its result, so that a failure shows them all in the pod's log. (Debian's busybox-static crashes
    // in glibc's resolver, and its wget even on an address: nslookup asks the nameserver itself, nc takes the
    // address it found.)
    const script = [
      `addr() { nslookup "$1" | while read -r k v; do [ "$k" = "Address:" ] && echo "$v"; done | tail -n 1; }`,
      `get() { printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 "$1" "$2" | tail -n 1; }`,
      `echo "resolv.conf: $(tr '\\n' ';' < /etc/resolv.conf)"`,
      `svc=$(addr web-svc); echo "svc address: $svc"`,
      // busybox's nslookup applies the search list to names without dots only; the resolvers of glibc, musl and Go
      // apply it to names with fewer dots than ndots (5), so that web-0.web.<ns>.svc becomes this name.
      `pod=$(addr web-0.web.${ns}.svc.cluster.local); echo "pod address: $pod"`,
      `echo "svc: $(get "$svc" 80)"`,
      `echo "pod: $(get "$pod" 8080)"`,
      `echo "ip: $(get ${clusterIP} 80)"`,
      "if nslookup example.com; then echo 'outside: resolved'; else echo 'outside: not found'; fi",
    ].join("\n");
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "client" },
        spec: {
          nodeSelector: { [realNodeKindKey]: realNodeKindValue },
          tolerations: [toleration],
          restartPolicy: "Never",
          containers: [
            {
              name: "client",
              image: busybox(),
              imagePullPolicy: "Never",
              command: ["sh", "-c", script],
              resources: { limits: { memory: "16Mi", cpu: "100m" } },
            },
          ],
        },
      },
    });
    const phase = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: ns, name: "client" });
        const ph = p.status?.phase;
        return ph === "Succeeded" || ph === "Failed" ? ph : undefined;
      },
      180_000,
      "pod client finished",
    );
    const out = await core.readNamespacedPodLog({ namespace: ns, name: "client", container: "client" });
    log(`pod client's log:\n${out}`);
    expect(phase).toBe("Succeeded");
    const web0 = await core.readNamespacedPod({ namespace: ns, name: "web-0" });
    // The kubelet gave the pod only the cluster's nameserver and search list.
    const resolvConf = /^resolv\.conf: (.*)$/m.exec(out)?.[1]?.split(";").filter(Boolean) ?? [];
    expect(resolvConf.sort()).toEqual(
      [
        `nameserver ${services.dnsAddress}`,
        `search ${ns}.svc.cluster.local svc.cluster.local cluster.local`,
        "options ndots:5",
      ].sort(),
    );
    expect(out).toContain(`svc address: ${clusterIP}\n`);
    expect(out).toContain(`pod address: ${web0.status?.podIP}\n`);
    expect(out).toContain("svc: served by web-0");
    expect(out).toContain("pod: served by web-0");
    expect(out).toContain("ip: served by web-0");
    expect(out).toContain("outside: not found");
    expect(out).not.toContain("outside: resolved");
  }, 420_000);

  it("this machine reaches the ClusterIP, and CoreDNS answers cluster.local only", async () => {
    if (!clusterIP) throw new Error("the Service of the pod test was not created");
    const body = await eventually(() => httpGet(`http://${clusterIP}:80/`), 60_000, `http://${clusterIP}:80/`);
    expect(body.trim()).toBe("served by web-0");
    const resolver = new Resolver({ timeout: 5_000, tries: 2 });
    resolver.setServers([services.dnsAddress]);
    expect(await resolver.resolve4(`web-svc.${namespace.name}.svc.cluster.local`)).toEqual([clusterIP]);
    const web0 = await core.readNamespacedPod({ namespace: namespace.name, name: "web-0" });
    expect(await resolver.resolve4(`web-0.web.${namespace.name}.svc.cluster.local`)).toEqual([web0.status?.podIP]);
    await expect(resolver.resolve4("example.com")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolve4(`nothing.${namespace.name}.svc.cluster.local`)).rejects.toMatchObject({
      code: "ENOTFOUND",
    });
  }, 120_000);

  it("removing the real nodes stops CoreDNS and kube-proxy and leaves none of kube-proxy's chains", async () => {
    if (realNodesBefore > 0) {
      // The meta-cluster had real nodes before this file: they and their services stay.
      expect(isProcess(services.pids.coredns, "coredns")).toBe(true);
      return;
    }
    const pids = { ...services.pids };
    const left = await ensureRealNodes(state, 0, log);
    expect(left).toEqual([]);
    expect(readState(state.dir)?.realNodeServices).toBeUndefined();
    expect(isProcess(pids.coredns, "coredns")).toBe(false);
    expect(isProcess(pids.kubeProxy, "kube-proxy")).toBe(false);
    expect(kubeProxyPids(), "kube-proxy processes on this machine").toEqual([]);
    expect(await kubeChains(isKubeProxyChain), "kube-proxy's chains").toEqual([]);
  }, 300_000);
});
