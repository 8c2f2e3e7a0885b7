import { describe, expect, it } from "vitest";
import { Controller } from "./controller.js";
import { ApiError } from "./errors.js";
import type { Informer, InformerHandlers } from "./informer.js";
import type { KubeObject } from "./resources.js";
import { silentLogger } from "./testing.js";

describe("Controller", () => {
  it("lets timers and sockets run while a full queue is reconciled from caches", async () => {
    // Reconciles that never leave the microtask queue, as a scaler answering from its caches does.
    let processed = 0;
    const controller = new Controller({
      name: "cache-only",
      reconciler: { reconcile: async () => void processed++ },
      workers: 4,
      logger: silentLogger,
    });
    const total = 20_000;
    for (let i = 0; i < total; i++) controller.queue.add(`ns/key-${i}`);
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    // A 1 ms timer stands for a Lease renewal or a /healthz request: it must not wait for the whole queue.
    const seenByTimer = await new Promise<number>((resolve) => setTimeout(() => resolve(processed), 1));
    expect(seenByTimer).toBeLessThan(total);
    while (processed < total) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await running;
    expect(processed).toBe(total);
    // 20,000 reconciles with a yield each: bounded work that takes seconds on a loaded 2-core machine. The test
    // asserts interleaving, not speed, so vitest's 5 s default must not fail it.
  }, 60_000);

  it("serves a change ahead of resyncs that come faster than the workers can serve them", async () => {
    // 200 profiles, each resynced every 20 ms, each reconcile 2 ms on one worker: a round takes 400 ms, so the
    // resyncs alone keep the queue full. A change must not wait for a round.
    const order: string[] = [];
    const controller = new Controller({
      name: "saturated",
      reconciler: {
        reconcile: async (key) => {
          order.push(key.name);
          await new Promise((r) => setTimeout(r, 2));
          return { requeueAfterMs: 20, resync: true };
        },
      },
      workers: 1,
      logger: silentLogger,
    });
    for (let i = 0; i < 200; i++) controller.queue.add(`ns/p-${i}`);
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    while (order.length < 300) await new Promise((r) => setTimeout(r, 5));
    const before = order.length;
    controller.queue.add("ns/changed");
    while (!order.includes("changed")) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await running;
    expect(order.indexOf("changed") - before).toBeLessThanOrEqual(2);
  }, 60_000); // order, not speed: see above

  it("aborts a reconcile that outlives its timeout and retries it", async () => {
    let attempts = 0;
    const controller = new Controller({
      name: "slow",
      reconciler: {
        reconcile: (_key, rc) =>
          new Promise<void>((resolve, reject) => {
            attempts++;
            if (attempts > 1) return resolve();
            rc.signal.addEventListener("abort", () => reject(rc.signal.reason as Error), { once: true });
          }),
      },
      workers: 1,
      logger: silentLogger,
      reconcileTimeoutMs: 50,
      baseDelayMs: 1,
    });
    controller.queue.add("ns/slow");
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    while (attempts < 2) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await running;
    expect(attempts).toBe(2);
  });

  // The chaos etcd-kill scenario under load (issue 15): a leader whose Lease renewals ran late had its writes refused
  // in short windows, each refusal counted as a failure, and keys backed off towards a minute between tries.
  it("retries a write refused by a late Lease renewal without backing the key off", async () => {
    const backoffSeen: number[] = [];
    let attempts = 0;
    const controller: Controller = new Controller({
      name: "fenced",
      reconciler: {
        reconcile: async () => {
          backoffSeen.push(controller.queue.numRequeues("ns/tcp"));
          if (++attempts <= 8) {
            const refused = new ApiError("PATCH /x: refused, this process is not the leader", 0, "NotLeader");
            // Also when a reconciler wraps it.
            throw attempts % 2 ? refused : new Error("apply failed", { cause: refused });
          }
        },
      },
      workers: 1,
      logger: silentLogger,
      baseDelayMs: 60_000,
      notLeaderRetryMs: 1,
    });
    controller.queue.add("ns/tcp");
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    while (attempts < 9) await new Promise((r) => setTimeout(r, 2));
    stop.abort();
    await running;
    expect(backoffSeen).toEqual(Array(9).fill(0));
  });

  it("maps an update only when updateMatters says so; adds and deletes always", () => {
    let handlers: InformerHandlers<KubeObject> = {};
    // Only the informer's handler registration is needed here.
    const informer = {
      on(h: InformerHandlers<KubeObject>) {
        handlers = h;
        return informer;
      },
    } as unknown as Informer<KubeObject>;
    const controller = new Controller({
      name: "fan-out",
      reconciler: { reconcile: async () => {} },
      logger: silentLogger,
    });
    let mapped = 0;
    controller.watch(
      informer,
      () => {
        mapped++;
        return ["ns/a", "ns/b"];
      },
      { updateMatters: (o, old) => o.metadata?.generation !== old.metadata?.generation },
    );
    const obj = (rv: string, generation: number): KubeObject => ({
      metadata: { name: "cs", resourceVersion: rv, generation },
    });
    handlers.add?.(obj("1", 1));
    expect(mapped).toBe(1);
    expect(controller.queue.length).toBe(2);
    handlers.update?.(obj("2", 1), obj("1", 1)); // a status write: same generation
    handlers.update?.(obj("2", 1), obj("2", 1)); // a resync: same resourceVersion
    expect(mapped).toBe(1);
    handlers.update?.(obj("3", 2), obj("2", 1)); // a spec change
    expect(mapped).toBe(2);
    handlers.delete?.(obj("4", 2));
    expect(mapped).toBe(3);
  });
});
