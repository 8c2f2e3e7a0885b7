// kube-proxy and CoreDNS for the real nodes' pods: started with the first real node, stopped with the last, and
// kube-proxy only while no other meta-cluster's runs in this network namespace.
import path from "node:path";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { renderKubeconfig } from "../../src/pki/kubeconfig.js";
import { adminCall } from "./metacluster-client.js";
import { waitUrlOk } from "./metacluster-health.js";
import { ensurePki } from "./metacluster-pki.js";
import { freePort } from "./metacluster-ports.js";
import { type MetaclusterState, binDir, readState, writeIfChanged, writeState } from "./metacluster-state.js";
import {
  clusterDirOfKubeProxy,
  corednsRbac,
  corefile,
  isKubeProxyChain,
  kubeProxyArgs,
  kubeProxyConfig,
  kubeProxyLockFile,
  kubeProxyPids,
  realNodeServicesLayout,
  withHostLock,
} from "./realnode-services.js";
import { isProcess, kubeChains, removeKubeChains, spawnLogged, stopPid } from "./realnodes.js";

function realNodeServicesLog(state: MetaclusterState, process: "kube-proxy" | "coredns"): string {
  return path.join(state.dir, "logs", `${process}.log`);
}

/**
 * How long a meta-cluster waits for another one's kube-proxy to stop before it goes on without ClusterIPs:
 * METACLUSTER_KUBE_PROXY_WAIT_SECONDS, 1200 unless set (0 for a run that needs no ClusterIP).
 */
const kubeProxyWaitMs = kubeProxyWaitSeconds(process.env.METACLUSTER_KUBE_PROXY_WAIT_SECONDS) * 1000;

export function kubeProxyWaitSeconds(value: string | undefined): number {
  if (value === undefined || value === "") return 1200;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new Error(`METACLUSTER_KUBE_PROXY_WAIT_SECONDS must be a number of seconds, not "${value}"`);
  return seconds;
}

/** Who runs the kube-proxies of this network namespace, for messages. */
function kubeProxyOwners(): string {
  return kubeProxyPids()
    .map((pid) => {
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      } catch {
        // gone meanwhile
      }
      return `pid ${pid} of the meta-cluster in ${clusterDirOfKubeProxy(argv) ?? "(unknown)"}`;
    })
    .join(", ");
}

/**
 * Starts (or restarts, when they died) the meta-cluster's CoreDNS and kube-proxy for its real nodes, unless they
 * run. kube-proxy does not start while another meta-cluster's kube-proxy runs in this network namespace: it waits
 * up to kubeProxyWaitMs for that one to stop, then goes on without it, keeping the reason in
 * realNodeServices.kubeProxyBlockedBy; the next call tries again.
 */
