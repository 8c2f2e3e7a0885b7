// A TenantControlPlane on a real node, for the test/realnodes files and the demo: the real node (built images imported), the
// CRDs, a local PersistentVolume for its etcd, the operator running in this process, the TenantControlPlane placed
// on the node, and the way back (the TenantControlPlane deleted through its finalizer, the volume removed, the real
// node removed again when the meta-cluster had none before). Also the measurements these files record: VmRSS of a
// container through the kubelet's cgroups, and bench/results/realnodes.json.
import * as k8s from "@kubernetes/client-node";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import path from "node:path";
import { controlPlaneRecipes } from "./images.js";
import {
  localStorageClassManifest,
  localVolumeManifest,
  localVolumePath,
  makeLocalVolumeDir,
  realLocalStorageClass,
} from "./localvolumes.js";
import { binDir, ensureRealNodes, readState, repoRoot, type MetaclusterState } from "./metacluster.js";
import { cgroupDirs, realNodeKindKey, realNodeKindValue, type RealNode } from "./realnodes.js";
import { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { eventually } from "../../test/harness/eventually.js";

export const realNodeToleration = {
  key: realNodeKindKey,
  operator: "Equal",
  value: realNodeKindValue,
  effect: "NoSchedule",
};
export const realNodesResultsFile = path.join(repoRoot, "bench/results/realnodes.json");

/** The versions the built images carry, read from the binaries (the tags of controlPlaneRecipes). */
export function builtVersions(): { kubernetes: string; etcd: string } {
  const recipes = controlPlaneRecipes(binDir);
  const tag = (c: string) => recipes.find((r) => r.name.endsWith(`/${c}`))!.tag;
  return { kubernetes: tag("kube-apiserver"), etcd: tag("etcd").replace(/-0$/, "") };
}

/** The directory of a pod's cgroup under the node's cgroup root, in the first hierarchy that has it. */
export function podCgroupDir(node: RealNode, podUid: string): string | undefined {
  const wanted = `pod${podUid}`;
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 4 || !existsSync(dir)) return undefined;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const full = path.join(dir, entry.name);
      if (entry.name === wanted) return full;
      const found = walk(full, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  for (const root of cgroupDirs(node.cgroupRoot)) {
    const found = walk(root, 0);
    if (found) return found;
  }
  return undefined;
}

/** VmRSS in KiB of every process in a container's cgroup, by the kubelet's cgroup of the container. */
export function containerRss(
  node: RealNode,
  podUid: string,
  containerId: string,
): { kib: number; processes: string[] } {
  const podDir = podCgroupDir(node, podUid);
  if (!podDir) throw new Error(`no cgroup of pod ${podUid} under ${node.cgroupRoot}`);
  const procs = readFileSync(path.join(podDir, containerId, "cgroup.procs"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map(Number);
  let kib = 0;
  const processes: string[] = [];
  for (const pid of procs) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    kib += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    processes.push(/Name:\s+(\S+)/.exec(status)?.[1] ?? String(pid));
  }
  return { kib, processes };
}

/** The machine a figure was measured on: it is shared, and its load says how much of a time is waiting. */
export function machineNow(): { cpus: number; memoryGiB: number; loadAverage: number[] } {
  return { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg() };
}

/** Merges `entry` under `key` into bench/results/realnodes.json, leaving the other keys as they are. */
export function recordRealNodeResult(key: string, entry: unknown): void {
  const existing = existsSync(realNodesResultsFile)
    ? (JSON.parse(readFileSync(realNodesResultsFile, "utf8")) as Record<string, unknown>)
    : {};
  mkdirSync(path.dirname(realNodesResultsFile), { recursive: true });
  writeFileSync(realNodesResultsFile, `${JSON.stringify({ ...existing, [key]: entry }, null, 2)}\n`);
}

export interface RealTenantOptions {
  /** Prefix of the TenantControlPlane's name (a short random suffix follows); its namespace is tcp-<name>. */
  prefix: string;
  log: (line: string) => void;
  /** Changes the spec this fixture would create (placement on the node and the built versions are already set). */
  spec?: (spec: Record<string, unknown>) => Record<string, unknown>;
  /** The operator's --image-registry; unset, the pods ask for registry.k8s.io, under which the images were imported. */
  imageRegistry?: string;
  /** The meta-cluster (its state file is re-read in setUp, since real nodes may have come or gone). */
  state: MetaclusterState;
  /** Installs the CRDs (tests); the demo installs the chart's itself. */
  installCrds?: (kc: k8s.KubeConfig) => Promise<void>;
  /** Runs the operator in this process (the default); false where a controller process runs it already. */
  operator?: boolean;
}

/** The real node, the CRDs, the operator and an etcd volume: everything a TenantControlPlane on the node needs. */
export class RealTenant {
  readonly kc: k8s.KubeConfig;
  readonly client: KubeClient;
  readonly core: k8s.CoreV1Api;
  readonly name: string;
  readonly namespace: string;
  state!: MetaclusterState;
  node!: RealNode;
  versions!: { kubernetes: string; etcd: string };
  private readonly stop = new AbortController();
  private readonly volumeName: string;
  private realNodesBefore = 0;

  constructor(private readonly o: RealTenantOptions) {
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromFile(o.state.kubeconfig);
    this.client = new KubeClient(this.kc, { qps: 50, burst: 50, fieldManager: "test-user" });
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.name = `${o.prefix}${Date.now().toString(36).slice(-5)}`;
    this.namespace = `tcp-${this.name}`;
    this.volumeName = `${this.name}-etcd-0`;
  }

  /** Gets the real node (building and importing the images if needed), installs what is missing, starts the operator. */
  async setUp(): Promise<void> {
    this.state = readState(this.o.state.dir) ?? this.o.state;
    this.realNodesBefore = this.state.realNodes?.length ?? 0;
    await ensureRealNodes(this.state, Math.max(1, this.realNodesBefore), this.o.log);
    this.node = this.state.realNodes![0]!;
    this.versions = builtVersions();
    await this.o.installCrds?.(this.kc);
    await this.kc
      .makeApiClient(k8s.StorageV1Api)
      .createStorageClass({ body: localStorageClassManifest() as unknown as k8s.V1StorageClass })
      .catch((err) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    makeLocalVolumeDir(this.node, this.volumeName);
    await this.core.createPersistentVolume({
      body: localVolumeManifest(this.node, this.volumeName, "1Gi", {
        namespace: this.namespace,
        name: "data-etcd-0",
      }) as unknown as k8s.V1PersistentVolume,
    });
    if (this.o.operator === false) return;
    const manager = new Manager({
      kubeConfig: this.kc,
      logger: createLogger({ level: "warn" }),
      identity: `operator-${this.name}`,
      qps: 50,
      burst: 50,
    });
    addTenantControlPlaneController(manager, { workers: 2, dryRun: false, imageRegistry: this.o.imageRegistry });
    void manager.start(this.stop.signal);
  }

  /** The spec: on this fixture's real node (the one that holds the etcd volume), the built versions, one etcd. */
  spec(): Record<string, unknown> {
    const base: Record<string, unknown> = {
      version: this.versions.kubernetes,
      scheduling: {
        nodeSelector: { [realNodeKindKey]: realNodeKindValue, "kubernetes.io/hostname": this.node.name },
        tolerations: [realNodeToleration],
      },
      etcd: {
        managed: {
          replicas: 1,
          // The built etcd; the operator's default for this minor is another patch release.
          version: this.versions.etcd,
          deletionPolicy: "Delete",
          storage: { size: "1Gi", storageClassName: realLocalStorageClass },
        },
      },
    };
    return this.o.spec ? this.o.spec(base) : base;
  }

  async create(): Promise<void> {
    await this.client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: this.name },
      spec: this.spec(),
    });
  }

  get(): Promise<RawTenantControlPlane> {
    return this.client.get<RawTenantControlPlane>(Resources.TenantControlPlane, this.name);
  }

  /** Waits for phase Ready at the current generation. */
  waitReady(timeoutMs = 900_000): Promise<RawTenantControlPlane> {
    let last = "";
    return eventually(
      async () => {
        const t = await this.get();
        last = JSON.stringify(t.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.message ?? ""}`));
        return t.status?.phase === "Ready" && t.status.observedGeneration === t.metadata?.generation ? t : undefined;
      },
      timeoutMs,
      () => `${this.name} Ready (last conditions: ${last})`,
    );
  }

  /** The admin kubeconfig of status.kubeconfigSecretRef with only the server changed to the Service's ClusterIP. */
  async tenantKubeConfig(): Promise<{ kubeConfig: k8s.KubeConfig; clusterIP: string }> {
    const t = await this.get();
    const ref = t.status!.kubeconfigSecretRef!;
    const secret = await this.core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
    const text = Buffer.from(secret.data![ref.key]!, "base64").toString("utf8");
    const svc = await this.core.readNamespacedService({ namespace: this.namespace, name: "kube-apiserver" });
    const clusterIP = svc.spec!.clusterIP!;
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromString(text);
    const cluster = kubeConfig.getCurrentCluster()!;
    kubeConfig.clusters = kubeConfig.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: `https://${clusterIP}:6443` } : c,
    );
    return { kubeConfig, clusterIP };
  }

  /** Deletes the TenantControlPlane (through the operator's finalizer), its volume, and the node if it was ours. */
  async tearDown(): Promise<void> {
    if (this.state && this.node) {
      await this.client.delete(Resources.TenantControlPlane, this.name).catch(() => undefined);
      await eventually(
        async () =>
          this.get().then(
            () => undefined,
            (err: unknown) => {
              if (isNotFound(err)) return true;
              throw err;
            },
          ),
        300_000,
        `TenantControlPlane ${this.name} deleted`,
      ).catch((err) => this.o.log(String(err)));
      await this.core.deletePersistentVolume({ name: this.volumeName }).catch(() => undefined);
      rmSync(localVolumePath(this.node, this.volumeName), { recursive: true, force: true });
    }
    this.stop.abort();
    if (this.state && this.realNodesBefore === 0) await ensureRealNodes(this.state, 0, this.o.log);
  }
}
