// Load, not nodes: a tenant apiserver on a real node is sized by what it carries. Its 10 Node objects leave it on
// the first cluster-size step; 20,000 ConfigMaps move it to the step reached by stored objects, and a watch storm of
// hundreds of watchers to the step reached by watchers. Both read from the apiserver's own metrics
// (apiserver_storage_objects, apiserver_longrunning_requests{verb="WATCH"}), scraped by the meta-cluster's
// Prometheus with the tenant's metrics client certificate (hack/lib/tenant-scrape.ts), and each ScalingDecision
// names its series and value as evidence. No synthetic series anywhere.
//
// Needs no ClusterIP: the test talks to one apiserver pod at its pod IP (verified under the Service's DNS name,
// which the serving certificate holds), and Prometheus scrapes the pods from the Service's EndpointSlices. The
// ClusterScaler is dry-run: its decisions are the plans live mode would apply (the same code path), and the control
// plane on the one real node is not rolled while it is measured. Figures go to bench/results/realnodes.json under
// realTenantLoad.
import * as k8s from "@kubernetes/client-node";
import type { ClientRequest } from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kwokNode } from "../../hack/lib/metacluster.js";
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

const log = (l: string) => process.stderr.write(`[load] ${l}\n`);

const configMaps = 20_000;
const watchers = 400;
const tenantNodes = 10;
/** Reached by 10,000 stored objects or 100 nodes; the next by 300 watchers on one pod or 1,000 nodes. */
const ladder = [
  { nodes: 0, cpu: "250m", memory: "512Mi" },
  { nodes: 100, objects: 10_000, cpu: "500m", memory: "1Gi" },
  { nodes: 1000, watchers: 300, cpu: "1", memory: "2Gi" },
];
const watchersSignal = 'apiserver_longrunning_requests{verb="WATCH"}';

interface Decision extends KubeObject {
  spec?: {
    component?: string;
    direction?: string;
    decidedAt?: string;
    rootCause?: {
      category?: string;
      summary?: string;
      evidence?: Array<{ signal: string; value: string; threshold?: string }>;
    };
    before?: { resources?: { requests?: Record<string, string> }; replicas?: number };
    after?: { resources?: { requests?: Record<string, string> }; replicas?: number };
  };
  status?: { phase?: string };
}

const decidedAt = (d: Decision) => Date.parse(String(d.spec?.decidedAt ?? d.metadata?.creationTimestamp ?? "")) || 0;
const quantity = (q: string | undefined) => (q === undefined ? NaN : parseQuantity(q));
const evidenceOf = (d: Decision, signal: string) => d.spec?.rootCause?.evidence?.find((e) => e.signal === signal);

/** One apiserver pod, reached at its IP and verified under the Service's name, as the tenant's admin. */
interface PodEndpoint {
  ip: string;
  servername: string;
  ca: string;
  cert: string;
  key: string;
}

function request(
  ep: PodEndpoint,
  method: string,
  pathname: string,
  body: unknown,
  agent: https.Agent,
): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: ep.ip,
        port: 6443,
        servername: ep.servername,
        path: pathname,
        method,
        ca: ep.ca,
        cert: ep.cert,
        key: ep.key,
        agent,
        headers: data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
        timeout: 60_000,
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
    if (data) req.write(data);
    req.end();
  });
}

/** `count` open watches of ConfigMaps on one pod, each its own connection, until close(). */
class WatchStorm {
  private readonly requests: ClientRequest[] = [];
  private readonly agent = new https.Agent({ keepAlive: false, maxSockets: Infinity });
  open = 0;
  failed = 0;

