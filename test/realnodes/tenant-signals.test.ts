// A tenant apiserver's own metrics drive the ClusterScaler: a TenantControlPlane on a real node, its apiserver pods
// scraped by the meta-cluster's Prometheus with the tenant's metrics client certificate (Secret
// <tenant>-metrics-client, group system:monitoring: /metrics and nothing else), one target per pod, labelled with
// the tenant namespace (hack/lib/tenant-scrape.ts). No synthetic series anywhere.
//
// Throttling: the apiserver runs with low inflight limits (max-requests-inflight 2, max-mutating 1, API Priority
// and Fairness on, so ServiceAccounts share the workload-low level's two seats and queues). A bounded load
// generator on this machine, a ServiceAccount of the tenant through the apiserver Service's ClusterIP, overfills
// them; the apiserver answers 429, Prometheus records its own apiserver_request_total{code="429"}, and an
// in-process ClusterScaler makes a Throttling decision for the tenant.
//
// Growth: kwok, run against the tenant's admin kubeconfig, keeps nodes registered in the tenant apiserver Ready;
// 10 nodes leave the apiserver on the first cluster-size step, 500 move it to the next, read from the apiserver's
// own apiserver_storage_objects{resource="nodes"}.
//
// The ClusterScaler is dry-run: its decisions are the plans live mode would apply (the same code path), and the
// control plane on the one real node is not rolled while it is measured. Figures go to bench/results/realnodes.json
// under realTenantSignals.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { binDir, freePort, kwokNode } from "../../hack/lib/metacluster.js";
import {
  removeTenantApiserverScrape,
  setTenantApiserverScrape,
  tenantApiserverJob,
  tenantApiserverTargets,
  type EndpointSliceLike,
  type MetricsClientSecretData,
} from "../../hack/lib/tenant-scrape.js";
import { parseQuantity } from "../../src/api/index.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { pkiSecretName } from "../../src/operator/pki/secrets.js";
import type { ScalerWiring } from "../../src/scaler/controller.js";
import { eventually } from "../harness/cluster.js";
import { machineNow, RealTenant, recordRealNodeResult, startLiveScaler } from "../harness/realtenant.js";

const log = (l: string) => process.stderr.write(`[tenant-signals] ${l}\n`);

/**
 * The load: enough concurrent requests from one ServiceAccount to overfill workload-low's queues on each of the two
 * apiserver pods the Service spreads connections over. One user is one flow, which gets a hand of 6 queues of 50;
 * 400 connections a pod leave about 100 a pod over, which are answered 429 at once and retry after 1 s.
 */
const loadConcurrency = 800;
const loadMaxRequests = 200_000;
const loadMaxMs = 6 * 60_000;
const throttlingThreshold = 1;
const ladder = [
  { nodes: 0, cpu: "250m", memory: "512Mi" },
  { nodes: 100, cpu: "500m", memory: "1Gi" },
  { nodes: 1000, cpu: "1", memory: "2Gi" },
];

interface Decision extends KubeObject {
  spec?: {
    component?: string;
    direction?: string;
    dryRun?: boolean;
    decidedAt?: string;
    rootCause?: { category?: string; summary?: string; evidence?: Array<{ signal: string; value: string }> };
    before?: { resources?: { requests?: Record<string, string> }; replicas?: number };
    after?: { resources?: { requests?: Record<string, string> }; replicas?: number };
  };
  status?: { phase?: string };
}

const decidedAt = (d: Decision) => Date.parse(String(d.spec?.decidedAt ?? d.metadata?.creationTimestamp ?? "")) || 0;
/** The first decision once its outcome is written (the record is created first, its status right after). */
const recorded = (list: Decision[]) => (list[0]?.status?.phase ? list[0] : undefined);
const quantity = (q: string | undefined) => (q === undefined ? NaN : parseQuantity(q));

