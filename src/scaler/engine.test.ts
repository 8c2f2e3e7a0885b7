import { describe, expect, it } from "vitest";
import { clamp, decide, defaultEngineOptions } from "./engine.js";
import { MiB } from "./quantity.js";
import { input, policy } from "./testing.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const min = 60_000;

const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "prometheus" });

describe("decide: OOM", () => {
  it("bumps memory by max(+100Mi, x1.2) of the limit at once, ignoring the cooldown", () => {
    const plan = decide(
      input(
        {
          history: {
            handledOomIds: new Set(),
            overThresholdSince: {},
            recommendations: [],
            observingSince: now,
            lastScaleUpAt: now - 1000,
          },
        },
        {
          oom: [{ id: "p/c/1", pod: "p", container: "c", finishedAt: now - 100, limitBytes: 2048 * MiB }],
        },
      ),
    );
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.category).toBe("OOMKilled");
    expect(plan.after.memoryLimit).toBeCloseTo(2048 * MiB * 1.2); // 2457.6Mi > 2148Mi
    expect(plan.after.memoryRequest).toBeCloseTo(1024 * MiB * 1.2); // ratio kept
    expect(plan.oomIds).toEqual(["p/c/1"]);
  });

  it.each([
    [256, 356], // +100Mi wins below 500Mi
    [500, 600], // equal at 500Mi
    [1000, 1200], // x1.2 wins above
  ])("limit %iMi → %iMi", (limitMi, expectedMi) => {
    const plan = decide(
      input(
        { current: { replicas: 1, memoryRequest: limitMi * MiB, memoryLimit: limitMi * MiB } },
        {
          oom: [{ id: "x", pod: "p", container: "c", finishedAt: now, limitBytes: limitMi * MiB }],
        },
      ),
    );
    expect(plan.action === "change" && plan.after.memoryLimit).toBeCloseTo(expectedMi * MiB);
  });

  it("answers a kill of a pod its rollout replaces, at a smaller limit than the workload now has, with no second raise", () => {
    // Raised 150Mi → 250Mi; the old pod, still at 150Mi until the rollout replaces it, is killed again.
    const current = { replicas: 1, memoryRequest: 250 * MiB, memoryLimit: 250 * MiB };
    const old = { pod: "old", container: "c", finishedAt: now, limitBytes: 150 * MiB, replaceable: true };
    const plan = decide(input({ current }, { oom: [{ id: "old/c/2", ...old }] }));
    expect(plan.action).toBe("none");
    expect(plan.notes.join("\n")).toMatch(/old at a smaller limit than the workload now has: answered by its rollout/);
    // A kill at the limit the workload has now is a new one, answered from there; so is one of a pod that no
    // rollout replaces (a stand-alone pod), whatever its limit.
    for (const e of [
      { id: "new/c/1", ...old, pod: "new", limitBytes: 250 * MiB },
      { id: "bare/c/1", ...old, pod: "bare", replaceable: false },
    ]) {
      const again = decide(input({ current }, { oom: [e] }));
      expect(again.action === "change" && again.oomIds, e.pod).toEqual([e.id]);
      expect(again.action === "change" && again.after.memoryLimit, e.pod).toBeCloseTo(350 * MiB);
    }
    // Both at once: only the kill at the current limit counts, and the old one is not raised from.
    const both = decide(
      input(
        { current },
        {
          oom: [
            { id: "old/c/2", ...old },
            { id: "new/c/1", ...old, pod: "new", limitBytes: 250 * MiB },
          ],
        },
      ),
    );
    expect(both.action === "change" && both.oomIds).toEqual(["new/c/1"]);
  });

  it("in dry-run, where no rollout replaced the pod, a kill at its real limit still grows the dry-run size", () => {
    // The last dry-run decision said 250Mi; the workload really still has 150Mi, and its pod is killed again.
    const shadow = { replicas: 1, memoryRequest: 250 * MiB, memoryLimit: 250 * MiB };
    const real = { replicas: 1, memoryRequest: 150 * MiB, memoryLimit: 150 * MiB };
    const kill = { id: "p/c/3", pod: "p", container: "c", finishedAt: now, limitBytes: 150 * MiB, replaceable: true };
    const plan = decide(input({ current: shadow, observed: real }, { oom: [kill] }));
    expect(plan.action === "change" && plan.after.memoryLimit).toBeCloseTo(350 * MiB);
    // Live, the same kill with the workload at 250Mi is the rollout's to answer.
    expect(decide(input({ current: shadow, observed: shadow }, { oom: [kill] })).action).toBe("none");
  });

  it("is made with the fleet budget spent while the tenant's OOM floor lasts, and blocked after it", () => {
    const kill = { id: "p/c/1", pod: "p", container: "c", finishedAt: now - 100, limitBytes: 2048 * MiB };
    const onFloor = decide(input({ fleetBudgetRemaining: 0, oomFloorRemaining: 1 }, { oom: [kill] }));
    expect(onFloor.action).toBe("change");
    const beyond = decide(input({ fleetBudgetRemaining: 0, oomFloorRemaining: 0 }, { oom: [kill] }));
    expect(beyond.action).toBe("blocked");
    expect(beyond.action === "blocked" && beyond.heldByFleetBudget).toBe(true);
    expect(beyond.action === "blocked" && beyond.blockedBy).toMatch(/oomFloorPerTenant/);
    // With budget left, the floor does not matter: the OOM scale-up spends the budget like any change.
    expect(decide(input({ fleetBudgetRemaining: 1, oomFloorRemaining: 0 }, { oom: [kill] })).action).toBe("change");
  });

  it("never acts twice on the same OOM", () => {
    const plan = decide(
      input(
        {
          history: { handledOomIds: new Set(["x"]), overThresholdSince: {}, recommendations: [], observingSince: now },
        },
        {
          oom: [{ id: "x", pod: "p", container: "c", finishedAt: now, limitBytes: 2048 * MiB }],
        },
      ),
    );
    expect(plan.action).toBe("none");
  });

  it("is bounded by maxAllowed, and reports when already there", () => {
    const p = policy({ maxAllowed: { cpu: 8, memory: 2200 * MiB } });
    const plan = decide(
      input({ policy: p }, { oom: [{ id: "x", pod: "p", container: "c", finishedAt: now, limitBytes: 2048 * MiB }] }),
    );
    expect(plan.action === "change" && plan.after.memoryLimit).toBe(2200 * MiB);
    const again = decide(
      input(
        { policy: p, current: { replicas: 2, memoryRequest: 2200 * MiB, memoryLimit: 2200 * MiB } },
        {
          oom: [{ id: "y", pod: "p", container: "c", finishedAt: now, limitBytes: 2200 * MiB }],
        },
      ),
    );
    // The OOM kill at the maximum is recorded as Blocked (once: its id is then handled), not silently dropped.
    expect(again.action).toBe("blocked");
    expect(again.action === "blocked" && again.blockedBy).toMatch(/raise the ClusterScaler's maxAllowed/);
    expect(again.action === "blocked" && again.blockedReason).toBe("MaxAllowed");
    expect(again.action === "blocked" && again.oomIds).toEqual(["y"]);
    expect(again.action === "blocked" && again.after).toEqual(again.action === "blocked" && again.before);
    const handled = decide(
      input(
        {
          policy: p,
          current: { replicas: 2, memoryRequest: 2200 * MiB, memoryLimit: 2200 * MiB },
          history: { handledOomIds: new Set(["y"]), overThresholdSince: {}, recommendations: [], observingSince: now },
        },
        { oom: [{ id: "y", pod: "p", container: "c", finishedAt: now, limitBytes: 2200 * MiB }] },
      ),
    );
    expect(handled.action).toBe("none");
  });

  it("records repeated kills at maxAllowed once, until the size or the bound changes", () => {
    const p = policy({ maxAllowed: { cpu: 8, memory: 2200 * MiB } });
    const current = { replicas: 2, memoryRequest: 2200 * MiB, memoryLimit: 2200 * MiB };
    const kill = (id: string) => ({ id, pod: "p", container: "c", finishedAt: now, limitBytes: 2200 * MiB });
    const first = decide(input({ policy: p, current }, { oom: [kill("p/c/1")] }));
    expect(first).toMatchObject({ action: "blocked", blockedReason: "MaxAllowed" });
    if (first.action !== "blocked" || !first.blockedKey) throw new Error("expected a blocked plan with a key");
    const blockedReport = {
      reason: "MaxAllowed" as const,
      key: first.blockedKey,
      message: first.blockedBy ?? "",
      at: now,
      oom: true,
    };
    const history = {
      handledOomIds: new Set(["p/c/1"]),
      overThresholdSince: {},
      recommendations: [],
      observingSince: now,
      blockedReport,
    };
    // The next kill at the same size and bound: nothing new is recorded, and the plan says why.
    const next = decide(input({ policy: p, current, history }, { oom: [kill("p/c/1"), kill("p/c/2")] }));
    expect(next).toMatchObject({ action: "none", stillBlocked: blockedReport });
    expect(next.action === "none" && next.reason).toMatch(/^MaxAllowed: still blocked as recorded at/);
    // Raised bound: the kill is answered at once, with a bump from where it was killed.
    const raised = decide(
      input(
        { policy: policy({ maxAllowed: { cpu: 8, memory: 4096 * MiB } }), current, history },
        { oom: [kill("p/c/2")] },
      ),
    );
    expect(raised.action === "change" && raised.after.memoryLimit).toBeCloseTo(2200 * MiB * 1.2);
    // Lowered bound (someone else's size stays above it): a new condition, recorded once more.
    const lowered = decide(
      input(
        { policy: policy({ maxAllowed: { cpu: 8, memory: 2048 * MiB } }), current, history },
        { oom: [kill("p/c/2")] },
      ),
    );
    expect(lowered).toMatchObject({ action: "blocked", blockedReason: "MaxAllowed", after: current });
  });

  it("bumps a container killed while starting, before any usage sample (VPA #4981)", () => {
    // No working set: Prometheus never saw the container, or is not there at all.
    const kill = { id: "p/c/1", pod: "p", container: "c", finishedAt: now, limitBytes: 256 * MiB };
    const withLimit = decide(
      input(
        { current: { replicas: 1, memoryRequest: 256 * MiB, memoryLimit: 256 * MiB } },
        { oom: [kill], unavailableReason: "no Prometheus configured" },
      ),
    );
    expect(withLimit.action === "change" && withLimit.after.memoryLimit).toBeCloseTo(356 * MiB);
    // A container without a limit is bumped from its request; without either, from minAllowed (128Mi here).
    const requestOnly = decide(
      input({ current: { replicas: 1, memoryRequest: 300 * MiB } }, { oom: [{ ...kill, limitBytes: undefined }] }),
    );
    expect(requestOnly.action === "change" && requestOnly.after.memoryRequest).toBeCloseTo(400 * MiB);
    const bare = decide(input({ current: { replicas: 1 } }, { oom: [{ ...kill, limitBytes: undefined }] }));
    expect(bare.action === "change" && bare.after.memoryRequest).toBeCloseTo(228 * MiB);
  });

  it("doubles the memory for a kill at the size the last OOM bump set (an OOM loop), within 10 minutes of it", () => {
    const current = { replicas: 1, memoryRequest: 512 * MiB, memoryLimit: 1024 * MiB };
    const kill = { id: "p2/c/1", pod: "p2", container: "c", finishedAt: now - 1000, limitBytes: 1024 * MiB };
    const history = (bumpedAgoMs: number, memoryLimit = 1024 * MiB) => ({
      handledOomIds: new Set<string>(),
      overThresholdSince: {},
      recommendations: [],
      observingSince: now - 3600_000,
      lastOomBump: { at: now - bumpedAgoMs, memoryLimit, memoryRequest: memoryLimit / 2 },
    });
    const loop = decide(input({ current, history: history(30_000) }, { oom: [kill] }));
    expect(loop.action === "change" && loop.after.memoryLimit).toBeCloseTo(2048 * MiB);
    expect(loop.action === "change" && loop.after.memoryRequest).toBeCloseTo(1024 * MiB); // the request's half kept
    expect(loop.action === "change" && loop.summary).toMatch(/OOM loop/);
    // Long after the last bump, or killed at a size that bump did not set: VPA's × 1.2.
    for (const h of [history(11 * 60_000), history(30_000, 4096 * MiB)]) {
      const plan = decide(input({ current, history: h }, { oom: [kill] }));
      expect(plan.action === "change" && plan.after.memoryLimit).toBeCloseTo(1024 * MiB * 1.2);
    }
  });

  it("does not answer an OOM kill at the maximum limit by raising only the request", () => {
    // Request 885Mi under a 1600Mi limit at maxAllowed: the OOM bump would carry the request up by the ratio
    // (1920Mi x 0.55), which leaves the limit that killed the container where it was.
    const p = policy({ maxAllowed: { cpu: 4, memory: 1600 * MiB } });
    const current = { replicas: 1, memoryRequest: 885 * MiB, memoryLimit: 1600 * MiB };
    const plan = decide(
      input(
        { policy: p, current },
        { oom: [{ id: "z", pod: "p", container: "c", finishedAt: now, limitBytes: 1024 * MiB }] },
      ),
    );
    expect(plan.action).toBe("blocked");
    expect(plan.action === "blocked" && plan.after).toEqual(current);
    expect(plan.action === "blocked" && plan.oomIds).toEqual(["z"]);
    // Below the maximum the request still follows the limit.
    const below = decide(
      input(
        { policy: p, current: { ...current, memoryLimit: 1400 * MiB } },
        { oom: [{ id: "w", pod: "p", container: "c", finishedAt: now, limitBytes: 1400 * MiB }] },
      ),
    );
    expect(below.action === "change" && below.after.memoryLimit).toBe(1600 * MiB);
    expect(below.action === "change" && (below.after.memoryRequest ?? 0) > 885 * MiB).toBe(true);
  });
});

