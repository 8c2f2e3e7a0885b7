// Settings derived from a component's size (GOMEMLIMIT, the apiserver's in-flight limits) on the real meta-cluster
// with kwok nodes, under spec.resourceUpdates.derivedSettings. kwok cannot resize in place, so a change of derived
// settings alone is made here the one way that restarts nothing by itself: a user's extraEnv.GOMEMLIMIT removed,
// which hands the key back to metapilot. WithNextRestart: the Deployment is not written (its generation stays) and
// status says what waits, until a flag change restarts the pods anyway and carries it. Immediately: it rolls at once.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { adminKubeConfig, eventually } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

describe("derived settings (spec.resourceUpdates.derivedSettings)", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const stop = new AbortController();
  const prefix = `ds${Date.now().toString(36).slice(-5)}`;
  const resources = { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } };

  const create = (name: string, derivedSettings: string) =>
    client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name },
      spec: {
        version: "v1.35.4",
        etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } },
        apiServer: { replicas: 1, resources, extraEnv: { GOMEMLIMIT: "700MiB" } },
        resourceUpdates: { derivedSettings },
      },
    } as never);
  const get = (name: string) => client.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
  const apiserver = (name: string) =>
    apps.readNamespacedDeployment({ name: "kube-apiserver", namespace: `tcp-${name}` });
  const envOf = (d: k8s.V1Deployment) => d.spec?.template.spec?.containers[0]?.env;
  const derivedOf = async (name: string) =>
    (await get(name)).status?.components?.find((c) => c.name === "kube-apiserver")?.derivedSettings;
  const ready = (name: string) =>
    eventually(
      async () => {
        const t = await get(name);
        return t.status?.phase === "Ready" && t.status.observedGeneration === t.metadata?.generation ? t : undefined;
      },
      180_000,
      `${name} Ready`,
    );
  const dropUserGoMemLimit = (name: string) =>
    client.patch(Resources.TenantControlPlane, name, undefined, { spec: { apiServer: { extraEnv: null } } }, "merge");

  beforeAll(async () => {
    await installCrds(kc);
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `derived-${prefix}`,
      qps: 200,
      burst: 200,
    });
    addTenantControlPlaneController(manager, { workers: 4, dryRun: false, imageRegistry: "mirror.local:5000/k8s" });
    void manager.start(stop.signal);
  }, 120_000);

  afterAll(async () => {
    for (const n of [`${prefix}-next`, `${prefix}-now`])
      await client.delete(Resources.TenantControlPlane, n).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5000));
    stop.abort();
  }, 60_000);

  it("WithNextRestart: a change of derived settings alone waits for the next restart, which carries it", async () => {
    const name = `${prefix}-next`;
    await create(name, "WithNextRestart");
    await ready(name);
    const before = await apiserver(name);
    expect(envOf(before)).toEqual([{ name: "GOMEMLIMIT", value: "700MiB" }]);

    await dropUserGoMemLimit(name);
    const waiting = await eventually(
      async () => {
        const t = await get(name);
        const d = t.status?.components?.find((c) => c.name === "kube-apiserver")?.derivedSettings;
        return t.status?.observedGeneration === t.metadata?.generation && d?.state === "AwaitingRestart"
          ? d
          : undefined;
      },
      60_000,
      `${name} derived settings awaiting a restart`,
    );
    expect(waiting).toEqual({
      state: "AwaitingRestart",
      inForce: "GOMEMLIMIT=700MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200",
      desired: "GOMEMLIMIT=921MiB, --max-requests-inflight=400, --max-mutating-requests-inflight=200",
    });
    // Nothing rolled: the Deployment was not even written.
    const held = await apiserver(name);
    expect(held.metadata?.generation).toBe(before.metadata?.generation);
    expect(envOf(held)).toEqual([{ name: "GOMEMLIMIT", value: "700MiB" }]);

    // A flag change restarts the pods anyway, and carries the derived value.
    await client.patch(
      Resources.TenantControlPlane,
      name,
      undefined,
      { spec: { apiServer: { extraArgs: { v: "2" } } } },
      "merge",
    );
    const rolled = await eventually(
      async () => {
        const d = await apiserver(name);
        return d.spec?.template.spec?.containers[0]?.args?.includes("--v=2") ? d : undefined;
      },
      60_000,
      `${name} apiserver with --v=2`,
    );
    expect(envOf(rolled)).toEqual([{ name: "GOMEMLIMIT", value: "921MiB" }]);
    await eventually(
      async () => ((await derivedOf(name))?.state === "InForce" ? true : undefined),
      60_000,
      `${name} derived settings in force`,
    );
  }, 300_000);

  it("Immediately: a change of derived settings alone rolls at once", async () => {
    const name = `${prefix}-now`;
    await create(name, "Immediately");
    await ready(name);
    const before = await apiserver(name);
    await dropUserGoMemLimit(name);
    const rolled = await eventually(
      async () => {
        const d = await apiserver(name);
        return envOf(d)?.[0]?.value === "921MiB" ? d : undefined;
      },
      60_000,
      `${name} apiserver template with the derived GOMEMLIMIT`,
    );
    expect(rolled.metadata!.generation!).toBeGreaterThan(before.metadata!.generation!);
    await eventually(
      async () => ((await derivedOf(name))?.state === "InForce" ? true : undefined),
      60_000,
      `${name} derived settings in force`,
    );
  }, 300_000);
});
