// The backtest's replay (engine-form rounds built on demand, workloadSignals + OfflineReplay) against its reference
// (every round as recorded JSON through decideOffline, workloadSteps): the same report, to the last field, over
// randomized histories with gaps, failed queries, OOM kills, sizes that change under the policy, several pods per
// workload, workloads no policy governs and several policies at once.
import { seeded } from "../scaler/estimators/fleet-testing.js";
import { describe, expect, it } from "vitest";
import { MiB } from "../scaler/quantity.js";
import type { BacktestWorkload } from "./inventory.js";
import { signalsOf } from "../scaler/offline.js";
import { workloadSignals, workloadSteps } from "./replay.js";
import { runBacktest, type Policy } from "./run.js";
import { historyMetrics, stepsOf, type HistoryMetric, type SignalHistory } from "./signals.js";

const t0 = Date.parse("2026-12-01T00:00:00Z");
const stepMs = 30_000;

/** mulberry32, seeded, so that a failing seed can be replayed. */
const random = seeded;

const components = [
  { component: "kube-apiserver", kind: "Deployment", pods: ["kube-apiserver-5d9f-abcde", "kube-apiserver-5d9f-fghij"] },
  { component: "kube-scheduler", kind: "Deployment", pods: ["kube-scheduler-7c8b-klmno"] },
  { component: "etcd", kind: "StatefulSet", pods: ["etcd-0", "etcd-1"] },
] as const;

function fixture(seed: number): { history: SignalHistory; workloads: BacktestWorkload[]; steps: number } {
  const rnd = random(seed);
  const n = 200 + Math.floor(rnd() * 400);
  const steps = stepsOf(t0, t0 + (n - 1) * stepMs, stepMs);
  const history: SignalHistory = {
    steps,
    stepMs,
    series: Object.fromEntries(historyMetrics.map((m) => [m, new Map()])) as SignalHistory["series"],
    failedAt: Object.fromEntries(historyMetrics.map((m) => [m, new Array(n)])) as SignalHistory["failedAt"],
    failures: [],
    queries: 11,
    rejectedSteps: 0,
  };
  // A series with runs of missing steps (gaps, stale series) where `holes` says so.
  const series = (f: (i: number) => number, holes: number) => {
    const out = new Float64Array(n);
    let missing = 0;
    for (let i = 0; i < n; i++) {
      if (missing === 0 && rnd() < holes) missing = 1 + Math.floor(rnd() * 30);
      out[i] = missing > 0 ? Number.NaN : f(i);
      if (missing > 0) missing--;
    }
    return out;
  };
  // A random walk with jumps, so that usage crosses thresholds both ways.
  const walk = (start: number, spread: number) => {
    let v = start;
    return () => {
      v = Math.max(0, v * (1 + spread * (rnd() - 0.5)) + (rnd() < 0.02 ? start * (rnd() * 3 - 1) : 0));
      return v;
    };
  };
  const workloads: BacktestWorkload[] = [];
  const tenants = ["a", "b"];
  for (const tenant of tenants) {
    const ns = `tcp-${tenant}`;
    history.series.nodes.set(
      ns,
      series((i) => 3 + Math.floor((i / n) * rnd() * 300), 0.01),
    );
    history.series.objects.set(
      ns,
      series(() => 500 + Math.floor(rnd() * 5000), 0.01),
    );
    // The tenant apiserver's load: watchers and objects reach ladder steps, APF, latency and etcd size their scalers.
    history.series.watchers.set(
      ns,
      series(() => Math.floor(rnd() * 600), 0.01),
    );
    history.series.apfSeats.set(
      ns,
      series(() => rnd(), 0.02),
    );
    history.series.apfRejected.set(
      ns,
      series(() => (rnd() < 0.05 ? rnd() * 5 : 0), 0.02),
    );
    history.series.latencyP99.set(
      `${ns}/POST/namespace`,
      series(() => rnd() * 2, 0.02),
    );
    history.series.latencyP99.set(
      `${ns}/LIST/cluster`,
      series(() => rnd() * 40, 0.02),
    );
    history.series.etcdDbSize.set(
      ns,
      series(() => rnd() * 2 ** 31, 0.01),
    );
    history.series.apiserver429.set(
      ns,
      series(() => (rnd() < 0.1 ? rnd() * 20 : 0), 0.02),
    );
    history.series.kubeStateMetrics.set(
      ns,
      series(() => 4, 0.005),
    );
    for (const c of components) {
      const cpu = 0.5 + rnd() * 2;
      const memory = (256 + Math.floor(rnd() * 2048)) * MiB;
      workloads.push({
        ref: {
          kind: c.kind,
          name: c.component,
          namespace: ns,
          tenant,
          component: c.component,
          container: c.component,
          ownedByTenantControlPlane: rnd() < 0.5,
        },
        tenantLabels: { "metapilot.io/tenant": tenant, tier: tenant === "a" ? "gold" : "silver" },
        start: { replicas: c.pods.length, cpuRequest: cpu, memoryRequest: memory, memoryLimit: 2 * memory },
        inPlaceResize: rnd() < 0.5,
      });
      for (const pod of c.pods) {
        const key = `${ns}/${pod}/${c.component}`;
        const cpuWalk = walk(cpu * rnd(), 0.3);
        const memWalk = walk(memory * rnd(), 0.1);
        history.series.cpu.set(key, series(cpuWalk, 0.01));
        history.series.memory.set(key, series(memWalk, 0.01));
        history.series.throttledRatio.set(
          key,
          series(() => (rnd() < 0.05 ? rnd() : 0), 0.02),
        );
        // Kills come and go: each seen for a while, then the next at a higher restart count.
        let restarts = 0;
        let shown = 0;
        history.series.oomKills.set(
          key,
          series(() => {
            if (shown === 0 && rnd() < 0.01) {
              restarts++;
              shown = 1 + Math.floor(rnd() * 40);
            }
            if (shown === 0) return Number.NaN;
            shown--;
            return restarts;
          }, 0.01),
        );
        // The real size changes now and then (someone else's change), and is unknown at times.
        let request = cpu;
        history.series.cpuRequest.set(
          key,
          series(() => (rnd() < 0.005 ? (request = cpu * (0.5 + rnd())) : request), 0.01),
        );
        history.series.memoryRequest.set(
          key,
          series(() => memory, 0.01),
        );
        let limit = 2 * memory;
        history.series.memoryLimit.set(
          key,
          series(() => (rnd() < 0.005 ? (limit = memory * (1 + rnd() * 2)) : limit), 0.01),
        );
      }
    }
  }
  // Failed usage queries over a chunk, as fetchHistory records them: sometimes two metrics' over steps in common,
  // each with its own reason (a round names the first metric's, in the live poll's order).
  let at = Math.floor(rnd() * n);
  for (let k = rnd() < 0.7 ? (rnd() < 0.5 ? 2 : 1) : 0; k > 0; k--) {
    const metric = (["cpu", "memory", "nodes", "throttledRatio"] as const)[Math.floor(rnd() * 4)] as HistoryMetric;
    const first = Math.min(n - 1, at);
    const last = Math.min(n - 1, first + Math.floor(rnd() * 60));
    const error = `Prometheus unavailable: 503 (${metric})`;
    for (let i = first; i <= last; i++) history.failedAt[metric][i] = error;
    history.failures.push({
      metric,
      from: new Date(steps[first] as number).toISOString(),
      to: new Date(steps[last] as number).toISOString(),
      error,
    });
    at = first + Math.floor(rnd() * 30);
  }
  return { history, workloads, steps: n };
}