describe("decide: sustained CPU", () => {
  const hot = { cpuUsage: m(0.95), memoryWorkingSet: m(500 * MiB) };
  it("waits for the window", () => {
    const h = {
      handledOomIds: new Set<string>(),
      overThresholdSince: { cpu: now - 30_000 },
      recommendations: [],
      observingSince: now - 3600_000,
    };
    expect(decide(input({ history: h }, hot)).action).toBe("none");
  });
  it("scales up after the window to 60% utilisation", () => {
    const h = {
      handledOomIds: new Set<string>(),
      overThresholdSince: { cpu: now - 2 * min },
      recommendations: [],
      observingSince: now - 3600_000,
    };
    const plan = decide(input({ history: h }, hot));
    expect(plan.action === "change" && plan.category).toBe("CPUSaturation");
    expect(plan.action === "change" && plan.after.cpuRequest).toBeCloseTo(0.95 / 0.6);
  });
  it("respects the scale-up cooldown", () => {
    const h = {
      handledOomIds: new Set<string>(),
      overThresholdSince: { cpu: now - 5 * min },
      recommendations: [],
      observingSince: now - 3600_000,
      lastScaleUpAt: now - 30_000,
    };
    const plan = decide(input({ history: h }, hot));
    expect(plan.action === "none" && plan.reason).toMatch(/cooldown/);
  });
  it("adds a replica once CPU is at maxAllowed", () => {
    const h = {
      handledOomIds: new Set<string>(),
      overThresholdSince: { cpu: now - 5 * min },
      recommendations: [],
      observingSince: now - 3600_000,
    };
    const plan = decide(input({ history: h, policy: policy({ maxAllowed: { cpu: 1, memory: 8192 * MiB } }) }, hot));
    expect(plan.action === "change" && plan.after.replicas).toBe(3);
  });
  it("is blocked by an exhausted fleet budget", () => {
    const h = {
      handledOomIds: new Set<string>(),
      overThresholdSince: { cpu: now - 5 * min },
      recommendations: [],
      observingSince: now - 3600_000,
    };
    const plan = decide(input({ history: h, fleetBudgetRemaining: 0 }, hot));
    expect(plan.action).toBe("blocked");
    expect(plan.action === "blocked" && plan.heldByFleetBudget).toBe(true);
    // The OOM floor is for OOM kills only.
    expect(decide(input({ history: h, fleetBudgetRemaining: 0, oomFloorRemaining: 2 }, hot)).action).toBe("blocked");
  });
});

