import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import { Checkpoint, checkpointVersion, fromCheckpoint, toCheckpoint } from "./checkpoint.js";
import { OwnerResolver } from "./input/owners.js";
import type { ReadGrid, UsageBatch, UsageSource } from "./input/usage.js";
import {
  addMemorySample,
  dayMs,
  maxPodPeaksPerDay,
  memoryDecayedHistogram,
  unattributedPod,
} from "./model/container.js";
import { decayFactor, findBucket, memoryHistogramOptions } from "./model/histogram.js";
import { parseLabelSelector, WorkloadSelector } from "./selector.js";
import { feedBatch, ModelStore, type WorkloadModel } from "./store.js";
import { profileNameFor } from "./workloads.js";

const owned = (name: string, kind: string, owner: string): KubeObject => ({
  metadata: {
    name,
    namespace: "ns",
    ownerReferences: [{ apiVersion: "v1", kind, name: owner, uid: "u", controller: true }],
  },
});

const caches = {
  pods: new Map([["ns/api-7d9f-abcde", owned("api-7d9f-abcde", "ReplicaSet", "api-7d9f")]]),
  rs: new Map([
    ["ns/api-7d9f", owned("api-7d9f", "Deployment", "api")],
    ["ns/api-5c4b", owned("api-5c4b", "Deployment", "api")],
  ]),
};
const resolver = new OwnerResolver({
  pod: (ns, n) => caches.pods.get(`${ns}/${n}`),
  replicaSet: (ns, n) => caches.rs.get(`${ns}/${n}`),
  replicaSetNames: () => ["api-7d9f", "api-5c4b"],
  statefulSetNames: () => ["etcd"],
});

describe("OwnerResolver", () => {
  it.each([
    ["api-7d9f-abcde", { kind: "Deployment", name: "api" }], // live pod: owner chain
    ["api-5c4b-zzzzz", { kind: "Deployment", name: "api" }], // gone pod of an older ReplicaSet: by name
    ["etcd-2", { kind: "StatefulSet", name: "etcd" }],
    ["etcd-x", undefined],
    ["other-1234-abcde", undefined],
  ])("%s → %o", (pod, want) => expect(resolver.resolve("ns", pod)).toEqual(want));
});

