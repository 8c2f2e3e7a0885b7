// OfflineReplay.quietRound, quietAt and quietRun against round(): over random sequences of rounds (usage that drifts, sizes that change
// under the policy, idle workloads at minAllowed, tenant sizes that hold for a while and then grow, counts that go
// missing or stale, OOM kills answered and seen again, failed queries, a recorded Blocked condition at maxAllowed,
// now and then the size the workload really has), a replay that tries quietRound first, and runs round() where it
// gives nothing, plans every round as a replay of round() alone does, and carries the same size forward. The
// signals quietRound reads are one object, rewritten every round, as the backtest passes them.
import { describe, expect, it } from "vitest";
import { seeded } from "./estimators/fleet-testing.js";
import { OfflineReplay, signalsOfColumns, type SignalColumns } from "./offline.js";
import { MiB } from "./quantity.js";
import { scaleDownDisabledReason, windowHoldsReason } from "./scalers/scale-down.js";
import { input, policy } from "./testing.js";
import type { ClusterSizeStep, Measurement, OomEvent, Plan, ResolvedPolicy, Signals, Size } from "./types.js";

const t0 = Date.parse("2026-12-01T00:00:00Z");
const stepMs = 30_000;
const min = 60_000;

const { workload } = input();

const ladders: ClusterSizeStep[][] = [
  [],
  [
    { nodes: 0, cpu: 0.25, memory: 512 * MiB, replicas: 1 },
    { nodes: 40, cpu: 2, memory: 4096 * MiB, replicas: 3 },
  ],
  [
    { nodes: 0, cpu: 0.25, memory: 512 * MiB },
    { nodes: 30, objects: 5_000, watchers: 300, cpu: 1, memory: 2048 * MiB },
  ],
];

function policyOf(rnd: () => number): ResolvedPolicy {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const p = policy({
    estimators: pick([
      ["oom-memory", "cluster-size"],
      ["oom-memory", "profile", "cluster-size"],
      ["oom-memory"],
      [],
      ["cluster-size", "fleet-regression"],
    ]),
    ladder: pick(ladders),
    maxAllowed: pick([
      { cpu: 8, memory: 16384 * MiB },
      { cpu: 2, memory: 1600 * MiB },
    ]),
    scaleDown: {
      enabled: rnd() < 0.85,
      stabilizationWindowMs: pick([0, 5 * min, 30 * min]),
      maxStepPercent: 20,
      cooldownMs: pick([0, 2 * min]),
    },
  });
  p.scalers.cpu.windowMs = pick([0, 2 * min]);
  p.scalers.memory.windowMs = pick([0, 2 * min]);
  return p;
}

function sizeOf(rnd: () => number): Size {
  return {
    replicas: 1 + Math.floor(rnd() * 3),
    cpuRequest: 0.1 + rnd() * 3,
    memoryRequest: (256 + rnd() * 3000) * MiB,
    memoryLimit: rnd() < 0.7 ? (4000 + rnd() * 8000) * MiB : undefined,
  };
}

/** A workload's size before the first round; an idle one at minAllowed (policy()'s 100m and 128Mi). */
function startOf(rnd: () => number, idle: boolean): Size {
  return idle
    ? { replicas: 1, cpuRequest: 0.1, memoryRequest: 128 * MiB, memoryLimit: rnd() < 0.5 ? 256 * MiB : undefined }
    : sizeOf(rnd);
}