describe("decide: scale-down", () => {
  const cold = { cpuUsage: m(0.1), memoryWorkingSet: m(200 * MiB) };
  const settled = (recs: Array<{ at: number; cpu: number; memory: number }>) => ({
    handledOomIds: new Set<string>(),
    overThresholdSince: {},
    recommendations: recs,
    observingSince: now - 4 * 60 * min,
  });
  it("steps down by at most maxStepPercent after the window", () => {
    const plan = decide(input({ history: settled([{ at: now - 60 * min, cpu: 0.2, memory: 300 * MiB }]) }, cold));
    expect(plan.action === "change" && plan.direction).toBe("Down");
    expect(plan.action === "change" && plan.after.cpuRequest).toBeCloseTo(0.8);
    expect(plan.action === "change" && plan.after.memoryRequest).toBeCloseTo(1024 * MiB * 0.8);
    expect(plan.action === "change" && plan.category).toBe("Underutilized");
  });
  it("never scales down with a stale or missing signal", () => {
    const stale = decide(
      input({ history: settled([]) }, { cpuUsage: m(0.1, 10 * min), memoryWorkingSet: m(200 * MiB) }),
    );
    expect(stale.action === "none" && stale.reason).toMatch(/cpu usage stale/);
    const missing = decide(
      input({ history: settled([]) }, { memoryWorkingSet: m(200 * MiB), unavailableReason: "Prometheus unreachable" }),
    );
    expect(missing.action === "none" && missing.reason).toMatch(
      /no scale-down without fresh data: Prometheus unreachable/,
    );
    const noCpu = decide(input({ history: settled([]) }, { memoryWorkingSet: m(200 * MiB) }));
    expect(noCpu.action === "none" && noCpu.reason).toMatch(/cpu usage missing/);
    // The source failing stops scale-downs at once, even while the last values are still young.
    const failing = decide(input({ history: settled([]) }, { ...cold, unavailableReason: "Prometheus timeout" }));
    expect(failing.action === "none" && failing.reason).toMatch(/Prometheus timeout/);
  });
  it("says what a held scale-down waits for in a typed field, and only then", () => {
    const held = decide(
      input({ history: settled([]) }, { cpuUsage: m(0.1, 10 * min), memoryWorkingSet: m(200 * MiB) }),
    );
    expect(held.action === "none" && held.heldForData).toMatch(/^cpu usage stale \(last seen .*\)$/);
    const down = decide(input({ history: settled([]) }, { ...cold, unavailableReason: "Prometheus timeout" }));
    expect(down.action === "none" && down.heldForData).toBe("Prometheus timeout");
    // Held for another reason (the window after a change), the field is unset: the workload is not held for data.
    const cooling = decide(input({ history: { ...settled([]), lastChangeAt: now - min } }, cold));
    expect(cooling.action).toBe("none");
    expect(cooling.action === "none" && cooling.heldForData).toBeUndefined();
  });
  it("waits for a full window of observation (after a restart too)", () => {
    const plan = decide(input({ history: { ...settled([]), observingSince: now - 10 * min } }, cold));
    expect(plan.action).toBe("none");
  });
  it("does not go below the highest recommendation in the window", () => {
    const plan = decide(input({ history: settled([{ at: now - 30 * min, cpu: 0.9, memory: 1000 * MiB }]) }, cold));
    // The window's highest recommendation (0.9 cores) is as low as it may go, above the 20% step (0.8).
    expect(plan.action === "change" && plan.after.cpuRequest).toBeCloseTo(0.9);
  });
  it("is off when scaleDown.enabled is false", () => {
    const p = policy({ scaleDown: { enabled: false, stabilizationWindowMs: 1, maxStepPercent: 20, cooldownMs: 0 } });
    expect(decide(input({ policy: p, history: settled([]) }, cold)).action).toBe("none");
  });
  it("honours paused", () => {
    expect(
      decide(input({ paused: true }, { oom: [{ id: "x", pod: "p", container: "c", finishedAt: now }] })).action,
    ).toBe("none");
  });
});

