// The local meta-cluster: real etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
// Prometheus processes on 127.0.0.1. Used by `hack/metacluster`, the test harness, the demo and benchmarks.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import {
  createCertificateAuthority,
  createSigningKeyPair,
  issueCertificate,
  loadCertificateAuthority,
} from "../../src/pki/certificates.js";
import { renderKubeconfig } from "../../src/pki/kubeconfig.js";
import {
  kubeletScrapeConfigs,
  kubeletScrapeIdentity,
  kubeletScrapeRbac,
  kubeletScrapeUser,
  kubeletTargetGroups,
} from "./kubelet-scrape.js";
import { buildImage, busyboxRecipe, controlPlaneRecipes, importImage, pauseRecipe, type BuiltImage } from "./images.js";
import {
  addApiserverRoute,
  addEgressRule,
  claimBridgeSlot,
  clusterIdOf,
  cniConfig,
  containerdConfig,
  createCgroupRoot,
  bridgeIsOurs,
  ensureBridge,
  isProcess,
  kubeletArgs,
  kubeletConfig,
  kubeletPids,
  kubeChains,
  linkAlias,
  linkExists,
  missingForRealNodes,
  mountsUnder,
  pidsWhere,
  probeHost,
  realNodeBridges,
  realNodeLayout,
  recordHostDefaults,
  removeCgroupRoot,
  removeContainerLogLinks,
  removeApiserverRoute,
  removeEgressRule,
  removeEmptySharedDirs,
  removeKubeChains,
  removeSharedLeftovers,
  restoreHostDefaults,
  runtimeIds,
  spawnLogged,
  stopPid,
  unmountAll,
  type RealNode,
} from "./realnodes.js";
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
  type RealNodeServices,
} from "./realnode-services.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const binDir = path.join(repoRoot, ".cache/bin");
/** Where the meta-cluster keeps state, logs and data: $METACLUSTER_DIR, so that two can run side by side. */
export const defaultDir = process.env.METACLUSTER_DIR
  ? path.resolve(process.env.METACLUSTER_DIR)
  : path.join(repoRoot, ".cache/metacluster");

export const componentNames = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "prometheus",
] as const;
export type ComponentName = (typeof componentNames)[number];

export interface MetaclusterOptions {
  dir?: string;
  /** Fake nodes that kwok manages. */
  nodes?: number;
  /** Extra static scrape targets (host:port) for Prometheus. */
  prometheusTargets?: string[];
  scrapeInterval?: string;
  /** Lowers the apiserver's inflight limits (and switches off APF so they apply), for 429 tests. */
  maxRequestsInflight?: number;
  /**
   * Real nodes (containerd + kubelet) beside the kwok nodes, labelled and tainted metapilot.io/node-kind=real.
   * Undefined keeps a running cluster's count (a new cluster has none).
   */
  realNodes?: number;
  log?: (line: string) => void;
}

export interface MetaclusterState {
  dir: string;
  kubeconfig: string;
  prometheusUrl: string;
  apiserverUrl: string;
  auditLog: string;
  nodes: number;
  scrapeInterval: string;
  maxRequestsInflight?: number;
  ports: Record<ComponentName | "etcdPeer", number>;
  pids: Partial<Record<ComponentName, number>>;
  pki: Record<string, string>;
  /** Real nodes, in order of their ordinal (metacluster-real-<ordinal>). */
  realNodes?: RealNode[];
  /** kube-proxy and CoreDNS for the real nodes' pods, while there are real nodes. */
  realNodeServices?: RealNodeServices;
}

const statePath = (dir: string) => path.join(dir, "state.json");

export function readState(dir = defaultDir): MetaclusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), "utf8")) as MetaclusterState;
  } catch {
    return undefined;
  }
}

function writeState(state: MetaclusterState): void {
  writeFileSync(statePath(state.dir), JSON.stringify(state, null, 2));
}

/**
 * A free port on 127.0.0.1 below the kernel's ephemeral range (32768+ here): a port the kernel hands out is also
 * what it picks as the source port of outgoing connections, and the busy meta-cluster beside this one makes
 * thousands of them, so such a port can be taken between choosing it and the component binding it.
 */
