import { describe, expect, it } from "vitest";
import { newContainerState } from "../model/container.js";
import { memoryWindowPeaks } from "../model/container.js";
import type { WorkloadModel } from "../store.js";
import {
  applyOomKills,
  oomKillsOfDecision,
  oomKillsOfPod,
  oomKillsOfWorkload,
  type OomDecision,
  type OomKill,
} from "./ooms.js";
import { OwnerResolver } from "./owners.js";

const MiB = 2 ** 20;
const bump = { bumpBytes: 100 * MiB, bumpRatio: 1.2 };
const at = "2026-12-01T10:00:00Z";

const pod = (name: string, reason = "OOMKilled", finishedAt: string | null = at) => ({
  metadata: { name, namespace: "ns", uid: `uid-${name}` },
  spec: {
    containers: [{ name: "app", resources: { requests: { memory: "512Mi" }, limits: { memory: "1Gi" } } }],
  },
  status: {
    containerStatuses: [{ name: "app", lastState: { terminated: { reason, finishedAt: finishedAt ?? undefined } } }],
  },
});

const model = (): WorkloadModel => ({
  namespace: "ns",
  ref: { kind: "Deployment", name: "web" },
  uid: "w",
  containers: new Map(),
  halfLifeMs: 86_400_000,
  historyDays: 8,
});

describe("oomKillsOfPod", () => {
  it("reads lastState OOMKilled with the limit and request of the container", () => {
    expect(oomKillsOfPod(pod("web-1"))).toEqual([
      {
        id: `uid-web-1/app/${at}`,
        pod: "web-1",
        container: "app",
        at: Date.parse(at),
        limitBytes: 1024 * MiB,
        requestBytes: 512 * MiB,
        source: "pod-status",
      },
    ]);
  });

  it.each([
    ["another reason", pod("p", "Error")],
    ["no finishedAt", pod("p", "OOMKilled", null)],
    ["an unparsable time", pod("p", "OOMKilled", "yesterday")],
  ])("skips %s", (_name, p) => expect(oomKillsOfPod(p)).toEqual([]));
});

describe("oomKillsOfDecision", () => {
  const decision = (over: Record<string, unknown> = {}): OomDecision => ({
    metadata: { name: "d1", namespace: "tcp-a" },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-a" },
      rootCause: {
        category: "OOMKilled",
        evidence: [
          {
            signal: "container_oom_killed",
            value: "kube-apiserver-abc/kube-apiserver",
            threshold: "limit 2048Mi",
            observedAt: at,
          },
          { signal: "container_oom_killed", value: "kube-apiserver-def/kube-apiserver", observedAt: at },
          { signal: "container_oom_killed", value: "no-time/kube-apiserver" },
          { signal: "memory_working_set", value: "1.9Gi", observedAt: at },
        ],
      },
      before: { resources: { requests: { memory: "1Gi" }, limits: { memory: "3Gi" } } },
      ...over,
    },
  });

  it("reads the kills in the scaler's evidence; the limit from the threshold, else from before", () => {
    const found = oomKillsOfDecision(decision());
    expect(found?.target).toEqual({ kind: "Deployment", name: "kube-apiserver" });
    expect(found?.namespace).toBe("tcp-a");
    expect(found?.kills.map((k) => [k.pod, k.container, k.limitBytes, k.requestBytes, k.source])).toEqual([
      ["kube-apiserver-abc", "kube-apiserver", 2048 * MiB, 1024 * MiB, "scaling-decision"],
      ["kube-apiserver-def", "kube-apiserver", 3072 * MiB, 1024 * MiB, "scaling-decision"],
    ]);
  });

  it("ignores other root causes and targets in another namespace", () => {
    expect(
      oomKillsOfDecision(decision({ rootCause: { category: "Throttling", evidence: [] } }) as never),
    ).toBeUndefined();
    expect(
      oomKillsOfDecision(
        decision({ target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-b" } }) as never,
      ),
    ).toBeUndefined();
  });
});

describe("applyOomKills", () => {
  const kill = (o: Partial<OomKill> = {}): OomKill => ({
    id: "k1",
    pod: "web-1",
    container: "app",
    at: Date.parse(at),
    limitBytes: 1024 * MiB,
    source: "pod-status",
    ...o,
  });

  it("adds the bumped limit as the pod's peak of the day, once per id", () => {
    const m = model();
    const now = Date.parse(at) + 3_600_000;
    expect(applyOomKills(m, [kill()], bump, now)).toHaveLength(1);
    expect(applyOomKills(m, [kill()], bump, now)).toHaveLength(0);
    // max(1 GiB + 100 MiB, 1 GiB × 1.2)
    expect(memoryWindowPeaks(m.containers.get("app")!)).toEqual([1.2 * 1024 * MiB]);
  });

  it("counts the same kill from pod status and from a decision once", () => {
    const m = model();
    const counted = applyOomKills(m, [kill(), kill({ id: "other-id", source: "scaling-decision" })], bump, Date.now());
    expect(counted.map((k) => k.source)).toEqual(["pod-status"]);
  });

  it("without a limit, uses the larger of the request and the pod's peak that day", () => {
    const m = model();
    const state = newContainerState(m.halfLifeMs, Date.parse(at));
    m.containers.set("app", state);
    applyOomKills(m, [kill({ limitBytes: undefined, requestBytes: 300 * MiB })], bump, Date.now());
    expect(memoryWindowPeaks(state)).toEqual([400 * MiB]);
  });

  it("skips a kill with no limit, request or peak", () => {
    expect(applyOomKills(model(), [kill({ limitBytes: undefined })], bump, Date.now())).toEqual([]);
  });
});

describe("oomKillsOfWorkload", () => {
  it("keeps the pods whose owner chain leads to the workload", () => {
    const resolver = new OwnerResolver({
      pod: () => undefined,
      replicaSet: () => undefined,
      replicaSetNames: () => ["web-5d9c7", "api-77f8c"],
      statefulSetNames: () => [],
    });
    const kills = oomKillsOfWorkload(
      [pod("web-5d9c7-abcde"), pod("api-77f8c-fghij")],
      "ns",
      { kind: "Deployment", name: "web" },
      resolver,
    );
    expect(kills.map((k) => k.pod)).toEqual(["web-5d9c7-abcde"]);
  });
});