export async function ensureRealNodeServices(state: MetaclusterState, log: (l: string) => void): Promise<void> {
  const nodes = state.realNodes ?? [];
  if (!nodes.length) return;
  let services = state.realNodeServices;
  if (services && services.dnsAddress !== nodes[0]!.gateway) {
    await stopRealNodeServices(state, log);
    services = undefined;
  }
  if (!services) {
    services = realNodeServicesLayout(state.dir, nodes, {
      kubeProxyHealthz: await freePort(),
      kubeProxyMetrics: await freePort(),
      corednsReady: await freePort(),
    });
    state.realNodeServices = services;
    writeState(state);
  }
  mkdirSync(services.dir, { recursive: true });
  await ensurePki(state.dir);
  const pkiRead = (f: string) => readFileSync(path.join(state.dir, "pki", f), "utf8");
  const kubeconfigOf = (user: string) => {
    const file = path.join(services.dir, `${user}.kubeconfig`);
    writeIfChanged(
      file,
      renderKubeconfig({
        clusterName: "metacluster",
        server: state.apiserverUrl,
        caPem: pkiRead("ca.crt"),
        userName: user,
        clientCertificatePem: pkiRead(`${user}.crt`),
        clientKeyPem: pkiRead(`${user}.key`),
      }),
      0o600,
    );
    return file;
  };
  for (const { path: apiPath, body } of corednsRbac()) {
    const res = await adminCall(state, "POST", apiPath, body);
    if (res.status !== 201 && res.status !== 409) throw new Error(`creating CoreDNS's RBAC: ${res.status} ${res.body}`);
  }
  // kube-proxy exits when its config file changes, so a file is only written when its content does; a process
  // whose file changed is restarted with it.
  const corefilePath = path.join(services.dir, "Corefile");
  if (writeIfChanged(corefilePath, corefile(services, kubeconfigOf("coredns"))))
    await stopPid(services.pids.coredns, "coredns");
  const kubeProxyYaml = path.join(services.dir, "kube-proxy.yaml");
  if (writeIfChanged(kubeProxyYaml, stringify(kubeProxyConfig(services, kubeconfigOf("kube-proxy")))))
    await stopPid(services.pids.kubeProxy, "kube-proxy");

  const corednsLog = realNodeServicesLog(state, "coredns");
  if (!isProcess(services.pids.coredns, "coredns")) {
    services.pids.coredns = spawnLogged(
      path.join(binDir, "coredns"),
      ["-conf", corefilePath],
      corednsLog,
      services.dir,
    );
    writeState(state);
  }
  await waitUrlOk(
    state,
    `http://127.0.0.1:${services.ports.corednsReady}/ready`,
    services.pids.coredns,
    "coredns",
    corednsLog,
  );

  const kubeProxyLog = realNodeServicesLog(state, "kube-proxy");
  if (!isProcess(services.pids.kubeProxy, "kube-proxy")) {
    delete services.pids.kubeProxy;
    // Another meta-cluster's kube-proxy owns the chains while it runs: wait for it to go (its tests end, or it is
    // brought down), then take over. The check and the start happen under one machine-wide lock, so two meta-clusters
    // coming up at once never both start one.
    const waitUntil = Date.now() + kubeProxyWaitMs;
    let lastLog = 0;
    for (;;) {
      const started = await withHostLock(kubeProxyLockFile(), async () => {
        if (kubeProxyPids().length) return false;
        delete services.kubeProxyBlockedBy;
        services.pids.kubeProxy = spawnLogged(
          path.join(binDir, "kube-proxy"),
          kubeProxyArgs(kubeProxyYaml),
          kubeProxyLog,
          services.dir,
        );
        return true;
      });
      if (started || Date.now() > waitUntil) break;
      if (Date.now() - lastLog > 60_000) {
        lastLog = Date.now();
        log(
          `kube-proxy: waiting up to ${Math.round((waitUntil - Date.now()) / 1000)} s for another meta-cluster's kube-proxy to stop (${kubeProxyOwners()})`,
        );
      }
      await sleep(5_000);
    }
    const others = services.pids.kubeProxy ? [] : kubeProxyPids();
    if (others.length) {
      services.kubeProxyBlockedBy = `another kube-proxy owns this machine's Service rules (${kubeProxyOwners()})`;
      log(`kube-proxy not started: ${services.kubeProxyBlockedBy}; ClusterIPs of this meta-cluster do not work`);
    }
    writeState(state);
  }
  if (services.pids.kubeProxy) {
    await waitUrlOk(
      state,
      `http://127.0.0.1:${services.ports.kubeProxyHealthz}/healthz`,
      services.pids.kubeProxy,
      "kube-proxy",
      kubeProxyLog,
    );
  }
  log(
    `real-node services: CoreDNS pid ${services.pids.coredns} on ${services.dnsAddress}:53, ` +
      (services.pids.kubeProxy ? `kube-proxy pid ${services.pids.kubeProxy}` : "no kube-proxy"),
  );
}

/**
 * Stops CoreDNS and kube-proxy and removes kube-proxy's chains (the kubelet's stay for the kubelets). Returns what
 * is left: kube-proxy chains that would not go.
 */
export async function stopRealNodeServices(state: MetaclusterState, log: (l: string) => void): Promise<string[]> {
  const saved = readState(state.dir);
  const services = saved?.realNodeServices ?? state.realNodeServices;
  if (!services) return [];
  const hadKubeProxy = !!services.pids.kubeProxy;
  await stopPid(services.pids.kubeProxy, "kube-proxy");
  await stopPid(services.pids.coredns, "coredns");
  let left: string[] = [];
  // Another meta-cluster's kube-proxy may own the chains now; they are only ours to remove when none runs.
  if (hadKubeProxy && !kubeProxyPids().length) {
    await removeKubeChains(isKubeProxyChain);
    left = (await kubeChains(isKubeProxyChain)).map((c) => `chain ${c}`);
  }
  rmSync(services.dir, { recursive: true, force: true });
  delete state.realNodeServices;
  writeState(state);
  log("real-node services: kube-proxy and CoreDNS stopped");
  return left;
}