export async function freePort(): Promise<number> {
  const top = Math.min(ephemeralLow(), 32768);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    if (await canBind(port)) return port;
  }
  return bindAndRelease(0); // the whole range below is taken: let the kernel choose
}

/** The first port of the kernel's ephemeral range (Linux); the IANA range's elsewhere. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (low > 20500) return low;
  } catch {
    // not Linux
  }
  return 49152;
}

function canBind(port: number): Promise<boolean> {
  return bindAndRelease(port).then(
    () => true,
    () => false,
  );
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

function binaryOf(name: ComponentName): string {
  return name;
}

// --- PKI --------------------------------------------------------------------------------------------------

async function ensurePki(dir: string): Promise<Record<string, string>> {
  const pkiDir = path.join(dir, "pki");
  const files = {
    ca: path.join(pkiDir, "ca.crt"),
    caKey: path.join(pkiDir, "ca.key"),
    apiserver: path.join(pkiDir, "apiserver.crt"),
    apiserverKey: path.join(pkiDir, "apiserver.key"),
    admin: path.join(pkiDir, "admin.crt"),
    adminKey: path.join(pkiDir, "admin.key"),
    saPub: path.join(pkiDir, "sa.pub"),
    saKey: path.join(pkiDir, "sa.key"),
  };
  if (!Object.values(files).every((f) => existsSync(f))) {
    mkdirSync(pkiDir, { recursive: true });
    const ca = await createCertificateAuthority("metacluster-ca", 3650);
    const serving = await issueCertificate(ca, {
      commonName: "kube-apiserver",
      usage: "server",
      validityDays: 3650,
      dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      ipAddresses: ["127.0.0.1", "10.96.0.1"],
    });
    const admin = await issueCertificate(ca, {
      commonName: "metacluster-admin",
      organizations: ["system:masters"],
      usage: "client",
      validityDays: 3650,
    });
    const sa = await createSigningKeyPair();
    writeFileSync(files.ca, ca.certificatePem);
    writeFileSync(files.caKey, ca.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.apiserver, serving.certificatePem);
    writeFileSync(files.apiserverKey, serving.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.admin, admin.certificatePem);
    writeFileSync(files.adminKey, admin.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicKeyPem);
    writeFileSync(files.saKey, sa.privateKeyPem, { mode: 0o600 });
  }
  // One client identity per component, so the audit log tells them apart. Each is issued when missing, so a
  // meta-cluster made before an identity was added gets it too.
  const identities: Array<[string, string, string[]]> = [
    ["kube-controller-manager", "system:kube-controller-manager", ["system:masters"]],
    ["kube-scheduler", "system:kube-scheduler", []],
    ["kwok", "kwok-controller", ["system:masters"]],
    // The apiserver's identity towards real kubelets (logs, exec); the kubelets ask the apiserver what it may do.
    ["apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]],
    // Real nodes' kube-proxy (bound to system:node-proxier by the apiserver's bootstrap policy) and CoreDNS.
    ["kube-proxy", "system:kube-proxy", []],
    ["coredns", "metacluster:coredns", []],
    // Prometheus towards real kubelets: only get nodes/metrics (hack/lib/kubelet-scrape.ts).
    [kubeletScrapeIdentity, kubeletScrapeUser, []],
  ];
  for (const [file, cn, orgs] of identities) {
    if (existsSync(path.join(pkiDir, `${file}.crt`)) && existsSync(path.join(pkiDir, `${file}.key`))) continue;
    const pair = await issueCertificate(await loadMetaclusterCa(dir), {
      commonName: cn,
      organizations: orgs,
      usage: "client",
      validityDays: 3650,
    });
    writeFileSync(path.join(pkiDir, `${file}.crt`), pair.certificatePem);
    writeFileSync(path.join(pkiDir, `${file}.key`), pair.privateKeyPem, { mode: 0o600 });
  }
  return files;
}

/** The meta-cluster's CA, to sign more certificates with (real nodes' kubelets). */
export async function loadMetaclusterCa(dir: string) {
  const read = (f: string) => readFileSync(path.join(dir, "pki", f), "utf8");
  return loadCertificateAuthority({ certificatePem: read("ca.crt"), privateKeyPem: read("ca.key") });
}