describe("decide: cluster growth", () => {
  it("moves along the ladder", () => {
    const ladder = [
      { nodes: 0, cpu: 0.25, memory: 512 * MiB, replicas: 2 },
      { nodes: 100, cpu: 1, memory: 2048 * MiB, replicas: 2 },
      { nodes: 500, cpu: 2, memory: 4096 * MiB, replicas: 3 },
    ];
    const plan = decide(input({ policy: policy({ ladder }) }, { clusterNodes: m(600) }));
    expect(plan.action === "change" && plan.category).toBe("ClusterGrowth");
    expect(plan.action === "change" && plan.after).toMatchObject({
      replicas: 3,
      cpuRequest: 2,
      memoryRequest: 4096 * MiB,
      memoryLimit: 8192 * MiB,
    });
  });
});

describe("clamp", () => {
  it("keeps everything within min/max and request <= limit", () => {
    const i = input();
    expect(clamp({ replicas: 9, cpuRequest: 20, memoryRequest: 1, memoryLimit: 99e12 }, i)).toEqual({
      replicas: 5,
      cpuRequest: 8,
      cpuLimit: undefined,
      memoryRequest: 128 * MiB,
      memoryLimit: 16384 * MiB,
    });
  });
  it("has sane defaults", () => expect(defaultEngineOptions.cpuTargetUtilization).toBe(0.6));
});