describe("ModelStore", () => {
  const now = Date.UTC(2026, 0, 9);
  const calls: Array<{ ns: string; start: number; end: number; step: number; grid?: ReadGrid }> = [];
  const source: UsageSource = {
    name: "fake",
    history: true,
    async fetch(ns, start, end, step, _signal, grid): Promise<UsageBatch> {
      calls.push({ ns, start, end, step, grid });
      const points: Array<[number, number]> = [];
      for (let t = Math.ceil(start / (step * 1000)) * step * 1000; t <= end; t += step * 1000) points.push([t, 0.5]);
      return {
        source: "fake",
        stepSeconds: step,
        startMs: start,
        endMs: end,
        cpu: [
          { pod: "api-7d9f-abcde", container: "app", points },
          { pod: "etcd-0", container: "etcd", points },
        ],
        memory: [{ pod: "etcd-0", container: "etcd", points: points.map(([t]) => [t, 1e8]) }],
      };
    },
  };
  let clock = now;
  const store = new ModelStore({ source, resolver, now: () => new Date(clock) });
  const model = (kind: "Deployment" | "StatefulSet", name: string): WorkloadModel => ({
    namespace: "ns",
    ref: { kind, name },
    uid: `${name}-uid`,
    containers: new Map(),
    halfLifeMs: 86_400_000,
    historyDays: 8,
  });

  it("reads 8 days once for the namespace and feeds every workload from that one batch", async () => {
    const api = model("Deployment", "api");
    const etcd = model("StatefulSet", "etcd");
    store.set(api);
    store.set(etcd);
    await Promise.all([store.refresh("ns"), store.refresh("ns")]);
    // The history ends at now, as VPA's does: the source is asked for its fromEnd grid (start included).
    expect(calls).toEqual([{ ns: "ns", start: now - 8 * dayMs, end: now, step: 300, grid: "fromEnd" }]);
    expect(api.containers.get("app")?.sampleCount).toBe(8 * 288 + 1);
    expect(etcd.containers.get("etcd")?.memorySampleCount).toBe(8 * 288 + 1);
    expect(api.coveredUntilMs).toBe(now);
  });

  it("then reads only what is new, at the live step", async () => {
    clock = now + 5 * 60_000;
    await store.refresh("ns");
    expect(calls[1]).toEqual({ ns: "ns", start: now, end: clock, step: 60, grid: "epoch" });
    expect(store.get("ns", { kind: "Deployment", name: "api" })?.containers.get("app")?.sampleCount).toBe(8 * 288 + 6);
  });

  it("round-trips a checkpoint and refuses one that does not fit", () => {
    const api = store.get("ns", { kind: "Deployment", name: "api" })!;
    const cp = JSON.parse(JSON.stringify(toCheckpoint(api, new Date(clock))));
    const base = { namespace: "ns", ref: api.ref, uid: api.uid, halfLifeMs: api.halfLifeMs, historyDays: 8 };
    const restored = fromCheckpoint(cp, base);
    expect(restored.ok).toBe(true);
    if (restored.ok) {
      expect(restored.model.coveredUntilMs).toBe(clock);
      expect(restored.model.containers.get("app")?.sampleCount).toBe(api.containers.get("app")?.sampleCount);
    }
    expect(fromCheckpoint(cp, { ...base, uid: "other" })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/uid/),
    });
    expect(fromCheckpoint(cp, { ...base, halfLifeMs: 1 })).toMatchObject({ ok: false });
    expect(fromCheckpoint({ ...cp, version: 7 }, base)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/malformed/),
    });
    expect(fromCheckpoint(undefined, base)).toMatchObject({ ok: false });
  });
});

