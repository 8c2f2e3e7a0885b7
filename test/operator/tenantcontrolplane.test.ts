// The master-operator on the real meta-cluster: TenantControlPlanes become running control planes on kwok
// nodes, upgrades roll in order, a steady state writes nothing, bad specs are reported, deletion cleans up.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

const count = Number(process.env.TCP_TEST_COUNT ?? 20);

interface EventObject extends KubeObject {
  reason?: string;
  type?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

describe("master-operator", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const stop = new AbortController();
  const identity = `operator-${Date.now()}`;
  let manager: Manager;
  const prefix = `op${Date.now().toString(36).slice(-4)}`;
  const tenants = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

  const tcp = (name: string, version = "v1.34.4", extra: Record<string, unknown> = {}) => ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name },
    spec: { version, etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } }, ...extra },
  });
  const get = (name: string) => client.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
  const waitPhase = (name: string, phase: string, timeoutMs = 120_000) =>
    eventually(
      async () => {
        const t = await get(name);
        return t.status?.phase === phase && t.status.observedGeneration === t.metadata?.generation ? t : undefined;
      },
      timeoutMs,
      `${name} ${phase}`,
    );

  beforeAll(async () => {
    await installCrds(kc);
    manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: "warn" }), identity, qps: 200, burst: 200 });
    addTenantControlPlaneController(manager, { workers: 8, dryRun: false, imageRegistry: "mirror.local:5000/k8s" });
    void manager.start(stop.signal);
  }, 120_000);

  afterAll(async () => {
    for (const t of tenants) await client.delete(Resources.TenantControlPlane, t).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5000));
    stop.abort();
  }, 120_000);

  it(`brings ${count} TenantControlPlanes to Ready with pods Running on kwok nodes`, async () => {
    const started = Date.now();
    await Promise.all(tenants.map((t) => client.create(Resources.TenantControlPlane, tcp(t))));
    for (const t of tenants) await waitPhase(t, "Ready", 240_000);
    console.log(`${count} TCPs Ready in ${Date.now() - started} ms`);
    const one = await get(tenants[0]!);
    expect(one.status?.namespace).toBe(`tcp-${tenants[0]}`);
    expect(one.status?.kubeconfigSecretRef?.name).toBe(`${tenants[0]}-admin-kubeconfig`);
    for (const type of ["EtcdReady", "APIServerReady", "ControllerManagerReady", "SchedulerReady", "Ready"]) {
      expect(one.status?.conditions?.find((c) => c.type === type)?.status, type).toBe("True");
    }
    const pods = await core.listNamespacedPod({ namespace: `tcp-${tenants[0]}` });
    expect(pods.items.length).toBe(5); // etcd 1, apiserver 2, controller-manager 1, scheduler 1
    for (const p of pods.items) {
      expect(p.status?.phase).toBe("Running");
      expect(p.spec?.nodeName).toMatch(/^metacluster-node-/);
      expect(p.metadata?.labels?.["metapilot.io/tenant"]).toBe(tenants[0]);
      expect(p.metadata?.labels?.["metapilot.io/component"]).toBeTruthy();
    }
    const api = await apps.readNamespacedDeployment({ name: "kube-apiserver", namespace: `tcp-${tenants[0]}` });
    expect(api.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 3, maxUnavailable: 0 });
    expect(api.spec?.template.spec?.containers[0]?.livenessProbe?.httpGet?.path).toBe("/livez");
    // The controller's --image-registry.
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("mirror.local:5000/k8s/kube-apiserver:v1.34.4");
  }, 300_000);

  it("places every component by spec.scheduling, a component's own scheduling first, with images from spec.imageRegistry", async () => {
    const name = `${prefix}-placed`;
    tenants.push(name);
    const toleration = { key: "metapilot.io/node-kind", operator: "Equal", value: "real", effect: "NoSchedule" };
    const spreadByNode = { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" };
    await client.create(
      Resources.TenantControlPlane,
      tcp(name, "v1.34.4", {
        imageRegistry: "registry.example.com/team-a",
        scheduling: {
          nodeSelector: { type: "kwok" },
          tolerations: [toleration],
          topologySpreadConstraints: [spreadByNode],
        },
        apiServer: { scheduling: { nodeSelector: { "metacluster.local/pool": "default" } } },
        etcd: { managed: { replicas: 1, deletionPolicy: "Delete", scheduling: { tolerations: [] } } },
      }),
    );
    await waitPhase(name, "Ready", 240_000);
    const ns = `tcp-${name}`;
    const templates = {
      "kube-apiserver": (await apps.readNamespacedDeployment({ name: "kube-apiserver", namespace: ns })).spec!.template,
      "kube-controller-manager": (
        await apps.readNamespacedDeployment({ name: "kube-controller-manager", namespace: ns })
      ).spec!.template,
      "kube-scheduler": (await apps.readNamespacedDeployment({ name: "kube-scheduler", namespace: ns })).spec!.template,
      etcd: (await apps.readNamespacedStatefulSet({ name: "etcd", namespace: ns })).spec!.template,
    };
    for (const [component, t] of Object.entries(templates)) {
      const own = { matchLabels: { "metapilot.io/tenant": name, "metapilot.io/component": component } };
      expect(t.spec?.nodeSelector, component).toEqual(
        component === "kube-apiserver" ? { "metacluster.local/pool": "default" } : { type: "kwok" },
      );
      expect(t.spec?.tolerations, component).toEqual(component === "etcd" ? undefined : [toleration]);
      expect(t.spec?.topologySpreadConstraints, component).toEqual([{ ...spreadByNode, labelSelector: own }]);
      // No affinity given: metapilot's default anti-affinity stays.
      expect(
        t.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
        component,
      ).toHaveLength(1);
      expect(t.spec?.containers[0]?.image, component).toMatch(
        new RegExp(`^registry[.]example[.]com/team-a/${component}:v?[0-9]`),
      );
    }
    const pods = await core.listNamespacedPod({ namespace: ns });
    expect(pods.items.length).toBe(5);
    for (const p of pods.items) {
      expect(p.status?.phase).toBe("Running");
      expect(p.spec?.nodeName).toMatch(/^metacluster-node-/);
    }
    // DoNotSchedule by hostname: the two apiservers run on different nodes.
    const apiNodes = pods.items.filter((p) => p.metadata?.labels?.["metapilot.io/component"] === "kube-apiserver");
    expect(new Set(apiNodes.map((p) => p.spec?.nodeName)).size).toBe(2);
  }, 300_000);

  it("says in each component's condition when spec.scheduling matches no node, with the scheduler's reason", async () => {
    const name = `${prefix}-nowhere`;
    tenants.push(name);
    await client.create(
      Resources.TenantControlPlane,
      tcp(name, "v1.34.4", { scheduling: { nodeSelector: { "metapilot.io/node-kind": "nowhere" } } }),
    );
    const types = ["EtcdReady", "APIServerReady", "ControllerManagerReady", "SchedulerReady"];
    // The scheduler's message changes while it retries: etcd's pod first says its PersistentVolumeClaim is not bound
    // yet, until kwok's provisioner binds it. Each condition carries whatever the scheduler says last.
    const placement = /cannot be scheduled: 0\/\d+ nodes are available: .*node affinity\/selector/;
    let last = "";
    const t = await eventually(
      async () => {
        const t = await get(name);
        const all = types.map((type) => t.status?.conditions?.find((c) => c.type === type));
        last = all.map((c, i) => `${types[i]}: ${c?.reason} ${c?.message}`).join(" | ");
        return all.every((c) => c?.reason === "Unschedulable" && placement.test(c.message ?? "")) ? t : undefined;
      },
      120_000,
      () => `${name} Unschedulable for node affinity/selector (last: ${last})`,
    );
    for (const type of types) {
      const c = t.status!.conditions!.find((c) => c.type === type)!;
      expect(c.status, type).toBe("False");
      expect(c.message, type).toMatch(placement);
    }
    expect(t.status?.phase).toBe("Provisioning");
    // Gone before the steady-state check: its pods stay Pending, and each reconcile repeats their Warning Event.
    // Gone means the TenantControlPlane itself: the operator removes its finalizer only after it has seen the
    // namespace go, and that write once landed in the steady-state check's window.
    // Gone from the operator's own cache too: a requeue of a key whose deletion the cache has not seen yet runs the
    // deletion path once more, and those writes once landed in the steady-state window.
    await client.delete(Resources.TenantControlPlane, name);
    const operatorCache = manager.informer<KubeObject>({ resource: Resources.TenantControlPlane });
    expect(operatorCache.get(tenants[0]!), "the operator's TenantControlPlane cache").toBeDefined();
    await eventually(
      async () =>
        (await client.getOptional<KubeObject>(Resources.Namespace, `tcp-${name}`)) ||
        (await client.getOptional<KubeObject>(Resources.TenantControlPlane, name)) ||
        operatorCache.get(name)
          ? undefined
          : true,
      120_000,
      `tcp-${name} and its TenantControlPlane deleted, and gone from the operator's cache`,
    );
    tenants.splice(tenants.indexOf(name), 1);
  }, 300_000);

  it("writes nothing in a steady state (audit log)", async () => {
    // Event counts from the tenants' start-up (etcd-0 waiting for its volume) are written at most every 30 s; write
    // them now, or their flush lands in the window and reads as a steady-state write (seen: 2 runs in 3).
    await manager.recorder("tenantcontrolplane").flush();
    const since = new Date();
    // Force a resync of every tenant: each key reconciled again from the cache.
    const controller = (manager as unknown as { controllers: Array<{ queue: { add(k: string): void } }> })
      .controllers[0]!;
    for (const t of tenants) controller.queue.add(t);
    await new Promise((r) => setTimeout(r, 8000));
    const writes = readAudit(state, since).filter((e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`));
    const described = writes.map((e) => `${e.stageTimestamp} ${e.verb} ${e.requestURI} ${e.responseStatus?.code}`);
    // The writes in the message itself: the failure summary at the end of a CI log shows only the message.
    expect(described, `writes in a steady state: ${described.join(" | ")}`).toEqual([]);
  }, 60_000);

  it("repairs a tenant Deployment edited by hand, with a DriftRepaired Event and metapilot_drift_repairs_total", async () => {
    const name = tenants[Math.min(2, tenants.length - 1)]!;
    const ns = `tcp-${name}`;
    const image = "mirror.local:5000/k8s/kube-apiserver:v1.34.4";
    const apiserverImage = async () =>
      (await apps.readNamespacedDeployment({ name: "kube-apiserver", namespace: ns })).spec?.template.spec
        ?.containers[0]?.image;
    expect(await apiserverImage()).toBe(image);
    const repairs = async () => {
      const metric = manager.metrics.registry.getSingleMetric("metapilot_drift_repairs_total");
      const values = metric ? (await metric.get()).values : [];
      return values.find((v) => v.labels.kind === "Deployment")?.value ?? 0;
    };
    const before = await repairs();
    const editedAt = Date.now();
    // What `kubectl edit` does: an update under another field manager, leaving the spec-hash annotation as it was.
    await client.patch(
      Resources.Deployment,
      "kube-apiserver",
      ns,
      [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "evil.example/kube-apiserver:v0" }],
      "json",
    );
    // The edit's own watch event wakes the tenant; no resync is needed. Generous limits for a loaded machine.
    await eventually(
      async () => ((await apiserverImage()) === image ? true : undefined),
      120_000,
      `${ns}/kube-apiserver image back to ${image}`,
    );
    await eventually(async () => ((await repairs()) > before ? true : undefined), 60_000, "a drift repair counted");
    const event = await eventually(
      async () =>
        (await client.listAll<EventObject>(Resources.Event, { namespace: "default" })).items.find(
          (e) =>
            e.reason === "DriftRepaired" &&
            e.regarding?.kind === "TenantControlPlane" &&
            e.regarding.name === name &&
            new Date(e.metadata?.creationTimestamp ?? 0).getTime() >= Math.floor(editedAt / 1000) * 1000,
        ),
      60_000,
      `a DriftRepaired Event for ${name}`,
    );
    expect(event.type).toBe("Warning");
    expect(event.note).toContain(`Deployment ${ns}/kube-apiserver`);
    expect(event.note).toContain("spec.template.spec.containers[kube-apiserver].image");
  }, 300_000);

  it("rolls a resource change on kwok nodes, which cannot resize in place, and says so in status and a Warning", async () => {
    const name = tenants[Math.min(1, tenants.length - 1)]!;
    const ns = `tcp-${name}`;
    const resources = { requests: { cpu: "300m", memory: "600Mi" }, limits: { memory: "2Gi" } };
    const changedAt = Date.now();
    await client.patch(Resources.TenantControlPlane, name, undefined, { spec: { apiServer: { resources } } }, "merge");
    // kwok reports no container resources in pod status, as a kubelet older than 1.33: the template carries the new
    // size and the pods roll.
    await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "kube-apiserver", namespace: ns });
        return d.spec?.template.spec?.containers[0]?.resources?.requests?.cpu === "300m" ? d : undefined;
      },
      120_000,
      `${ns}/kube-apiserver template at cpu 300m`,
    );
    // Done once the rollout has finished (a pass may say Ready from the cache before it starts: InProgress then).
    const resize = await eventually(
      async () => {
        const t = await get(name);
        const r = t.status?.components?.find((c) => c.name === "kube-apiserver")?.resize;
        return t.status?.phase === "Ready" && r?.state === "Done" ? r : undefined;
      },
      180_000,
      `${name} Ready with its resize Done`,
    );
    expect(resize).toEqual({
      method: "Rolling",
      state: "Done",
      reason: "KubeletCannotResize",
      message: expect.stringContaining("reports no container resources"),
      resources: "requests cpu=300m memory=600Mi, limits memory=2Gi",
    });
    const event = await eventually(
      async () =>
        (await client.listAll<EventObject>(Resources.Event, { namespace: "default" })).items.find(
          (e) =>
            e.reason === "ResizeByRollingUpdate" &&
            e.regarding?.name === name &&
            new Date(e.metadata?.creationTimestamp ?? 0).getTime() >= Math.floor(changedAt / 1000) * 1000,
        ),
      60_000,
      `a ResizeByRollingUpdate Event for ${name}`,
    );
    expect(event.type).toBe("Warning");
    expect(event.note).toContain("in-place resize needs a kubelet of 1.33 or later");
  }, 300_000);

  it("upgrades one minor version in order, keeping the apiserver at full strength, and refuses a skip", async () => {
    const name = tenants[0]!;
    const ns = `tcp-${name}`;
    // Every change of the tenant's Deployments, in the order the apiserver committed them: a watch from the list's
    // resourceVersion misses none, where a LIST every 100 ms missed the steps of a rollout that kwok's instantly
    // ready pods finish between two of them (both components were then first seen at the new version together).
    const seen: Array<{ component: string; version?: string; available?: number }> = [];
    let watchError: unknown;
    const listed = await apps.listNamespacedDeployment({ namespace: ns });
    const record = (d: k8s.V1Deployment) =>
      seen.push({
        component: d.metadata?.name ?? "",
        version: d.metadata?.labels?.["metapilot.io/version"],
        available: d.status?.availableReplicas,
      });
    for (const d of listed.items) record(d);
    const watching = await new k8s.Watch(kc).watch(
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      { resourceVersion: listed.metadata?.resourceVersion, allowWatchBookmarks: false },
      (type: string, d: k8s.V1Deployment) => {
        if (type === "ADDED" || type === "MODIFIED") record(d);
      },
      (err: unknown) => {
        if (err && !(err instanceof Error && err.name === "AbortError")) watchError = err;
      },
    );
    await client.patch(Resources.TenantControlPlane, name, undefined, { spec: { version: "v1.35.4" } }, "merge");
    await waitPhase(name, "Upgrading", 30_000).catch(() => undefined);
    const done = await waitPhase(name, "Ready", 180_000);
    watching.abort();
    expect(watchError).toBeUndefined();
    expect(done.status?.version).toBe("v1.35.4");
    const firstAt = (component: string) => seen.findIndex((s) => s.component === component && s.version === "v1.35.4");
    expect(firstAt("kube-apiserver")).toBeGreaterThanOrEqual(0);
    expect(firstAt("kube-apiserver")).toBeLessThan(firstAt("kube-controller-manager"));
    expect(firstAt("kube-apiserver")).toBeLessThan(firstAt("kube-scheduler"));
    const apiserverSeen = seen.filter((s) => s.component === "kube-apiserver" && s.available !== undefined);
    expect(Math.min(...apiserverSeen.map((s) => s.available ?? 0))).toBeGreaterThanOrEqual(2);

    const skip = await client
      .patch(Resources.TenantControlPlane, name, undefined, { spec: { version: "v1.37.2" } }, "merge")
      .catch((e: unknown) => e);
    expect(String(skip)).toMatch(/skips a minor version/);
    const downgrade = await client
      .patch(Resources.TenantControlPlane, name, undefined, { spec: { version: "v1.34.4" } }, "merge")
      .catch((e: unknown) => e);
    expect(String(downgrade)).toMatch(/downgrade/);
  }, 300_000);

  it("reports a spec the schema cannot catch in a condition, and keeps reconciling others", async () => {
    const name = `${prefix}-bad`;
    tenants.push(name);
    await client.create(
      Resources.TenantControlPlane,
      tcp(name, "v1.34.4", {
        etcd: { external: { endpoints: ["https://etcd.invalid:2379"], secretRef: { name: "missing" } } },
      }),
    );
    const t = await eventually(
      async () => {
        const got = await get(name);
        const c = got.status?.conditions?.find((x) => x.type === "EtcdReady");
        return c?.status === "False" ? got : undefined;
      },
      60_000,
      "EtcdReady=False",
    );
    expect(t.status?.conditions?.find((c) => c.type === "EtcdReady")?.message).toMatch(/Secret .*missing.* not found/);
  }, 120_000);

  it("deletes a tenant and leaves no object behind", async () => {
    const name = tenants[1]!;
    const ns = `tcp-${name}`;
    await client.delete(Resources.TenantControlPlane, name);
    await eventually(
      async () => ((await client.getOptional(Resources.TenantControlPlane, name)) ? undefined : true),
      120_000,
      "TCP gone",
    );
    await eventually(
      async () => ((await client.getOptional<KubeObject>(Resources.Namespace, ns)) ? undefined : true),
      120_000,
      "namespace gone",
    );
  }, 300_000);
});
