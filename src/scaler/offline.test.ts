// The engine offline on a recorded sequence (offline.fixture.json: an OOM kill, sustained CPU, Prometheus away,
// then an idle stretch): the decisions it gives, and that the controller's own reconciler, fed the same rounds
// through its caches and a Prometheus snapshot, makes the same ones.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { resourcesOf } from "./actuator.js";
import { decideOffline, type RecordedInputs } from "./offline.js";
import { MiB } from "./quantity.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { emptyUsageSnapshot, type PrometheusSignals } from "./signals/prometheus.js";
import { decisionsClient, storeCaches } from "./testing.js";
import type { Measurement, Size } from "./types.js";
import { sizeBlock } from "./decisions.js";
import { componentLabel, tenantLabel } from "../api/labels.js";

const recorded = JSON.parse(readFileSync(new URL("./offline.fixture.json", import.meta.url), "utf8")) as RecordedInputs;

const changes = (decisions: ReturnType<typeof decideOffline>) =>
  decisions.flatMap((d) => (d.plan.action === "none" ? [] : [{ at: d.at, ...d.plan }]));

describe("decideOffline", () => {
  const decisions = decideOffline(recorded);

  it("gives one plan per recorded round", () => {
    expect(decisions.map((d) => d.at)).toEqual(recorded.rounds.map((r) => r.at));
  });

  it("answers the OOM kill once, at once; CPU after its window; down only after the stabilization window", () => {
    const made = changes(decisions);
    expect(made.map((c) => [c.at, c.action, c.direction, c.category])).toEqual([
      ["2026-12-01T12:00:30Z", "change", "Up", "OOMKilled"],
      ["2026-12-01T12:03:00Z", "change", "Up", "CPUSaturation"],
      ["2026-12-01T12:09:00Z", "change", "Down", "Underutilized"],
    ]);
    const [oom, cpu, down] = made;
    // VPA's bump of the 2Gi limit: max(2048Mi + 100Mi, 2048Mi × 1.2) = 2457.6Mi, the request keeping its half.
    expect(oom?.after.memoryLimit).toBeCloseTo(2048 * MiB * 1.2);
    expect(oom?.after.memoryRequest).toBeCloseTo(1024 * MiB * 1.2);
    expect(oom?.oomIds).toEqual(["uid-1/kube-apiserver/1"]);
    // 0.9 cores sustained over 2 minutes: 0.9 / 0.6 target utilisation = 1.5 cores, from the size after the OOM
    // bump as it reads back (whole MiB).
    expect(cpu?.after.cpuRequest).toBeCloseTo(1.5);
    expect(cpu?.before.memoryLimit).toBe(2458 * MiB);
    // Down by at most 20%: 1.5 → 1.2 cores; memory to max(700Mi × 1.3, 0.8 × 1229Mi).
    expect(down?.after.cpuRequest).toBeCloseTo(1.2);
    expect(down?.after.memoryRequest).toBeCloseTo(1229 * MiB * 0.8);
  });

  it("holds the scale-down while Prometheus is away, and says so in the plan", () => {
    const away = decisions.find((d) => d.at === "2026-12-01T12:03:30Z")?.plan;
    expect(away).toMatchObject({ action: "none", heldForData: "Prometheus unreachable" });
  });

  it("refuses a ClusterScaler that does not parse, or that does not list the component", () => {
    expect(() => decideOffline({ ...recorded, clusterScaler: { spec: { components: "all" } } })).toThrow(
      /invalid ClusterScaler/,
    );
    const other = structuredClone(recorded);
    other.workload.component = "etcd";
    expect(() => decideOffline(other)).toThrow(/lists no component etcd/);
  });
});

type RecordedDecision = KubeObject & {
  spec: { decidedAt: string; direction: string; after: unknown };
  status?: { phase?: string };
};

/** The fixture's rounds through a ScalerReconciler (its caches, a Prometheus snapshot, a live actuator): its decisions. */
async function replayThroughController(): Promise<RecordedDecision[]> {
  const { workload: ref, start } = recorded;
  const labels = { [tenantLabel]: ref.tenant, [componentLabel]: ref.component };
  const deployment = {
    metadata: { name: ref.name, namespace: ref.namespace, uid: "d1", labels },
    spec: { replicas: start.replicas, template: { spec: { containers: [{ name: ref.container }] } } },
  } as KubeObject & { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
  // The live actuator's change, as the workload then reads back.
  const setSize = (s: Size) => {
    deployment.spec.template.spec.containers = [{ name: ref.container, resources: resourcesOf(s) }];
  };
  setSize(start);
  const pod = {
    metadata: { name: "kube-apiserver-0", namespace: ref.namespace, uid: "uid-1", labels },
    status: {},
  } as KubeObject & { status: Record<string, unknown>; spec?: unknown };
  const snapshot = emptyUsageSnapshot();
  const prometheus = { snapshot, lastError: undefined as string | undefined };
  let clock = 0;
  const caches = storeCaches({
    clusterScalers: [recorded.clusterScaler as KubeObject],
    deployments: [deployment],
    pods: [pod],
  });
  const reconciler = new ScalerReconciler({
    caches: caches as unknown as ScalerCaches,
    client: decisionsClient(caches.decisions) as never,
    actuator: { dryRun: false, apply: async (_w, after) => setSize(after) },
    recorder: { record: () => undefined } as never,
    prometheus: prometheus as unknown as PrometheusSignals,
    dryRun: false,
    now: () => clock,
  });
  const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
  const series = `${ref.namespace}/${pod.metadata?.name}/${ref.container}`;
  const at = (m: { value: number; observedAt: string } | undefined): Measurement | undefined =>
    m && { value: m.value, observedAt: Date.parse(m.observedAt), source: "recorded" };
  for (const round of recorded.rounds) {
    clock = Date.parse(round.at);
    const s = round.signals;
    for (const [byContainer, m] of [
      [snapshot.cpu, at(s.cpuUsage)],
      [snapshot.memory, at(s.memoryWorkingSet)],
    ] as const) {
      if (m) byContainer.set(series, m);
      else byContainer.delete(series);
    }
    prometheus.lastError = s.unavailableReason;
    // The recorded OOM kill as the pod's status shows it (the same id: pod uid, container, restart count).
    const kill = s.oom?.[0];
    pod.spec = kill
      ? {
          containers: [{ name: ref.container, resources: { limits: { memory: `${(kill.limitBytes ?? 0) / MiB}Mi` } } }],
        }
      : undefined;
    pod.status = kill
      ? {
          containerStatuses: [
            {
              name: ref.container,
              restartCount: 1,
              lastState: { terminated: { reason: "OOMKilled", finishedAt: kill.finishedAt } },
            },
          ],
        }
      : {};
    if (kill) pod.metadata = { ...pod.metadata, ownerReferences: [{ controller: true } as never] };
    await reconciler.reconcile({ namespace: ref.namespace, name: ref.name }, rc);
  }
  return caches.decisions.items as RecordedDecision[];
}

describe("decideOffline and the controller", () => {
  it("make the same decisions on the same recorded rounds", async () => {
    const live = await replayThroughController();
    const offline = changes(decideOffline(recorded));
    expect(live.map((d) => d.status?.phase)).toEqual(["Applied", "Applied", "Applied"]);
    expect(live.map((d) => [d.spec.decidedAt, d.spec.direction, d.spec.after])).toEqual(
      offline.map((o) => [new Date(Date.parse(o.at)).toISOString(), o.direction, sizeBlock(o.after)]),
    );
  });
});
