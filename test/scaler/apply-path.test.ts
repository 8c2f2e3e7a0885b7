// The path a decision took, recorded on it (ScalingDecision status.applyPath), with the operator and the scaler on
// the real meta-cluster. kwok reports no container resources in pod status, as a kubelet older than 1.33, so the
// operator falls back to a rolling update (reason KubeletCannotResize) and says so in the TenantControlPlane's
// status; the scaler copies that onto the live decision from its TenantControlPlane informer, InProgress and then
// Done. A dry-run ClusterScaler's decision predicts the same path when it is made.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { adminKubeConfig, eventually } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createVictim, markOomKilled } from "../fixtures/tenant.js";

interface Decision extends KubeObject {
  spec?: { dryRun?: boolean; rootCause?: { category?: string } };
  status?: {
    phase?: string;
    applyPath?: { method?: string; reason?: string; state?: string; predicted?: boolean; message?: string };
  };
}

describe("ScalingDecision status.applyPath on kwok", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const stop = new AbortController();
  const prefix = `ap${Date.now().toString(36).slice(-5)}`;
  const live = `${prefix}-live`;
  const dry = `${prefix}-dry`;

  const tcp = (name: string) => ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name, labels: { "apply-path": name } },
    spec: {
      version: "v1.35.4",
      etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } },
      apiServer: { replicas: 1, resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
    },
  });
  const clusterScaler = (name: string, dryRun: boolean) => ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      dryRun,
      tenantSelector: { matchLabels: { "apply-path": name } },
      components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }], maxAllowed: { memory: "8Gi" } }],
    },
  });
  const decisionsOf = async (ns: string) =>
    (await client.listAll<Decision>(Resources.ScalingDecision, { namespace: ns })).items.filter(
      (d) => d.spec?.rootCause?.category === "OOMKilled",
    );

  beforeAll(async () => {
    await installCrds(kc);
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `apply-path-${prefix}`,
      qps: 200,
      burst: 200,
    });
    addTenantControlPlaneController(manager, { workers: 4, dryRun: false, imageRegistry: "mirror.local:5000/k8s" });
    addClusterScalerController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
    for (const name of [live, dry]) {
      await client.create(Resources.TenantControlPlane, tcp(name) as KubeObject);
      await client.create(Resources.ClusterScaler, clusterScaler(name, name === dry) as KubeObject);
    }
    for (const name of [live, dry])
      await eventually(
        async () => {
          const t = await client.get<KubeObject & { status?: { phase?: string } }>(Resources.TenantControlPlane, name);
          return t.status?.phase === "Ready" ? t : undefined;
        },
        180_000,
        `${name} Ready`,
      );
    // A stand-alone pod of the apiserver's labels that a rollout does not replace, to be OOM-killed.
    for (const name of [live, dry]) await createVictim(client, `tcp-${name}`, name);
  }, 300_000);

  afterAll(async () => {
    for (const name of [live, dry]) {
      await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
      await client.delete(Resources.TenantControlPlane, name).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 5000));
    stop.abort();
  }, 60_000);

  it("records the operator's fallback to a rolling update on the live decision, InProgress then Done", async () => {
    await markOomKilled(client, `tcp-${live}`, 1);
    const inProgress = await eventually(
      async () => (await decisionsOf(`tcp-${live}`)).find((d) => d.status?.applyPath),
      120_000,
      "the live decision's applyPath",
    );
    expect(inProgress.status?.phase).toBe("Applied");
    expect(inProgress.status?.applyPath).toMatchObject({
      method: "Rolling",
      reason: "KubeletCannotResize",
      message: expect.stringContaining("reports no container resources"),
    });
    expect(inProgress.status?.applyPath?.predicted).toBeUndefined();
    // The victim is no pod of the Deployment's template: it would keep its old size, and the operator its resize
    // InProgress, for ever. The Deployment's own pods are what the rollout replaces.
    await client.delete(Resources.Pod, "victim", `tcp-${live}`);
    await eventually(
      async () =>
        (await decisionsOf(`tcp-${live}`)).find((d) => d.status?.applyPath?.state === "Done") ? true : undefined,
      180_000,
      "the live decision's applyPath Done once the rollout finished",
    );
  }, 360_000);

  it("predicts the path on a dry-run decision where it can be known", async () => {
    await markOomKilled(client, `tcp-${dry}`, 1);
    const d = await eventually(
      async () => (await decisionsOf(`tcp-${dry}`)).find((x) => x.status?.phase === "DryRun"),
      120_000,
      "the dry-run decision",
    );
    expect(d.spec?.dryRun).toBe(true);
    expect(d.status?.applyPath).toMatchObject({ method: "Rolling", reason: "KubeletCannotResize", predicted: true });
  }, 180_000);
});
