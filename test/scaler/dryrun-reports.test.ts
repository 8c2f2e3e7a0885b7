// Dry-run parity (the same decisions as live, zero writes to workloads, proven by the audit log) and ops-center
// reports that survive a receiver outage and a controller restart: every decision arrives, once, by id, signed.
import * as k8s from "@kubernetes/client-node";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { signBody } from "../../src/scaler/reports.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { freePort } from "../../hack/lib/metacluster.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";

const outageMs = Number(process.env.REPORT_OUTAGE_MS ?? 20_000);
const secret = "test-hmac-secret";

interface Decision extends KubeObject {
  spec?: { direction?: string; dryRun?: boolean; rootCause?: { category?: string }; before?: unknown; after?: unknown };
  status?: { phase?: string; delivery?: { state?: string; attempts?: number } };
}

class Receiver {
  private server?: Server;
  readonly received: Array<{ id: string; type: string; signatureOk: boolean }> = [];
  constructor(readonly port: number) {}
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const ts = String(req.headers["x-metapilot-timestamp"] ?? "");
        const ok = req.headers["x-metapilot-signature"] === signBody(secret, ts, body);
        const event = JSON.parse(body) as { id: string; type: string; specversion: string };
        this.received.push({ id: event.id, type: event.type, signatureOk: ok && event.specversion === "1.0" });
        res.statusCode = ok ? 202 : 401;
        res.end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(this.port, "127.0.0.1", () => r()));
  }
  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe("dry-run parity and ops-center reports", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const suffix = Date.now().toString(36);
  const tenants = { live: `live-${suffix}`, dry: `dry-${suffix}` };
  const namespaces: Record<string, Awaited<ReturnType<typeof freshNamespace>>> = {};
  const stops: AbortController[] = [];
  const watchStop = new AbortController();
  const decisions: Record<string, Informer<Decision>> = {};
  let receiver: Receiver;
  const restarts: Record<string, number> = { live: 0, dry: 0 };

  async function setup(kind: "live" | "dry"): Promise<void> {
    const tenant = tenants[kind];
    const ns = await freshNamespace(kc, kind);
    namespaces[kind] = ns;
    await createApiserver(client, ns.name, tenant, { replicas: 2, cpu: null, victim: true });
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: tenant },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }],
            estimators: ["oom-memory"],
            maxAllowed: { memory: "64Gi" },
          },
        ],
      },
    } as KubeObject);
    decisions[kind] = new Informer<Decision>(client, { resource: Resources.ScalingDecision, namespace: ns.name });
    void decisions[kind].start(watchStop.signal);
    await eventually(
      async () =>
        (await core.readNamespacedPod({ name: "victim", namespace: ns.name })).status?.phase === "Running"
          ? true
          : undefined,
      60_000,
      "victim Running",
    );
  }

  function startController(kind: "live" | "dry", identity: string, opsCenter?: string): Manager {
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 100,
      burst: 100,
    });
    addClusterScalerController(manager, {
      workers: 2,
      // Each controller watches only its own namespace, as two independent installations would.
      namespace: namespaces[kind]!.name,
      dryRun: kind === "dry",
      opsCenter: opsCenter ? [{ url: opsCenter, hmacSecret: secret, timeoutMs: 1000 }] : undefined,
    });
    const stop = new AbortController();
    stops.push(stop);
    void manager.start(stop.signal);
    (manager as Manager & { stop?: AbortController }).stop = stop;
    return manager;
  }

  async function oom(kind: "live" | "dry"): Promise<void> {
    restarts[kind] = (restarts[kind] ?? 0) + 1;
    await markOomKilled(client, namespaces[kind]!.name, restarts[kind]);
  }

  beforeAll(async () => {
    await installCrds(kc);
    await setup("live");
    await setup("dry");
    receiver = new Receiver(await freePort());
  }, 120_000);

  afterAll(async () => {
    for (const s of stops) s.abort();
    watchStop.abort();
    await receiver?.stop();
    for (const t of Object.values(tenants)) await client.delete(Resources.ClusterScaler, t).catch(() => undefined);
    for (const ns of Object.values(namespaces)) await ns.cleanup();
  }, 60_000);

  it("dry-run records the same decisions as live, and writes no workload", async () => {
    const since = new Date();
    const live = startController("live", `live-${suffix}`);
    const dry = startController("dry", `dry-${suffix}`);
    await eventually(async () => (live.hasSynced() && dry.hasSynced() ? true : undefined), 60_000, "synced");
    for (let i = 0; i < 3; i++) {
      await oom("live");
      await oom("dry");
      await eventually(
        async () => (decisions.live!.size > i && decisions.dry!.size > i ? true : undefined),
        15_000,
        `decision ${i}`,
      );
      // Live: wait for the Deployment to roll, so the next OOM sees the new limit; dry-run never changes it.
      await new Promise((r) => setTimeout(r, 1500));
    }
    await eventually(
      async () =>
        [...decisions.live!.list(), ...decisions.dry!.list()].every((d) => d.status?.phase) ? true : undefined,
      15_000,
      "every decision has a phase",
    );
    const liveDecisions = decisions.live!.list();
    const dryDecisions = decisions.dry!.list();
    expect(dryDecisions.length).toBeGreaterThanOrEqual(3);
    expect(dryDecisions.map((d) => `${d.status?.phase}/${d.spec?.dryRun}`)).toEqual(
      dryDecisions.map(() => "DryRun/true"),
    );
    expect(liveDecisions.map((d) => `${d.status?.phase}/${d.spec?.dryRun}`)).toEqual(
      liveDecisions.map(() => "Applied/false"),
    );
    // Dry-run carries on from its own last decision, so the whole sequence matches live mode's.
    const afters = (list: Decision[]) =>
      [...list]
        .sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)))
        .map((d) => JSON.stringify(d.spec?.after));
    expect(afters(dryDecisions)).toEqual(afters(liveDecisions));
    // The first plan is identical: same input, same pure function.
    const first = (list: Decision[]) =>
      list.sort((a, b) =>
        String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
      )[0]!;
    expect(first(dryDecisions).spec?.after).toEqual(first(liveDecisions).spec?.after);
    expect(first(dryDecisions).spec?.rootCause?.category).toBe("OOMKilled");
    await new Promise((r) => setTimeout(r, 1000));
    const writes = readAudit(state, since).filter(
      (e) =>
        isWrite(e) &&
        e.userAgent?.includes(`instance=dry-${suffix}`) &&
        ["deployments", "statefulsets", "tenantcontrolplanes"].includes(e.objectRef?.resource ?? ""),
    );
    expect(writes.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    const liveWrites = readAudit(state, since).filter(
      (e) => isWrite(e) && e.userAgent?.includes(`instance=live-${suffix}`) && e.objectRef?.resource === "deployments",
    );
    expect(liveWrites.length).toBeGreaterThanOrEqual(1);
    (live as Manager & { stop?: AbortController }).stop?.abort();
    (dry as Manager & { stop?: AbortController }).stop?.abort();
  }, 180_000);

  it(`delivers every decision exactly once by id after a ${outageMs / 1000}s receiver outage and a controller restart`, async () => {
    const url = `http://127.0.0.1:${receiver.port}/events`;
    const first = startController("dry", `reports-a-${suffix}`, url);
    await eventually(async () => (first.hasSynced() ? true : undefined), 60_000, "synced");
    const before = decisions.dry!.size;
    for (let i = 0; i < 3; i++) {
      await oom("dry");
      await eventually(async () => (decisions.dry!.size >= before + i + 1 ? true : undefined), 15_000, `decision ${i}`);
    }
    await eventually(
      async () => (decisions.dry!.list().every((d) => (d.status?.delivery?.attempts ?? 0) >= 1) ? true : undefined),
      30_000,
      "a failed delivery attempt on every decision",
    );
    expect(decisions.dry!.list().every((d) => d.status?.delivery?.state === "Pending")).toBe(true);
    (first as Manager & { stop?: AbortController }).stop?.abort();
    const countBeforeRestart = decisions.dry!.size;
    await new Promise((r) => setTimeout(r, outageMs));
    await receiver.start();
    const second = startController("dry", `reports-b-${suffix}`, url);
    const all = decisions.dry!.list();
    await eventually(
      async () => (decisions.dry!.list().every((d) => d.status?.delivery?.state === "Delivered") ? true : undefined),
      90_000,
      "every decision delivered",
    );
    const ids = receiver.received.map((r) => r.id);
    const uids = all.map((d) => d.metadata?.uid ?? "");
    console.log(
      `reports: ${all.length} decisions here, ${ids.length} deliveries, ${new Set(ids).size} distinct ids after a ${outageMs} ms outage and a restart`,
    );
    // The reporter sends every pending decision of the meta-cluster; each of this namespace's arrives, and no id twice.
    for (const uid of uids) expect(ids.filter((i) => i === uid).length, `deliveries of ${uid}`).toBe(1);
    expect(ids.length).toBe(new Set(ids).size);
    expect(decisions.dry!.size).toBe(countBeforeRestart);
    expect(receiver.received.every((r) => r.signatureOk && r.type === "io.metapilot.scalingdecision.v1")).toBe(true);
    (second as Manager & { stop?: AbortController }).stop?.abort();
  }, 300_000);
});
