// A leader whose renewal hangs (here an apiserver that stops answering the Lease GET once the Lease exists) stops
// writing at renewDeadline and steps down two Lease durations after its last renewal, whatever the client's own
// request timeout and retries would allow.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./client.js";
import { LeaderElector } from "./leader-election.js";
import { silentLogger, testKubeConfig } from "./testing.js";

const leasePath = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";

describe("LeaderElector", () => {
  let created = false;
  let hungRenewals = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === leasePath && req.method === "GET") {
      if (url.searchParams.get("watch")) return; // the Lease informer's watch: open, silent
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ kind: "LeaseList", metadata: { resourceVersion: "1" }, items: [] }));
      return;
    }
    if (url.pathname === leasePath && req.method === "POST") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        created = true;
        res.statusCode = 201;
        res.setHeader("content-type", "application/json");
        const lease = JSON.parse(body) as { metadata: Record<string, unknown> };
        res.end(JSON.stringify({ ...lease, metadata: { ...lease.metadata, resourceVersion: "2" } }));
      });
      return;
    }
    if (url.pathname === `${leasePath}/lease` && req.method === "GET") {
      if (!created) {
        res.statusCode = 404;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ kind: "Status", code: 404, reason: "NotFound" }));
        return;
      }
      hungRenewals++; // never answered
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("steps down when a renewal hangs", async () => {
    // A request timeout far beyond the renew deadline, and retries: neither may hold the leader.
    const client = new KubeClient(testKubeConfig(base), { maxRetries: 3, retryBaseMs: 10, requestTimeoutMs: 60_000 });
    const elector = new LeaderElector({
      client,
      namespace: "ns",
      name: "lease",
      identity: "me",
      leaseDurationMs: 1500,
      renewDeadlineMs: 1000,
      retryPeriodMs: 200,
      lostGraceMs: 300,
      logger: silentLogger,
    });
    let ledAt = 0;
    // Leader work that ignores the abort (a slow reconcile): it must not hold the step-down beyond the grace.
    const outcome = await elector.run(new AbortController().signal, async () => {
      ledAt = Date.now();
      await new Promise((r) => setTimeout(r, 30_000).unref());
    });
    const steppedDownAfter = Date.now() - ledAt;
    expect(ledAt).toBeGreaterThan(0);
    expect(hungRenewals).toBeGreaterThan(0);
    expect(outcome).toBe("lost");
    expect(elector.isLeader()).toBe(false);
    // Two Lease durations (3 s) after the last renewal, plus one retry period: never the 60 s a request may take.
    expect(steppedDownAfter).toBeLessThan(4000);
  }, 20_000);
});
