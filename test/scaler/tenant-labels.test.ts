// A ClusterScaler that selects tenants by a TenantControlPlane label, on the real meta-cluster: a workload whose
// tenant does not carry the label is not governed (its OOM kill is left alone), and labelling the
// TenantControlPlane alone brings its workloads under the policy. Neither Prometheus nor the probe runs here, so
// the TenantControlPlane's watch event (mapped to its workloads through the informers' label index) is the only
// thing that can wake the workload.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";

interface Decision extends KubeObject {
  spec?: { rootCause?: { category?: string } };
  status?: { phase?: string };
}

describe("ClusterScaler tenantSelector on TenantControlPlane labels", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const tenant = `labels-${Date.now().toString(36)}`;
  const stop = new AbortController();
  const watchStop = new AbortController();
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let decisions: Informer<Decision>;

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "labels");
    await createApiserver(client, ns.name, tenant, { victim: true });
    // No operator runs here: the TenantControlPlane only names the tenant and carries its labels.
    await client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: tenant, labels: { team: "other" } },
      spec: { version: "v1.35.4", namespace: ns.name },
    } as KubeObject);
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: tenant },
      spec: {
        tenantSelector: { matchLabels: { team: tenant } },
        components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }], maxAllowed: { memory: "4Gi" } }],
      },
    } as KubeObject);
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision, namespace: ns.name });
    void decisions.start(watchStop.signal);
    await decisions.waitForSync();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `labels-${tenant}`,
      qps: 200,
      burst: 200,
    });
    addClusterScalerController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "scaler caches synced");
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    watchStop.abort();
    await client.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    await client.delete(Resources.TenantControlPlane, tenant).catch(() => undefined);
    await ns?.cleanup();
  }, 60_000);

  it("leaves an OOM kill of an unselected tenant alone, and answers it once the TenantControlPlane is labelled", async () => {
    await markOomKilled(client, ns.name, 1);
    await new Promise((r) => setTimeout(r, 3000));
    expect(decisions.list()).toHaveLength(0);

    const labelled = Date.now();
    await client.patch(
      Resources.TenantControlPlane,
      tenant,
      undefined,
      { metadata: { labels: { team: tenant } } },
      "merge",
    );
    const recorded = await eventually(
      async () => {
        const list = decisions.list((d) => d.spec?.rootCause?.category === "OOMKilled" && !!d.status?.phase);
        return list.length > 0 ? list : undefined;
      },
      15_000,
      "the OOM kill answered after the TenantControlPlane got the selected label",
    );
    console.log(`label -> OOM decision: ${Date.now() - labelled} ms`);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.status?.phase).toBe("Applied");

    // Unlabelled again: a new kill is left alone.
    await client.patch(
      Resources.TenantControlPlane,
      tenant,
      undefined,
      { metadata: { labels: { team: "other" } } },
      "merge",
    );
    await new Promise((r) => setTimeout(r, 1000));
    await markOomKilled(client, ns.name, 2);
    await new Promise((r) => setTimeout(r, 3000));
    expect(decisions.list((d) => d.spec?.rootCause?.category === "OOMKilled")).toHaveLength(1);
  }, 60_000);
});