  constructor(
    private readonly ep: PodEndpoint,
    private readonly count: number,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) {
      const req = https.request(
        {
          host: this.ep.ip,
          port: 6443,
          servername: this.ep.servername,
          path: `/api/v1/namespaces/storm-${i % 20}/configmaps?watch=1&timeoutSeconds=1800&allowWatchBookmarks=true`,
          method: "GET",
          ca: this.ep.ca,
          cert: this.ep.cert,
          key: this.ep.key,
          agent: this.agent,
        },
        (res) => {
          if (res.statusCode === 200) this.open++;
          else this.failed++;
          res.on("data", () => undefined);
          res.on("error", () => undefined);
        },
      );
      req.on("error", () => undefined);
      req.end();
      this.requests.push(req);
    }
  }

  close(): void {
    for (const r of this.requests) r.destroy();
    this.agent.destroy();
  }
}

describe("a tenant apiserver is sized by its load, not its nodes alone", () => {
  const t = new RealTenant({ prefix: "load", log });
  const { client, core, name, namespace } = t;
  const stopScaler = new AbortController();
  let setupError: unknown;
  let ep: PodEndpoint;
  let scaler: ScalerWiring;
  let storm: WatchStorm | undefined;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  const figures: Record<string, unknown> = {};

  const promQuery = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const res = await fetch(`${t.state.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as {
      data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    return body.data?.result ?? [];
  };
  const growth = async (): Promise<Decision[]> =>
    (await client.listAll<Decision>(Resources.ScalingDecision, { namespace })).items
      .filter((d) => d.spec?.rootCause?.category === "ClusterGrowth" && d.status?.phase)
      .sort((a, b) => decidedAt(a) - decidedAt(b));
  const snapshot = () => scaler.prometheus!.snapshot;

  beforeAll(async () => {
    try {
      await t.setUp();
      await t.create();
      const ready = Date.now();
      await t.waitReady(1_200_000);
      log(`${name} Ready in ${((Date.now() - ready) / 1000).toFixed(0)} s`);
      const { kubeConfig } = await t.tenantKubeConfig();
      const user = kubeConfig.getCurrentUser()!;
      const pods = (
        await core.listNamespacedPod({ namespace, labelSelector: "metapilot.io/component=kube-apiserver" })
      ).items.filter((p) => p.status?.podIP);
      ep = {
        ip: pods[0]!.status!.podIP!,
        servername: `kube-apiserver.${namespace}.svc`,
        ca: Buffer.from(kubeConfig.getCurrentCluster()!.caData!, "base64").toString("utf8"),
        cert: Buffer.from(user.certData!, "base64").toString("utf8"),
        key: Buffer.from(user.keyData!, "base64").toString("utf8"),
      };
    } catch (err) {
      setupError = err;
    }
  }, 1_500_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    storm?.close();
    agent.destroy();
    stopScaler.abort();
    await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
    if (t.state) await removeTenantApiserverScrape(t.state, namespace).catch((err) => log(String(err)));
    await t.tearDown();
  }, 900_000);

  it("is scraped by Prometheus, has 10 nodes, and stays on the first step", async () => {
    const secretName = pkiSecretName(name, "metricsClient");
    const secret = await eventually(
      async () => core.readNamespacedSecret({ namespace, name: secretName }).catch(() => undefined),
      120_000,
      `Secret ${namespace}/${secretName}`,
    );
    const discovery = t.kc.makeApiClient(k8s.DiscoveryV1Api);
    const slices = await eventually(
      async () => {
        const list = await discovery.listNamespacedEndpointSlice({
          namespace,
          labelSelector: "kubernetes.io/service-name=kube-apiserver",
        });
        const items = list.items as EndpointSliceLike[];
        return tenantApiserverTargets(namespace, items).length >= 1 ? items : undefined;
      },
      120_000,
      "ready endpoints of the kube-apiserver Service",
    );
    await setTenantApiserverScrape(t.state, namespace, secret.data as unknown as MetricsClientSecretData, slices);
    await eventually(
      async () =>
        ((await promQuery(`up{job="${tenantApiserverJob}",namespace="${namespace}"} == 1`)).length ? 1 : 0) ||
        undefined,
      180_000,
      `tenant apiserver targets up in Prometheus for ${namespace}`,
    );

    // The tenant's nodes: Node objects in its apiserver (nothing runs on them; the count is what the ladder reads).
    for (let i = 0; i < tenantNodes; i++) {
      const r = await request(ep, "POST", "/api/v1/nodes", kwokNode(`tenant-node-${i}`), agent);
      expect(r.code, r.body).toBe(201);
    }

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
            scalers: [{ name: "cluster-size" }],
            estimators: ["cluster-size"],
            clusterSizeLadder: ladder,
          },
        ],
        scaleUp: { cooldown: "5s" },
        scaleDown: { enabled: false, stabilizationWindow: "1h", maxStepPercent: 10 },
      },
    } as KubeObject);
    scaler = await startLiveScaler(t, stopScaler.signal, { rateWindow: "30s", prometheusTimeoutMs: 10_000 });
    // The apiserver refreshes its object counts periodically: the scaler reads 10 nodes once it has.
    await eventually(
      async () => (snapshot().nodes.get(namespace)?.value === tenantNodes ? true : undefined),
      300_000,
      () => `the scaler reads ${tenantNodes} tenant nodes (reads ${snapshot().nodes.get(namespace)?.value})`,
    );
    const polled = scaler.prometheus!.queries;
    await eventually(
      async () => (scaler.prometheus!.queries >= polled + 3 * 11 ? true : undefined),
      120_000,
      "three more polls",
    );
    figures.before = {
      nodes: snapshot().nodes.get(namespace)?.value,
      objects: snapshot().objects.get(namespace)?.value,
      watchers: snapshot().watchers.get(namespace)?.value,
    };
    log(`before: ${JSON.stringify(figures.before)}`);
    expect(snapshot().objects.get(namespace)!.value).toBeLessThan(10_000);
    expect(snapshot().watchers.get(namespace)!.value).toBeLessThan(300);
    expect(await growth()).toEqual([]);
  }, 900_000);

  it("moves to the step reached by objects when 20,000 ConfigMaps are created, naming apiserver_storage_objects", async () => {
    const started = Date.now();
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < configMaps) {
        const i = next++;
        const body = { metadata: { name: `cm-${i}` }, data: { index: String(i) } };
        const r = await request(ep, "POST", `/api/v1/namespaces/default/configmaps`, body, agent).catch(() => ({
          code: -1,
          body: "",
        }));
        if (r.code !== 201) failed++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const createdMs = Date.now() - started;
    log(`${configMaps} ConfigMaps in ${(createdMs / 1000).toFixed(1)} s (${failed} failed)`);
    expect(failed).toBe(0);

    const decision = await eventually(
      async () => (await growth())[0],
      600_000,
      () =>
        `a ClusterGrowth ScalingDecision in ${namespace} (the scaler reads ${snapshot().objects.get(namespace)?.value} objects)`,
    );
    // When the scaler decided (its decidedAt), not when this test saw the record.
    const decidedAfterMs = decidedAt(decision) - started;
    const evidence = evidenceOf(decision, "apiserver_storage_objects");
    expect(evidence, JSON.stringify(decision.spec?.rootCause)).toBeDefined();
    expect(Number(evidence!.value)).toBeGreaterThanOrEqual(10_000);
    expect(evidence!.threshold).toBe("10000");
    expect(Number(evidenceOf(decision, "tenant_nodes")?.value)).toBe(tenantNodes);
    expect(decision.spec?.component).toBe("kube-apiserver");
    expect(decision.spec?.direction).toBe("Up");
    expect(decision.status?.phase).toBe("DryRun");
    expect(quantity(decision.spec?.before?.resources?.requests?.memory)).toBe(512 * 2 ** 20);
    expect(quantity(decision.spec?.after?.resources?.requests?.memory)).toBe(2 ** 30);
    // The count is the apiserver's own.
    const counted = Number(
      (await promQuery(`max(apiserver_storage_objects{namespace="${namespace}",resource="configmaps"})`))[0]?.value[1],
    );
    log(
      `ClusterGrowth ${decision.metadata?.name} decided ${(decidedAfterMs / 1000).toFixed(1)} s after the first ConfigMap, ` +
        `at ${evidence!.value} objects`,
    );
    figures.objects = {
      configMapsCreated: configMaps,
      createSeconds: Math.round(createdMs / 100) / 10,
      configMapsCountedByApiserver: counted,
      objectsInEvidence: Number(evidence!.value),
      tenantNodes,
      firstConfigMapToDecisionSeconds: Math.round(decidedAfterMs / 100) / 10,
      decision: {
        before: decision.spec?.before,
        after: decision.spec?.after,
        summary: decision.spec?.rootCause?.summary,
      },
    };
  }, 1_200_000);

  it("moves to the step reached by watchers when a watch storm of hundreds of watchers opens", async () => {
    const before = (await growth()).length;
    for (let i = 0; i < 20; i++) {
      const r = await request(ep, "POST", "/api/v1/namespaces", { metadata: { name: `storm-${i}` } }, agent);
      expect([201, 409]).toContain(r.code);
    }
    const started = Date.now();
    storm = new WatchStorm(ep, watchers);
    storm.start();
    await eventually(
      async () => (storm!.open + storm!.failed >= watchers ? true : undefined),
      120_000,
      () => `${watchers} watches answered (${storm!.open} open, ${storm!.failed} failed)`,
    );
    expect(storm.failed).toBe(0);
    const decision = await eventually(
      async () => (await growth()).slice(before).find((d) => evidenceOf(d, watchersSignal)),
      300_000,
      () =>
        `a ClusterGrowth ScalingDecision reached by watchers (the scaler reads ${snapshot().watchers.get(namespace)?.value})`,
    );
    const decidedAfterMs = decidedAt(decision) - started;
    const evidence = evidenceOf(decision, watchersSignal)!;
    expect(Number(evidence.value)).toBeGreaterThanOrEqual(300);
    expect(evidence.threshold).toBe("300");
    expect(decision.status?.phase).toBe("DryRun");
    expect(quantity(decision.spec?.after?.resources?.requests?.memory)).toBe(2 * 2 ** 30);
    expect(quantity(decision.spec?.after?.resources?.requests?.cpu)).toBe(1);
    const perPod = await promQuery(
      `sum by (pod) (apiserver_longrunning_requests{namespace="${namespace}",verb="WATCH"})`,
    );
    log(`watchers per pod: ${JSON.stringify(perPod.map((s) => [s.metric.pod, s.value[1]]))}`);
    log(
      `ClusterGrowth ${decision.metadata?.name} decided ${(decidedAfterMs / 1000).toFixed(1)} s after the storm began`,
    );
    figures.watchers = {
      watchesOpened: storm.open,
      watchersPerPod: Object.fromEntries(perPod.map((s) => [s.metric.pod, Number(s.value[1])])),
      watchersInEvidence: Number(evidence.value),
      stormToDecisionSeconds: Math.round(decidedAfterMs / 100) / 10,
      decision: {
        before: decision.spec?.before,
        after: decision.spec?.after,
        summary: decision.spec?.rootCause?.summary,
      },
    };
    storm.close();
    await sleep(1000);
  }, 900_000);

  it("records the figures", () => {
    expect(figures.objects).toBeDefined();
    expect(figures.watchers).toBeDefined();
    recordRealNodeResult("realTenantLoad", {
      recordedBy: "test/realnodes/load.test.ts",
      measuredAt: new Date().toISOString(),
      machine: machineNow(),
      kubernetesVersion: t.versions.kubernetes,
      scrape: "each tenant apiserver pod, with Secret <tenant>-metrics-client (O=system:monitoring), every 10s",
      ladder,
      ...figures,
    });
  });
});
