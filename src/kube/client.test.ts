import nock from "nock";
import { KubeConfig } from "@kubernetes/client-node";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueCertificate } from "../pki/certificates.js";
import { KubeClient } from "./client.js";
import { ApiError } from "./errors.js";
import { RuntimeMetrics } from "./metrics.js";
import { Resources, type KubeObject } from "./resources.js";
import { silentLogger, testKubeConfig, testServer } from "./testing.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const fast = { retryBaseMs: 1, retryCapMs: 5, qps: 1000, burst: 1000, logger: silentLogger };

describe("KubeClient", () => {
  it("sends the metapilot User-Agent and the bearer token", async () => {
    const scope = nock(testServer, {
      reqheaders: { "user-agent": /^metapilot\/\S+/, authorization: "Bearer test-token" },
    })
      .get("/api/v1/namespaces/default/pods/p")
      .reply(200, { metadata: { name: "p" } });
    const client = new KubeClient(testKubeConfig(), fast);
    expect((await client.get(Resources.Pod, "p", "default")).metadata?.name).toBe("p");
    scope.done();
  });

  it("retries 429 and honours Retry-After", async () => {
    const scope = nock(testServer)
      .get("/api/v1/nodes/n")
      .reply(429, { kind: "Status", reason: "TooManyRequests", message: "slow down" }, { "Retry-After": "1" })
      .get("/api/v1/nodes/n")
      .reply(200, { metadata: { name: "n" } });
    const metrics = new RuntimeMetrics();
    const client = new KubeClient(testKubeConfig(), { ...fast, metrics });
    const started = Date.now();
    await client.get(Resources.Node, "n");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    scope.done();
    const counts = await metrics.apiRequests.get();
    const codes = counts.values.map((v) => `${v.labels.code}:${v.value}`).sort();
    expect(codes).toEqual(["200:1", "429:1"]);
  });

  it("retries 5xx with backoff, then gives up with the last error", async () => {
    nock(testServer).get("/api/v1/nodes/n").times(3).reply(503, { message: "unavailable" });
    const client = new KubeClient(testKubeConfig(), { ...fast, maxRetries: 2 });
    await expect(client.get(Resources.Node, "n")).rejects.toMatchObject({ statusCode: 503 });
    expect(nock.isDone()).toBe(true);
  });

  it("does not retry a 4xx", async () => {
    const scope = nock(testServer)
      .get("/api/v1/nodes/missing")
      .reply(404, { reason: "NotFound", message: 'nodes "missing" not found' });
    const client = new KubeClient(testKubeConfig(), fast);
    const err = await client.get(Resources.Node, "missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).isNotFound).toBe(true);
    scope.done();
    expect(
      await (nock(testServer).get("/api/v1/nodes/gone").reply(404, {}), client.getOptional(Resources.Node, "gone")),
    ).toBeUndefined();
  });

  it("retries transport errors", async () => {
    nock(testServer)
      .get("/api/v1/nodes/n")
      .replyWithError("socket hang up")
      .get("/api/v1/nodes/n")
      .reply(200, { metadata: { name: "n" } });
    const client = new KubeClient(testKubeConfig(), fast);
    expect((await client.get(Resources.Node, "n")).metadata?.name).toBe("n");
  });

  it("paginates LISTs 500 at a time", async () => {
    nock(testServer)
      .get("/api/v1/pods")
      .query({ limit: "500" })
      .reply(200, { metadata: { continue: "c1", resourceVersion: "10" }, items: [{ metadata: { name: "a" } }] })
      .get("/api/v1/pods")
      .query({ limit: "500", continue: "c1" })
      .reply(200, { metadata: { resourceVersion: "11" }, items: [{ metadata: { name: "b" } }] });
    const client = new KubeClient(testKubeConfig(), fast);
    const { items, resourceVersion } = await client.listAll(Resources.Pod);
    expect(items.map((i) => (i as { metadata: { name: string } }).metadata.name)).toEqual(["a", "b"]);
    expect(resourceVersion).toBe("11");
  });

  it("applies with one field manager and force", async () => {
    const scope = nock(testServer, { reqheaders: { "content-type": "application/apply-patch+yaml" } })
      .patch("/apis/apps/v1/namespaces/ns/deployments/d")
      .query({ fieldManager: "metapilot", force: "true" })
      // nock 15 hands a reply function the Fetch Request (a second parameter would be a callback nock waits on).
      .reply(200, async (request: Request) => (await request.json()) as object);
    const client = new KubeClient(testKubeConfig(), fast);
    const out = await client.apply<KubeObject>(Resources.Deployment, { metadata: { name: "d", namespace: "ns" } });
    expect(out.kind).toBe("Deployment");
    expect(out.apiVersion).toBe("apps/v1");
    scope.done();
  });

  // client-node 2.x caches the agent applyToHTTPSOptions sets, with the TLS material of the first request in it.
  it("presents the client certificate on disk at each request, so a rotated one is used at once", async () => {
    const ca = await createCertificateAuthority("test-ca", 1);
    const serving = await issueCertificate(ca, {
      commonName: "apiserver",
      ipAddresses: ["127.0.0.1"],
      usage: "server",
      validityDays: 1,
    });
    const [first, second] = await Promise.all(
      ["first", "second"].map((commonName) => issueCertificate(ca, { commonName, usage: "client", validityDays: 1 })),
    );
    const server = createServer(
      {
        key: serving.privateKeyPem,
        cert: serving.certificatePem,
        ca: ca.certificatePem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const user = (req.socket as TLSSocket).getPeerCertificate().subject.CN;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ metadata: { name: user } }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    nock.enableNetConnect("127.0.0.1");
    const dir = mkdtempSync(path.join(tmpdir(), "metapilot-client-cert-"));
    try {
      const write = (pair: { certificatePem: string; privateKeyPem: string }) => {
        writeFileSync(path.join(dir, "tls.crt"), pair.certificatePem);
        writeFileSync(path.join(dir, "tls.key"), pair.privateKeyPem);
      };
      writeFileSync(path.join(dir, "ca.crt"), ca.certificatePem);
      write(first!);
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [
          {
            name: "c",
            server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
            caFile: path.join(dir, "ca.crt"),
          },
        ],
        users: [{ name: "u", certFile: path.join(dir, "tls.crt"), keyFile: path.join(dir, "tls.key") }],
        contexts: [{ name: "x", cluster: "c", user: "u" }],
        currentContext: "x",
      });
      const client = new KubeClient(kc, fast);
      expect((await client.get(Resources.Namespace, "whoami")).metadata?.name).toBe("first");
      write(second!);
      expect((await client.get(Resources.Namespace, "whoami")).metadata?.name).toBe("second");
    } finally {
      nock.disableNetConnect();
      server.close();
      server.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses writes when the write guard says no, without sending anything", async () => {
    const client = new KubeClient(testKubeConfig(), { ...fast, writeGuard: () => false });
    await expect(client.create(Resources.ConfigMap, { metadata: { name: "c", namespace: "n" } })).rejects.toMatchObject(
      { reason: "NotLeader" },
    );
    nock(testServer)
      .get("/api/v1/namespaces/n/configmaps/c")
      .reply(200, { metadata: { name: "c" } });
    await expect(client.get(Resources.ConfigMap, "c", "n")).resolves.toBeDefined();
  });
});
