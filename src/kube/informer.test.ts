import nock from "nock";
import { PassThrough } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./client.js";
import { Informer, trimObject } from "./informer.js";
import { Resources, type KubeObject } from "./resources.js";
import { silentLogger, testKubeConfig, testServer } from "./testing.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const cm = (name: string, rv: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: "ns", resourceVersion: rv, managedFields: [{ manager: "x" }], ...extra },
});
const line = (type: string, object: unknown) => JSON.stringify({ type, object }) + "\n";
const client = () =>
  new KubeClient(testKubeConfig(), { qps: 1000, burst: 1000, retryBaseMs: 1, retryCapMs: 5, logger: silentLogger });

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Informer", () => {
  it("lists, syncs, then applies watch events and bookmarks, sending selectors to the server", async () => {
    nock(testServer)
      .get("/api/v1/namespaces/ns/configmaps")
      .query({ limit: "500", labelSelector: "app=x" })
      .reply(200, { metadata: { resourceVersion: "100" }, items: [cm("a", "90"), cm("b", "95")] });
    const stream = new PassThrough();
    nock(testServer)
      .get("/api/v1/namespaces/ns/configmaps")
      .query(
        (q) =>
          q.watch === "true" &&
          q.resourceVersion === "100" &&
          q.allowWatchBookmarks === "true" &&
          q.labelSelector === "app=x",
      )
      .reply(200, () => stream);
    const seen: string[] = [];
    const informer = new Informer<KubeObject>(client(), {
      resource: Resources.ConfigMap,
      namespace: "ns",
      labelSelector: "app=x",
    });
    informer.on({
      add: (o, initial) => seen.push(`add ${o.metadata?.name}${initial ? " (initial list)" : ""}`),
      update: (o) => seen.push(`update ${o.metadata?.name}`),
      delete: (o) => seen.push(`delete ${o.metadata?.name}`),
    });
    const stop = new AbortController();
    void informer.start(stop.signal);
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get("ns/a")?.metadata?.managedFields).toBeUndefined();
    stream.write(line("ADDED", cm("c", "101")));
    stream.write(line("MODIFIED", cm("a", "102")));
    stream.write(line("DELETED", cm("b", "103")));
    stream.write(line("BOOKMARK", { metadata: { resourceVersion: "150" } }));
    await until(() => informer.lastResourceVersion === "150");
    expect(seen).toEqual(["add a (initial list)", "add b (initial list)", "add c", "update a", "delete b"]);
    // A handler registered after the sync gets the cache replayed, marked initial too.
    const replayed: Array<[string, boolean | undefined]> = [];
    informer.on({ add: (o, initial) => replayed.push([o.metadata?.name ?? "", initial]) });
    expect(replayed).toEqual([
      ["a", true],
      ["c", true],
    ]);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["a", "c"]);
    stop.abort();
    stream.end();
  });

  it("resumes a closed watch from the last resourceVersion without relisting", async () => {
    nock(testServer)
      .get("/api/v1/nodes")
      .query({ limit: "500" })
      .reply(200, { metadata: { resourceVersion: "5" }, items: [] });
    nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "5")
      .reply(200, line("ADDED", { metadata: { name: "n1", resourceVersion: "7" } }));
    const resumed = nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "7")
      .reply(200, () => new PassThrough());
    const informer = new Informer(client(), { resource: Resources.Node });
    const stop = new AbortController();
    void informer.start(stop.signal);
    await until(() => resumed.isDone());
    expect(informer.stats.lists).toBe(1);
    stop.abort();
  });

  it("relists only on 410 Gone, and reports objects deleted meanwhile", async () => {
    nock(testServer)
      .get("/api/v1/nodes")
      .query({ limit: "500" })
      .reply(200, { metadata: { resourceVersion: "5" }, items: [{ metadata: { name: "old", resourceVersion: "4" } }] });
    nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "5")
      .reply(200, line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" }));
    nock(testServer)
      .get("/api/v1/nodes")
      .query({ limit: "500" })
      .reply(200, {
        metadata: { resourceVersion: "50" },
        items: [{ metadata: { name: "new", resourceVersion: "49" } }],
      });
    const afterRelist = nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "50")
      .reply(200, () => new PassThrough());
    const deleted: string[] = [];
    const added: Array<[string, boolean | undefined]> = [];
    const informer = new Informer(client(), { resource: Resources.Node });
    informer.on({
      delete: (o) => deleted.push(o.metadata?.name ?? ""),
      add: (o, initial) => added.push([o.metadata?.name ?? "", initial]),
    });
    const stop = new AbortController();
    void informer.start(stop.signal);
    await until(() => afterRelist.isDone());
    expect(informer.stats.lists).toBe(2);
    expect(deleted).toEqual(["old"]);
    // What a relist after 410 finds new is a change missed while not watching, not part of the initial list.
    expect(added).toEqual([
      ["old", true],
      ["new", false],
    ]);
    expect(informer.list().map((n) => n.metadata?.name)).toEqual(["new"]);
    stop.abort();
  });

  it("restarts a stalled watch (watchdog) from the last resourceVersion", async () => {
    nock(testServer)
      .get("/api/v1/nodes")
      .query({ limit: "500" })
      .reply(200, { metadata: { resourceVersion: "5" }, items: [] });
    const silent = new PassThrough();
    nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "5")
      .reply(200, () => {
        silent.write(line("BOOKMARK", { metadata: { resourceVersion: "9" } }));
        return silent; // then nothing, ever
      });
    const restarted = nock(testServer)
      .get("/api/v1/nodes")
      .query((q) => q.watch === "true" && q.resourceVersion === "9")
      .reply(200, () => new PassThrough());
    const informer = new Informer(client(), { resource: Resources.Node, watchIdleTimeoutMs: 100 });
    const stop = new AbortController();
    void informer.start(stop.signal);
    await until(() => restarted.isDone());
    expect(informer.stats.lists).toBe(1);
    expect(informer.stats.watchRestarts).toBeGreaterThanOrEqual(1);
    stop.abort();
  });
});

