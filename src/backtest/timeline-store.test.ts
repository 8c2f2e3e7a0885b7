import { describe, expect, it } from "vitest";
import { TimelineStore, type ActedFields } from "./timeline-store.js";

/** An entry at `at` (ms), a rolling change unless `rolling` says otherwise. */
type Entry = ActedFields & { at: number; rolling: boolean };
const entry = (at: number, over: Partial<Entry> = {}): Entry => ({
  at,
  action: "change",
  direction: "Up",
  category: "CPUSaturation",
  scaler: "cpu",
  summary: `summary at ${at}`,
  before: { replicas: 1, cpuRequest: 0.5, memoryRequest: 512 * 2 ** 20, memoryLimit: 2 ** 30 },
  after: { replicas: 1, cpuRequest: 0.817, memoryRequest: 512 * 2 ** 20, memoryLimit: 2 ** 30 },
  rolling: true,
  ...over,
});

const add = (store: TimelineStore, workload: number, e: Entry) => store.add(workload, e.at, e.rolling, e);

describe("TimelineStore", () => {
  it("gives back every entry as it was added, by tenant in the order they were added, each in time order", () => {
    const store = new TimelineStore();
    const a = store.addWorkload("t-a", "Deployment/kube-apiserver", "kube-apiserver");
    add(store, a, entry(3_000, { summary: "third → of a (×1.2)" }));
    add(store, a, entry(1_000));
    // A tenant without any entry is still listed, as the report lists every governed tenant.
    store.addWorkload("t-empty", "StatefulSet/etcd", "etcd");
    const b = store.addWorkload("t-b", "StatefulSet/etcd", "etcd");
    add(
      store,
      b,
      entry(2_000, {
        action: "blocked",
        direction: "Down",
        category: "OOMKilled",
        scaler: "oom",
        blockedBy: "already at maxAllowed: raise the ClusterScaler's maxAllowed",
        before: { replicas: 3, cpuLimit: 2 },
        after: { replicas: 3, cpuLimit: 2, cpuRequest: 1.5 },
      }),
    );
    // Equal times keep the order they were added in (the workloads' order).
    const a2 = store.addWorkload("t-a", "Deployment/kube-scheduler", "kube-scheduler");
    add(store, a2, entry(1_000, { summary: "scheduler at the same time" }));
    const timeline = store.timeline();
    expect(Object.keys(timeline)).toEqual(["t-a", "t-empty", "t-b"]);
    expect(timeline["t-empty"]).toEqual([]);
    expect(timeline["t-a"]?.map((e) => [e.at, e.workload, e.summary])).toEqual([
      ["1970-01-01T00:00:01.000Z", "Deployment/kube-apiserver", "summary at 1000"],
      ["1970-01-01T00:00:01.000Z", "Deployment/kube-scheduler", "scheduler at the same time"],
      ["1970-01-01T00:00:03.000Z", "Deployment/kube-apiserver", "third → of a (×1.2)"],
    ]);
    expect(timeline["t-a"]?.[0]).toStrictEqual({
      at: "1970-01-01T00:00:01.000Z",
      workload: "Deployment/kube-apiserver",
      component: "kube-apiserver",
      action: "change",
      direction: "Up",
      category: "CPUSaturation",
      scaler: "cpu",
      summary: "summary at 1000",
      before: { replicas: 1, cpuRequest: 0.5, memoryRequest: 512 * 2 ** 20, memoryLimit: 2 ** 30 },
      after: { replicas: 1, cpuRequest: 0.817, memoryRequest: 512 * 2 ** 20, memoryLimit: 2 ** 30 },
    });
    expect(timeline["t-b"]).toStrictEqual([
      {
        at: "1970-01-01T00:00:02.000Z",
        workload: "StatefulSet/etcd",
        component: "etcd",
        action: "blocked",
        direction: "Down",
        category: "OOMKilled",
        scaler: "oom",
        summary: "summary at 2000",
        // The fields in Size's order, whatever order they were given in; none that the size does not have.
        before: { replicas: 3, cpuLimit: 2 },
        after: { replicas: 3, cpuRequest: 1.5, cpuLimit: 2 },
        blockedBy: "already at maxAllowed: raise the ClusterScaler's maxAllowed",
      },
    ]);
  });

  it("keeps any summary exactly, lone surrogates and summaries longer than a buffer included", () => {
    const store = new TimelineStore();
    const w = store.addWorkload("t", "Deployment/x", "kube-apiserver");
    const summaries = ["a\uD800b", "\uDC00", "ok 😀", "x".repeat(9 * 1024 * 1024), "é".repeat(3_000_000), ""];
    summaries.forEach((summary, i) => add(store, w, entry(i, { summary })));
    expect(store.timeline()["t"]?.map((e) => e.summary)).toEqual(summaries);
  });

  it("grows past its first columns without losing an entry", () => {
    const store = new TimelineStore();
    const w = store.addWorkload("t", "Deployment/x", "kube-apiserver");
    const n = 5_000;
    for (let i = 0; i < n; i++)
      add(store, w, entry(n - i, { before: { replicas: i }, after: { replicas: i + 1, memoryLimit: i * 1.5 } }));
    const entries = store.timeline()["t"] ?? [];
    expect(entries).toHaveLength(n);
    entries.forEach((e, k) => {
      const i = n - 1 - k;
      expect(e.summary).toBe(`summary at ${n - i}`);
      expect(e.before).toStrictEqual({ replicas: i });
      expect(e.after).toStrictEqual({ replicas: i + 1, memoryLimit: i * 1.5 });
    });
  });

  it("gives the changes that were made, in the order added, with the budgets' reasons", () => {
    const store = new TimelineStore();
    const a = store.addWorkload("t-a", "Deployment/x", "kube-apiserver");
    const b = store.addWorkload("t-b", "Deployment/y", "kube-apiserver");
    add(store, a, entry(5, { category: "OOMKilled", rolling: true }));
    add(store, b, entry(1, { direction: "Down", category: "Underutilized", rolling: false }));
    add(store, b, entry(2, { action: "blocked", category: "OOMKilled" }));
    add(store, a, entry(3, { direction: "Down", rolling: true }));
    expect(store.changes()).toEqual([
      { at: 5, tenant: "t-a", oom: true, reasons: ["ScaleUp", "RestartRequiring"] },
      { at: 1, tenant: "t-b", oom: false, reasons: ["ScaleDown"] },
      { at: 3, tenant: "t-a", oom: false, reasons: ["ScaleDown", "RestartRequiring"] },
    ]);
    // No OOM category among the entries: none is an OOM change (and looking does not add one).
    const other = new TimelineStore();
    add(other, other.addWorkload("t", "Deployment/x", "etcd"), entry(1, { rolling: false }));
    expect(other.changes()).toEqual([{ at: 1, tenant: "t", oom: false, reasons: ["ScaleUp"] }]);
  });
});