function writeKubeconfigs(dir: string, apiserverPort: number): void {
  const pkiDir = path.join(dir, "pki");
  const read = (f: string) => readFileSync(path.join(pkiDir, f), "utf8");
  const server = `https://127.0.0.1:${apiserverPort}`;
  const users: Array<[string, string]> = [
    ["admin", "admin"],
    ["kube-controller-manager", "kube-controller-manager"],
    ["kube-scheduler", "kube-scheduler"],
    ["kwok", "kwok"],
  ];
  for (const [name, cert] of users) {
    writeFileSync(
      path.join(dir, `${name}.kubeconfig`),
      renderKubeconfig({
        clusterName: "metacluster",
        server,
        caPem: read("ca.crt"),
        userName: name,
        clientCertificatePem: read(`${cert}.crt`),
        clientKeyPem: read(`${cert}.key`),
      }),
      { mode: 0o600 },
    );
  }
}

/** Also what tells a meta-cluster started before real nodes existed: its apiserver lacks this flag. */
const kubeletAddressTypesFlag =
  "--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP";

// --- process management -----------------------------------------------------------------------------------

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

function writeConfigs(state: MetaclusterState, targets: string[]): void {
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
  const promDir = path.join(dir, "prometheus");
  mkdirSync(path.join(promDir, "targets"), { recursive: true });
  mkdirSync(path.dirname(kubeletTargetsFile(state)), { recursive: true });
  if (!existsSync(kubeletTargetsFile(state))) writeFileSync(kubeletTargetsFile(state), "[]");
  writeFileSync(path.join(promDir, "prometheus.yml"), stringify(prometheusConfig(state)));
  writeFileSync(
    path.join(promDir, "targets/static.json"),
    JSON.stringify(targets.length ? [{ targets, labels: { source: "metacluster-up" } }] : []),
  );
}

/** Where file service discovery finds the real kubelets for the kubelet jobs. */
function kubeletTargetsFile(state: MetaclusterState): string {
  return path.join(state.dir, "prometheus/kubelets/kubelets.json");
}

/**
 * Prometheus' configuration: itself, the apiserver, the file_sd "targets" job (setScrapeTargets) and the real
 * kubelets' cAdvisor and resource metrics as kube-prometheus scrapes them (none while there are no real nodes).
 */
export function prometheusConfig(state: MetaclusterState): Record<string, unknown> {
  const { dir, ports } = state;
  const promDir = path.join(dir, "prometheus");
  return {
    global: {
      scrape_interval: state.scrapeInterval,
      evaluation_interval: state.scrapeInterval,
      query_log_file: path.join(promDir, "query.log"),
    },
    scrape_configs: [
      { job_name: "prometheus", static_configs: [{ targets: [`127.0.0.1:${ports.prometheus}`] }] },
      {
        job_name: "kube-apiserver",
        scheme: "https",
        tls_config: {
          ca_file: path.join(dir, "pki/ca.crt"),
          cert_file: path.join(dir, "pki/admin.crt"),
          key_file: path.join(dir, "pki/admin.key"),
        },
        static_configs: [{ targets: [`127.0.0.1:${ports["kube-apiserver"]}`] }],
      },
      {
        job_name: "targets",
        file_sd_configs: [{ files: [path.join(promDir, "targets/*.json")], refresh_interval: "2s" }],
      },
      ...kubeletScrapeConfigs({
        caFile: path.join(dir, "pki/ca.crt"),
        certFile: path.join(dir, `pki/${kubeletScrapeIdentity}.crt`),
        keyFile: path.join(dir, `pki/${kubeletScrapeIdentity}.key`),
        targetsFile: kubeletTargetsFile(state),
      }),
    ],
  };
}

/**
 * Points Prometheus at exactly the real nodes' kubelets: grants its identity nodes/metrics while there are any,
 * lists them for file service discovery (picked up within seconds, and a removed node is no longer scraped), and
 * rewrites prometheus.yml and reloads Prometheus when the file is not this version's (a meta-cluster started
 * before the kubelet jobs existed).
 */
