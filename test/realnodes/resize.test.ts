// In-place resize of a tenant's kube-apiserver on a real node (issue 19): a CPU scale-up and then a memory scale-up
// written into the TenantControlPlane's spec, as a ClusterScaler writes them, reach the running pod through its
// resize subresource. The container is not restarted (same container id, restartCount and start time), no new
// ReplicaSet appears, the kernel's cgroup limits of the container change, and a client probing the apiserver's
// /readyz every 250 ms throughout sees no failure. status.components[].resize says InPlace, Done.
//
// The time from the spec change to the kubelet reporting the new resources is written into
// bench/results/realnodes.json, key inPlaceResize (a figure, not an assertion).
//
// Like tcp.test.ts this file gets its real node itself and removes it again unless the meta-cluster had real nodes
// before. On a machine that cannot run real nodes every test fails with what is missing.
import * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Resources } from "../../src/kube/resources.js";
import { eventually } from "../harness/cluster.js";
import { machineNow, podCgroupDir, RealTenant, recordRealNodeResult } from "../harness/realtenant.js";

const log = (l: string) => process.stderr.write(`[realnodes-resize] ${l}\n`);
const component = "kube-apiserver";
const before = { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi" } };
const moreCpu = { requests: { cpu: "400m", memory: "512Mi" }, limits: { memory: "2Gi" } };
const moreMemory = { requests: { cpu: "400m", memory: "768Mi" }, limits: { memory: "3Gi" } };

type Resources = typeof before;

/** GETs /readyz of the apiserver at `ip` every 250 ms until stopped; counts answers that are not 200. */
function probe(ip: string) {
  const result = { ok: 0, failed: 0, errors: [] as string[] };
  let stopped = false;
  const once = () =>
    new Promise<void>((resolve) => {
      // The serving certificate names the Service, not the pod's IP: this checks that it serves, not who it is.
      const req = request(
        { host: ip, port: 6443, path: "/readyz", rejectUnauthorized: false, timeout: 5_000 },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) result.ok++;
            else {
              result.failed++;
              result.errors.push(`HTTP ${res.statusCode}`);
            }
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer in 5 s")));
      req.on("error", (err) => {
        result.failed++;
        result.errors.push(err.message);
        resolve();
      });
      req.end();
    });
  const loop = (async () => {
    while (!stopped) {
      await once();
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    result,
    stop: async () => {
      stopped = true;
      await loop;
      return result;
    },
  };
}

describe("in-place resize of a tenant apiserver on a real node", () => {
  const t = new RealTenant({
    prefix: "rsz",
    log,
    spec: (spec) => ({ ...spec, apiServer: { replicas: 1, resources: before } }),
  });
  const { core, name, namespace } = t;
  const apps = t.kc.makeApiClient(k8s.AppsV1Api);
  let setupError: unknown;
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    try {
      await t.setUp();
      await t.create();
      await t.waitReady();
    } catch (err) {
      setupError = err;
    }
  }, 1_200_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    if (Object.keys(figures).length)
      recordRealNodeResult("inPlaceResize", { ...figures, machine: machineNow(), at: new Date().toISOString() });
    await t.tearDown();
  }, 600_000);

  const apiserverPod = async () => {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `metapilot.io/component=${component}` }))
      .items;
    expect(pods, "one apiserver pod").toHaveLength(1);
    return pods[0]!;
  };

  const containerOf = (pod: k8s.V1Pod) => pod.status!.containerStatuses!.find((c) => c.name === component)!;

  /** The memory limit and CPU shares the kernel holds for the container (cgroup v1). */
  const kernelLimits = (pod: k8s.V1Pod) => {
    const id = containerOf(pod).containerID!.replace(/^containerd:\/\//, "");
    const podDir = podCgroupDir(t.node, pod.metadata!.uid!);
    if (!podDir) throw new Error(`no cgroup of pod ${pod.metadata!.uid}`);
    // The pod's directory in the first hierarchy that has it; the others have the same layout under their mount.
    const relative = podDir.replace(/^\/sys\/fs\/cgroup\/[^/]+\//, "");
    const read = (controller: string, file: string) =>
      Number(readFileSync(path.join("/sys/fs/cgroup", controller, relative, id, file), "utf8").trim());
    return { memoryLimit: read("memory", "memory.limit_in_bytes"), cpuShares: read("cpu", "cpu.shares") };
  };

  async function resizeTo(resources: Resources, label: string) {
    const pod = await apiserverPod();
    const c = containerOf(pod);
    const deploymentBefore = await apps.readNamespacedDeployment({ namespace, name: component });
    const replicaSetsBefore = (await apps.listNamespacedReplicaSet({ namespace })).items.length;
    const p = probe(pod.status!.podIP!);
    await new Promise((r) => setTimeout(r, 2_000)); // some probes before the change
    const started = Date.now();
    await t.client.patch(
      Resources.TenantControlPlane,
      name,
      undefined,
      { spec: { apiServer: { resources } } },
      "merge",
    );
    const resized = await eventually(
      async () => {
        const now = await apiserverPod();
        const actual = containerOf(now).resources;
        return actual?.requests?.cpu === resources.requests.cpu &&
          actual.requests.memory === resources.requests.memory &&
          actual.limits?.memory === resources.limits.memory
          ? now
          : undefined;
      },
      300_000,
      `${label}: the kubelet reports the new resources of ${component}`,
    );
    const seconds = (Date.now() - started) / 1000;
    const done = await eventually(
      async () => {
        const tcp = await t.get();
        const r = tcp.status?.components?.find((x) => x.name === component)?.resize;
        return r?.state === "Done" ? r : undefined;
      },
      120_000,
      `${label}: status.components[${component}].resize Done`,
    );
    await new Promise((r) => setTimeout(r, 2_000)); // and some after
    const probes = await p.stop();
    log(`${label}: in place in ${seconds.toFixed(1)} s; probes ${probes.ok} ok, ${probes.failed} failed`);
    figures[label] = { seconds, probes: { ok: probes.ok, failed: probes.failed } };

    expect(done).toMatchObject({ method: "InPlace", reason: "Resized" });
    // The same pod and container, never restarted.
    expect(resized.metadata!.uid).toBe(pod.metadata!.uid);
    const after = containerOf(resized);
    expect(after.containerID).toBe(c.containerID);
    expect(after.restartCount).toBe(c.restartCount);
    expect(after.state?.running?.startedAt).toEqual(c.state?.running?.startedAt);
    expect(resized.spec!.containers.find((x) => x.name === component)!.resources).toMatchObject(resources);
    // No rollout: the Deployment is as it was, and no ReplicaSet was added.
    const deploymentAfter = await apps.readNamespacedDeployment({ namespace, name: component });
    expect(deploymentAfter.metadata!.generation).toBe(deploymentBefore.metadata!.generation);
    expect((await apps.listNamespacedReplicaSet({ namespace })).items).toHaveLength(replicaSetsBefore);
    // The kernel holds the new limits.
    const kernel = kernelLimits(resized);
    expect(kernel.memoryLimit).toBe(bytes(resources.limits.memory));
    // The kubelet's MilliCPUToShares: integer division.
    expect(kernel.cpuShares).toBe(Math.floor((millicores(resources.requests.cpu) * 1024) / 1000));
    // Nothing failed for a client of the apiserver.
    expect(probes.ok).toBeGreaterThan(4);
    expect(probes.errors).toEqual([]);
  }

  it("raises the apiserver's CPU in place: same container, no rollout, new cgroup shares, no failed request", async () => {
    const pod = await apiserverPod();
    // The operator allows the resize with no restart, and the pod started with the spec's size.
    expect(pod.spec!.containers[0]!.resizePolicy).toEqual([
      { resourceName: "cpu", restartPolicy: "NotRequired" },
      { resourceName: "memory", restartPolicy: "NotRequired" },
    ]);
    expect(kernelLimits(pod).memoryLimit).toBe(bytes(before.limits.memory));
    await resizeTo(moreCpu, "cpuScaleUp");
  }, 600_000);

  it("raises its memory request and limit in place the same way", async () => {
    await resizeTo(moreMemory, "memoryScaleUp");
    // GOMEMLIMIT is read at start-up: the running container keeps the old limit's (90% of 2Gi), and the one of 3Gi
    // waits for the next restart (spec.resourceUpdates.derivedSettings WithNextRestart), as status says.
    const pod = await apiserverPod();
    expect(pod.spec!.containers.find((x) => x.name === component)!.env).toEqual([
      { name: "GOMEMLIMIT", value: "1843MiB" },
    ]);
    const tcp = await t.get();
    expect(tcp.status?.components?.find((x) => x.name === component)?.derivedSettings).toEqual({
      state: "AwaitingRestart",
      inForce: "GOMEMLIMIT=1843MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200",
      desired: "GOMEMLIMIT=2764MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200",
    });
  }, 600_000);
});

function bytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`not a Mi/Gi quantity: ${q}`);
  return Number(m[1]) * (m[2] === "Gi" ? 2 ** 30 : 2 ** 20);
}

function millicores(q: string): number {
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000;
}
