// A leader whose renewal hangs (here an apiserver that stops answering Lease reads and writes once the Lease exists)
// stops writing at renewDeadline and steps down two Lease durations after its last renewal, whatever the client's own
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
    // A leader renews with a write alone (no read first): that hangs too.
    if (url.pathname === `${leasePath}/lease` && req.method === "PUT" && created) {
      hungRenewals++;
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

  it("renews with one write per renewal while it leads, and reads the Lease again only after a 409", async () => {
    const store = await leaseStore();
    const { calls } = store;
    try {
      const elector = storeElector(store.url);
      let whileLeading = { get: -1, put: -1, conflicts: -1 };
      const outcome = elector.run(new AbortController().signal, async () => {
        // Five renewals while leading...
        while (calls.put < 5) await new Promise((r) => setTimeout(r, 10));
        whileLeading = { ...calls };
        // ...then another candidate writes the Lease (as after our own Lease had expired for it).
        const lease = store.lease!;
        store.lease = {
          ...lease,
          metadata: { ...lease.metadata, resourceVersion: String(++store.rv) },
          spec: { ...lease.spec, holderIdentity: "other", renewTime: new Date().toISOString() },
        };
        await new Promise((r) => setTimeout(r, 5000).unref());
      });
      // The next renewal is refused (409), the Lease read shows the other holder, and this one steps down.
      expect(await outcome).toBe("lost");
      // The campaign's read that found no Lease, and no read for any of the renewals.
      expect(whileLeading).toMatchObject({ get: 1, conflicts: 0 });
      expect(calls.conflicts).toBe(1);
      expect(calls.get).toBe(2);
      expect(store.lease?.spec.holderIdentity).toBe("other");
    } finally {
      store.close();
    }
  }, 20_000);

  it("on a clean stop lets the work under way write until it ends, then releases the Lease", async () => {
    const store = await leaseStore();
    try {
      const elector = storeElector(store.url);
      const stop = new AbortController();
      const seen: Array<{ leaderAtAbort: boolean; leaderAfter: boolean; holderAfter: unknown }> = [];
      const outcome = elector.run(stop.signal, async (leading) => {
        stop.abort();
        // A reconcile under way (recording a decision, say) when the stop comes: it ends after the abort.
        await new Promise<void>((r) => leading.addEventListener("abort", () => r(), { once: true }));
        const leaderAtAbort = elector.isLeader();
        await new Promise((r) => setTimeout(r, 100));
        seen.push({ leaderAtAbort, leaderAfter: elector.isLeader(), holderAfter: store.lease?.spec.holderIdentity });
      });
      expect(await outcome).toBe("released");
      // Its writes were still allowed (the Lease was still held), and the release came only after it ended.
      expect(seen).toEqual([{ leaderAtAbort: true, leaderAfter: true, holderAfter: "me" }]);
      expect(elector.isLeader()).toBe(false);
      expect(store.lease?.spec.holderIdentity).toBeNull();
    } finally {
      store.close();
    }
  }, 20_000);
});

/** An elector on the Lease of leaseStore's apiserver: fast renewals (50 ms), a 3 s Lease. */
function storeElector(url: string): LeaderElector {
  return new LeaderElector({
    client: new KubeClient(testKubeConfig(url), { maxRetries: 0 }),
    namespace: "ns",
    name: "lease",
    identity: "me",
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 50,
    lostGraceMs: 100,
    logger: silentLogger,
  });
}

/** An apiserver with one Lease in memory and optimistic concurrency on its resourceVersion. */
async function leaseStore() {
  const state = {
    lease: undefined as { metadata: Record<string, unknown>; spec: Record<string, unknown> } | undefined,
    rv: 10,
    calls: { get: 0, put: 0, conflicts: 0 },
    url: "",
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const { calls } = state;
  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.statusCode = code;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (url.pathname === leasePath && req.method === "GET") {
        if (url.searchParams.get("watch")) return; // the Lease informer's watch: open, silent
        return json(res, 200, { kind: "LeaseList", metadata: { resourceVersion: String(state.rv) }, items: [] });
      }
      if (url.pathname === leasePath && req.method === "POST") {
        const sent = JSON.parse(body) as NonNullable<typeof state.lease>;
        state.lease = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(++state.rv) } };
        return json(res, 201, state.lease);
      }
      if (url.pathname === `${leasePath}/lease` && req.method === "GET") {
        calls.get++;
        return state.lease
          ? json(res, 200, state.lease)
          : json(res, 404, { kind: "Status", code: 404, reason: "NotFound" });
      }
      if (url.pathname === `${leasePath}/lease` && req.method === "PUT") {
        calls.put++;
        const sent = JSON.parse(body) as NonNullable<typeof state.lease>;
        if (sent.metadata.resourceVersion !== state.lease?.metadata.resourceVersion) {
          calls.conflicts++;
          return json(res, 409, { kind: "Status", code: 409, reason: "Conflict" });
        }
        state.lease = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(++state.rv) } };
        return json(res, 200, state.lease);
      }
      json(res, 404, { kind: "Status", code: 404, reason: "NotFound" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