describe("decide: a need that no node can meet", () => {
  const GiB = 1024 * MiB;
  const placement = (pools: Array<{ name: string; cpu: number; memory: number; maxNodes: number }> = []) => ({
    nodes: [
      { name: "small", cpu: 4, memory: 16 * GiB },
      { name: "big", cpu: 8, memory: 32 * GiB },
    ],
    pools,
  });
  const ladder = [{ nodes: 0, cpu: 2, memory: 48 * GiB }];
  const grows = { clusterNodes: m(500) };

  it("is Blocked with ExceedsNodeCapacity, giving the need and the largest node", () => {
    const p = policy({ ladder, maxAllowed: { cpu: 16, memory: 64 * GiB }, replicas: { min: 2, max: 2 } });
    const plan = decide(input({ policy: p, placement: placement() }, grows));
    expect(plan).toMatchObject({
      action: "blocked",
      blockedReason: "ExceedsNodeCapacity",
      capacity: { need: { cpu: 2, memory: 48 * GiB }, largestNode: { name: "big", cpu: 8, memory: 32 * GiB } },
    });
    expect(plan.action === "blocked" && plan.blockedBy).toBe(
      "the requests (cpu 2000m, memory 49152Mi per pod) exceed every node: the largest node it may run on, big, has " +
        "cpu 8000m, memory 32768Mi allocatable; no NodePool it may run on has nodes that large",
    );
    // A size that fits one of them is made as before; so is any size when the nodes are not known.
    const fits = policy({ ladder: [{ nodes: 0, cpu: 2, memory: 24 * GiB }], replicas: { min: 2, max: 2 } });
    expect(decide(input({ policy: fits, placement: placement() }, grows)).action).toBe("change");
    expect(decide(input({ policy: p }, grows)).action).toBe("change");
  });

  it("proposes a scale-up of the smallest NodePool whose nodes would hold it", () => {
    const p = policy({ ladder, maxAllowed: { cpu: 16, memory: 64 * GiB }, replicas: { min: 2, max: 2 } });
    const pools = [
      { name: "huge", cpu: 32, memory: 128 * GiB, maxNodes: 4 },
      { name: "large", cpu: 16, memory: 64 * GiB, maxNodes: 4 },
      { name: "tiny", cpu: 2, memory: 8 * GiB, maxNodes: 4 },
    ];
    const plan = decide(input({ policy: p, placement: placement(pools) }, grows));
    expect(plan.action === "blocked" && plan.capacity?.proposedNodePool).toEqual({
      name: "large",
      cpu: 16,
      memory: 64 * GiB,
    });
    expect(plan.action === "blocked" && plan.blockedBy).toMatch(
      /proposal: scale up NodePool large, whose nodes \(cpu 16000m, memory 65536Mi\) would hold it$/,
    );
  });

  it("counts the requests of the pod's other containers", () => {
    const p = policy({
      ladder: [{ nodes: 0, cpu: 2, memory: 30 * GiB }],
      maxAllowed: { cpu: 16, memory: 64 * GiB },
      replicas: { min: 2, max: 2 },
    });
    expect(decide(input({ policy: p, placement: placement() }, grows)).action).toBe("change");
    const sidecars = { ...placement(), otherContainers: { cpu: 0.5, memory: 4 * GiB } };
    const plan = decide(input({ policy: p, placement: sidecars }, grows));
    expect(plan).toMatchObject({ action: "blocked", capacity: { otherContainers: { memory: 4 * GiB } } });
    expect(plan.action === "blocked" && plan.blockedBy).toMatch(
      /^the requests \(cpu 2000m, memory 30720Mi per pod, and cpu 500m, memory 4096Mi of its other containers\)/,
    );
  });

  it("adds a replica instead where replicas are allowed", () => {
    const p = policy({ ladder, maxAllowed: { cpu: 16, memory: 64 * GiB }, replicas: { min: 1, max: 5 } });
    const plan = decide(input({ policy: p, placement: placement() }, grows));
    expect(plan.action).toBe("change");
    expect(plan.action === "change" && plan.after).toEqual({ ...input().current, replicas: 3 });
    expect(plan.action === "change" && plan.summary).toMatch(/one more replica instead of .*exceed every node/);
  });

  it("does not answer an OOM kill with a replica: more memory or Blocked", () => {
    const current = { replicas: 2, memoryRequest: 30 * GiB, memoryLimit: 30 * GiB };
    const kill = { id: "p/c/1", pod: "p", container: "c", finishedAt: now, limitBytes: 30 * GiB };
    const p = policy({ maxAllowed: { cpu: 16, memory: 64 * GiB } });
    const plan = decide(input({ policy: p, current, placement: placement() }, { oom: [kill] }));
    expect(plan).toMatchObject({ action: "blocked", blockedReason: "ExceedsNodeCapacity", oomIds: ["p/c/1"] });
    expect(plan.action === "blocked" && plan.capacity?.need.memory).toBeCloseTo(36 * GiB);
  });

  it("is recorded once while the size and the largest node stay the same", () => {
    const p = policy({ ladder, maxAllowed: { cpu: 16, memory: 64 * GiB }, replicas: { min: 2, max: 2 } });
    const first = decide(input({ policy: p, placement: placement() }, grows));
    if (first.action !== "blocked" || !first.blockedKey) throw new Error("expected a blocked plan with a key");
    const blockedReport = {
      reason: "ExceedsNodeCapacity" as const,
      key: first.blockedKey,
      message: first.blockedBy ?? "",
      at: now,
      oom: false,
    };
    const history = { ...input().history, blockedReport };
    expect(decide(input({ policy: p, placement: placement(), history }, grows))).toMatchObject({
      action: "none",
      stillBlocked: blockedReport,
    });
    // A larger node joins: it fits, and the change is made.
    const larger = { nodes: [...placement().nodes, { name: "new", cpu: 16, memory: 64 * GiB }], pools: [] };
    expect(decide(input({ policy: p, placement: larger, history }, grows)).action).toBe("change");
  });
});