const policy = (name: string, spec: Record<string, unknown>): Policy => ({
  source: `${name}.yaml`,
  raw: { apiVersion: "metapilot.io/v1alpha1", kind: "ClusterScaler", metadata: { name }, spec },
});

const bounds = { minAllowed: { cpu: "100m", memory: "128Mi" }, maxAllowed: { cpu: "3", memory: "3Gi" } };
const policies = [
  policy("down-5m", {
    components: ["kube-apiserver", "kube-scheduler", "etcd"].map((name) => ({ name, ...bounds })),
    scaleUp: { cooldown: "1m" },
    scaleDown: { enabled: true, stabilizationWindow: "5m", maxStepPercent: 20 },
  }),
  policy("down-30m-gold", {
    tenantSelector: { matchLabels: { tier: "gold" } },
    components: [
      { name: "kube-apiserver", replicas: { min: 2, max: 4 }, ...bounds },
      {
        name: "etcd",
        estimators: ["oom-memory", "cluster-size"],
        clusterSizeLadder: [
          { nodes: 0, cpu: "250m", memory: "512Mi" },
          { nodes: 100, objects: 4000, watchers: 400, cpu: "1", memory: "2Gi" },
        ],
        ...bounds,
      },
    ],
    scaleDown: { enabled: true, stabilizationWindow: "30m", maxStepPercent: 50 },
    overrides: [{ component: "etcd", thresholds: { cpu: 0.5 } }],
  }),
  policy("no-down", {
    components: [{ name: "kube-apiserver" }, { name: "kube-scheduler", scalers: [{ name: "oom" }, { name: "cpu" }] }],
    scaleDown: { enabled: false },
  }),
];

describe("the backtest's replay and its reference path", () => {
  it.each(Array.from({ length: 12 }, (_, i) => 1000 + i))("give each round the same signals (seed %i)", (seed) => {
    const { history, workloads } = fixture(seed);
    let unavailable = 0;
    for (const w of workloads) {
      const fast = workloadSignals(history, w);
      const { rounds } = workloadSteps(history, w);
      rounds.forEach((round, i) => {
        const reference = signalsOf(round.signals);
        const signals = fast.signalsAt(i);
        // Where both forms leave a signal out: absent in one, undefined in the other.
        expect(JSON.parse(JSON.stringify(signals))).toEqual(JSON.parse(JSON.stringify(reference)));
        expect(signals.unavailableReason).toBe(reference.unavailableReason);
        if (signals.unavailableReason) unavailable++;
      });
    }
    // Not vacuous: some rounds had a failed query.
    if (history.failures.length > 0) expect(unavailable).toBeGreaterThan(0);
  });

  it.each(Array.from({ length: 12 }, (_, i) => 1000 + i))("give the same report (seed %i)", (seed) => {
    const { history, workloads } = fixture(seed);
    const from = history.steps[0] as number;
    const to = history.steps.at(-1) as number;
    const fast = runBacktest({ policies, workloads, history, from, to });
    const exact = runBacktest({ policies, workloads, history, from, to, exact: true });
    expect(fast).toEqual(exact);
    // Not vacuous: the histories make the engine act, both ways, and answer OOM kills.
    const changes = fast.policies.flatMap((p) => Object.values(p.timeline).flat());
    expect(changes.some((e) => e.direction === "Up")).toBe(true);
    expect(changes.some((e) => e.direction === "Down")).toBe(true);
    expect(fast.policies.some((p) => p.oomKills.length > 0)).toBe(true);
    // And the load signals are rebuilt: the apf and latency scalers act on them.
    const categories = new Set(changes.map((e) => e.category));
    expect(categories.has("APFSaturation") || categories.has("RequestLatency")).toBe(true);
  });
});