/** A sequence of rounds' signals: each a value that drifts, holds or goes missing, as a history would give them. */
function sequence(rnd: () => number, n: number, idle: boolean): Signals[] {
  let cpu = idle ? 0.01 + rnd() * 0.04 : 0.2 + rnd() * 2;
  let memory = (idle ? 40 + rnd() * 60 : 300 + rnd() * 2000) * MiB;
  let nodes = Math.floor(rnd() * 50);
  let objects = 1_000 + Math.floor(rnd() * 8_000);
  let restarts = 0;
  const out: Signals[] = [];
  for (let i = 0; i < n; i++) {
    const now = t0 + i * stepMs;
    const m = (value: number, p = 0.04): Measurement | undefined => {
      const r = rnd();
      if (r < p) return undefined;
      // Stale now and then: seen ten minutes ago.
      return { value, observedAt: r < p * 1.5 ? now - 10 * min : now, source: "prometheus" };
    };
    cpu = Math.max(0, cpu * (0.8 + rnd() * 0.45));
    memory = Math.max(64 * MiB, memory * (0.9 + rnd() * 0.22));
    if (rnd() < 0.03) nodes += 1 + Math.floor(rnd() * 15);
    if (rnd() < 0.05) objects += Math.floor(rnd() * 3_000);
    if (rnd() < 0.02) restarts++;
    const killed = restarts > 0 && rnd() < 0.5;
    const oom: OomEvent[] = killed
      ? [
          {
            id: `tcp-a/kube-apiserver-x-y/kube-apiserver/${restarts}`,
            pod: "kube-apiserver-x-y",
            container: "kube-apiserver",
            finishedAt: now - stepMs,
            limitBytes: rnd() < 0.7 ? memory : undefined,
            replaceable: true,
          },
        ]
      : [];
    out.push({
      oom,
      cpuUsage: m(cpu),
      memoryWorkingSet: m(memory),
      cpuThrottledRatio: m(rnd() < 0.05 ? 0.5 : 0.01),
      apiserver429Rate: m(rnd() < 0.03 ? 3 : 0),
      clusterNodes: m(nodes, 0.02),
      storedObjects: m(objects, 0.02),
      apiserverWatchers: m(200 + nodes * 5, 0.02),
      apfSeatsRatio: m(0.1),
      apfRejectedRate: m(0),
      requestLatencyP99: undefined,
      etcdDatabaseBytes: m(100 * MiB),
      probeFailures: undefined,
      unavailableReason: rnd() < 0.01 ? "Prometheus unreachable" : undefined,
    });
  }
  return out;
}

/** `from` written into `into` field by field, measurements copied into its own: one object for every round. */
function rewrite(into: Signals, from: Signals, slots: Map<string, Measurement>): Signals {
  const target = into as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(from)) {
    if (value && typeof value === "object" && "observedAt" in value) {
      const slot = slots.get(key) ?? { value: 0, observedAt: 0, source: "" };
      slots.set(key, Object.assign(slot, value));
      target[key] = slot;
    } else target[key] = value;
  }
  return into;
}

describe("OfflineReplay.quietRound", { timeout: 60_000 }, () => {
  it("plans every round as round() does, over random sequences, and carries the same size forward", () => {
    let quiet = 0;
    let all = 0;
    const acted = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seeded(seed);
      const p = policyOf(rnd);
      // Some idle at minAllowed (policy()'s 100m and 128Mi): no recommendation can lower them.
      const idle = rnd() < 0.25;
      const start = startOf(rnd, idle);
      const rounds = sequence(rnd, 80 + Math.floor(rnd() * 200), idle);
      const reference = new OfflineReplay(workload, p, start);
      const replay = new OfflineReplay(workload, p, start);
      const inPlace = { oom: [] } as Signals;
      const slots = new Map<string, Measurement>();
      rounds.forEach((signals, i) => {
        const now = t0 + i * stepMs;
        // Now and then the size the workload really has, read back (round() only: quietRound takes none).
        const observed = rnd() < 0.03 ? sizeOf(rnd) : undefined;
        const expected = reference.round({ now, signals: structuredClone(signals), observed });
        const size = replay.size;
        let got: { plan: Plan; size: Size } | undefined;
        const q = observed ? undefined : replay.quietRound(now, rewrite(inPlace, signals, slots));
        if (observed) got = replay.round({ now, signals: structuredClone(signals), observed });
        else if (q) {
          quiet++;
          got = { plan: q, size };
        } else got = replay.round({ now, signals: structuredClone(signals) });
        all++;
        if (expected.plan.action !== "none") acted.add(expected.plan.action);
        expect(got, `seed ${seed}, round ${i}`).toEqual(expected);
        expect(replay.size).toEqual(reference.size);
      });
    }
    // Both kinds of round are taken often, and the sequences change sizes (and block some).
    expect(quiet).toBeGreaterThan(all / 5);
    expect(all - quiet).toBeGreaterThan(all / 50);
    expect([...acted].sort()).toEqual(["blocked", "change"]);
  });
});

