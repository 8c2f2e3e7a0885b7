// A TenantControlPlane whose images cannot be pulled, on a real node: the kubelet really tries (from a registry
// address on this machine's loopback that refuses connections, so nothing leaves the machine), and the component
// conditions name the image. Gets its real node itself, like test/realnodes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRealNodes, readState } from "../../hack/lib/metacluster.js";
import { realNodeKindKey, realNodeKindValue } from "../../hack/lib/realnodes.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { adminKubeConfig, eventually, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

const log = (l: string) => process.stderr.write(`[image-pull] ${l}\n`);

describe("master-operator on a real node: an image that cannot be pulled", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 50, burst: 50, fieldManager: "test-user" });
  const stop = new AbortController();
  const name = `pull${Date.now().toString(36).slice(-5)}`;

  beforeAll(async () => {
    const state = readState(metacluster().dir) ?? metacluster();
    await ensureRealNodes(state, Math.max(1, state.realNodes?.length ?? 0), log);
    await installCrds(kc);
    const manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: "warn" }), qps: 50, burst: 50 });
    addTenantControlPlaneController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
  }, 600_000);

  afterAll(async () => {
    await client.delete(Resources.TenantControlPlane, name).catch(() => undefined);
    await eventually(
      async () => ((await client.getOptional(Resources.TenantControlPlane, name)) ? undefined : true),
      120_000,
      `${name} deleted`,
    ).catch(() => undefined);
    stop.abort();
  }, 180_000);

  it("reports ImagePullFailed with the image in the component's condition", async () => {
    const registry = "127.0.0.1:1/absent";
    await client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name },
      spec: {
        version: "v1.34.4",
        imageRegistry: registry,
        apiServer: { replicas: 1, maxSurge: 1 },
        etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } },
        scheduling: {
          nodeSelector: { [realNodeKindKey]: realNodeKindValue },
          tolerations: [{ key: realNodeKindKey, operator: "Equal", value: realNodeKindValue, effect: "NoSchedule" }],
        },
      },
    });
    const condition = await eventually(
      async () => {
        const t = await client.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
        const c = t.status?.conditions?.find((c) => c.type === "APIServerReady") as
          { status: string; reason?: string; message?: string } | undefined;
        return c?.reason === "ImagePullFailed" ? c : undefined;
      },
      240_000,
      `${name} APIServerReady ImagePullFailed`,
    );
    expect(condition.status).toBe("False");
    expect(condition.message).toContain(`image ${registry}/kube-apiserver:v1.34.4 cannot be pulled`);
  }, 300_000);
});
