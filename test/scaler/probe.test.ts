// The black-box probe on the real meta-cluster: a TenantControlPlane whose apiserver /readyz (here a local HTTPS
// endpoint with a certificate of the tenant's own CA, named by the metapilot.io/probe-url annotation and allowed by
// --probe-allowed-hosts, which can be made to fail on demand) starts failing gets one more apiserver replica with a
// ProbeFailure decision; a healthy or unreachable endpoint changes nothing, and the answer's text is never recorded.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createApiserver } from "../fixtures/tenant.js";
import { generateTenantPki } from "../../src/operator/pki/issue.js";
import { pkiSecretName } from "../../src/operator/pki/secrets.js";

interface Deployment extends KubeObject {
  spec?: {
    replicas?: number;
    template?: { spec?: { containers?: Array<{ resources?: { requests?: Record<string, string> } }> } };
  };
}
interface Decision extends KubeObject {
  spec?: {
    rootCause?: {
      category?: string;
      summary?: string;
      evidence?: Array<{ signal?: string; value?: string; source?: string }>;
    };
    before?: { replicas?: number };
    after?: { replicas?: number };
  };
  status?: { phase?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("black-box /readyz probe", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const tenant = `probe-${Date.now().toString(36)}`;
  const stop = new AbortController();
  const watchStop = new AbortController();
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let deployments: Informer<Deployment>;
  let decisions: Informer<Decision>;
  let mode: "ok" | "fail" | "hang" = "ok";
  let probes = 0;
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    probes++;
    if (mode === "hang") return;
    if (mode === "fail") {
      res.writeHead(500);
      res.end("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n");
      return;
    }
    res.end("ok");
  };
  let server: https.Server;
  let url = "";
  const replicas = () => deployments.get(`${ns.name}/kube-apiserver`)?.spec?.replicas;
  const cpuRequest = () =>
    deployments.get(`${ns.name}/kube-apiserver`)?.spec?.template?.spec?.containers?.[0]?.resources?.requests?.cpu;
  const probeDecisions = () => decisions.list((d) => d.spec?.rootCause?.category === "ProbeFailure");
  const setProbeUrl = (u: string) =>
    client.patch(
      Resources.TenantControlPlane,
      tenant,
      undefined,
      { metadata: { annotations: { "metapilot.io/probe-url": u } } },
      "merge",
    );

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "probe");
    // The tenant's CA (its Secret is what the prober trusts) and a serving certificate for 127.0.0.1.
    const pki = await generateTenantPki({
      tenantName: tenant,
      namespace: ns.name,
      serviceName: "kube-apiserver",
      certSANs: ["127.0.0.1"],
      etcdServiceName: "etcd",
      etcdReplicas: 1,
      validityDays: 30,
      caValidityDays: 365,
      now: new Date(),
    });
    await client.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: pkiSecretName(tenant, "ca"), namespace: ns.name },
      stringData: { "tls.crt": pki.ca.certificatePem },
    } as KubeObject);
    server = https.createServer({ cert: pki.apiserver.certificatePem, key: pki.apiserver.privateKeyPem }, handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    await createApiserver(client, ns.name, tenant);
    // The TenantControlPlane names the tenant and carries the probe URL; no operator runs in this test.
    await client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: {
        name: tenant,
        labels: { "probe-test": tenant },
        annotations: { "metapilot.io/probe-url": url },
      },
      spec: { version: "v1.35.4", namespace: ns.name },
    } as KubeObject);
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: tenant },
      spec: {
        tenantSelector: { matchLabels: { "probe-test": tenant } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "probe", threshold: 3, window: "5s" }],
            replicas: { min: 1, max: 3 },
            maxAllowed: { cpu: "750m" },
          },
        ],
        scaleUp: { cooldown: "3s" },
      },
    } as KubeObject);
    deployments = new Informer<Deployment>(client, { resource: Resources.Deployment, namespace: ns.name });
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision, namespace: ns.name });
    void deployments.start(watchStop.signal);
    void decisions.start(watchStop.signal);
    await deployments.waitForSync();
    await decisions.waitForSync();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `probe-${tenant}`,
      qps: 200,
      burst: 200,
    });
    addClusterScalerController(manager, {
      workers: 2,
      dryRun: false,
      probeIntervalMs: 500,
      probeTimeoutMs: 300,
      probeAllowedHosts: ["127.0.0.1"],
    });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "scaler caches synced");
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    watchStop.abort();
    server?.closeAllConnections();
    server?.close();
    await client.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    await client.delete(Resources.TenantControlPlane, tenant).catch(() => undefined);
    await ns?.cleanup();
  }, 60_000);

  it("leaves a healthy tenant alone", async () => {
    await eventually(async () => (probes >= 6 ? true : undefined), 20_000, "probes arrive");
    await sleep(3000);
    expect(replicas()).toBe(1);
    expect(probeDecisions()).toHaveLength(0);
  }, 60_000);

  it("adds an apiserver replica when /readyz keeps failing, with the failing check as evidence", async () => {
    const started = Date.now();
    mode = "fail";
    await eventually(async () => (replicas() === 2 ? true : undefined), 20_000, "one more replica");
    const latency = Date.now() - started;
    console.log(`/readyz failing -> replica added in ${latency} ms (3 failures at a 500 ms interval)`);
    expect(latency).toBeGreaterThanOrEqual(1000); // never on the first failure
    // The workload is written before the decision's outcome, so the outcome may land a moment later.
    const d = await eventually(
      async () => probeDecisions().find((x) => x.status?.phase === "Applied"),
      10_000,
      "the probe decision recorded as Applied",
    );
    expect(probeDecisions()).toHaveLength(1);
    expect(d.spec?.before?.replicas).toBe(1);
    expect(d.spec?.after?.replicas).toBe(2);
    const evidence = d?.spec?.rootCause?.evidence?.[0];
    expect(evidence?.signal).toBe("apiserver_readyz_failures");
    expect(Number(evidence?.value)).toBeGreaterThanOrEqual(3);
    // The status code is the evidence; the text the endpoint answered is recorded nowhere.
    expect(JSON.stringify(d)).not.toContain("reason withheld");
    expect(JSON.stringify(d)).not.toContain("etcd failed");
    expect(evidence?.source).toBe("probe: HTTP 500");
  }, 60_000);

  it("counts timeouts as failures: replicas up to their bound, then CPU up to maxAllowed, then nothing", async () => {
    mode = "hang";
    await eventually(async () => (replicas() === 3 ? true : undefined), 30_000, "bounded at 3 replicas");
    await eventually(async () => (cpuRequest() === "750m" ? true : undefined), 30_000, "CPU up to maxAllowed");
    await sleep(6000);
    expect(replicas()).toBe(3);
    expect(cpuRequest()).toBe("750m");
    expect(probeDecisions().filter((d) => d.status?.phase === "Applied")).toHaveLength(3);
  }, 90_000);

  it("never scales on an endpoint it cannot reach", async () => {
    // Back to 1 replica as another manager would set it, then the probe URL points at a closed port.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    mode = "ok";
    await setProbeUrl(`https://127.0.0.1:${port}/readyz`);
    await sleep(6000); // the earlier timeouts leave the 5 s window
    await client.patch(Resources.Deployment, "kube-apiserver", ns.name, { spec: { replicas: 1 } }, "merge");
    await eventually(async () => (replicas() === 1 ? true : undefined), 10_000, "back to 1");
    const before = probeDecisions().length;
    await sleep(8000);
    expect(replicas()).toBe(1);
    expect(probeDecisions()).toHaveLength(before);
  }, 90_000);
});
