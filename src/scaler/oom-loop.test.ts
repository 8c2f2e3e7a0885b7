// An OOM loop replayed through decideOffline: a kube-apiserver that needs far more memory than its limit is killed
// on every start (CrashLoopBackOff with OOMKilled, before any usage sample), one kill per round at the default poll
// interval (15 s). The loop must end within 2 minutes of recorded time; at maxAllowed the kills must give exactly
// one Blocked decision, however many follow, and never a size above the bound.
import { describe, expect, it } from "vitest";
import { sizeBlock, sizeOf } from "./decisions.js";
import { decideOffline, type OfflineDecision, type RecordedInputs, type RecordedRound } from "./offline.js";
import { MiB } from "./quantity.js";
import type { Size } from "./types.js";

const t0 = Date.parse("2026-12-06T03:00:00Z");
const pollMs = 15_000; // the controller's default --poll-interval
const iso = (t: number) => new Date(t).toISOString();

const recorded = (maxMemory: string): Omit<RecordedInputs, "rounds"> => ({
  clusterScaler: {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "loop" },
    spec: {
      components: [
        { name: "kube-apiserver", replicas: { min: 1, max: 1 }, maxAllowed: { cpu: "8", memory: maxMemory } },
      ],
    },
  },
  workload: {
    kind: "Deployment",
    name: "kube-apiserver",
    namespace: "tcp-loop",
    tenant: "loop",
    component: "kube-apiserver",
    container: "kube-apiserver",
    ownedByTenantControlPlane: false,
  },
  start: { replicas: 1, cpuRequest: 0.5, memoryRequest: 256 * MiB, memoryLimit: 256 * MiB },
});

/** The size the workload reads back after a round's plan: the change applied, whole MiB and millicores. */
const sizeAfter = (d: OfflineDecision): Size => (d.plan.action === "change" ? sizeOf(sizeBlock(d.plan.after)) : d.size);

/**
 * `count` rounds, each built from the decisions so far: while the workload's limit is below `needBytes`, its
 * container is killed again in the round (a new restart count, or a new pod after a change rolled it), with no usage
 * sample at all, as a container that never got far enough to be scraped.
 */
function replayLoop(needBytes: number, maxMemory: string, count: number) {
  const base = recorded(maxMemory);
  const rounds: RecordedRound[] = [];
  const killed: boolean[] = [];
  let decisions: OfflineDecision[] = [];
  let pod = 0;
  let restarts = 0;
  let limit = base.start.memoryLimit;
  for (let i = 0; i < count; i++) {
    const at = t0 + i * pollMs;
    const last = decisions.at(-1);
    const size = last ? sizeAfter(last) : base.start;
    if (size.memoryLimit !== limit) [pod, restarts, limit] = [pod + 1, 0, size.memoryLimit];
    const kill = (size.memoryLimit ?? 0) < needBytes;
    if (kill) restarts++;
    killed.push(kill);
    rounds.push({
      at: iso(at),
      signals: {
        oom: kill
          ? [
              {
                id: `uid-${pod}/kube-apiserver/${restarts}`,
                pod: `kube-apiserver-${pod}`,
                container: "kube-apiserver",
                finishedAt: iso(at - 5_000),
                limitBytes: size.memoryLimit,
                replaceable: true,
              },
            ]
          : [],
      },
    });
    decisions = decideOffline({ ...base, rounds });
  }
  return { decisions, killed };
}