interface TlsIdentity {
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

/** One GET with the given identity; the status code and body. */
function get(
  host: string,
  pathname: string,
  id: TlsIdentity,
  agent?: https.Agent,
): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host,
        port: 6443,
        path: pathname,
        method: "GET",
        ca: id.ca,
        cert: id.cert,
        key: id.key,
        agent,
        headers: id.token ? { authorization: `Bearer ${id.token}` } : {},
        timeout: 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * A load generator bounded in count and time: `concurrency` workers each GET a list in a loop; a 429 waits its
 * Retry-After (as client-go does) before the next request. Counts answers by status code.
 */
class LoadGenerator {
  readonly codes = new Map<number, number>();
  sent = 0;
  startedAt = 0;
  stoppedAt = 0;
  private stopped = false;
  private done?: Promise<void>;
  private readonly agent: https.Agent;

  constructor(
    private readonly host: string,
    private readonly id: TlsIdentity,
    private readonly o: { concurrency: number; maxRequests: number; maxMs: number },
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: o.concurrency });
  }

  start(): void {
    this.startedAt = Date.now();
    const deadline = this.startedAt + this.o.maxMs;
    const worker = async () => {
      while (!this.stopped && this.sent < this.o.maxRequests && Date.now() < deadline) {
        this.sent++;
        let code = 0;
        try {
          code = (await get(this.host, "/api/v1/namespaces/default/configmaps?limit=50", this.id, this.agent)).code;
        } catch {
          code = -1;
        }
        this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
        if (code === 429 || code === -1) await sleep(1000);
      }
    };
    this.done = Promise.all(Array.from({ length: this.o.concurrency }, worker)).then(() => {
      this.stoppedAt = Date.now();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    this.agent.destroy();
  }

  count(code: number): number {
    return this.codes.get(code) ?? 0;
  }
}

describe("a tenant apiserver's own metrics, scraped with its metrics client certificate, drive the ClusterScaler", () => {
  const t = new RealTenant({
    prefix: "sig",
    log,
    spec: (s) => ({
      ...s,
      apiServer: { extraArgs: { "max-requests-inflight": "2", "max-mutating-requests-inflight": "1" } },
    }),
  });
  const { client, core, name, namespace } = t;
  const stopScaler = new AbortController();
  const kwokDir = mkdtempSync(path.join(tmpdir(), "tenant-kwok-"));
  let setupError: unknown;
  let clusterIP = "";
  let tenant: k8s.KubeConfig;
  let tenantCa = "";
  let metricsClient: MetricsClientSecretData;
  let scaler: ScalerWiring;
  let kwok: ChildProcess | undefined;
  let load: LoadGenerator | undefined;
  const figures: Record<string, unknown> = {};

  const promQuery = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const res = await fetch(`${t.state.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as {
      data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    return body.data?.result ?? [];
  };
  const decisions = async (category: string): Promise<Decision[]> =>
    (await client.listAll<Decision>(Resources.ScalingDecision, { namespace })).items
      .filter((d) => d.spec?.rootCause?.category === category)
      // The first decision first: a dry-run sequence carries on from its last decision, so later ones differ.
      .sort((a, b) => decidedAt(a) - decidedAt(b));

  beforeAll(async () => {
    try {
      await t.setUp();
      await t.create();
      const ready = Date.now();
      await t.waitReady(1_200_000);
      log(`${name} Ready in ${((Date.now() - ready) / 1000).toFixed(0)} s`);
      ({ kubeConfig: tenant, clusterIP } = await t.tenantKubeConfig());
      tenantCa = Buffer.from(tenant.getCurrentCluster()!.caData!, "base64").toString("utf8");
    } catch (err) {
      setupError = err;
    }
  }, 1_500_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    await load?.stop().catch(() => undefined);
    if (kwok && kwok.exitCode === null) {
      const exited = new Promise((r) => kwok!.once("exit", r));
      kwok.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
    }
    rmSync(kwokDir, { recursive: true, force: true });
    stopScaler.abort();
    await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
    if (t.state) await removeTenantApiserverScrape(t.state, namespace).catch((err) => log(String(err)));
    await t.tearDown();
  }, 900_000);

  it("issues a metrics client certificate that reads the apiserver's /metrics and nothing else", async () => {
    const secretName = pkiSecretName(name, "metricsClient");
    const secret = await eventually(
      async () => core.readNamespacedSecret({ namespace, name: secretName }).catch(() => undefined),
      120_000,
      `Secret ${namespace}/${secretName}`,
    );
    expect(secret.type).toBe("kubernetes.io/tls");
    metricsClient = secret.data as unknown as MetricsClientSecretData;
    const pem = (k: keyof MetricsClientSecretData) => Buffer.from(metricsClient[k], "base64").toString("utf8");
    // Its ca.crt is the CA the admin kubeconfig trusts: it verifies the apiserver's serving certificate.
    expect(pem("ca.crt").trim()).toBe(tenantCa.trim());
    const id: TlsIdentity = { ca: pem("ca.crt"), cert: pem("tls.crt"), key: pem("tls.key") };
    const metrics = await eventually(
      async () => {
        const r = await get(clusterIP, "/metrics", id);
        return r.code === 200 ? r.body : undefined;
      },
      120_000,
      "/metrics with the metrics client certificate",
    );
    expect(metrics).toMatch(/^apiserver_request_total\{/m);
    expect(metrics).toMatch(/^apiserver_storage_objects\{resource="nodes"\}/m);
    // Least privilege: no resource of the tenant, not even to read.
    for (const p of ["/api/v1/namespaces", "/api/v1/namespaces/kube-system/secrets", "/apis/apps/v1/deployments"])
      expect((await get(clusterIP, p, id)).code, p).toBe(403);
    // And the Secret's certificate is what makes it work: without it the apiserver does not serve /metrics.
    expect([401, 403]).toContain((await get(clusterIP, "/metrics", { ca: id.ca })).code);
  }, 300_000);

  it("is scraped by Prometheus: one target per apiserver pod, labelled with the tenant namespace", async () => {
    const pods = (
      await core.listNamespacedPod({ namespace, labelSelector: "metapilot.io/component=kube-apiserver" })
    ).items
      .map((p) => p.metadata!.name!)
      .sort();
    expect(pods).toHaveLength(2);
    // The Service's EndpointSlices are the discovery (Debian's Prometheus has no kubernetes_sd_configs).
    const discovery = t.kc.makeApiClient(k8s.DiscoveryV1Api);
    const slices = await eventually(
      async () => {
        const list = await discovery.listNamespacedEndpointSlice({
          namespace,
          labelSelector: "kubernetes.io/service-name=kube-apiserver",
        });
        const items = list.items as EndpointSliceLike[];
        return tenantApiserverTargets(namespace, items).length === 2 ? items : undefined;
      },
      120_000,
      "two ready endpoints of the kube-apiserver Service",
    );
    await setTenantApiserverScrape(t.state, namespace, metricsClient, slices);
    const up = await eventually(
      async () => {
        const r = await promQuery(`up{job="${tenantApiserverJob}",namespace="${namespace}"} == 1`);
        return r.length === 2 ? r : undefined;
      },
      180_000,
      `two tenant apiserver targets up in Prometheus for ${namespace}`,
    );
    expect(up.map((s) => s.metric.pod).sort()).toEqual(pods);
    // The apiserver's own series, with the namespace Prometheus gave them.
    // The apiserver refreshes its object counts periodically; until the first refresh they read 0.
    const objects = await eventually(
      async () => {
        const r = await promQuery(`apiserver_storage_objects{namespace="${namespace}",resource="namespaces"}`);
        return r.length === 2 && r.every((s) => Number(s.value[1]) >= 4) ? r : undefined;
      },
      300_000,
      'apiserver_storage_objects{resource="namespaces"} of both tenant apiserver pods at 4 or more',
    );
    expect(objects.map((s) => s.metric.pod).sort()).toEqual(pods);
  }, 300_000);

  it("answers a bounded load with 429s that Prometheus records, and the ClusterScaler makes a Throttling decision", async () => {
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": name } },
        dryRun: true,
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "throttling", threshold: throttlingThreshold, window: "15s" }, { name: "cluster-size" }],
            estimators: ["cluster-size"],
            replicas: { min: 1, max: 3 },
            clusterSizeLadder: ladder,
          },
        ],
        scaleUp: { cooldown: "5s" },
        scaleDown: { enabled: false, stabilizationWindow: "1h", maxStepPercent: 10 },
      },
    } as KubeObject);
    scaler = await startLiveScaler(t, stopScaler.signal, { rateWindow: "30s", prometheusTimeoutMs: 10_000 });
    // The scaler reads the tenant's node count (0 yet) and no 429s: nothing to decide before the load.
    await eventually(
      async () => (scaler.prometheus!.snapshot.nodes.get(namespace)?.value === 0 ? true : undefined),
      120_000,
      "the scaler's first read of the tenant's node count",
    );
    expect(await decisions("Throttling")).toEqual([]);

    // The load: a ServiceAccount of the tenant (system:masters, the admin, is exempt from every limit).
    const tenantCore = tenant.makeApiClient(k8s.CoreV1Api);
    const rbac = tenant.makeApiClient(k8s.RbacAuthorizationV1Api);
    await tenantCore.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "load" } } });
    await rbac.createNamespacedRoleBinding({
      namespace: "default",
      body: {
        metadata: { name: "load-view" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
        subjects: [{ kind: "ServiceAccount", name: "load", namespace: "default" }],
      },
    });
    const token = (
      await tenantCore.createNamespacedServiceAccountToken({
        namespace: "default",
        name: "load",
        body: { spec: { audiences: [], expirationSeconds: 1800 } },
      })
    ).status!.token;
    const loadId = { ca: tenantCa, token };
    expect((await get(clusterIP, "/api/v1/namespaces/default/configmaps?limit=50", loadId)).code).toBe(200);

    const rate429 = `sum(rate(apiserver_request_total{job="${tenantApiserverJob}",namespace="${namespace}",code="429"}[30s]))`;
    load = new LoadGenerator(clusterIP, loadId, {
      concurrency: loadConcurrency,
      maxRequests: loadMaxRequests,
      maxMs: loadMaxMs,
    });
    load.start();
    log(`load started: ${loadConcurrency} concurrent GETs as system:serviceaccount:default:load`);
    let peak429 = 0;
    const decision = await eventually(
      async () => {
        const r = await promQuery(rate429);
        peak429 = Math.max(peak429, Number(r[0]?.value[1] ?? 0));
        return recorded(await decisions("Throttling"));
      },
      loadMaxMs,
      () =>
        `a Throttling ScalingDecision in ${namespace} (load: ${load!.sent} sent, ${JSON.stringify(Object.fromEntries(load!.codes))}; peak 429 rate in Prometheus ${peak429.toFixed(2)}/s)`,
    );
    const decidedAfterMs = Date.now() - load.startedAt;
    const atDecision = Number((await promQuery(rate429))[0]?.value[1] ?? 0);
    peak429 = Math.max(peak429, atDecision);
    await load.stop();
    log(
      `Throttling decision ${decision.metadata?.name} ${(decidedAfterMs / 1000).toFixed(1)} s after the load started; ` +
        `load ${load.sent} requests ${JSON.stringify(Object.fromEntries(load.codes))}; 429 rate ${peak429.toFixed(1)}/s`,
    );

    // The apiserver itself said 429, and so did its own counter as Prometheus recorded it.
    expect(load.count(429)).toBeGreaterThan(0);
    expect(load.count(200)).toBeGreaterThan(0);
    expect(peak429).toBeGreaterThanOrEqual(throttlingThreshold);
    // The rejections are API Priority and Fairness' own, at the level ServiceAccounts share.
    const rejected = await promQuery(
      `sum by (priority_level) (apiserver_flowcontrol_rejected_requests_total{namespace="${namespace}"})`,
    );
    expect(rejected.find((s) => s.metric.priority_level === "workload-low")?.value[1]).toBeDefined();
    expect(Number(rejected.find((s) => s.metric.priority_level === "workload-low")!.value[1])).toBeGreaterThan(0);

    expect(decision.spec?.component).toBe("kube-apiserver");
    expect(decision.spec?.direction).toBe("Up");
    expect(decision.spec?.dryRun).toBe(true);
    expect(decision.status?.phase).toBe("DryRun");
    const evidence = decision.spec?.rootCause?.evidence?.find((e) => e.signal === "apiserver_429_rate");
    expect(evidence, JSON.stringify(decision.spec?.rootCause)).toBeDefined();
    expect(Number(evidence!.value)).toBeGreaterThanOrEqual(throttlingThreshold);
    // One more apiserver replica: 2 → 3.
    expect(decision.spec?.before?.replicas).toBe(2);
    expect(decision.spec?.after?.replicas).toBe(3);
    // Dry-run: the Deployment is as it was.
    const deployment = await client.get<{ spec?: { replicas?: number } } & KubeObject>(
      Resources.Deployment,
      "kube-apiserver",
      namespace,
    );
    expect(deployment.spec?.replicas).toBe(2);

    figures.throttling = {
      apiserverFlags: { "max-requests-inflight": 2, "max-mutating-requests-inflight": 1, apf: "on (default)" },
      load: {
        identity: "system:serviceaccount:default:load (ClusterIP, from this machine)",
        concurrency: loadConcurrency,
        request: "GET /api/v1/namespaces/default/configmaps?limit=50; a 429 waits 1 s",
        requests: load.sent,
        byCode: Object.fromEntries(load.codes),
        seconds: Math.round((load.stoppedAt - load.startedAt) / 100) / 10,
      },
      peak429RatePerSecond: Math.round(peak429 * 10) / 10,
      rateQuery: rate429,
      threshold429PerSecond: throttlingThreshold,
      scalerWindow: "15s sustained, rate over 30s, polled every 5s, scrape every 10s",
      loadStartToDecisionSeconds: Math.round(decidedAfterMs / 100) / 10,
      decision: {
        before: decision.spec?.before,
        after: decision.spec?.after,
        summary: decision.spec?.rootCause?.summary,
      },
    };
  }, 900_000);

  it("moves the apiserver to the next cluster-size step when kwok's nodes in the tenant grow from 10 to 500", async () => {
    // kwok against the tenant's admin kubeconfig (server: the apiserver Service's ClusterIP).
    const kubeconfigFile = path.join(kwokDir, "tenant.kubeconfig");
    writeFileSync(kubeconfigFile, tenant.exportConfig(), { mode: 0o600 });
    const logFile = path.join(kwokDir, "kwok.log");
    const fd = openSync(logFile, "a");
    kwok = spawn(
      path.join(binDir, "kwok"),
      [
        `--kubeconfig=${kubeconfigFile}`,
        `--config=${path.join(binDir, "kwok-stages.yaml")}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        `--server-address=127.0.0.1:${await freePort()}`,
        "--node-lease-duration-seconds=120",
        "--cidr=10.244.0.0/16",
        "--node-ip=127.0.0.1",
        "-v=WARN",
      ],
      { stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    const tenantCore = tenant.makeApiClient(k8s.CoreV1Api);
    const createNodes = async (from: number, to: number) => {
      for (let i = from; i < to; i += 25)
        await Promise.all(
          Array.from({ length: Math.min(25, to - i) }, (_, j) =>
            tenantCore.createNode({ body: kwokNode(`tenant-node-${i + j}`) as unknown as k8s.V1Node }),
          ),
        );
    };
    /** Tenant nodes kwok has made Ready; a LIST of 500 nodes is large, so a check that falls short waits 5 s. */
    const allReady = async (count: number) => {
      const ready = (await tenantCore.listNode()).items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      ).length;
      if (ready === count) return ready;
      await sleep(5000);
      return undefined;
    };
    const scalerNodes = () => scaler.prometheus!.snapshot.nodes.get(namespace)?.value;

    await createNodes(0, 10);
    await eventually(() => allReady(10), 300_000, `10 tenant nodes Ready (kwok log ${logFile})`);
    await eventually(
      async () => (scalerNodes() === 10 ? true : undefined),
      300_000,
      () => `the scaler reads 10 nodes (reads ${scalerNodes()})`,
    );
    // Two more polls at 10 nodes: still the first step, so no ClusterGrowth.
    const polled = scaler.prometheus!.queries;
    await eventually(
      async () => (scaler.prometheus!.queries >= polled + 10 ? true : undefined),
      120_000,
      "two more polls",
    );
    expect(await decisions("ClusterGrowth")).toEqual([]);

    const grownAt = Date.now();
    await createNodes(10, 500);
    const created = Date.now() - grownAt;
    const decision = await eventually(
      async () => recorded(await decisions("ClusterGrowth")),
      600_000,
      () => `a ClusterGrowth ScalingDecision in ${namespace} (the scaler reads ${scalerNodes()} nodes)`,
    );
    const decidedAfterMs = Date.now() - grownAt;
    const ready = await eventually(() => allReady(500), 600_000, `500 tenant nodes Ready (kwok log ${logFile})`);
    log(
      `ClusterGrowth ${decision.metadata?.name} ${(decidedAfterMs / 1000).toFixed(1)} s after 490 more nodes (created in ${(created / 1000).toFixed(1)} s)`,
    );
    const evidence = decision.spec?.rootCause?.evidence?.find((e) => e.signal === "tenant_nodes");
    expect(Number(evidence?.value)).toBeGreaterThanOrEqual(100);
    expect(Number(evidence?.value)).toBeLessThanOrEqual(500);
    expect(decision.spec?.component).toBe("kube-apiserver");
    expect(decision.spec?.direction).toBe("Up");
    expect(decision.status?.phase).toBe("DryRun");
    // The step from 100 nodes: 1Gi per pod, from the first step's 512Mi, and at least its 500m of CPU (a
    // dry-run Throttling decision after the first may already have planned more CPU: the sequence carries on).
    expect(quantity(decision.spec?.before?.resources?.requests?.memory)).toBe(512 * 2 ** 20);
    expect(quantity(decision.spec?.after?.resources?.requests?.memory)).toBe(2 ** 30);
    expect(quantity(decision.spec?.after?.resources?.requests?.cpu)).toBeGreaterThanOrEqual(0.5);
    // The count came from the tenant apiserver's own series.
    // (Its object counts are refreshed periodically, so the full 500 may come a little after the decision.)
    let counted = 0;
    await eventually(
      async () => {
        const r = await promQuery(
          `max(apiserver_storage_objects{job="${tenantApiserverJob}",namespace="${namespace}",resource="nodes"})`,
        );
        counted = Number(r[0]?.value[1] ?? 0);
        return counted === 500 ? true : undefined;
      },
      300_000,
      () => `the tenant apiserver's apiserver_storage_objects{resource="nodes"} at 500 (last ${counted})`,
    );

    figures.growth = {
      kwok: "kwok v0.8.0 with the tenant's admin kubeconfig, nodes annotated kwok.x-k8s.io/node=fake",
      nodesBefore: 10,
      nodesAfter: 500,
      readyNodes: ready,
      createSeconds: Math.round(created / 100) / 10,
      nodesToDecisionSeconds: Math.round(decidedAfterMs / 100) / 10,
      nodesInEvidence: Number(evidence?.value),
      ladder,
      decision: {
        before: decision.spec?.before,
        after: decision.spec?.after,
        summary: decision.spec?.rootCause?.summary,
      },
    };
  }, 1_500_000);

  it("records the figures", () => {
    expect(figures.throttling).toBeDefined();
    recordRealNodeResult("realTenantSignals", {
      recordedBy: "test/realnodes/tenant-signals.test.ts",
      measuredAt: new Date().toISOString(),
      machine: machineNow(),
      kubernetesVersion: t.versions.kubernetes,
      scrape: "each tenant apiserver pod, with Secret <tenant>-metrics-client (O=system:monitoring), every 10s",
      ...figures,
    });
  });
});
