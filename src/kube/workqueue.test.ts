import { describe, expect, it } from "vitest";
import { WorkQueue } from "./workqueue.js";
import { backoffDelay } from "./backoff.js";

describe("WorkQueue", () => {
  it("deduplicates a key added many times", async () => {
    const q = new WorkQueue({ name: "t" });
    for (let i = 0; i < 100; i++) q.add("a");
    q.add("b");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands a key to two workers at once, and replays an add made during processing", async () => {
    const q = new WorkQueue({ name: "t" });
    q.add("a");
    const first = await q.get();
    expect(first).toBe("a");
    q.add("a"); // while processing
    expect(q.length).toBe(0);
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    q.done("a");
    await waiting;
    expect(second).toBe("a");
  });

  it("serves changes before the initial list's keys, and moves a pending low key up on a normal add", async () => {
    const q = new WorkQueue({ name: "t" });
    for (const k of ["a", "b", "c", "d"]) q.add(k, { low: true });
    q.add("x");
    q.add("c"); // a change to c while its initial reconcile still waits
    q.add("x", { low: true }); // changes nothing: x stays normal
    expect(q.length).toBe(5);
    const order: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) order.push(await q.get());
    expect(order).toEqual(["x", "c", "a", "b", "d"]);
  });

  it("keeps the backlog moving: one low key in every lowEvery picks while changes keep coming", async () => {
    const q = new WorkQueue({ name: "t", lowEvery: 4 });
    for (let i = 0; i < 3; i++) q.add(`init-${i}`, { low: true });
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      q.add(`event-${i}`);
      const k = (await q.get())!;
      order.push(k);
      q.done(k);
    }
    expect(order.filter((k) => k.startsWith("init-"))).toEqual(["init-0", "init-1", "init-2"]);
    expect(order.indexOf("init-0")).toBe(3);
  });

  it("replays an add made during processing with its own priority", async () => {
    const q = new WorkQueue({ name: "t" });
    q.add("a");
    q.add("b");
    expect(await q.get()).toBe("a");
    q.add("a", { low: true }); // while a is processed
    q.done("a");
    q.add("c");
    expect([await q.get(), await q.get(), await q.get()]).toEqual(["b", "c", "a"]);
  });

  it("backs off per key exponentially and forgets on success", () => {
    const q = new WorkQueue({ name: "t", baseDelayMs: 100, maxDelayMs: 1000 });
    const delays = [0, 1, 2, 3, 4, 5].map(() => q.addRateLimited("k"));
    expect(q.numRequeues("k")).toBe(6);
    for (const [i, d] of delays.entries()) {
      const cap = Math.min(1000, 100 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(cap / 2);
      expect(d).toBeLessThanOrEqual(cap);
    }
    q.forget("k");
    expect(q.numRequeues("k")).toBe(0);
    q.shutdown();
  });

  it("addAfter keeps the earliest pending delay", async () => {
    const q = new WorkQueue({ name: "t" });
    q.addAfter("k", 5000);
    q.addAfter("k", 20);
    const started = Date.now();
    expect(await q.get()).toBe("k");
    expect(Date.now() - started).toBeLessThan(1000);
    q.shutdown();
  });

  it("a delayed low add (a resync) waits behind changes; a normal add merged into it keeps it normal", async () => {
    const q = new WorkQueue({ name: "t" });
    q.addAfter("resync", 10, { low: true });
    q.addAfter("merged", 10, { low: true });
    q.addAfter("merged", 5000); // a later normal add: the earlier timer fires, but not as low
    await new Promise((r) => setTimeout(r, 50));
    q.add("change");
    expect(await q.get()).toBe("merged");
    expect(await q.get()).toBe("change");
    expect(await q.get()).toBe("resync");
    q.shutdown();
  });

  it("resolves waiting workers with undefined on shutdown", async () => {
    const q = new WorkQueue({ name: "t" });
    const pending = q.get();
    q.shutdown();
    expect(await pending).toBeUndefined();
    q.add("x");
    expect(q.length).toBe(0);
  });
});

describe("backoffDelay", () => {
  it.each([
    [0, 0, 50],
    [0, 1, 100],
    [3, 0, 400],
    [3, 1, 800],
    [20, 1, 5000],
  ])("attempt %i with random %f → %i ms (base 100, cap 5000)", (attempt, r, expected) => {
    expect(backoffDelay(attempt, 100, 5000, () => r)).toBe(expected);
  });
});
