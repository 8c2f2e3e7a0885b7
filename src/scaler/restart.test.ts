import { describe, expect, it } from "vitest";
import { pathAtDecision } from "./apply-path.js";
import { qosOf, restartCause, restartRequiring, type RestartFacts, type RestartPod } from "./restart.js";
import type { Size } from "./types.js";

const before: Size = { replicas: 1, cpuRequest: 1, memoryRequest: 1024, memoryLimit: 2048 };
const bigger: Size = { ...before, cpuRequest: 2 };
const resizable: RestartPod = {
  status: {
    phase: "Running",
    qosClass: "Burstable",
    containerStatuses: [{ name: "kube-apiserver", ready: true, resources: { requests: { cpu: "1" } } }],
  },
};
const facts = (o: Partial<RestartFacts> = {}): RestartFacts => ({
  ownedByTenantControlPlane: true,
  container: "kube-apiserver",
  pods: [resizable],
  ...o,
});

describe("restartRequiring", () => {
  it.each<[string, Partial<RestartFacts>, Size, boolean]>([
    ["a TenantControlPlane's pods resized in place", {}, bigger, false],
    ["a change of replicas alone", { ownedByTenantControlPlane: false }, { ...before, replicas: 3 }, false],
    ["a workload of its own (its template rolls)", { ownedByTenantControlPlane: false }, bigger, true],
    ["spec.resourceUpdates.strategy Restart", { strategy: "Restart" }, bigger, true],
    [
      "derivedSettings Immediately: the apiserver's CPU moves its in-flight limits",
      { derivedSettings: "Immediately", component: "kube-apiserver" },
      bigger,
      true,
    ],
    [
      "derivedSettings Immediately: a memory limit moves GOMEMLIMIT",
      { derivedSettings: "Immediately", component: "etcd" },
      { ...before, memoryLimit: 4096 },
      true,
    ],
    [
      "derivedSettings Immediately: the scheduler's CPU moves nothing derived",
      { derivedSettings: "Immediately", component: "kube-scheduler" },
      bigger,
      false,
    ],
    [
      "derivedSettings WithNextRestart: batched, so resized in place",
      { derivedSettings: "WithNextRestart", component: "kube-apiserver" },
      { ...before, cpuRequest: 2, memoryLimit: 4096 },
      false,
    ],
    [
      "a kubelet that reports no container resources (kwok, < 1.33)",
      { pods: [{ status: { phase: "Running", containerStatuses: [{ name: "kube-apiserver", ready: true }] } }] },
      bigger,
      true,
    ],
    [
      "a container not ready (an OOM loop)",
      {
        pods: [
          {
            status: {
              ...resizable.status,
              containerStatuses: [{ name: "kube-apiserver", ready: false, resources: {} }],
            },
          },
        ],
      },
      bigger,
      true,
    ],
    ["a new QoS class", {}, { ...before, cpuLimit: 1, memoryRequest: 2048 }, true],
    ["no running pod", { pods: [{ status: { phase: "Pending" } }] }, bigger, false],
    [
      "a pod being deleted",
      { pods: [{ metadata: { deletionTimestamp: "2026-12-06T00:00:00Z" }, status: { phase: "Running" } }] },
      bigger,
      false,
    ],
  ])("%s: %s", (_, f, after, want) => expect(restartRequiring(facts(f), before, after)).toBe(want));

  it("computes the QoS class as the kubelet does", () => {
    expect(qosOf({ replicas: 1 })).toBe("BestEffort");
    expect(qosOf({ replicas: 1, cpuLimit: 1, memoryLimit: 5 })).toBe("Guaranteed");
    expect(qosOf({ replicas: 1, cpuRequest: 1, cpuLimit: 1, memoryRequest: 4, memoryLimit: 5 })).toBe("Burstable");
  });

  it("is the one rule behind both the budgets' RestartRequiring and a dry-run decision's predicted path", () => {
    const now = Date.parse("2026-12-06T07:30:00Z");
    const notReady: RestartPod = {
      status: { ...resizable.status, containerStatuses: [{ name: "kube-apiserver", ready: false, resources: {} }] },
    };
    expect(restartCause(facts({ pods: [notReady] }), before, bigger)).toMatchObject({ reason: "NotReady" });
    expect(pathAtDecision(facts({ pods: [notReady] }), before, bigger, true, now)).toMatchObject({
      method: "Rolling",
      reason: "NotReady",
      predicted: true,
    });
    // Live, the operator reports a TenantControlPlane's path; only a workload's own template change is known now.
    expect(pathAtDecision(facts({ pods: [notReady] }), before, bigger, false, now)).toBeUndefined();
    expect(pathAtDecision(facts({ ownedByTenantControlPlane: false }), before, bigger, false, now)).toMatchObject({
      reason: "TemplateChange",
    });
    // Derived settings count for the budget, but are not predicted: a user's own value may keep the pods.
    const derived = facts({ derivedSettings: "Immediately", component: "kube-apiserver" });
    expect(restartCause(derived, before, bigger)).toMatchObject({ reason: "DerivedSettings", certain: false });
    expect(restartRequiring(derived, before, bigger)).toBe(true);
    expect(pathAtDecision(derived, before, bigger, true, now)).toBeUndefined();
  });
});
