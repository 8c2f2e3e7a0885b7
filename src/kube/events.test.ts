// The event recorder against a mocked apiserver (the write path is the real KubeClient): repeats aggregate onto
// one Event whose series is flushed at most once per interval, floods are dropped per object, and flush() writes
// the counts still waiting for their interval, so a stopping controller loses none.
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./client.js";
import { EventRecorder } from "./events.js";
import { silentLogger, testKubeConfig, testServer } from "./testing.js";
import type { KubeObject } from "./resources.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const eventsPath = "/apis/events.k8s.io/v1/namespaces/tcp-a/events";
const pod: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "etcd-0", namespace: "tcp-a", uid: "u-1" },
};

interface Write {
  verb: "create" | "patch";
  body: { metadata?: { name?: string }; series?: { count: number }; note?: string };
}

/** A mocked events endpoint that records every create and patch. */
function eventsApi(): Write[] {
  const writes: Write[] = [];
  nock(testServer)
    .persist()
    .post(eventsPath)
    .query(true)
    .reply(201, async (request: Request) => {
      const body = (await request.json()) as Write["body"];
      writes.push({ verb: "create", body });
      return body as nock.Body;
    })
    .patch(new RegExp(`^${eventsPath}/`))
    .query(true)
    .reply(200, async (request: Request) => {
      const body = (await request.json()) as Write["body"]; // a merge patch
      writes.push({ verb: "patch", body });
      return body as nock.Body;
    });
  return writes;
}

function recorder(now: () => number, seriesFlushMs = 30_000, perObjectBurst = 25) {
  const client = new KubeClient(testKubeConfig(), { qps: 1000, burst: 1000, maxRetries: 0, logger: silentLogger });
  return new EventRecorder({
    client,
    controller: "tenantcontrolplane",
    instance: "test",
    logger: silentLogger,
    seriesFlushMs,
    perObjectBurst,
    now,
  });
}

describe("EventRecorder", () => {
  it("aggregates repeats onto one Event, and flush() writes the count that waits for its interval", async () => {
    const writes = eventsApi();
    const t = 1_000_000;
    const events = recorder(() => t);
    events.record(pod, "Warning", "UnschedulablePods", "Schedule", "etcd-0 waits for its volume");
    await events.flush();
    expect(writes.map((w) => w.verb)).toEqual(["create"]);
    for (let i = 0; i < 4; i++)
      events.record(pod, "Warning", "UnschedulablePods", "Schedule", "etcd-0 waits for its volume");
    expect(events.stats.aggregated).toBe(4);
    // The repeats wait for the 30 s interval; flush() does not wait for it.
    await events.flush();
    expect(writes.map((w) => w.verb)).toEqual(["create", "patch"]);
    expect(writes[1]!.body.series?.count).toBe(5);
    // Nothing is left to write: a second flush, and the timer it cleared, write nothing more.
    await events.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(writes).toHaveLength(2);
  });

  it("without flush(), writes the series once its interval has passed", async () => {
    const writes = eventsApi();
    const events = recorder(Date.now, 50);
    events.record(pod, "Normal", "Reconciled", "Reconcile", "first");
    await events.flush();
    events.record(pod, "Normal", "Reconciled", "Reconcile", "second");
    events.record(pod, "Normal", "Reconciled", "Reconcile", "third");
    await new Promise((r) => setTimeout(r, 200));
    await events.flush();
    expect(writes.map((w) => [w.verb, w.body.series?.count])).toEqual([
      ["create", undefined],
      ["patch", 3],
    ]);
    expect(writes[1]!.body.note).toBe("third");
  });

  it("drops a flood of distinct reasons about one object beyond its burst", async () => {
    const writes = eventsApi();
    const events = recorder(() => 5_000_000, 30_000, 3);
    for (let i = 0; i < 10; i++) events.record(pod, "Warning", `Reason${i}`, "Act", "flood");
    await events.flush();
    expect(writes).toHaveLength(3);
    expect(events.stats.dropped).toBe(7);
  });
});