/** A sequence as the backtest's columns give it: every value observed at its step, or missing (NaN). */
function columnsOf(rnd: () => number, n: number, idle: boolean): SignalColumns {
  let cpu = idle ? 0.01 + rnd() * 0.04 : 0.2 + rnd() * 2;
  let memory = (idle ? 40 + rnd() * 60 : 300 + rnd() * 2000) * MiB;
  let nodes = Math.floor(rnd() * 50);
  let objects = 1_000 + Math.floor(rnd() * 8_000);
  let restarts = 0;
  const column = () => new Float64Array(n);
  const c = {
    cpuUsage: column(),
    memoryWorkingSet: column(),
    cpuThrottledRatio: column(),
    apiserver429Rate: column(),
    clusterNodes: column(),
    storedObjects: column(),
    apiserverWatchers: column(),
    apfSeatsRatio: column(),
    apfRejectedRate: column(),
    etcdDatabaseBytes: column(),
  };
  const latency: Array<[string, Float64Array]> = [
    ["GET/resource", column()],
    ["LIST/cluster", column()],
  ];
  const oom: Array<OomEvent[] | undefined> = [];
  const unavailable: Array<string | undefined> = [];
  const steps: number[] = [];
  for (let i = 0; i < n; i++) {
    steps.push(t0 + i * stepMs);
    const v = (value: number, p = 0.04) => (rnd() < p ? Number.NaN : value);
    cpu = Math.max(0, cpu * (0.8 + rnd() * 0.45));
    memory = Math.max(64 * MiB, memory * (0.9 + rnd() * 0.22));
    if (rnd() < 0.03) nodes += 1 + Math.floor(rnd() * 15);
    if (rnd() < 0.05) objects += Math.floor(rnd() * 3_000);
    if (rnd() < 0.02) restarts++;
    c.cpuUsage[i] = v(cpu);
    c.memoryWorkingSet[i] = v(memory);
    c.cpuThrottledRatio[i] = v(rnd() < 0.05 ? 0.5 : 0.01);
    c.apiserver429Rate[i] = v(rnd() < 0.03 ? 3 : 0);
    c.clusterNodes[i] = v(nodes, 0.02);
    c.storedObjects[i] = v(objects, 0.02);
    c.apiserverWatchers[i] = v(200 + nodes * 5, 0.02);
    c.apfSeatsRatio[i] = v(rnd() < 0.02 ? 0.97 : 0.1);
    c.apfRejectedRate[i] = v(rnd() < 0.02 ? 5 : 0);
    c.etcdDatabaseBytes[i] = v(rnd() < 0.02 ? 4000 * MiB : 100 * MiB);
    (latency[0] as [string, Float64Array])[1][i] = v(rnd() < 0.02 ? 3 : 0.2);
    (latency[1] as [string, Float64Array])[1][i] = v(rnd() < 0.02 ? 80 : 4);
    oom.push(
      restarts > 0 && rnd() < 0.5
        ? [
            {
              id: `tcp-a/kube-apiserver-x-y/kube-apiserver/${restarts}`,
              pod: "kube-apiserver-x-y",
              container: "kube-apiserver",
              finishedAt: t0 + i * stepMs - stepMs,
              limitBytes: rnd() < 0.7 ? memory : undefined,
              replaceable: true,
            },
          ]
        : undefined,
    );
    unavailable.push(rnd() < 0.01 ? "Prometheus unreachable" : undefined);
  }
  return { steps, measured: c, requestLatencyP99: latency, oom, unavailableReason: unavailable };
}

describe("OfflineReplay.quietAt", { timeout: 60_000 }, () => {
  it("decides the rounds it takes as round() does, with the same effects on the history", () => {
    let fromColumns = 0;
    let withKills = 0;
    let all = 0;
    const acted = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seeded(seed * 31);
      const p = policyOf(rnd);
      const idle = rnd() < 0.25;
      const start = startOf(rnd, idle);
      const n = 80 + Math.floor(rnd() * 200);
      const columns = columnsOf(rnd, n, idle);
      const reference = new OfflineReplay(workload, p, start);
      const replay = new OfflineReplay(workload, p, start);
      for (let i = 0; i < n; i++) {
        const now = columns.steps[i] as number;
        const signals = () => signalsOfColumns(columns, i);
        const observed = rnd() < 0.03 ? sizeOf(rnd) : undefined;
        const expected = reference.round({ now, signals: signals(), observed });
        const size = replay.size;
        const reason = observed ? undefined : replay.quietAt(i, columns);
        let got: { plan: Plan; size: Size };
        if (reason !== undefined) {
          fromColumns++;
          if (columns.oom[i]) withKills++;
          expect(expected.plan.action, `seed ${seed}, round ${i}`).toBe("none");
          expect(expected.plan.action === "none" && expected.plan.heldForData).toBeFalsy();
          got = { plan: { ...expected.plan, reason } as Plan, size };
        } else if (observed) got = replay.round({ now, signals: signals(), observed });
        else got = { plan: replay.quietRound(now, signals()) ?? replay.round({ now, signals: signals() }).plan, size };
        all++;
        if (expected.plan.action !== "none") acted.add(expected.plan.action);
        expect(got, `seed ${seed}, round ${i}`).toEqual(expected);
        expect(replay.size).toEqual(reference.size);
        // The same history: the window's recommendations, the thresholds' starts, the kills answered.
        expect(Reflect.get(replay, "history"), `seed ${seed}, round ${i}`).toEqual(Reflect.get(reference, "history"));
      }
    }
    // Many rounds are taken from the columns, some with kills already answered; the rest go to quietRound or
    // round(), and the sequences change sizes (and block some).
    expect(fromColumns).toBeGreaterThan(all / 8);
    expect(all - fromColumns).toBeGreaterThan(all / 20);
    expect(withKills).toBeGreaterThan(100);
    expect([...acted].sort()).toEqual(["blocked", "change"]);
  });

  it("signalsOfColumns gives each value as a measurement observed at its step, and leaves out what is missing", () => {
    const columns = columnsOf(seeded(7), 50, false);
    for (let i = 0; i < 50; i++) {
      const s = signalsOfColumns(columns, i);
      const cpu = columns.measured.cpuUsage?.[i] as number;
      expect(s.cpuUsage).toEqual(
        Number.isNaN(cpu) ? undefined : { value: cpu, observedAt: columns.steps[i], source: "prometheus" },
      );
      expect(s.oom).toEqual(columns.oom[i] ?? []);
      expect(s.unavailableReason).toBe(columns.unavailableReason?.[i]);
    }
  });
});

