import { describe, expect, it } from "vitest";
import { oomEventsOf, type PodLike } from "./oom.js";

const pod = (ownerReferences?: Array<{ controller?: boolean }>): PodLike => ({
  metadata: { name: "kube-apiserver-abc", uid: "u1", ownerReferences },
  spec: { containers: [{ name: "kube-apiserver", resources: { limits: { memory: "150Mi" } } }] },
  status: {
    containerStatuses: [
      {
        name: "kube-apiserver",
        restartCount: 2,
        lastState: { terminated: { reason: "OOMKilled", finishedAt: "2026-12-05T17:55:36Z" } },
      },
    ],
  },
});

describe("oomEventsOf", () => {
  it("reads the kill, its limit and time from the pod's status, with a stable id", () => {
    expect(oomEventsOf(pod())).toEqual([
      {
        id: "u1/kube-apiserver/2",
        pod: "kube-apiserver-abc",
        container: "kube-apiserver",
        finishedAt: Date.parse("2026-12-05T17:55:36Z"),
        limitBytes: 150 * 2 ** 20,
        replaceable: false,
      },
    ]);
  });

  it("marks a pod with a controller (its workload's rollout replaces it) as replaceable, and no other", () => {
    expect(oomEventsOf(pod([{ controller: true }]))[0]?.replaceable).toBe(true);
    expect(oomEventsOf(pod([{ controller: false }]))[0]?.replaceable).toBe(false);
    expect(oomEventsOf(pod([]))[0]?.replaceable).toBe(false);
  });
});