describe("memory peaks per pod through the store and the checkpoint", () => {
  const now = Date.UTC(2026, 0, 9);
  const halfLifeMs = 86_400_000;
  const base = { namespace: "ns", ref: { kind: "Deployment" as const, name: "api" }, uid: "api-uid", halfLifeMs };
  // Three pods of the Deployment (a gone ReplicaSet's, resolved by name), 10% apart, over two days.
  const pods = ["api-5c4b-aaaaa", "api-5c4b-bbbbb", "api-5c4b-ccccc"];
  const points = (i: number): Array<[number, number]> =>
    Array.from({ length: 48 }, (_, k) => [now - 2 * dayMs + (k + 1) * 3_600_000, 1e9 * (1 + 0.1 * i)]);
  const batch: UsageBatch = {
    source: "fake",
    stepSeconds: 3600,
    startMs: now - 2 * dayMs,
    endMs: now,
    cpu: pods.map((pod, i) => ({ pod, container: "app", points: points(i).map(([t]) => [t, 0.1]) })),
    memory: pods.map((pod, i) => ({ pod, container: "app", points: points(i) })),
  };

  it("feedBatch keeps each pod's peak of the day in the one state of the container name", () => {
    const m: WorkloadModel = { ...base, historyDays: 8, containers: new Map() };
    feedBatch(batch, "ns", [m], resolver, now);
    const state = m.containers.get("app")!;
    expect(m.containers.size).toBe(1);
    expect(state.sampleCount).toBe(3 * 48);
    for (const d of state.days.filter((d) => d.start < now - dayMs))
      expect(d.memoryPeaks.map((p) => [p.pod, p.bytes])).toEqual(pods.map((pod, i) => [pod, 1e9 * (1 + 0.1 * i)]));
  });

  it("round-trips the peaks per pod through a checkpoint", () => {
    const m: WorkloadModel = { ...base, historyDays: 8, containers: new Map() };
    feedBatch(batch, "ns", [m], resolver, now);
    const cp = JSON.parse(JSON.stringify(toCheckpoint(m, new Date(now))));
    expect(cp.version).toBe(checkpointVersion);
    const restored = fromCheckpoint(cp, { ...base, historyDays: 8 });
    if (!restored.ok) throw new Error(restored.reason);
    // CPU weights are rounded to six digits in a checkpoint; peaks are kept as they are.
    const peaks = (model: WorkloadModel) => model.containers.get("app")!.days.map((d) => d.memoryPeaks);
    expect(peaks(restored.model)).toEqual(peaks(m));
    expect(peaks(m).flat()).toHaveLength(9);
  });

  it("migrates a version 1 checkpoint: each day's peak across pods is one unattributed peak, the estimate unchanged", () => {
    // A version 1 checkpoint as the previous release wrote it: one memory peak per day.
    const v1 = {
      version: 1,
      workloadUid: "api-uid",
      coveredUntil: now,
      savedAt: now,
      halfLifeMs,
      containers: {
        app: {
          referenceMs: now - 2 * dayMs,
          halfLifeMs,
          days: [0, 1].map((d) => ({
            start: now - (2 - d) * dayMs,
            cpuDecayed: { "8": 24 * 60 * 2 ** d },
            cpuPlain: { "8": 24 * 60 },
            memoryPeak: 1.2e9 + d * 1e8,
            memoryPeakAt: now - (2 - d) * dayMs + 6 * 3_600_000,
          })),
          cpuDecayedOlder: {},
          memoryDecayedOlder: { "30": 0.25 },
          firstSampleMs: now - 2 * dayMs,
          lastSampleMs: now,
          sampleCount: 96,
          sampleMinutes: 2 * 24 * 60,
          memorySampleCount: 96,
          oomIds: ["x/app/1"],
        },
      },
    };
    const restored = fromCheckpoint(v1, { ...base, historyDays: 8 });
    if (!restored.ok) throw new Error(restored.reason);
    const state = restored.model.containers.get("app")!;
    expect(state.days.map((d) => d.memoryPeaks)).toEqual(
      [0, 1].map((d) => [{ pod: unattributedPod, bytes: 1.2e9 + d * 1e8, at: now - (2 - d) * dayMs + 6 * 3_600_000 }]),
    );
    expect(state.oomIds).toEqual(["x/app/1"]);
    // The histogram the version 1 model computed: the older weights plus one decayed sample per day's peak.
    const want: Record<number, number> = { 30: 0.25 };
    for (const d of [0, 1]) {
      const b = findBucket(memoryHistogramOptions, 1.2e9 + d * 1e8);
      want[b] = (want[b] ?? 0) + decayFactor(now - (2 - d) * dayMs + 6 * 3_600_000, now - 2 * dayMs, halfLifeMs);
    }
    expect(memoryDecayedHistogram(state)).toEqual(want);
    // Saved again, it is a current checkpoint; new samples of a pod go beside the unattributed peak.
    addMemorySample(state, "api-5c4b-aaaaa", now - dayMs + 7 * 3_600_000, 9e8);
    expect(state.days[1]!.memoryPeaks.map((p) => p.pod)).toEqual([unattributedPod, "api-5c4b-aaaaa"]);
    const again = JSON.parse(JSON.stringify(toCheckpoint(restored.model, new Date(now))));
    expect(Checkpoint.safeParse(again).success).toBe(true);
    expect(Checkpoint.safeParse(v1).success).toBe(false);
  });

  it("a checkpoint made under one memory peak rule is dropped under the other, never mixed", () => {
    const perDay: WorkloadModel = { ...base, historyDays: 8, containers: new Map() };
    feedBatch(batch, "ns", [perDay], resolver, now);
    const vpa: WorkloadModel = { ...base, historyDays: 8, containers: new Map(), memoryPeakRule: "VPA" };
    feedBatch(batch, "ns", [vpa], resolver, now);
    expect(vpa.containers.get("app")!.memoryPeakRule).toBe("VPA");
    const cpPerDay = JSON.parse(JSON.stringify(toCheckpoint(perDay, new Date(now))));
    const cpVpa = JSON.parse(JSON.stringify(toCheckpoint(vpa, new Date(now))));
    expect([cpPerDay.memoryPeakRule, cpVpa.memoryPeakRule]).toEqual(["PerDay", "VPA"]);
    const expectPerDay = { ...base, historyDays: 8 };
    const expectVpa = { ...base, historyDays: 8, memoryPeakRule: "VPA" as const };
    expect(fromCheckpoint(cpPerDay, expectVpa)).toEqual({
      ok: false,
      reason: "checkpoint made with memory peak rule PerDay, the profile asks for VPA",
    });
    expect(fromCheckpoint(cpVpa, expectPerDay)).toEqual({
      ok: false,
      reason: "checkpoint made with memory peak rule VPA, the profile asks for PerDay",
    });
    // Under its own rule a checkpoint comes back whole: the windows' ends and last samples included.
    const restored = fromCheckpoint(cpVpa, expectVpa);
    if (!restored.ok) throw new Error(restored.reason);
    const state = restored.model.containers.get("app")!;
    expect(state.days.map((d) => d.memoryPeaks)).toEqual(vpa.containers.get("app")!.days.map((d) => d.memoryPeaks));
    expect(state.days.flatMap((d) => d.memoryPeaks).every((p) => p.lastAt !== undefined)).toBe(true);
    // One with the rule recorded for the workload but another in a container is refused as well.
    const mixed = { ...cpVpa, containers: { app: cpVpa.containers.app, sidecar: cpPerDay.containers.app } };
    expect(fromCheckpoint(mixed, expectVpa)).toMatchObject({ ok: false });
    // A checkpoint from before the rule was recorded was made under PerDay, the only rule then.
    const { memoryPeakRule: _rule, ...unrecorded } = cpPerDay;
    const { memoryPeakRule: _containerRule, ...app } = cpPerDay.containers.app;
    const older = { ...unrecorded, containers: { app } };
    expect(fromCheckpoint(older, expectPerDay)).toMatchObject({ ok: true });
    expect(fromCheckpoint(older, expectVpa)).toMatchObject({ ok: false });
  });

  it("refuses a version 2 checkpoint in the version 1 shape, and a day with too many pods", () => {
    const m: WorkloadModel = { ...base, historyDays: 8, containers: new Map() };
    feedBatch(batch, "ns", [m], resolver, now);
    const cp = JSON.parse(JSON.stringify(toCheckpoint(m, new Date(now))));
    const day = cp.containers.app.days[0];
    const oldShape = { ...day, memoryPeak: 1e9, memoryPeaks: undefined };
    expect(
      fromCheckpoint(
        { ...cp, containers: { app: { ...cp.containers.app, days: [oldShape] } } },
        { ...base, historyDays: 8 },
      ),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/malformed/),
    });
    const crowded = {
      ...day,
      memoryPeaks: Array.from({ length: maxPodPeaksPerDay + 2 }, (_, i) => ({ pod: `p${i}`, bytes: 1, at: now })),
    };
    expect(
      fromCheckpoint(
        { ...cp, containers: { app: { ...cp.containers.app, days: [crowded] } } },
        { ...base, historyDays: 8 },
      ),
    ).toMatchObject({ ok: false });
  });
});