export async function syncKubeletScrape(state: MetaclusterState, log: (l: string) => void): Promise<void> {
  const nodes = state.realNodes ?? [];
  if (nodes.length) {
    await ensurePki(state.dir);
    for (const { path: p, body } of kubeletScrapeRbac()) {
      const res = await adminCall(state, "POST", p, body);
      if (res.status !== 201 && res.status !== 409)
        throw new Error(`creating Prometheus' kubelet RBAC: ${res.status} ${res.body}`);
    }
  }
  mkdirSync(path.dirname(kubeletTargetsFile(state)), { recursive: true });
  writeIfChanged(kubeletTargetsFile(state), JSON.stringify(kubeletTargetGroups(nodes), null, 2));
  if (nodes.length === 0) return;
  const file = path.join(state.dir, "prometheus/prometheus.yml");
  if (writeIfChanged(file, stringify(withOwnJobs(parse(readFileSync(file, "utf8")), prometheusConfig(state))))) {
    log("Prometheus: configuration with the kubelet jobs written; reloading");
    await reloadPrometheus(state);
  }
}

/**
 * `desired` with the jobs of `current` that it does not define kept after its own (tenant apiserver jobs that
 * hack/lib/tenant-scrape.ts merged in). Pure.
 */
export function withOwnJobs(current: unknown, desired: Record<string, unknown>): Record<string, unknown> {
  const own = (desired.scrape_configs ?? []) as Array<Record<string, unknown>>;
  const names = new Set(own.map((j) => j.job_name));
  const existing = ((current as { scrape_configs?: unknown } | null)?.scrape_configs ?? []) as Array<
    Record<string, unknown>
  >;
  return { ...desired, scrape_configs: [...own, ...existing.filter((j) => !names.has(j.job_name))] };
}

/** POST /-/reload (Prometheus runs with --web.enable-lifecycle); fails when Prometheus refuses the configuration. */
async function reloadPrometheus(state: MetaclusterState): Promise<void> {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(`${state.prometheusUrl}/-/reload`, { method: "POST", timeout: 30_000 }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (c: string) => (body += c));
      r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("Prometheus did not answer /-/reload within 30 s")));
    req.on("error", reject);
    req.end();
  });
  if (res.status !== 200) throw new Error(`Prometheus refused its new configuration: ${res.status} ${res.body}`);
}