describe("trimObject", () => {
  it("drops managedFields and kubectl's last-applied annotation", () => {
    const o = trimObject({
      metadata: {
        name: "x",
        managedFields: [{}],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "1" },
      },
    });
    expect(o.metadata).toEqual({ name: "x", annotations: { keep: "1" } });
  });
});

describe("Informer namespace index", () => {
  it("keeps listNamespace in step with adds, moves and deletes", async () => {
    nock(testServer)
      .get("/api/v1/pods")
      .query({ limit: "500" })
      .reply(200, {
        metadata: { resourceVersion: "1" },
        items: [{ metadata: { name: "a", namespace: "x", resourceVersion: "1" } }],
      });
    const stream = new PassThrough();
    nock(testServer)
      .get("/api/v1/pods")
      .query((q) => q.watch === "true")
      .reply(200, () => stream);
    const informer = new Informer(client(), { resource: Resources.Pod });
    const stop = new AbortController();
    void informer.start(stop.signal);
    await informer.waitForSync();
    expect(informer.listNamespace("x").map((p) => p.metadata?.name)).toEqual(["a"]);
    stream.write(line("ADDED", { metadata: { name: "b", namespace: "y", resourceVersion: "2" } }));
    stream.write(line("DELETED", { metadata: { name: "a", namespace: "x", resourceVersion: "3" } }));
    await until(() => informer.lastResourceVersion === "3");
    expect(informer.listNamespace("x")).toEqual([]);
    expect(informer.listNamespace("y", (p) => p.metadata?.name === "b").length).toBe(1);
    stop.abort();
    stream.end();
  });

  it("keeps listByLabel in step with adds, relabels, deletes and relists", async () => {
    const pod = (name: string, rv: string, tenant?: string) => ({
      metadata: { name, namespace: "x", resourceVersion: rv, ...(tenant ? { labels: { tenant } } : {}) },
    });
    nock(testServer)
      .get("/api/v1/pods")
      .query({ limit: "500" })
      .reply(200, { metadata: { resourceVersion: "1" }, items: [pod("a", "1", "t1"), pod("b", "1")] });
    const stream = new PassThrough();
    nock(testServer)
      .get("/api/v1/pods")
      .query((q) => q.watch === "true")
      .reply(200, () => stream);
    const informer = new Informer(client(), { resource: Resources.Pod });
    expect(() => informer.listByLabel("tenant", "t1")).toThrow(/not indexed/);
    const stop = new AbortController();
    void informer.start(stop.signal);
    await informer.waitForSync();
    // Indexed after the sync: built from what the cache holds.
    const names = (v: string) =>
      informer
        .indexLabel("tenant")
        .listByLabel("tenant", v)
        .map((p) => p.metadata?.name);
    expect(names("t1")).toEqual(["a"]);
    stream.write(line("MODIFIED", pod("b", "2", "t1")));
    stream.write(line("MODIFIED", pod("a", "3", "t2")));
    await until(() => informer.lastResourceVersion === "3");
    expect(names("t1")).toEqual(["b"]);
    expect(names("t2")).toEqual(["a"]);
    stream.write(line("DELETED", pod("a", "4", "t2")));
    stream.write(line("MODIFIED", pod("b", "5")));
    await until(() => informer.lastResourceVersion === "5");
    expect(names("t1")).toEqual([]);
    expect(names("t2")).toEqual([]);
    expect(informer.listByLabel("tenant", "t1", () => true)).toEqual([]);
    stop.abort();
    stream.end();
  });
});