describe("selection", () => {
  const w = (labels: Record<string, string>, annotations: Record<string, string> = {}, namespace = "tcp-a") => ({
    metadata: { name: "x", namespace, labels, annotations },
  });
  it.each([
    ["tenant-control-planes", w({ "metapilot.io/tenant": "a", "metapilot.io/component": "etcd" }), true],
    ["tenant-control-planes", w({ "metapilot.io/tenant": "a" }), false],
    [undefined, w({}, { "metapilot.io/profile": "true" }), true],
    ["app=web", w({ app: "web" }, { "metapilot.io/profile": "false" }), false],
    ["app in (web,api),tier!=db", w({ app: "api", tier: "fe" }), true],
    ["app in (web,api),tier!=db", w({ app: "api", tier: "db" }), false],
    ["!legacy", w({}), true],
  ])("selector %s", (labelSelector, obj, want) => {
    expect(new WorkloadSelector({ labelSelector }).matches(obj)).toBe(want);
  });
  it("honours the namespace list and rejects bad selectors", () => {
    const s = new WorkloadSelector({ namespaces: ["a"], labelSelector: "app" });
    expect(s.matches(w({ app: "x" }, {}, "b"))).toBe(false);
    expect(() => parseLabelSelector("a in b")).toThrow(/invalid label selector/);
  });
  it("names profiles as DNS-1123 labels", () => {
    expect(profileNameFor("Deployment", "kube-apiserver")).toBe("kube-apiserver-deploy");
    const long = profileNameFor("StatefulSet", "x".repeat(80));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^x+-[0-9a-f]{8}$/);
  });
});

