import { describe, expect, it } from "vitest";
import { compareResourceVersions, type KubeObject } from "../kube/resources.js";
import { WriteOverlay } from "./overlay.js";

interface Pool extends KubeObject {
  spec: { labels: Record<string, string> };
  status?: { outOfSyncNodes?: number };
}

const pool = (rv: string, labels: Record<string, string>, status?: Pool["status"], uid = "u1"): Pool => ({
  metadata: { name: "p", uid, resourceVersion: rv },
  spec: { labels },
  ...(status ? { status } : {}),
});

describe("WriteOverlay", () => {
  it("gives our write until the cache catches up with it, then the cache", () => {
    const overlay = new WriteOverlay<Pool>();
    overlay.remember("p", pool("12", { tier: "gold" }, { outOfSyncNodes: 0 }));
    // The cache still holds the version the reconcile read: the write's status stands.
    expect(overlay.current("p", pool("10", { tier: "gold" }))?.status).toEqual({ outOfSyncNodes: 0 });
    expect(overlay.current("p", pool("12", { tier: "gold" }, { outOfSyncNodes: 0 }))?.metadata?.resourceVersion).toBe(
      "12",
    );
    // Once caught up, the overlay is gone: an older cache version no longer brings it back.
    expect(overlay.current("p", pool("10", { tier: "gold" }))?.status).toBeUndefined();
  });

  // The event order that lost a NodePool's template label removal (issue 15): the reconcile read spec A at rv 10;
  // the user's spec B (rv 11) and then our status write (rv 12) reached the cache before the reconcile recorded its
  // write. The overlay then held spec A, keyed to rv 12, and handed it to every later reconcile.
  it("never hides a spec change that landed while the reconcile ran", () => {
    const overlay = new WriteOverlay<Pool>();
    const specB = { "pool-label": "p" };
    // What the apiserver answered to the status write: spec B, our status.
    overlay.remember("p", pool("12", specB, { outOfSyncNodes: 13 }));
    const cached = pool("12", specB, { outOfSyncNodes: 13 });
    expect(overlay.current("p", cached)?.spec.labels).toEqual(specB);
    // And while the cache is still behind (at the user's change, rv 11), the write's answer carries spec B too.
    const overlay2 = new WriteOverlay<Pool>();
    overlay2.remember("p", pool("12", specB, { outOfSyncNodes: 13 }));
    expect(overlay2.current("p", pool("11", specB))?.spec.labels).toEqual(specB);
  });

  it("trusts the cache for another object of the same name, a deleted one, or versions it cannot order", () => {
    const overlay = new WriteOverlay<Pool>();
    overlay.remember("p", pool("12", {}, { outOfSyncNodes: 1 }));
    expect(overlay.current("p", pool("5", {}, undefined, "u2"))?.status).toBeUndefined();
    overlay.remember("p", pool("12", {}, { outOfSyncNodes: 1 }));
    expect(overlay.current("p", undefined)).toBeUndefined();
    expect(overlay.current("p", pool("5", {}))?.status).toBeUndefined();
    overlay.remember("p", pool("12", {}, { outOfSyncNodes: 1 }));
    expect(overlay.current("p", pool("opaque", {}))?.status).toBeUndefined();
  });
});

describe("compareResourceVersions (KEP-5504)", () => {
  it.each([
    ["9", "10", -1],
    ["10", "9", 1],
    ["123", "123", 0],
    ["99999999999999999999", "100000000000000000000", -1],
  ])("%s vs %s", (a, b, sign) => {
    expect(Math.sign(compareResourceVersions(a, b)!)).toBe(sign);
  });
  it.each([
    ["", "1"],
    ["01", "2"],
    ["0", "1"],
    ["1a", "2"],
    [undefined, "2"],
  ])("%s vs %s cannot be ordered", (a, b) => {
    expect(compareResourceVersions(a, b)).toBeUndefined();
  });
});
