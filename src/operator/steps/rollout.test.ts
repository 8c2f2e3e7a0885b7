import { describe, expect, it } from "vitest";
import { rolledOut } from "./rollout.js";
import type { WorkloadStatus } from "./step.js";

type Status = NonNullable<WorkloadStatus["status"]>;
const workload = (status: Status, replicas = 3, generation = 2): WorkloadStatus => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "kube-apiserver", namespace: "tenant-a", generation },
  spec: { replicas },
  status: { observedGeneration: generation, ...status },
});
const done: Status = { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };

describe("rolledOut", () => {
  it("is complete when every wanted replica is updated and, per check, available, ready or just there", () => {
    for (const pods of ["available", "ready", "any"] as const)
      expect(rolledOut("Deployment", workload(done), { pods })).toBe(true);
  });

  it("is not complete before the controller has seen the latest generation", () => {
    const stale = workload({ ...done, observedGeneration: 1 });
    for (const pods of ["available", "ready", "any"] as const)
      expect(rolledOut("Deployment", stale, { pods })).toBe(false);
  });

  it("is not complete while a replica still runs the old template", () => {
    for (const pods of ["available", "ready", "any"] as const)
      expect(rolledOut("Deployment", workload({ ...done, updatedReplicas: 2 }), { pods })).toBe(false);
  });

  it("asks availability only of a component's readiness; a pod in an OOM loop does not hold a resize back", () => {
    const looping = workload({ ...done, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1 });
    expect(rolledOut("Deployment", looping, { pods: "available" })).toBe(false);
    expect(rolledOut("Deployment", looping, { pods: "ready" })).toBe(false);
    expect(rolledOut("Deployment", looping, { pods: "any" })).toBe(true);
  });

  it("counts an extra replica of a surge as a rollout under way, except for etcd's ready members", () => {
    const surge = workload({ ...done, replicas: 4 });
    expect(rolledOut("Deployment", surge, { pods: "available" })).toBe(false);
    expect(rolledOut("Deployment", surge, { pods: "any" })).toBe(false);
    expect(rolledOut("Deployment", surge, { pods: "ready" })).toBe(true);
  });

  it("waits for a StatefulSet's current revision to be its update revision", () => {
    const rolling = workload({ ...done, currentRevision: "etcd-1", updateRevision: "etcd-2" });
    expect(rolledOut("StatefulSet", rolling, { pods: "ready" })).toBe(false);
    expect(rolledOut("Deployment", rolling, { pods: "ready" })).toBe(true);
    expect(
      rolledOut("StatefulSet", workload({ ...done, currentRevision: "etcd-2", updateRevision: "etcd-2" }), {
        pods: "ready",
      }),
    ).toBe(true);
  });

  it("takes the wanted count from the caller when given (etcd's from the TenantControlPlane spec)", () => {
    const scaled = workload(done, 3);
    expect(rolledOut("StatefulSet", scaled, { want: 5, pods: "ready" })).toBe(false);
    expect(rolledOut("StatefulSet", workload(done, 1), { pods: "any" })).toBe(false);
  });
});