describe("profileRecommendation", () => {
  it("reads numbers, and nothing for a container without a recommendation", async () => {
    const { profileRecommendation } = await import("./index.js");
    const status = {
      confidence: 1,
      containers: [
        {
          name: "app",
          reason: "Recommended" as const,
          target: { cpu: "588m", memory: "363Mi" },
          lowerBound: { cpu: "500m", memory: "300Mi" },
          upperBound: { cpu: "662m", memory: "408Mi" },
          confidenceDays: 8,
        },
        { name: "idle", reason: "NoData" as const, sampleCount: 0 },
      ],
    };
    expect(profileRecommendation({ status }, "app")).toMatchObject({
      target: { cpu: 0.588, memory: 363 * 2 ** 20 },
      confidenceDays: 8,
    });
    expect(profileRecommendation({ status }, "idle")).toBeUndefined();
    expect(profileRecommendation({}, "app")).toBeUndefined();
  });
});

describe("ModelStore across namespaces", () => {
  const now = Date.UTC(2026, 0, 9);
  const etcdResolver = new OwnerResolver({
    pod: () => undefined,
    replicaSet: () => undefined,
    replicaSetNames: () => [],
    statefulSetNames: () => ["etcd"],
  });
  const rig = (namespaces: number, maxNamespacesPerRead: number) => {
    const reads: Array<{ namespaces: readonly string[]; start: number; step: number }> = [];
    const source_ = { down: false };
    const batch = (start: number, end: number, step: number): UsageBatch => {
      const points: Array<[number, number]> = [];
      for (let t = Math.ceil(start / (step * 1000)) * step * 1000; t <= end; t += step * 1000) points.push([t, 0.5]);
      return {
        source: "fake",
        stepSeconds: step,
        startMs: start,
        endMs: end,
        cpu: [{ pod: "etcd-0", container: "etcd", points }],
        memory: [],
      };
    };
    const source: UsageSource = {
      name: "fake",
      history: true,
      async fetch(ns, start, end, step) {
        reads.push({ namespaces: [ns], start, step });
        if (source_.down) throw new Error("Prometheus unreachable");
        return batch(start, end, step);
      },
      async fetchMany(list, start, end, step) {
        reads.push({ namespaces: list, start, step });
        await new Promise((r) => setTimeout(r, 5));
        if (source_.down) throw new Error("Prometheus unreachable");
        return new Map(list.map((ns) => [ns, batch(start, end, step)]));
      },
    };
    let clock = now;
    const store = new ModelStore({
      source,
      resolver: etcdResolver,
      now: () => new Date(clock),
      bootstrapGatherMs: 10,
      maxNamespacesPerRead,
    });
    const names = Array.from({ length: namespaces }, (_, i) => `ns-${String(i).padStart(2, "0")}`);
    for (const ns of names)
      store.set({
        namespace: ns,
        ref: { kind: "StatefulSet", name: "etcd" },
        uid: `${ns}-etcd`,
        containers: new Map(),
        halfLifeMs: dayMs,
        historyDays: 8,
      });
    return { store, reads, names, source: source_, tick: (ms: number) => (clock += ms) };
  };

  it("reads a fleet of namespaces in groups, however their refreshes interleave", async () => {
    const { store, reads, names } = rig(45, 10);
    // Four workers, as the controller has: each takes the next namespace when its refresh returns.
    const queue = [...names];
    const worker = async () => {
      for (let ns = queue.shift(); ns; ns = queue.shift()) await store.refresh(ns);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(reads.every((r) => r.namespaces.length <= 10)).toBe(true);
    expect(reads.length).toBeLessThanOrEqual(8); // 45 namespaces, 10 per read: 5 when packed, never 45
    // Every namespace read exactly once, and every model fed from it.
    expect(reads.flatMap((r) => r.namespaces).sort()).toEqual(names);
    for (const ns of names) {
      const m = store.get(ns, { kind: "StatefulSet", name: "etcd" });
      expect(m?.coveredUntilMs).toBe(now);
      expect(m?.containers.get("etcd")?.sampleCount).toBe(8 * 288 + 1);
    }
  });

  it("reads everything at once when all refreshes start together", async () => {
    const { store, reads, names } = rig(30, 10);
    await Promise.all(names.map((ns) => store.refresh(ns)));
    expect(reads.length).toBe(3);
    expect(reads.flatMap((r) => r.namespaces).sort()).toEqual(names);
  });

  it("never mixes a history read with a live one", async () => {
    const { store, reads, names, tick } = rig(4, 10);
    await Promise.all(names.map((ns) => store.refresh(ns)));
    tick(5 * 60_000);
    // A new workload in ns-00 needs its history; the others only the last five minutes.
    store.set({
      namespace: "ns-00",
      ref: { kind: "StatefulSet", name: "etcd-new" },
      uid: "new",
      containers: new Map(),
      halfLifeMs: dayMs,
      historyDays: 8,
    });
    store.delete("ns-00", { kind: "StatefulSet", name: "etcd" });
    await store.refresh("ns-00");
    expect(reads.at(-1)).toMatchObject({ namespaces: ["ns-00"], step: 300 });
    await store.refresh("ns-01");
    expect(reads.at(-1)).toMatchObject({ namespaces: ["ns-01", "ns-02", "ns-03"], step: 60 });
  });

  it("does not repeat a failed read for its namespaces until the backoff ends, then reads again", async () => {
    const { store, reads, names, source, tick } = rig(6, 3);
    source.down = true;
    // Every profile of six namespaces reconciled while Prometheus is unreachable: two failed reads of three
    // namespaces each, not one per profile, and each profile gets the error.
    const results = await Promise.allSettled([...names, ...names, ...names].map((ns) => store.refresh(ns)));
    expect(results.every((r) => r.status === "rejected" && /unreachable/.test(String(r.reason)))).toBe(true);
    expect(reads.length).toBe(2);
    expect(reads.flatMap((r) => r.namespaces).sort()).toEqual(names);
    tick(10_000);
    await expect(store.refresh("ns-00")).rejects.toThrow(/unreachable/);
    expect(reads.length).toBe(2); // within the 30 s: the same error, at once
    source.down = false;
    tick(21_000);
    await store.refresh("ns-00");
    expect(reads.length).toBe(3);
    expect(store.stats).toMatchObject({ failedReads: 2 });
    // Recovered: the namespaces read again as usual.
    const after = reads.length;
    await Promise.all(names.map((ns) => store.refresh(ns)));
    expect(reads.length - after).toBeLessThanOrEqual(2);
  });
});