/** Registers scrape targets with Prometheus through file service discovery (picked up within 2 s). */
export function setScrapeTargets(
  state: MetaclusterState,
  name: string,
  targets: string[],
  labels: Record<string, string> = {},
): void {
  writeFileSync(
    path.join(state.dir, "prometheus/targets", `${name}.json`),
    JSON.stringify(targets.length ? [{ targets, labels }] : []),
  );
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

interface TlsClient {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function adminTls(state: MetaclusterState): TlsClient {
  const read = (f: string) => readFileSync(path.join(state.dir, "pki", f));
  return { ca: read("ca.crt"), cert: read("admin.crt"), key: read("admin.key") };
}

/** GET a URL on the meta-cluster and return status and body; https uses the admin certificate. */
export function getUrl(
  state: MetaclusterState,
  url: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const opts = { method: "GET", timeout: timeoutMs, ...(u.protocol === "https:" ? adminTls(state) : {}) };
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

function healthUrl(state: MetaclusterState, name: ComponentName): string {
  const p = state.ports;
  switch (name) {
    case "etcd":
      return `http://127.0.0.1:${p.etcd}/health`;
    case "kube-apiserver":
      return `https://127.0.0.1:${p["kube-apiserver"]}/readyz`;
    case "kube-controller-manager":
      return `https://127.0.0.1:${p["kube-controller-manager"]}/healthz`;
    case "kube-scheduler":
      return `https://127.0.0.1:${p["kube-scheduler"]}/healthz`;
    case "kwok":
      return `http://127.0.0.1:${p.kwok}/healthz`;
    case "prometheus":
      return `http://127.0.0.1:${p.prometheus}/-/ready`;
  }
}

async function isHealthy(state: MetaclusterState, name: ComponentName): Promise<boolean> {
  try {
    // kcm and the scheduler serve a self-signed certificate; the probe only cares that they answer.
    if (name === "kube-controller-manager" || name === "kube-scheduler") {
      const res = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(healthUrl(state, name), { rejectUnauthorized: false, timeout: 2000 }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
      });
      return res === 200;
    }
    return (await getUrl(state, healthUrl(state, name))).status === 200;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function waitHealthy(state: MetaclusterState, name: ComponentName, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logFile = path.join(state.dir, "logs", `${name}.log`);
  while (Date.now() < deadline) {
    if (await isHealthy(state, name)) return;
    if (!isProcess(state.pids[name], binaryOf(name))) {
      throw new Error(`${name} exited while starting; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(250);
  }
  throw new Error(`${name} did not become healthy within ${timeoutMs / 1000}s; see ${logFile}:\n${tail(logFile)}`);
}

/**
 * Takes the pids from state.json: a test holds a copy of the state from the start of the run, and another test may
 * have restarted a component since. Acting on a stale pid would leave the running process alone.
 */
function refreshPids(state: MetaclusterState): void {
  const current = readState(state.dir);
  if (current) state.pids = current.pids;
}

export async function startComponent(state: MetaclusterState, name: ComponentName, timeoutMs = 90_000): Promise<void> {
  refreshPids(state);
  if (isProcess(state.pids[name], binaryOf(name)) && (await isHealthy(state, name))) return;
  state.pids[name] = spawnComponent(state, name);
  writeState(state);
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
  delete state.pids[name];
  writeState(state);
}

/**
 * Restarts kwok as a node's kubelet resyncs after an outage of the meta-cluster's etcd or apiserver. kwok v0.8.0
 * drops a pod's stage when its PATCH fails with anything but connection refused, a timeout, 503 or 429
 * (pkg/kwok/controllers/utils.go shouldRetry), and it has no resync: a PATCH that the apiserver answered with a
 * 500 while etcd restarted leaves that pod Pending for good, which no kubelet would. A new kwok lists every pod
 * and plays its stages again. The old kwok's node Leases go first, since the new one (its identity is random:
 * hostname_uuid) would otherwise wait out their 120 s before it managed a node; real nodes' Leases, held by their
 * kubelets under the node's name, stay.
 */
export async function restartKwok(state: MetaclusterState): Promise<void> {
  await stopComponent(state, "kwok");
  const leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
  const kwokHolder = `${hostname()}_`;
  let next = "";
  do {
    const res = await adminCall(
      state,
      "GET",
      `${leases}?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ""}`,
    );
    if (res.status !== 200) throw new Error(`listing node Leases: ${res.status} ${res.body}`);
    const page = JSON.parse(res.body) as {
      metadata?: { continue?: string };
      items: Array<{ metadata: { name: string }; spec?: { holderIdentity?: string } }>;
    };
    for (const l of page.items) {
      if (!l.spec?.holderIdentity?.startsWith(kwokHolder)) continue;
      const del = await adminCall(state, "DELETE", `${leases}/${l.metadata.name}`);
      if (del.status !== 200 && del.status !== 404)
        throw new Error(`deleting node Lease ${l.metadata.name}: ${del.status} ${del.body}`);
    }
    next = page.metadata?.continue ?? "";
  } while (next);
  await startComponent(state, "kwok");
}

/** Restarts kube-apiserver, optionally with new inflight limits (undefined restores the defaults). */
export async function restartApiserver(state: MetaclusterState, maxRequestsInflight?: number): Promise<void> {
  await stopComponent(state, "kube-apiserver");
  state.maxRequestsInflight = maxRequestsInflight;
  await startComponent(state, "kube-apiserver");
}

export async function statusOf(state: MetaclusterState): Promise<Record<ComponentName, string>> {
  const out = {} as Record<ComponentName, string>;
  for (const name of componentNames) {
    const pid = state.pids[name];
    if (!isProcess(pid, binaryOf(name))) out[name] = "stopped";
    else out[name] = (await isHealthy(state, name)) ? `running (pid ${pid})` : `unhealthy (pid ${pid})`;
  }
  return out;
}

async function allHealthy(state: MetaclusterState): Promise<boolean> {
  for (const name of componentNames) {
    if (!isProcess(state.pids[name], binaryOf(name)) || !(await isHealthy(state, name))) return false;
  }
  return true;
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

// --- nodes ------------------------------------------------------------------------------------------------

export function kwokNode(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": "kwok-32c-128g",
        "topology.kubernetes.io/zone": `zone-${(Number(name.replace(/\D/g, "")) || 0) % 3}`,
        type: "kwok",
        ...labels,
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: "32", memory: "128Gi", pods: "110" },
      capacity: { cpu: "32", memory: "128Gi", pods: "110" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux", kubeletVersion: "fake", kubeProxyVersion: "fake" },
      phase: "Running",
    },
  };
}

/**
 * One request as the cluster admin. Set-up is not a client under test: a 429, a 5xx or a transport error (an
 * apiserver that has just become ready and is still settling) is retried a few times, and no request may hang.
 */
async function adminCall(
  state: MetaclusterState,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  for (let attempt = 1; ; attempt++) {
    const res = await adminCallOnce(state, method, p, body).catch((err: unknown) => err as Error);
    const retryable = res instanceof Error || res.status === 429 || res.status >= 500;
    if (!retryable || attempt >= 5) {
      if (res instanceof Error) throw res;
      return res;
    }
    await sleep(500 * attempt);
  }
}

function adminCallOnce(
  state: MetaclusterState,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const tls = adminTls(state);
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      `${state.apiserverUrl}${p}`,
      { method, ...tls, headers: { "content-type": "application/json", "user-agent": "metacluster-up" } },
      (res) => {
        let b = "";
        res.on("data", (c: Buffer) => (b += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${p}: no answer in 30 s`)));
    req.on("error", reject);
    req.end(data);
  });
}

/** kwok's default StorageClass: kwok binds PVCs of this class to fake PVs, so StatefulSets with PVCs run. */
export async function ensureStorageClass(state: MetaclusterState): Promise<void> {
  const sc = parse(readFileSync(path.join(binDir, "kwok-storageclass.yaml"), "utf8")) as unknown;
  const res = await adminCall(state, "POST", "/apis/storage.k8s.io/v1/storageclasses", sc);
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`creating the kwok StorageClass: ${res.status} ${res.body}`);
}

