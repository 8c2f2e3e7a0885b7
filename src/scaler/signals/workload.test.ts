import { describe, expect, it } from "vitest";
import type { WorkloadRef } from "../types.js";
import { emptyUsageSnapshot } from "./prometheus.js";
import { workloadSignals, worstPod } from "./workload.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number) => ({ value, observedAt: now, source: "prometheus" });
const pods = [{ metadata: { name: "a-1" } }, { metadata: { name: "a-2" } }];
const ref = (component: WorkloadRef["component"]): WorkloadRef => ({
  kind: "Deployment",
  name: component,
  namespace: "tcp-a",
  tenant: "a",
  component,
  container: component,
  ownedByTenantControlPlane: false,
});

describe("worstPod", () => {
  it("is the largest series among the workload's pods, and of its container only", () => {
    const series = new Map([
      ["tcp-a/a-1/etcd", m(1)],
      ["tcp-a/a-2/etcd", m(3)],
      ["tcp-a/a-2/sidecar", m(9)],
      ["tcp-b/a-1/etcd", m(7)],
    ]);
    expect(worstPod(series, "tcp-a", pods, "etcd")?.value).toBe(3);
    expect(worstPod(series, "tcp-a", [], "etcd")).toBeUndefined();
  });
});

describe("workloadSignals", () => {
  it("says why there is no usage without Prometheus, and still reads OOM kills and probes", () => {
    const probe = { failuresWithin: () => m(4) };
    const s = workloadSignals(ref("kube-apiserver"), pods, { probe }, 60_000, now);
    expect(s).toEqual({ oom: [], probeFailures: m(4), unavailableReason: "no Prometheus configured" });
  });

  it("reads usage from the snapshot, 429s and probes for the apiserver only, and the poll's error", () => {
    const snapshot = emptyUsageSnapshot();
    snapshot.cpu.set("tcp-a/a-1/etcd", m(0.5));
    snapshot.memory.set("tcp-a/a-2/etcd", m(100));
    snapshot.apiserver429.set("tcp-a", m(2));
    snapshot.nodes.set("tcp-a", m(30));
    const probe = { failuresWithin: () => m(4) };
    const s = workloadSignals(
      ref("etcd"),
      pods,
      { prometheus: { snapshot, lastError: "timeout" }, probe },
      60_000,
      now,
    );
    expect(s).toEqual({
      oom: [],
      cpuUsage: m(0.5),
      memoryWorkingSet: m(100),
      cpuThrottledRatio: undefined,
      clusterNodes: m(30),
      storedObjects: undefined,
      apiserverWatchers: undefined,
      etcdDatabaseBytes: undefined,
      unavailableReason: "timeout",
    });
  });

  it("reads the tenant apiserver's load: the ladder's keys for every component, saturation for the apiserver", () => {
    const snapshot = emptyUsageSnapshot();
    snapshot.watchers.set("tcp-a", m(300));
    snapshot.etcdDbSize.set("tcp-a", m(2 ** 30));
    snapshot.apfSeats.set("tcp-a", m(0.9));
    snapshot.apfRejected.set("tcp-a", m(3));
    snapshot.latencyP99.set("tcp-a/LIST/cluster", m(12));
    snapshot.latencyP99.set("tcp-b/LIST/cluster", m(40));
    const etcd = workloadSignals(ref("etcd"), pods, { prometheus: { snapshot } }, 60_000, now);
    expect(etcd).toMatchObject({ apiserverWatchers: m(300), etcdDatabaseBytes: m(2 ** 30) });
    expect(etcd.apfSeatsRatio).toBeUndefined();
    const apiserver = workloadSignals(ref("kube-apiserver"), pods, { prometheus: { snapshot } }, 60_000, now);
    expect(apiserver).toMatchObject({
      apfSeatsRatio: m(0.9),
      apfRejectedRate: m(3),
      requestLatencyP99: { "LIST/cluster": m(12) },
    });
  });
});