describe("OfflineReplay.quietRun", { timeout: 60_000 }, () => {
  it("takes runs of steps as round() decides them, and leaves the history as round() does after each run", () => {
    const quietReasons = [
      windowHoldsReason,
      scaleDownDisabledReason,
      "no scale-down before a full stabilization window of observation",
      "no scale-down within the stabilization window after a change",
    ];
    let inRuns = 0;
    let runs = 0;
    let all = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = seeded(seed * 97);
      const p = policyOf(rnd);
      const idle = rnd() < 0.25;
      const start = startOf(rnd, idle);
      const n = 80 + Math.floor(rnd() * 300);
      const columns = columnsOf(rnd, n, idle);
      // Now and then the size the workload really has, read back by round(): a run stops before it.
      const observed = Array.from({ length: n }, () => (rnd() < 0.02 ? sizeOf(rnd) : undefined));
      const reference = new OfflineReplay(workload, p, start);
      const replay = new OfflineReplay(workload, p, start);
      const expected = (i: number) =>
        reference.round({
          now: columns.steps[i] as number,
          signals: signalsOfColumns(columns, i),
          observed: observed[i],
        });
      let i = 0;
      while (i < n) {
        let to = i;
        while (to < n && !observed[to]) to++;
        // Sometimes a shorter stretch: a run ends where it is told to.
        if (rnd() < 0.2) to = Math.min(to, i + Math.floor(rnd() * 20));
        const end = replay.quietRun(i, to, columns);
        expect(end, `seed ${seed}`).toBeGreaterThanOrEqual(i);
        expect(end).toBeLessThanOrEqual(Math.max(i, to));
        for (let k = i; k < end; k++) {
          const e = expected(k);
          expect(e.plan.action, `seed ${seed}, round ${k}`).toBe("none");
          expect(e.plan.action === "none" && e.plan.heldForData).toBeFalsy();
          expect(quietReasons, `seed ${seed}, round ${k}`).toContain(e.plan.action === "none" ? e.plan.reason : "");
          expect(e.size).toEqual(replay.size);
        }
        all += end - i;
        if (end > i) {
          runs++;
          inRuns += end - i;
          expect(Reflect.get(replay, "history"), `seed ${seed}, after round ${end - 1}`).toEqual(
            Reflect.get(reference, "history"),
          );
        }
        i = end;
        if (i >= n) break;
        // The step the run did not take: as the backtest does it.
        const now = columns.steps[i] as number;
        const e = expected(i);
        const size = replay.size;
        const q = observed[i] ? undefined : replay.quietRound(now, signalsOfColumns(columns, i));
        const got = q
          ? { plan: q, size }
          : replay.round({ now, signals: signalsOfColumns(columns, i), observed: observed[i] });
        expect(got, `seed ${seed}, round ${i}`).toEqual(e);
        expect(Reflect.get(replay, "history"), `seed ${seed}, round ${i}`).toEqual(Reflect.get(reference, "history"));
        all++;
        i++;
      }
    }
    // Runs are taken, many of more than one step, and the rest is decided round by round.
    expect(inRuns).toBeGreaterThan(all / 8);
    expect(inRuns).toBeGreaterThan(runs * 2);
  });
});
