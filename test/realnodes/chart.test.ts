// The Helm chart for real: metapilot's own image, built locally from the Dockerfile's recipe
// (hack/lib/metapilot-image.ts) and imported into a real node, runs there as the chart's two replicas. Each is a
// real pod under the chart's ServiceAccount, its process uid 65532, its probes answered; it reaches the
// meta-cluster's apiserver as an in-cluster client (the kubernetes Service, the mounted token); its log, read
// through the apiserver from the kubelet, is pino JSON line by line. Deleting the leader pod hands the Lease to the
// other replica, which carries on: a TenantControlPlane created afterwards gets its status and its objects from it.
//
// The gap between deleting the leader and the new holder, and the memory of each replica, are written into
// bench/results/realnodes.json, key chartPods.
//
// Like the other files here it gets its real node itself and removes it again unless the meta-cluster had real
// nodes before. On a machine that cannot run real nodes every test fails with what is missing.
import * as k8s from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildImage, importImage, type BuiltImage } from "../../hack/lib/images.js";
import { ensureRealNodes, readState, repoRoot, type MetaclusterState } from "../../hack/lib/metacluster.js";
import { stageMetapilotImage } from "../../hack/lib/metapilot-image.js";
import { realNodeKindKey, realNodeKindValue, type RealNode } from "../../hack/lib/realnodes.js";
import { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { readAudit, isWrite } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import {
  containerRss,
  machineNow,
  podCgroupDir,
  realNodeToleration,
  recordRealNodeResult,
} from "../harness/realtenant.js";

const log = (l: string) => process.stderr.write(`[realnodes-chart] ${l}\n`);
const helmBin = path.join(repoRoot, ".cache/bin/helm");
const chartDir = path.join(repoRoot, "charts/metapilot");
const release = "mprn";
const appLabel = `app.kubernetes.io/instance=${release}`;

function helm(args: string[], kubeconfig: string): string {
  return execFileSync(helmBin, args, {
    encoding: "utf8",
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: "pipe",
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 10_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** The pids of a container, by the kubelet's cgroup of it on `node`. */
function containerPids(node: RealNode, pod: k8s.V1Pod): number[] {
  const dir = podCgroupDir(node, pod.metadata!.uid!);
  if (!dir) throw new Error(`no cgroup of pod ${pod.metadata!.name}`);
  const id = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
  return readFileSync(path.join(dir, id, "cgroup.procs"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map(Number);
}

/** Real, effective, saved and filesystem ids from a /proc/<pid>/status line ("Uid:" or "Gid:"). */
function ids(status: string, key: "Uid" | "Gid"): number[] {
  return (new RegExp(`^${key}:\\s+(.*)$`, "m").exec(status)?.[1] ?? "").split(/\s+/).map(Number);
}

interface Lease {
  spec?: { holderIdentity?: string; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

describe("the Helm chart on a real node", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const admin = new KubeClient(kc, { qps: 50, burst: 50, fieldManager: "test-user" });
  const run = Date.now().toString(36).slice(-5);
  const tenant = `chartpods-${run}`;
  const work = mkdtempSync(path.join(tmpdir(), "metapilot-chartpods-"));
  let state: MetaclusterState;
  let node: RealNode;
  let realNodesBefore = 0;
  let setupError: unknown;
  let ns: Awaited<ReturnType<typeof freshNamespace>> | undefined;
  let installed = false;
  let image: BuiltImage;
  let imageSeconds = 0;
  let installedAt = 0;
  let podsReadySeconds = 0;
  let serviceAccount = "";
  let leaseName = "";
  let pods: k8s.V1Pod[] = [];

  const listPods = async () =>
    (await core.listNamespacedPod({ namespace: ns!.name, labelSelector: appLabel })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const ready = (p: k8s.V1Pod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  /** The pods' states and the tail of each one's log, for a failure message. */
  const diagnostics = async () => {
    const out: string[] = [];
    for (const p of (await core.listNamespacedPod({ namespace: ns!.name, labelSelector: appLabel })).items) {
      const name = p.metadata!.name!;
      const c = p.status?.containerStatuses?.[0];
      out.push(
        `pod ${name}: ${p.status?.phase} ready=${ready(p)} restarts=${c?.restartCount} deleting=${!!p.metadata?.deletionTimestamp} state=${JSON.stringify(c?.state)} last=${JSON.stringify(c?.lastState)}`,
      );
      const text = await core
        .readNamespacedPodLog({ namespace: ns!.name, name, container: "metapilot", tailLines: 15 })
        .catch((err: unknown) => `(no log: ${String(err)})`);
      out.push(...text.split("\n").map((l) => `  ${l.slice(0, 400)}`));
    }
    return out.join("\n");
  };
  const readLease = () => coordination.readNamespacedLease({ namespace: ns!.name, name: leaseName }) as Promise<Lease>;

  beforeAll(async () => {
    try {
      state = readState(metacluster().dir) ?? metacluster();
      realNodesBefore = state.realNodes?.length ?? 0;
      await ensureRealNodes(state, Math.max(1, realNodesBefore), log);
      node = state.realNodes![0]!;
      const started = Date.now();
      image = buildImage(repoRoot, stageMetapilotImage(repoRoot));
      await importImage(node.containerdSocket, image);
      imageSeconds = (Date.now() - started) / 1000;
      log(`${image.ref} built (or cached) and imported into ${node.name} in ${imageSeconds.toFixed(1)} s`);
      await installCrds(kc);
      ns = await freshNamespace(kc, "chartpods");
      const values = path.join(work, "values.yaml");
      writeFileSync(
        values,
        stringify({
          // Imported, never pulled: a missing image fails the pod instead of reaching for a registry.
          image: { pullPolicy: "Never" },
          nodeSelector: { [realNodeKindKey]: realNodeKindValue, "kubernetes.io/hostname": node.name },
          tolerations: [realNodeToleration],
        }),
      );
      installedAt = Date.now();
      helm(["install", release, chartDir, "-n", ns.name, "--skip-crds", "-f", values], state.kubeconfig);
      installed = true;
      const manifest = helm(["get", "values", release, "-n", ns.name, "--all", "-o", "json"], state.kubeconfig);
      const all = JSON.parse(manifest) as { leaderElection: { leaseName: string } };
      leaseName = all.leaderElection.leaseName;
      serviceAccount = `${release}-metapilot`;
    } catch (err) {
      setupError = err;
    }
  }, 1_200_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    if (ns && installed) {
      // The TenantControlPlane's finalizer is the chart's operator's: it goes before the release does.
      await admin.delete(Resources.TenantControlPlane, tenant).catch(() => undefined);
      await eventually(
        async () =>
          admin.get(Resources.TenantControlPlane, tenant).then(
            () => undefined,
            (err: unknown) => {
              if (isNotFound(err)) return true;
              throw err;
            },
          ),
        300_000,
        `TenantControlPlane ${tenant} deleted`,
      ).catch((err) => log(String(err)));
      try {
        helm(["uninstall", release, "-n", ns.name, "--wait", "--timeout", "120s"], state.kubeconfig);
      } catch (err) {
        log(`helm uninstall: ${String(err).slice(0, 300)}`);
      }
    }
    await ns?.cleanup();
    if (ns)
      await eventually(
        () =>
          core.readNamespace({ name: ns!.name }).then(
            () => undefined,
            () => true,
          ),
        180_000,
        `namespace ${ns.name} gone`,
      ).catch((err) => log(String(err)));
    rmSync(work, { recursive: true, force: true });
    if (state && realNodesBefore === 0) await ensureRealNodes(state, 0, log);
  }, 900_000);

  it("runs two replicas from the local image as real pods under the chart's ServiceAccount, as uid 65532, Ready by their probes", async () => {
    let last: unknown;
    pods = await eventually(
      async () => {
        const list = await listPods();
        last = list.map((p) => [p.metadata?.name, p.status?.phase, p.status?.containerStatuses?.[0]?.state]);
        return list.length === 2 && list.every(ready) ? list : undefined;
      },
      600_000,
      () => `two Ready metapilot pods (last: ${JSON.stringify(last)})`,
    );
    podsReadySeconds = (Date.now() - installedAt) / 1000;
    log(`two pods Ready ${podsReadySeconds.toFixed(1)} s after helm install`);
    for (const p of pods) {
      const what = p.metadata!.name!;
      expect(p.spec?.nodeName, what).toBe(node.name);
      expect(p.spec?.serviceAccountName, what).toBe(serviceAccount);
      const status = p.status!.containerStatuses![0]!;
      expect(status.image, what).toBe(image.ref);
      expect(status.imageID, what).toMatch(/sha256:[0-9a-f]{64}/);
      expect(status.containerID, what).toMatch(/^containerd:\/\//);
      expect(status.restartCount, what).toBe(0);
      expect(p.spec?.containers[0]?.imagePullPolicy, what).toBe("Never");
      // The process is the Dockerfile's entrypoint and cmd with the chart's args, as uid and gid 65532.
      const pids = containerPids(node, p);
      expect(pids.length, what).toBeGreaterThan(0);
      for (const pid of pids) {
        const procStatus = readFileSync(`/proc/${pid}/status`, "utf8");
        expect(ids(procStatus, "Uid"), `${what} pid ${pid}`).toEqual([65532, 65532, 65532, 65532]);
        expect(ids(procStatus, "Gid"), `${what} pid ${pid}`).toEqual([65532, 65532, 65532, 65532]);
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
        expect(argv.slice(0, 3), `${what} pid ${pid}`).toEqual(["node", "dist/src/cli/main.js", "controller"]);
        expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0"), what).toEqual(
          expect.arrayContaining(["NODE_ENV=production", "KUBERNETES_SERVICE_HOST=10.96.0.1"]),
        );
      }
      // The probes' own endpoints, from this machine at the pod's address.
      for (const probe of ["/healthz", "/readyz"])
        expect(await httpStatus(`http://${p.status!.podIP}:8080${probe}`), `${what} ${probe}`).toBe(200);
      expect(p.spec?.containers[0]?.startupProbe?.httpGet?.path, what).toBe("/healthz");
      expect(p.spec?.containers[0]?.livenessProbe?.httpGet?.path, what).toBe("/healthz");
      expect(p.spec?.containers[0]?.readinessProbe?.httpGet?.path, what).toBe("/readyz");
    }
  }, 660_000);

  it("reaches the meta-cluster's apiserver from the pod network as an in-cluster client with the ServiceAccount's token", async () => {
    const lease = await eventually(
      async () => {
        const l = await readLease();
        return l.spec?.holderIdentity ? l : undefined;
      },
      120_000,
      `Lease ${leaseName} held`,
    );
    const names = pods.map((p) => p.metadata!.name!);
    // The Manager's identity is <hostname>_<random>, and a pod's hostname is its name.
    expect(names).toContain(lease.spec!.holderIdentity!.split("_")[0]);
    // The apiserver saw the Lease written by the ServiceAccount, from a pod's address on the node's bridge.
    const user = `system:serviceaccount:${ns!.name}:${serviceAccount}`;
    const podIPs = pods.map((p) => p.status!.podIP!);
    const leaseWrites = readAudit(state, new Date(installedAt - 5_000)).filter(
      (e) => isWrite(e) && e.objectRef?.resource === "leases" && e.objectRef.namespace === ns!.name,
    );
    expect(leaseWrites.length).toBeGreaterThan(0);
    for (const e of leaseWrites) {
      expect(e.user.username).toBe(user);
      const sourceIPs = (e as unknown as { sourceIPs?: string[] }).sourceIPs ?? [];
      expect(podIPs, JSON.stringify(sourceIPs)).toContain(sourceIPs[0]);
    }
  }, 180_000);

  it("writes pino JSON, line by line, to the log the kubelet serves through the apiserver", async () => {
    for (const p of pods) {
      const name = p.metadata!.name!;
      const text = await core.readNamespacedPodLog({ namespace: ns!.name, name, container: "metapilot" });
      const lines = text.split("\n").filter((l) => l.trim());
      expect(lines.length, name).toBeGreaterThan(0);
      const records = lines.map((l) => {
        try {
          return JSON.parse(l) as {
            level?: string;
            time?: string;
            msg?: unknown;
            name?: unknown;
            pid?: unknown;
            hostname?: unknown;
          };
        } catch {
          throw new Error(`${name}: not JSON: ${l}`);
        }
      });
      for (const r of records) {
        const what = JSON.stringify(r);
        // src/kube/logger.ts: pino with the level as its label and the time as ISO 8601 in UTC.
        expect(["trace", "debug", "info", "warn", "error", "fatal"], what).toContain(r.level);
        expect(r.time, what).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(typeof r.msg, what).toBe("string");
        expect(r.name, what).toBe("metapilot");
        // The container's own process, in the pod's namespaces.
        expect(r.pid, what).toBe(1);
        expect(r.hostname, what).toBe(name);
      }
      expect(records.map((r) => r.msg)).toContain("metapilot controller starting");
    }
  }, 120_000);

  it("hands leadership to the other replica when the leader pod is deleted, and the new leader carries on", async () => {
    const before = await readLease();
    const oldHolder = before.spec!.holderIdentity!;
    const leaderPod = oldHolder.split("_")[0]!;
    const survivor = pods.find((p) => p.metadata!.name !== leaderPod)!;
    expect(survivor, `a standby besides ${leaderPod}`).toBeDefined();
    const deletedAt = Date.now();
    await core.deleteNamespacedPod({ namespace: ns!.name, name: leaderPod });
    let lastLease: Lease | undefined;
    const after = await eventually(
      async () => {
        const l = (lastLease = await readLease());
        return l.spec?.holderIdentity && l.spec.holderIdentity !== oldHolder ? l : undefined;
      },
      180_000,
      () => `Lease ${leaseName} held by another than ${oldHolder} (last: ${JSON.stringify(lastLease?.spec)})`,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    const observedAt = Date.now();
    const newHolder = after.spec!.holderIdentity!;
    // A replica other than the deleted one leads: the standby that was waiting, or the Deployment's replacement
    // when it started and asked first (its first try comes at start-up, the standby's at its next retry; in one CI
    // run the replacement won within 2 s). Either is the chart's replica, with the same ServiceAccount.
    const newLeader = newHolder.split("_")[0]!;
    expect(newLeader).not.toBe(leaderPod);
    const leaderNow = await core.readNamespacedPod({ namespace: ns!.name, name: newLeader });
    expect(leaderNow.metadata?.labels, `${newLeader} is one of the chart's pods`).toMatchObject(
      survivor.metadata?.labels ?? {},
    );
    // The old leader released the Lease as it stopped (SIGTERM); the new leader acquired it after the deletion.
    const acquiredAt = new Date(after.spec!.acquireTime!).getTime();
    expect(acquiredAt).toBeGreaterThan(new Date(before.spec!.acquireTime!).getTime());
    const gapSeconds = (observedAt - deletedAt) / 1000;
    const acquireGapSeconds = (acquiredAt - deletedAt) / 1000;
    log(
      `leader ${leaderPod} deleted; ${newLeader} (${newLeader === survivor.metadata!.name ? "the standby" : "the replacement"}) holds the Lease after ${gapSeconds.toFixed(2)} s`,
    );

    // It carries on: a TenantControlPlane created now gets its status and its namespace's objects from it alone.
    const sinceTcp = new Date();
    await admin.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: tenant },
      spec: { version: "v1.34.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
    } as KubeObject);
    type Tcp = KubeObject & {
      status?: { phase?: string; observedGeneration?: number; conditions?: Array<{ type: string }> };
    };
    const t = await eventually(
      async () => {
        const got = await admin.get<Tcp>(Resources.TenantControlPlane, tenant);
        return got.status?.phase && got.status.observedGeneration === got.metadata?.generation ? got : undefined;
      },
      300_000,
      `${tenant} status from the new leader`,
    );
    expect(t.status?.conditions?.length).toBeGreaterThan(0);
    const user = `system:serviceaccount:${ns!.name}:${serviceAccount}`;
    const tcpNs = `tcp-${tenant}`;
    const deployments = await eventually(
      async () => {
        const list = await admin.listAll<KubeObject>(Resources.Deployment, { namespace: tcpNs });
        return list.items.length >= 3 ? list.items : undefined;
      },
      180_000,
      `Deployments in ${tcpNs}`,
    );
    expect(deployments.map((d) => d.metadata?.labels?.["metapilot.io/component"]).sort()).toEqual(
      expect.arrayContaining(["kube-apiserver", "kube-controller-manager", "kube-scheduler"]),
    );
    const writes = readAudit(state, sinceTcp).filter(
      (e) =>
        isWrite(e) && e.user.username === user && (e.objectRef?.namespace === tcpNs || e.objectRef?.name === tenant),
    );
    expect(writes.length).toBeGreaterThan(0);
    for (const e of writes) expect(e.userAgent, `${e.verb} ${e.requestURI}`).toContain(`instance=${newHolder}`);
    // The new leader did not restart to get there; two replicas are Ready again, the other one the standby.
    expect(
      (await core.readNamespacedPod({ namespace: ns!.name, name: newLeader })).status?.containerStatuses?.[0]
        ?.restartCount,
    ).toBe(0);
    const standby = await eventually(
      async () => {
        const list = await listPods();
        return list.length === 2 && list.every(ready) ? list.find((p) => p.metadata!.name !== newLeader) : undefined;
      },
      600_000,
      "the Deployment's new standby Ready",
    );
    expect((await readLease()).spec?.holderIdentity).toBe(newHolder);

    const leaderReady = await core.readNamespacedPod({ namespace: ns!.name, name: newLeader });
    const rss = [leaderReady, standby].map((p) => {
      const id = p.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
      return Math.round(containerRss(node, p.metadata!.uid!, id).kib / 1024);
    });
    recordRealNodeResult("chartPods", {
      recordedBy: "test/realnodes/chart.test.ts",
      measuredAt: new Date().toISOString(),
      // The machine is shared with other test runs: its load says how much of each time is waiting.
      machine: machineNow(),
      image: image.ref,
      imageBuildAndImportSeconds: Math.round(imageSeconds * 10) / 10,
      imageBuildMeaning:
        "stage (npm ci --omit=dev and npm run build unless cached) + umoci + ctr import; 0-ish when cached",
      podsReadySeconds: Math.round(podsReadySeconds * 10) / 10,
      podsReadyMeaning: "helm install → both replicas Ready (readiness probe /readyz: informer caches synced)",
      leaseDuration: "15s",
      failoverGapSeconds: Math.round(gapSeconds * 100) / 100,
      failoverAcquireGapSeconds: Math.round(acquireGapSeconds * 100) / 100,
      failoverMeaning:
        "leader pod deleted (API call sent) → Lease seen held by the other replica (polled every 200 ms); the acquire gap uses the Lease's acquireTime instead",
      rssMiBPerPod: { leaderAfterFailover: rss[0], newStandby: rss[1] },
    });
  }, 1_500_000);
});