/** Creates or deletes `metacluster-node-N` kwok nodes until exactly `count` exist, 50 requests at a time. */
export async function ensureNodes(state: MetaclusterState, count: number, log: (l: string) => void): Promise<void> {
  const call = (method: string, p: string, body?: unknown) => adminCall(state, method, p, body);
  const listed = await call("GET", "/api/v1/nodes?labelSelector=metacluster.local%2Fpool%3Ddefault");
  const existing = new Set(
    (JSON.parse(listed.body) as { items: Array<{ metadata: { name: string } }> }).items.map((n) => n.metadata.name),
  );
  const wanted = Array.from({ length: count }, (_, i) => `metacluster-node-${i}`);
  const toCreate = wanted.filter((n) => !existing.has(n));
  const toDelete = [...existing].filter((n) => !wanted.includes(n));
  const started = Date.now();
  const run = async (items: string[], fn: (n: string) => Promise<void>) => {
    for (let i = 0; i < items.length; i += 50) await Promise.all(items.slice(i, i + 50).map(fn));
  };
  await run(toCreate, async (n) => {
    const res = await call("POST", "/api/v1/nodes", kwokNode(n, { "metacluster.local/pool": "default" }));
    if (res.status !== 201 && res.status !== 409) throw new Error(`creating node ${n}: ${res.status} ${res.body}`);
  });
  await run(toDelete, async (n) => {
    await call("DELETE", `/api/v1/nodes/${n}`);
  });
  // Wait for kwok to mark them Ready.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await call("GET", "/api/v1/nodes?labelSelector=metacluster.local%2Fpool%3Ddefault");
    const items = (
      JSON.parse(res.body) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }
    ).items;
    const ready = items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    if (ready.length >= count) break;
    if (Date.now() > deadline) throw new Error(`only ${ready.length}/${count} kwok nodes Ready after 120s`);
    await sleep(500);
  }
  if (toCreate.length || toDelete.length) {
    log(
      `nodes: +${toCreate.length} -${toDelete.length}, ${count} Ready in ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  }
}

/** Resident memory (kB) of each running component, from /proc. */
export function memoryOf(state: MetaclusterState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of componentNames) {
    const pid = state.pids[name];
    if (!pid || !isProcess(pid, binaryOf(name))) continue;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m?.[1]) out[name] = Number(m[1]);
  }
  return out;
}

export function listLogs(state: MetaclusterState): string[] {
  return readdirSync(path.join(state.dir, "logs")).map((f) => path.join(state.dir, "logs", f));
}

// --- real nodes ---------------------------------------------------------------------------------------------

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
  const m = /^KUBERNETES_VERSION=(\S+)/m.exec(readFileSync(path.join(repoRoot, "hack/versions.env"), "utf8"));
  if (!m?.[1]) throw new Error("KUBERNETES_VERSION is not set in hack/versions.env");
  return m[1];
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

async function ensureKubeletPki(state: MetaclusterState, node: RealNode): Promise<void> {
  const pkiDir = path.join(node.dir, "pki");
  const files = ["kubelet-client.crt", "kubelet-client.key", "kubelet.crt", "kubelet.key"].map((f) =>
    path.join(pkiDir, f),
  );
  if (files.every((f) => existsSync(f))) return;
  mkdirSync(pkiDir, { recursive: true });
  const ca = await loadMetaclusterCa(state.dir);
  // The Node authorizer knows a kubelet by this name and group.
  const client = await issueCertificate(ca, {
    commonName: `system:node:${node.name}`,
    organizations: ["system:nodes"],
    usage: "client",
    validityDays: 3650,
  });
  const serving = await issueCertificate(ca, {
    commonName: `system:node:${node.name}`,
    organizations: ["system:nodes"],
    usage: "server",
    validityDays: 3650,
    dnsNames: [node.name],
    ipAddresses: [node.gateway],
  });
  writeFileSync(files[0]!, client.certificatePem);
  writeFileSync(files[1]!, client.privateKeyPem, { mode: 0o600 });
  writeFileSync(files[2]!, serving.certificatePem);
  writeFileSync(files[3]!, serving.privateKeyPem, { mode: 0o600 });
  writeFileSync(
    path.join(node.dir, "kubelet.kubeconfig"),
    renderKubeconfig({
      clusterName: "metacluster",
      server: state.apiserverUrl,
      caPem: readFileSync(path.join(state.dir, "pki/ca.crt"), "utf8"),
      userName: `system:node:${node.name}`,
      clientCertificatePem: client.certificatePem,
      clientKeyPem: client.privateKeyPem,
    }),
    { mode: 0o600 },
  );
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
  for (const d of [
    "containerd/root",
    "containerd/state",
    "containerd/opt",
    "cni/net.d",
    "cni/ipam",
    "kubelet",
    "pod-logs",
  ])
    mkdirSync(path.join(node.dir, d), { recursive: true });
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

// --- Services and DNS of real nodes -------------------------------------------------------------------------

/** Writes `content` unless the file has it already; true when it wrote. */
function writeIfChanged(file: string, content: string, mode?: number): boolean {
  if (existsSync(file) && readFileSync(file, "utf8") === content) return false;
  writeFileSync(file, content, { mode });
  return true;
}

function realNodeServicesLog(state: MetaclusterState, process: "kube-proxy" | "coredns"): string {
  return path.join(state.dir, "logs", `${process}.log`);
}

async function waitUrlOk(
  state: MetaclusterState,
  url: string,
  pid: number | undefined,
  binary: string,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await getUrl(state, url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (!isProcess(pid, binary)) throw new Error(`${binary} exited while starting; see ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline)
      throw new Error(`${binary} did not answer ${url} within 120s; see ${logFile}:\n${tail(logFile)}`);
    await sleep(500);
  }
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
  for (const { path: p, body } of corednsRbac()) {
    const res = await adminCall(state, "POST", p, body);
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
async function stopRealNodeServices(state: MetaclusterState, log: (l: string) => void): Promise<string[]> {
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