describe("an OOM loop, replayed", () => {
  it("ends within 2 minutes: a kill at the size the last OOM bump set doubles it", () => {
    const need = 3 * 1024 * MiB; // 12× the 256Mi limit it starts with
    const { decisions, killed } = replayLoop(need, "16Gi", 16);
    const lastKill = killed.lastIndexOf(true);
    expect(lastKill).toBeGreaterThan(0);
    // The first round without a kill, and every round after it: the loop is over.
    expect(killed.slice(lastKill + 1).every((k) => !k)).toBe(true);
    expect((lastKill + 1) * pollMs).toBeLessThanOrEqual(2 * 60_000);
    const limits = decisions.flatMap((d) => (d.plan.action === "change" ? [d.plan.after.memoryLimit ?? 0] : []));
    // 256Mi + 100Mi (a first kill, VPA's bump), then × 2 on each kill in the loop: 712Mi, 1424Mi, 2848Mi, 5696Mi.
    expect(limits.map((l) => Math.round(l / MiB))).toEqual([356, 712, 1424, 2848, 5696]);
    // Overshoot is bounded: less than twice the need.
    expect(Math.max(...limits)).toBeLessThan(2 * need);
    // Every kill was answered by an OOM change, at once (no cooldown), and each kill once.
    const changes = decisions.filter((d) => d.plan.action === "change");
    expect(changes.every((d) => d.plan.action === "change" && d.plan.category === "OOMKilled")).toBe(true);
    expect(changes.length).toBe(killed.filter(Boolean).length);
  });

  it("at maxAllowed gives exactly one Blocked decision over many more kills, and never a size above it", () => {
    const { decisions, killed } = replayLoop(3 * 1024 * MiB, "1Gi", 60); // 15 minutes of kills
    expect(killed.every(Boolean)).toBe(true);
    const blocked = decisions.filter((d) => d.plan.action === "blocked");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.plan).toMatchObject({ action: "blocked", blockedReason: "MaxAllowed" });
    // The rounds after it say why nothing more is recorded.
    const after = decisions.slice(decisions.indexOf(blocked[0] as OfflineDecision) + 1);
    expect(after.length).toBeGreaterThan(50);
    for (const d of after) expect(d.plan).toMatchObject({ action: "none", stillBlocked: { reason: "MaxAllowed" } });
    for (const d of decisions) {
      expect(d.size.memoryLimit).toBeLessThanOrEqual(1024 * MiB);
      expect(d.size.memoryRequest ?? 0).toBeLessThanOrEqual(d.size.memoryLimit ?? 0);
    }
    expect(decisions.at(-1)?.size.memoryLimit).toBe(1024 * MiB);
  });

  it("records the kills at maxAllowed again once the pods stop showing them, and they come back", () => {
    const base = recorded("1Gi");
    const atMax = { replicas: 1, cpuRequest: 0.5, memoryRequest: 1024 * MiB, memoryLimit: 1024 * MiB };
    const kill = (n: number, at: number) => ({
      id: `uid-1/kube-apiserver/${n}`,
      pod: "kube-apiserver-1",
      container: "kube-apiserver",
      finishedAt: iso(at - 5_000),
      limitBytes: 1024 * MiB,
      replaceable: true,
    });
    const rounds: RecordedRound[] = [1, 2, 0, 3, 4].map((n, i) => ({
      at: iso(t0 + i * pollMs),
      signals: { oom: n ? [kill(n, t0 + i * pollMs)] : [] },
    }));
    const phases = decideOffline({ ...base, start: atMax, rounds }).map((d) => d.plan.action);
    expect(phases).toEqual(["blocked", "none", "none", "blocked", "none"]);
  });
});

describe("a need no node can meet, replayed", () => {
  const GiB = 1024 * MiB;
  const placement = {
    nodes: [{ name: "n1", cpu: 8, memory: 4 * GiB }],
    pools: [{ name: "big", cpu: 16, memory: 16 * GiB, maxNodes: 3 }],
  };
  it("an OOM loop stops at the largest node: one Blocked decision with the pool proposal, not a bump past it", () => {
    const base = recorded("16Gi");
    const rounds: RecordedRound[] = Array.from({ length: 12 }, (_, i) => ({
      at: iso(t0 + i * pollMs),
      placement,
      signals: {
        oom: [
          {
            id: `uid-0/kube-apiserver/${i + 1}`,
            pod: "kube-apiserver-0",
            container: "kube-apiserver",
            finishedAt: iso(t0 + i * pollMs - 5_000),
            replaceable: false, // a kill the engine must answer every time, whatever limit it was at
          },
        ],
      },
    }));
    const decisions = decideOffline({ ...base, rounds });
    const recordedPlans = decisions.filter((d) => d.plan.action !== "none").map((d) => d.plan);
    const blocked = recordedPlans.filter((p) => p.action === "blocked");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({
      blockedReason: "ExceedsNodeCapacity",
      capacity: { largestNode: { name: "n1" }, proposedNodePool: { name: "big" } },
    });
    // Every size it reached fits n1; the one asked for after it would not.
    for (const d of decisions) expect(d.size.memoryRequest ?? 0).toBeLessThanOrEqual(4 * GiB);
    expect(blocked[0]?.action === "blocked" && (blocked[0].capacity?.need.memory ?? 0) > 4 * GiB).toBe(true);
  });
});
