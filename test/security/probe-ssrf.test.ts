// Exploit 5 of the tenant-isolation issue: the metapilot.io/probe-url annotation as a way to make metapilot send
// requests from its privileged network position (SSRF). Three TenantControlPlanes name URLs that are not theirs:
// plain http to a local "internal" service, https to a host nobody allowed, and another tenant's apiserver Service.
// None of the victims may receive a single request; each tenant gets a ProbeURLRefused Event that says why, and
// nothing of the tenants' workloads changes (audit log).
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { generateTenantPki } from "../../src/operator/pki/issue.js";
import { pkiSecretName } from "../../src/operator/pki/secrets.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { createApiserver } from "../fixtures/tenant.js";

interface EventObject extends KubeObject {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { kind?: string; name?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("probe-url SSRF", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const id = randomBytes(3).toString("hex");
  const identity = `ssrf-${id}`;
  const stop = new AbortController();
  const requests: string[] = [];
  const victimHttp = http.createServer((req, res) => {
    requests.push(`http ${req.url}`);
    res.end("internal secret");
  });
  let victimHttps: https.Server;
  const namespaces: Array<Awaited<ReturnType<typeof freshNamespace>>> = [];
  const tenants: Array<{ name: string; ns: string; url: string; want: RegExp }> = [];
  let since = new Date();

  beforeAll(async () => {
    await installCrds(kc);
    await new Promise<void>((r) => victimHttp.listen(0, "127.0.0.1", r));
    const httpPort = (victimHttp.address() as AddressInfo).port;
    for (const k of ["plain", "host", "other"]) {
      const ns = await freshNamespace(kc, `ssrf-${k}`);
      namespaces.push(ns);
      const name = `ssrf-${id}-${k}`;
      await createApiserver(client, ns.name, name);
      tenants.push({ name, ns: ns.name, url: "", want: /./ });
    }
    // The https victim presents a certificate of the second tenant's own CA, so only the host check stands between
    // the annotation and a request that would succeed.
    const pki = await generateTenantPki({
      tenantName: tenants[1]!.name,
      namespace: tenants[1]!.ns,
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
      metadata: { name: pkiSecretName(tenants[1]!.name, "ca"), namespace: tenants[1]!.ns },
      stringData: { "tls.crt": pki.ca.certificatePem },
    } as KubeObject);
    victimHttps = https.createServer(
      { cert: pki.apiserver.certificatePem, key: pki.apiserver.privateKeyPem },
      (req, res) => {
        requests.push(`https ${req.url}`);
        res.end("internal secret");
      },
    );
    await new Promise<void>((r) => victimHttps.listen(0, "127.0.0.1", r));
    const httpsPort = (victimHttps.address() as AddressInfo).port;
    tenants[0]!.url = `http://127.0.0.1:${httpPort}/internal`;
    tenants[0]!.want = /annotation metapilot\.io\/probe-url refused: scheme http is not allowed: https only/;
    tenants[1]!.url = `https://127.0.0.1:${httpsPort}/internal`;
    tenants[1]!.want = /refused: host 127\.0\.0\.1 is neither a Service in namespace/;
    tenants[2]!.url = `https://kube-apiserver.${tenants[0]!.ns}.svc:6443/readyz`;
    tenants[2]!.want = new RegExp(`host kube-apiserver\\.${tenants[0]!.ns}\\.svc is neither a Service in namespace`);
    for (const t of tenants)
      await client.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name: t.name, labels: { "ssrf-test": id }, annotations: { "metapilot.io/probe-url": t.url } },
        spec: { version: "v1.35.4", namespace: t.ns },
      } as KubeObject);
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: identity },
      spec: {
        tenantSelector: { matchLabels: { "ssrf-test": id } },
        components: [
          {
            name: "kube-apiserver",
            // One failed probe would be enough to act on: any answer would show.
            scalers: [{ name: "probe", threshold: 1, window: "30s" }],
            replicas: { min: 1, max: 3 },
          },
        ],
      },
    } as KubeObject);
    since = new Date();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 200,
      burst: 200,
    });
    // No allow-list: 127.0.0.1 is not allowed.
    addClusterScalerController(manager, { workers: 2, dryRun: false, probeIntervalMs: 300, probeTimeoutMs: 1000 });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "scaler caches synced");
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    victimHttp.closeAllConnections();
    victimHttp.close();
    victimHttps?.closeAllConnections();
    victimHttps?.close();
    await client.delete(Resources.ClusterScaler, identity).catch(() => undefined);
    for (const t of tenants) await client.delete(Resources.TenantControlPlane, t.name).catch(() => undefined);
    for (const ns of namespaces) await ns.cleanup();
  }, 60_000);

  it("sends nothing to a URL that is not the tenant's, and says why in an Event", async () => {
    const events = await eventually(
      async () => {
        const list = await client.listAll<EventObject>(Resources.Event, { namespace: "default" });
        const found = tenants.map((t) =>
          list.items.find(
            (e) =>
              e.reason === "ProbeURLRefused" &&
              e.regarding?.kind === "TenantControlPlane" &&
              e.regarding.name === t.name,
          ),
        );
        return found.every(Boolean) ? (found as EventObject[]) : undefined;
      },
      30_000,
      "a ProbeURLRefused Event for each tenant",
    );
    tenants.forEach((t, i) => {
      expect(events[i]?.type).toBe("Warning");
      expect(events[i]?.note).toMatch(t.want);
    });
    // Many probe intervals later: no request reached either victim, no decision, no write to any tenant workload.
    await sleep(5000);
    expect(requests).toEqual([]);
    for (const t of tenants) {
      const decisions = await client.listAll(Resources.ScalingDecision, { namespace: t.ns });
      expect(decisions.items).toEqual([]);
      const d = await client.get<KubeObject & { spec?: { replicas?: number } }>(
        Resources.Deployment,
        "kube-apiserver",
        t.ns,
      );
      expect(d.spec?.replicas).toBe(1);
    }
    const writes = readAudit(state, since).filter(
      (e) =>
        isWrite(e) &&
        e.userAgent?.includes(`instance=${identity}`) &&
        ["deployments", "statefulsets", "pods", "tenantcontrolplanes", "scalingdecisions"].includes(
          e.objectRef?.resource ?? "",
        ),
    );
    expect(
      writes.map((e) => `${e.verb} ${e.objectRef?.resource} ${e.objectRef?.namespace}/${e.objectRef?.name}`),
    ).toEqual([]);
  }, 60_000);
});
