// The fleet model's gathering without a cluster: which (ClusterScaler, component) pairs are fitted, which
// candidates become samples, and that a fleet without fleet-regression asks for no candidate at all.
import { describe, expect, it } from "vitest";
import { parseClusterScaler, type ClusterScaler } from "../api/index.js";
import { linearFleet } from "./estimators/fleet-testing.js";
import { fleetModelOf, wantedFleetFits, type FleetCandidate, type FleetSnapshot } from "./fleet-model.js";
import { MiB } from "./quantity.js";
import type { ComponentName, Measurement } from "./types.js";

const now = Date.parse("2026-12-06T06:00:00Z");
const staleAfterMs = 5 * 60_000;

function clusterScaler(name: string, apiserverEstimators: string[]): ClusterScaler {
  const r = parseClusterScaler({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      components: [
        { name: "kube-apiserver", scalers: [{ name: "cluster-size" }], estimators: apiserverEstimators },
        { name: "etcd", scalers: [{ name: "oom" }], estimators: ["oom-memory"] },
      ],
      fleetRegression: { minTenants: 10, minR2: 0.7 },
    },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

const at = (value: number, ageMs = 1000): Measurement => ({ value, observedAt: now - ageMs, source: "prometheus" });

/** A fleet of `count` tenants whose apiserver CPU is 0.1 + 0.002·nodes, in the snapshot and as candidates. */
function fleet(count: number, clusterScalerName: string, component: ComponentName = "kube-apiserver") {
  const snapshot = {
    nodes: new Map<string, Measurement>(),
    objects: new Map<string, Measurement>(),
    cpu: new Map<string, Measurement>(),
    memory: new Map<string, Measurement>(),
  } satisfies FleetSnapshot;
  const candidates: FleetCandidate[] = [];
  for (const s of linearFleet(count, (n) => 0.1 + 0.002 * n, 0.05, 7)) {
    const namespace = `tenant-${s.tenant}`;
    snapshot.nodes.set(namespace, at(s.nodes));
    snapshot.cpu.set(`${namespace}/pod/main`, at(s.usage));
    snapshot.memory.set(`${namespace}/pod/main`, at(256 * MiB + 3 * MiB * s.nodes));
    candidates.push({
      clusterScaler: clusterScalerName,
      component,
      tenant: s.tenant,
      namespace,
      worst: (series) => series.get(`${namespace}/pod/main`),
    });
  }
  return { snapshot, candidates };
}

describe("fleetModelOf", () => {
  it("fits only the (ClusterScaler, component) pairs that list fleet-regression", () => {
    const scalers = [clusterScaler("a", ["fleet-regression"]), clusterScaler("b", ["cluster-size"])];
    expect(wantedFleetFits(scalers)).toEqual([{ clusterScaler: "a", component: "kube-apiserver" }]);
    const { snapshot, candidates } = fleet(30, "a");
    const asked: string[] = [];
    const model = fleetModelOf(
      scalers,
      (wanted) => {
        asked.push(String(wanted("a", "kube-apiserver")), String(wanted("a", "etcd")), String(wanted("b", "etcd")));
        return candidates;
      },
      snapshot,
      now,
      staleAfterMs,
    );
    expect(asked).toEqual(["true", "false", "false"]);
    expect([...model.keys()]).toEqual(["a"]);
    const fits = model.get("a")?.get("kube-apiserver");
    expect(fits?.cpu.ok).toBe(true);
    if (!fits?.cpu.ok) return;
    expect(fits.cpu.fit.samples).toBe(30);
    expect(fits.cpu.fit.coefficients[1]).toBeCloseTo(0.002, 3);
  });

  it("leaves out a candidate of a pair that is not wanted, even when it is offered", () => {
    const scalers = [clusterScaler("a", ["fleet-regression"])];
    const wantedOnes = fleet(12, "a");
    const etcd = fleet(12, "a", "etcd").candidates;
    const model = fleetModelOf(
      scalers,
      () => [...wantedOnes.candidates, ...etcd],
      wantedOnes.snapshot,
      now,
      staleAfterMs,
    );
    expect(model.get("a")?.has("etcd")).toBe(false);
    const cpu = model.get("a")?.get("kube-apiserver")?.cpu;
    expect(cpu?.ok ? cpu.fit.samples : cpu?.samples).toBe(12);
  });

  it("does not ask for candidates when no fit is wanted or no poll has answered, and says why each fit is missing", () => {
    let asked = 0;
    const candidates = () => {
      asked++;
      return [];
    };
    expect(fleetModelOf([clusterScaler("b", ["cluster-size"])], candidates, fleet(1, "b").snapshot, now, 1).size).toBe(
      0,
    );
    const noPoll = fleetModelOf([clusterScaler("a", ["fleet-regression"])], candidates, undefined, now, staleAfterMs);
    expect(asked).toBe(0);
    const cpu = noPoll.get("a")?.get("kube-apiserver")?.cpu;
    expect(cpu).toMatchObject({ ok: false, reason: "InsufficientTenants", samples: 0 });
  });

  it("takes no stale reading as a sample", () => {
    const { snapshot, candidates } = fleet(20, "a");
    for (const [ns, m] of [...snapshot.nodes].slice(0, 15))
      snapshot.nodes.set(ns, { ...m, observedAt: now - 10 * 60_000 });
    const model = fleetModelOf(
      [clusterScaler("a", ["fleet-regression"])],
      () => candidates,
      snapshot,
      now,
      staleAfterMs,
    );
    const cpu = model.get("a")?.get("kube-apiserver")?.cpu;
    expect(cpu).toMatchObject({ ok: false, reason: "InsufficientTenants", samples: 5 });
  });
});
