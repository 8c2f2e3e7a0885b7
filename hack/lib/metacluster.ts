// The local meta-cluster: real etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
// Prometheus processes on 127.0.0.1. Used by `hack/metacluster`, the test harness, the demo and benchmarks.
// This module brings it up and down; the parts live beside it, one concern each, and are re-exported here so
// callers import from one place: metacluster-state (dir, state.json), -ports, -pki, -client (admin requests),
// -processes (command lines, start, stop), -health, -prometheus, -kwok (fake nodes), -realnodes and
// -realnode-services (kube-proxy and CoreDNS for real nodes).
import path from "node:path";
import { mkdirSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { allHealthy } from "./metacluster-health.js";
import { ensureNodes, ensureStorageClass } from "./metacluster-kwok.js";
import { ensurePki, writeKubeconfigs } from "./metacluster-pki.js";
import { freePort } from "./metacluster-ports.js";
import { missingBinaries, startComponent, stopComponent, writeConfigs } from "./metacluster-processes.js";
import { setScrapeTargets } from "./metacluster-prometheus.js";
import { ensureRealNodes } from "./metacluster-realnodes.js";
import {
  type MetaclusterOptions,
  type MetaclusterState,
  binDir,
  binaryOf,
  componentNames,
  defaultDir,
  readState,
  writeState,
} from "./metacluster-state.js";
import { isProcess, unmountAll } from "./realnodes.js";

export {
  binDir,
  componentNames,
  defaultDir,
  readState,
  repoRoot,
  type ComponentName,
  type MetaclusterOptions,
  type MetaclusterState,
} from "./metacluster-state.js";
export { freePort } from "./metacluster-ports.js";
export { loadMetaclusterCa } from "./metacluster-pki.js";
export { getUrl } from "./metacluster-client.js";
export { statusOf } from "./metacluster-health.js";
export {
  buildBinaries,
  listLogs,
  memoryOf,
  missingBinaries,
  restartApiserver,
  startComponent,
  stopComponent,
} from "./metacluster-processes.js";
export { prometheusConfig, setScrapeTargets, syncKubeletScrape, withOwnJobs } from "./metacluster-prometheus.js";
export { ensureNodes, ensureStorageClass, kwokNode, restartKwok } from "./metacluster-kwok.js";
export { ensureRealNodes, realNodeImages, realNodePreflight, type RealNodeImageSet } from "./metacluster-realnodes.js";
export { ensureRealNodeServices, kubeProxyWaitSeconds } from "./metacluster-realnode-services.js";

/**
 * Brings the meta-cluster up. Idempotent: a healthy cluster is left alone (its node count is reconciled); an
 * unhealthy or partial one is stopped and started afresh on new free ports.
 */
export async function up(options: MetaclusterOptions = {}): Promise<MetaclusterState> {
  const dir = options.dir ?? defaultDir;
  const log = options.log ?? (() => {});
  const nodes = options.nodes ?? 20;
  const existing = readState(dir);
  // A component that is alive but briefly unhealthy (another test restarting the apiserver, say) gets time to
  // recover before the whole cluster is judged broken and restarted.
  if (existing && componentNames.every((n) => isProcess(existing.pids[n], binaryOf(n)))) {
    const deadline = Date.now() + 60_000;
    while (!(await allHealthy(existing)) && Date.now() < deadline) await sleep(500);
  }
  if (existing && (await allHealthy(existing))) {
    log("meta-cluster already up");
    if (options.prometheusTargets) setScrapeTargets(existing, "static", options.prometheusTargets);
    if (existing.nodes !== nodes) {
      await ensureNodes(existing, nodes, log);
      existing.nodes = nodes;
      writeState(existing);
    }
    await ensureRealNodes(existing, options.realNodes ?? existing.realNodes?.length ?? 0, log);
    return existing;
  }
  if (existing) {
    log("meta-cluster partially up; stopping it and starting afresh");
    await down(dir);
  }
  const missing = missingBinaries();
  if (missing.length)
    throw new Error(`missing binaries in ${binDir}: ${missing.join(", ")}; run hack/build-binaries.sh`);
  // A start that fails (a component that does not come up in time on a loaded machine, a port taken between
  // choosing and binding it) is tried once more from scratch, on new ports; the first error is logged.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startFresh(dir, nodes, options, log);
    } catch (err) {
      if (attempt >= 2) throw err;
      log(`start failed: ${String(err).slice(0, 2000)}`);
      log("stopping what started and trying once more on new ports");
      await down(dir);
    }
  }
}

async function startFresh(
  dir: string,
  nodes: number,
  options: MetaclusterOptions,
  log: (l: string) => void,
): Promise<MetaclusterState> {
  // A real node that died without its cleanup may have left mounts (a kubelet's subPath bind mounts among them):
  // removing the directory through them would delete what they show.
  const stuck = unmountAll(dir);
  if (stuck.length)
    throw new Error(`cannot start afresh in ${dir}: these mounts would not come off: ${stuck.join(", ")}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "logs"), { recursive: true });
  const ports = {} as MetaclusterState["ports"];
  for (const name of [...componentNames, "etcdPeer"] as const) ports[name] = await freePort();
  const pki = await ensurePki(dir);
  const state: MetaclusterState = {
    dir,
    kubeconfig: path.join(dir, "admin.kubeconfig"),
    prometheusUrl: `http://127.0.0.1:${ports.prometheus}`,
    apiserverUrl: `https://127.0.0.1:${ports["kube-apiserver"]}`,
    auditLog: path.join(dir, "logs/audit.log"),
    nodes,
    scrapeInterval: options.scrapeInterval ?? "5s",
    maxRequestsInflight: options.maxRequestsInflight,
    ports,
    pids: {},
    pki,
  };
  writeKubeconfigs(dir, ports["kube-apiserver"]);
  writeConfigs(state, options.prometheusTargets ?? []);
  writeState(state);
  for (const name of componentNames) {
    const started = Date.now();
    await startComponent(state, name);
    log(`${name} up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  await ensureStorageClass(state);
  await ensureNodes(state, nodes, log);
  if (options.realNodes) await ensureRealNodes(state, options.realNodes, log);
  return state;
}

export async function down(dir = defaultDir): Promise<void> {
  const state = readState(dir);
  if (!state) return;
  // Real nodes first: their kubelets are clients of the apiserver, and what they leave on the machine is theirs
  // to remove. What could not be removed is reported after the control plane is stopped too.
  const left = state.realNodes?.length
    ? await ensureRealNodes(state, 0, () => {}).catch((err: unknown) => [`stopping real nodes failed: ${String(err)}`])
    : [];
  // Reverse order: clients first, storage last.
  for (const name of [...componentNames].reverse()) await stopComponent(state, name);
  if (left.length) throw new Error(`real nodes left behind:\n  ${left.join("\n  ")}`);
}

export function envOf(state: MetaclusterState): Record<string, string> {
  return {
    KUBECONFIG: state.kubeconfig,
    PROMETHEUS_URL: state.prometheusUrl,
    METACLUSTER_DIR: state.dir,
    METACLUSTER_AUDIT_LOG: state.auditLog,
  };
}
