// kwok's part of the meta-cluster: fake nodes, the StorageClass it binds PVCs of, and restarting it after an
// outage of etcd or the apiserver.
import path from "node:path";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parse } from "yaml";
import { adminCall } from "./metacluster-client.js";
import { startComponent, stopComponent } from "./metacluster-processes.js";
import { type MetaclusterState, binDir } from "./metacluster-state.js";

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

/** kwok's default StorageClass: kwok binds PVCs of this class to fake PVs, so StatefulSets with PVCs run. */
export async function ensureStorageClass(state: MetaclusterState): Promise<void> {
  const sc = parse(readFileSync(path.join(binDir, "kwok-storageclass.yaml"), "utf8")) as unknown;
  const res = await adminCall(state, "POST", "/apis/storage.k8s.io/v1/storageclasses", sc);
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`creating the kwok StorageClass: ${res.status} ${res.body}`);
}

/** Creates or deletes `metacluster-node-N` kwok nodes until exactly `count` exist, 50 requests at a time. */
export async function ensureNodes(state: MetaclusterState, count: number, log: (l: string) => void): Promise<void> {
  const call = (method: string, apiPath: string, body?: unknown) => adminCall(state, method, apiPath, body);
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
  await run(toCreate, async (name) => {
    const res = await call("POST", "/api/v1/nodes", kwokNode(name, { "metacluster.local/pool": "default" }));
    if (res.status !== 201 && res.status !== 409) throw new Error(`creating node ${name}: ${res.status} ${res.body}`);
  });
  await run(toDelete, async (name) => {
    await call("DELETE", `/api/v1/nodes/${name}`);
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
    for (const lease of page.items) {
      if (!lease.spec?.holderIdentity?.startsWith(kwokHolder)) continue;
      const del = await adminCall(state, "DELETE", `${leases}/${lease.metadata.name}`);
      if (del.status !== 200 && del.status !== 404)
        throw new Error(`deleting node Lease ${lease.metadata.name}: ${del.status} ${del.body}`);
    }
    next = page.metadata?.continue ?? "";
  } while (next);
  await startComponent(state, "kwok");
}
