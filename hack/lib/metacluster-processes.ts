// The meta-cluster's processes: each component's command line and configuration files, spawning, starting and
// stopping them by the pid in state.json, and what they use (memory, logs, binaries).
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { isHealthy, waitHealthy } from "./metacluster-health.js";
import { writePrometheusConfig } from "./metacluster-prometheus.js";
import {
  type ComponentName,
  type MetaclusterState,
  binDir,
  binaryOf,
  componentNames,
  refreshPids,
  repoRoot,
  updateState,
} from "./metacluster-state.js";
import { isProcess, stopPid } from "./realnodes.js";

/** Also what tells a meta-cluster started before real nodes existed: its apiserver lacks this flag. */
export const kubeletAddressTypesFlag =
  "--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP";

function argsFor(name: ComponentName, state: MetaclusterState): string[] {
  const { dir, ports } = state;
  const pki = (f: string) => path.join(dir, "pki", f);
  switch (name) {
    case "etcd":
      return [
        "--name=metacluster",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=metacluster=http://127.0.0.1:${ports.etcdPeer}`,
        "--quota-backend-bytes=8589934592",
        // A throwaway test cluster: durability across power loss is not worth the fsync latency here.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ];
    case "kube-apiserver": {
      const args = [
        `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${ports["kube-apiserver"]}`,
        `--tls-cert-file=${pki("apiserver.crt")}`,
        `--tls-private-key-file=${pki("apiserver.key")}`,
        `--client-ca-file=${pki("ca.crt")}`,
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki("sa.pub")}`,
        `--service-account-signing-key-file=${pki("sa.key")}`,
        "--api-audiences=https://kubernetes.default.svc.cluster.local",
        // Real nodes are reached at their --node-ip: their names resolve nowhere.
        `--kubelet-client-certificate=${pki("apiserver-kubelet-client.crt")}`,
        `--kubelet-client-key=${pki("apiserver-kubelet-client.key")}`,
        kubeletAddressTypesFlag,
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        "--profiling=false",
        `--audit-policy-file=${path.join(dir, "audit-policy.yaml")}`,
        `--audit-log-path=${state.auditLog}`,
        "--audit-log-format=json",
        "--audit-log-maxsize=500",
        "--audit-log-maxbackup=2",
        "--v=1",
      ];
      if (state.maxRequestsInflight) {
        // The classic inflight limits only apply with API Priority and Fairness off.
        args.push(
          "--enable-priority-and-fairness=false",
          `--max-requests-inflight=${state.maxRequestsInflight}`,
          `--max-mutating-requests-inflight=${Math.max(1, Math.floor(state.maxRequestsInflight / 2))}`,
        );
      }
      return args;
    }
    case "kube-controller-manager":
      return [
        `--kubeconfig=${path.join(dir, "kube-controller-manager.kubeconfig")}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${ports["kube-controller-manager"]}`,
        `--service-account-private-key-file=${pki("sa.key")}`,
        `--root-ca-file=${pki("ca.crt")}`,
        "--use-service-account-credentials=false",
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--concurrent-deployment-syncs=10",
        "--concurrent-replicaset-syncs=10",
        // kwok renews 1,000 node Leases on a machine it shares with the apiserver; a heartbeat late by seconds
        // must not mark nodes NotReady (and every pod on them with it), which no real kubelet's node would see.
        "--node-monitor-grace-period=180s",
        // Fake nodes have no cloud and no pod CIDR allocation to do.
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
        "--v=1",
      ];
    case "kube-scheduler":
      return [
        `--config=${path.join(dir, "scheduler.yaml")}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${ports["kube-scheduler"]}`,
        "--v=1",
      ];
    case "kwok":
      return [
        `--kubeconfig=${path.join(dir, "kwok.kubeconfig")}`,
        `--config=${path.join(binDir, "kwok-stages.yaml")}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        `--server-address=127.0.0.1:${ports.kwok}`,
        // kwok renews each node Lease at a quarter of this: 120 s is 33 writes a second at 1,000 nodes, not 100.
        "--node-lease-duration-seconds=120",
        "--cidr=10.244.0.0/16",
        "--node-ip=127.0.0.1",
        "-v=WARN",
      ];
    case "prometheus":
      return [
        `--config.file=${path.join(dir, "prometheus/prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(dir, "prometheus/data")}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=30d",
        "--log.level=warn",
      ];
  }
}

/** The apiserver's audit policy, the scheduler's configuration and Prometheus' files of a new meta-cluster. */
export function writeConfigs(state: MetaclusterState, targets: string[]): void {
  const { dir } = state;
  writeFileSync(
    path.join(dir, "audit-policy.yaml"),
    stringify({
      apiVersion: "audit.k8s.io/v1",
      kind: "Policy",
      omitStages: ["RequestReceived"],
      rules: [
        // Reads by the built-in components and kwok are noise; everyone else's reads are kept so the RBAC test
        // can see which granted verbs were used. Every write by anyone is recorded with user and verb.
        {
          level: "None",
          users: ["system:kube-controller-manager", "system:kube-scheduler", "kwok-controller", "system:apiserver"],
          verbs: ["get", "list", "watch"],
        },
        { level: "None", nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/metrics", "/version"] },
        // kwok's node Lease heartbeats (one per node every 30 s) say nothing any test reads.
        {
          level: "None",
          users: ["kwok-controller"],
          resources: [{ group: "coordination.k8s.io", resources: ["leases"] }],
        },
        { level: "Metadata" },
      ],
    }),
  );
  writeFileSync(
    path.join(dir, "scheduler.yaml"),
    stringify({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: path.join(dir, "kube-scheduler.kubeconfig"), qps: 200, burst: 400 },
      leaderElection: { leaderElect: false },
    }),
  );
  writePrometheusConfig(state, targets);
}

function spawnComponent(state: MetaclusterState, name: ComponentName): number {
  const logFile = path.join(state.dir, "logs", `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(path.join(binDir, binaryOf(name)), argsFor(name, state), {
    detached: true,
    stdio: ["ignore", fd, fd],
    cwd: state.dir,
  });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`${name} did not start; see ${logFile}`);
  return child.pid;
}

export async function startComponent(state: MetaclusterState, name: ComponentName, timeoutMs = 90_000): Promise<void> {
  refreshPids(state);
  if (isProcess(state.pids[name], binaryOf(name)) && (await isHealthy(state, name))) return;
  const pid = spawnComponent(state, name);
  updateState(state, (s) => {
    s.pids[name] = pid;
  });
  await waitHealthy(state, name, timeoutMs);
}

export async function stopComponent(
  state: MetaclusterState,
  name: ComponentName,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  refreshPids(state);
  const pid = state.pids[name];
  await stopPid(pid, binaryOf(name), 15_000, signal);
  updateState(state, (s) => {
    delete s.pids[name];
  });
}

/** Restarts kube-apiserver, optionally with new inflight limits (undefined restores the defaults). */
export async function restartApiserver(state: MetaclusterState, maxRequestsInflight?: number): Promise<void> {
  await stopComponent(state, "kube-apiserver");
  updateState(state, (s) => {
    s.maxRequestsInflight = maxRequestsInflight;
  });
  await startComponent(state, "kube-apiserver");
}

/** Resident memory (kB) of each running component, from /proc. */
export function memoryOf(state: MetaclusterState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of componentNames) {
    const pid = state.pids[name];
    if (!pid || !isProcess(pid, binaryOf(name))) continue;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const vmRss = /VmRSS:\s+(\d+) kB/.exec(status);
    if (vmRss?.[1]) out[name] = Number(vmRss[1]);
  }
  return out;
}

export function listLogs(state: MetaclusterState): string[] {
  return readdirSync(path.join(state.dir, "logs")).map((f) => path.join(state.dir, "logs", f));
}

export function missingBinaries(): string[] {
  const needed = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kwok-stages.yaml",
    "prometheus",
    "kubectl",
    "helm",
  ];
  return needed.filter((b) => !existsSync(path.join(binDir, b)));
}

export function buildBinaries(log: (l: string) => void = () => {}): void {
  log("building pinned binaries (hack/build-binaries.sh)");
  execFileSync("bash", [path.join(repoRoot, "hack/build-binaries.sh")], { stdio: ["ignore", "inherit", "inherit"] });
}
