// The recommender at fleet scale: 12,000 containers (100 namespaces × 50 Deployments: 40 of 2 pods, 10 of 4) with 8
// days of synthetic cAdvisor history in five shapes (`shapes` below: the original identical pods, and four whose
// pods differ from each other) backfilled into a Prometheus of its own (OpenMetrics → promtool). Measures the
// bootstrap (history read in batches, one range query per metric per group of namespaces, fed into the models), computing
// every recommendation, the checkpoint size, a restart from checkpoints, the number of PromQL queries, our peak
// RSS and Prometheus' peak RSS. History is at a 30-minute resolution to keep the backfill file under a GB; the
// query path is the controller's (ModelStore over PrometheusUsageSource, reading groups of namespaces, then
// recommendContainers).
// In the same run, on the same Prometheus, the upstream VPA recommender (bench/vpa-upstream.ts) reads the same
// history and its recommendations are compared with ours, per container: ours as the controller feeds it, and ours
// fed exactly the samples VPA read (its own queries, re-run), which separates feeding from the algorithm; overall and
// per shape.
// Run alone: `npx tsx bench/recommender.ts [--quick]`, or through bench/run.ts as "recommender".
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HistoryPrometheus, writeOpenMetrics, type SyntheticContainer } from "../test/recommender/history.js";
import { fromCheckpoint, toCheckpoint } from "../src/recommender/checkpoint.js";
import {
  addCpuSample,
  addMemorySample,
  newContainerState,
  type ContainerState,
} from "../src/recommender/model/container.js";
import { OwnerResolver } from "../src/recommender/input/owners.js";
import { PrometheusClient } from "../src/prometheus/client.js";
import { defaultMetricNames, PrometheusUsageSource } from "../src/recommender/input/usage.js";
import { algorithmByName, resolveParameters, type Estimate } from "../src/recommender/logic/index.js";
import { recommendContainers } from "../src/recommender/recommend.js";
import { ModelStore, type WorkloadModel } from "../src/recommender/store.js";
import {
  machineInfo,
  mapLimit,
  percentile,
  readResults,
  round,
  writeResults,
  type BenchOptions,
  type Benchmark,
} from "./lib.js";
import { runUpstreamVpa, type VpaRecommendation } from "./vpa-upstream.js";
import { unitHash } from "../src/backtest/synthetic-fleet.js";

const dayMs = 86_400_000;

/** VPA's history provider: a cAdvisor job label and a pod-labels series with the Deployment's selector label. */
const cadvisorJob = "kubernetes-cadvisor";
const podLabelsMetric = "kube_pod_labels";

const MiB = 2 ** 20;
const halfHourMs = 1_800_000;

/** Where a workload sits: namespace n, Deployment d, pod p, base CPU (cores) and base memory (bytes). */
interface PodPlace {
  n: number;
  d: number;
  p: number;
  cpu: number;
  memory: number;
}

interface Shape {
  name: string;
  description: string;
  pods: number;
  cpu: (w: PodPlace, t: number) => number;
  memory: (w: PodPlace, t: number) => number;
}

const daily = (t: number) => Math.sin((2 * Math.PI * (t % dayMs)) / dayMs);
/**
 * Noise in [0, 1) that changes every 30 minutes (the history resolution) on the epoch's grid: a rate or a gauge read
 * at a 30-minute step sees the same values whatever the reader's clock offset, ours on the epoch's grid and VPA's on
 * its own, so what the comparison measures is the model, not which half of the 15-minute counter increments each
 * reader happened to see.
 */
const slotNoise = (w: PodPlace, t: number, salt: number) => unitHash(w.n, w.d, w.p, Math.floor(t / halfHourMs), salt);

/**
 * The history's shapes, one per Deployment in turn (Deployment d has shape d mod 5). All but the first differ between
 * the pods of one workload, which is where one memory peak per pod (VPA's rule) and one per workload part.
 */
export const shapes: Shape[] = [
  {
    name: "original",
    description:
      "the first benchmark's shape, kept for continuity: 2 identical pods, CPU base × (1 + 0.5 sin) by time of day, memory × (1 + 0.2 sin) over 24 h",
    pods: 2,
    cpu: (w, t) => w.cpu * (1 + 0.5 * daily(t)),
    memory: (w, t) => w.memory * (1 + 0.2 * Math.sin((2 * Math.PI * t) / dayMs)),
  },
  {
    name: "diurnal",
    description:
      "2 pods 20% apart in level and 3 h apart in phase: CPU × (1 + 0.5 sin) × ±10% noise per 30 min, memory × (1 + 0.2 sin)",
    pods: 2,
    cpu: (w, t) =>
      w.cpu * (1 + 0.2 * w.p) * (1 + 0.5 * daily(t + w.p * 3 * 3_600_000)) * (0.9 + 0.2 * slotNoise(w, t, 1)),
    memory: (w, t) => w.memory * (1 + 0.2 * w.p) * (1 + 0.2 * daily(t + w.p * 3 * 3_600_000)),
  },
  {
    name: "spiky",
    description:
      "2 pods 10% apart, each with its own spikes: CPU 0.8–1.2 × base, 4 × base in 5% of the half-hours; memory 1–1.05 × base, 1.6 × base in 3% of the half-hours",
    pods: 2,
    cpu: (w, t) => w.cpu * (1 + 0.1 * w.p) * (slotNoise(w, t, 2) < 0.05 ? 4 : 0.8 + 0.4 * slotNoise(w, t, 3)),
    memory: (w, t) => w.memory * (1 + 0.1 * w.p) * (slotNoise(w, t, 4) < 0.03 ? 1.6 : 1 + 0.05 * slotNoise(w, t, 5)),
  },
  {
    name: "leaky",
    description:
      "2 pods that leak memory from 0.5 to 1.5 × base and restart, pod p every 1.5 + p days at its own phase; CPU base ± 10% noise",
    pods: 2,
    cpu: (w, t) => w.cpu * (0.9 + 0.2 * slotNoise(w, t, 6)),
    memory: (w, t) => {
      const period = (1.5 + w.p) * dayMs;
      const phase = (unitHash(w.n, w.d, w.p, 7) * period) | 0;
      return w.memory * (0.5 + ((t + phase) % period) / period);
    },
  },
  {
    name: "uneven",
    description:
      "4 replicas behind one Service with uneven load (0.55, 0.85, 1.15, 1.45 × base): CPU × (1 + 0.3 sin) ± 10% noise, memory × (0.6 + 0.4 load) × (1 + 0.1 sin) ± 3%",
    pods: 4,
    cpu: (w, t) => w.cpu * (0.55 + 0.3 * w.p) * (1 + 0.3 * daily(t)) * (0.9 + 0.2 * slotNoise(w, t, 8)),
    memory: (w, t) =>
      w.memory * (0.6 + 0.4 * (0.55 + 0.3 * w.p)) * (1 + 0.1 * daily(t)) * (0.97 + 0.06 * slotNoise(w, t, 9)),
  },
];

const shapeOf = (d: number) => shapes[d % shapes.length]!;

type Bound = "target" | "lowerBound" | "upperBound";
const bounds: Bound[] = ["target", "lowerBound", "upperBound"];

/** The shape of a workload key `bench-<n>/d<d>`. */
const shapeOfKey = (key: string) => shapeOf(Number(key.split("/d")[1])).name;

/** compare(), overall and for each shape. */
function compareByShape(ours: ReadonlyMap<string, Estimate>, vpa: ReadonlyMap<string, VpaRecommendation>) {
  return {
    all: compare(ours, vpa),
    byShape: Object.fromEntries(
      shapes.map((sh) => [sh.name, compare(ours, vpa, (k) => shapeOfKey(k) === sh.name)] as const),
    ),
  };
}

/** |ours − VPA| / VPA per workload (its one container), for each bound and resource. */
function compare(
  ours: ReadonlyMap<string, Estimate>,
  vpa: ReadonlyMap<string, VpaRecommendation>,
  include: (key: string) => boolean = () => true,
) {
  const out: Record<string, unknown> = {};
  let both = 0;
  for (const b of bounds) {
    for (const r of ["cpu", "memory"] as const) {
      const diffs: number[] = [];
      let oursHigher = 0;
      for (const [k, v] of vpa) {
        if (!include(k)) continue;
        const o = ours.get(k);
        if (!o) continue;
        diffs.push(Math.abs(o[b][r] - v[b][r]) / v[b][r]);
        if (o[b][r] > v[b][r]) oursHigher++;
      }
      both = diffs.length;
      out[`${b}.${r}`] = {
        medianRelDiff: round(percentile(diffs, 50), 4),
        p90RelDiff: round(percentile(diffs, 90), 4),
        maxRelDiff: round(Math.max(...diffs), 4),
        within5pct: diffs.filter((d) => d <= 0.05).length,
        oursHigher,
        of: diffs.length,
      };
    }
  }
  return { containersCompared: both, ...out };
}

interface CompareInput {
  prom: HistoryPrometheus;
  client: PrometheusClient;
  namespaces: number;
  deploymentsPerNamespace: number;
  intervalS: number;
  ours: ReadonlyMap<string, Estimate>;
  /** Ours as the controller with memoryPeakRule "VPA" (the same reads). */
  oursVpaRule?: ReadonlyMap<string, Estimate>;
  end: number;
  opts: BenchOptions;
}

/**
 * Upstream VPA on the same Prometheus, then ours fed VPA's own samples: its range queries (from Prometheus'
 * query log) re-run through our client at its start, end and step, each point one sample of one minute as VPA
 * counts them (TotalSamplesCount / 1440 is its confidence), CPU truncated to whole millicores as VPA stores it,
 * fed per Deployment as VPA aggregates per selector.
 */
async function compareWithVpa(c: CompareInput) {
  const { opts } = c;
  const workloads = [];
  for (let n = 0; n < c.namespaces; n++) {
    for (let d = 0; d < c.deploymentsPerNamespace; d++) {
      workloads.push({ namespace: `bench-${n}`, deployment: `d${d}`, labels: { app: `d${d}` } });
    }
  }
  const before = c.prom.rangeQueries().length;
  const vpa = await runUpstreamVpa({
    prometheusUrl: c.prom.url,
    workloads,
    container: "app",
    historyLength: "8d",
    historyResolution: `${c.intervalS / 60}m`,
    cadvisorJob,
    podLabelsQuery: `${podLabelsMetric}[1d]`,
    log: opts.log,
  });
  opts.log(`VPA recommended all ${workloads.length} VPAs ${vpa.recommendedAllSeconds.toFixed(1)} s after start`);
  const vpaQueries = c.prom.rangeQueries().slice(before);
  const cpuQuery = vpaQueries.find((q) => q.query.startsWith("rate("));
  const memoryQuery = vpaQueries.find((q) => q.query.startsWith("container_memory_working_set_bytes"));
  if (!cpuQuery || !memoryQuery)
    throw new Error(`VPA's history queries not in the query log: ${JSON.stringify(vpaQueries)}`);

  // Ours on exactly VPA's samples, under each memory peak rule: "PerDay" (ours) and "VPA" (VPA's own windows, the
  // model's rule, model/container.ts), which tells that rule apart from the per-pod aggregation and from feeding.
  const algorithm = algorithmByName("vpa-histogram");
  const params = resolveParameters(algorithm);
  const rules = ["PerDay", "VPA"] as const;
  const states = { PerDay: new Map<string, ContainerState>(), VPA: new Map<string, ContainerState>() };
  const workloadKeyOf = (labels: Record<string, string>) => `${labels.namespace}/${(labels.pod ?? "").split("-")[0]}`;
  const statesOf = (labels: Record<string, string>) => {
    const k = workloadKeyOf(labels);
    return rules.map((rule) => {
      let st = states[rule].get(k);
      if (!st) states[rule].set(k, (st = newContainerState(params.halfLifeHours * 3_600_000, cpuQuery.endMs, rule)));
      return st;
    });
  };
  let samples = 0;
  for (const s of await c.client.queryRange(
    cpuQuery.query,
    new Date(cpuQuery.startMs),
    new Date(cpuQuery.endMs),
    cpuQuery.step,
  )) {
    // VPA stores usage as whole millicores (model.CPUAmountFromCores truncates) before it buckets a sample.
    for (const st of statesOf(s.labels))
      for (const [t, v] of s.points) addCpuSample(st, t, Math.trunc(v * 1000) / 1000, 1);
    samples += s.points.length;
  }
  for (const s of await c.client.queryRange(
    memoryQuery.query,
    new Date(memoryQuery.startMs),
    new Date(memoryQuery.endMs),
    memoryQuery.step,
  )) {
    // VPA keeps one memory peak per pod container and window: the pod is the series' own; samples in time order.
    for (const st of statesOf(s.labels)) for (const [t, v] of s.points) addMemorySample(st, s.labels.pod ?? "", t, v);
    samples += s.points.length;
  }
  const vpaNow = new Date(cpuQuery.endMs);
  const estimates = (m: ReadonlyMap<string, ContainerState>) => {
    const out = new Map<string, Estimate>();
    for (const [k, st] of m) {
      const [r] = recommendContainers(["app"], new Map([["app", st]]), algorithm, params, vpaNow);
      if (r?.estimate) out.set(k, r.estimate);
    }
    return out;
  };
  const matched = estimates(states.PerDay);
  const vpaRule = estimates(states.VPA);
  const example = (m: ReadonlyMap<string, Estimate | VpaRecommendation>) => {
    const e = m.get("bench-0/d1");
    return e && { target: e.target, lowerBound: e.lowerBound, upperBound: e.upperBound };
  };
  return {
    version: vpa.version,
    flags: vpa.flags,
    queries: vpaQueries.map((q) => ({
      query: q.query,
      step: q.step,
      rangeHours: round((q.endMs - q.startMs) / 3_600_000, 2),
    })),
    queryEndAfterOurEndMinutes: round((cpuQuery.endMs - c.end) / 60_000, 1),
    metaclusterUpSeconds: round(vpa.metaclusterUpSeconds, 1),
    deploymentsAndVpasCreateSeconds: round(vpa.createSeconds, 1),
    recommendedAllSeconds: round(vpa.recommendedAllSeconds, 1),
    firstRecommendationSeconds: round(vpa.firstRecommendationSeconds, 1),
    recommenderPeakRssMiB: round(vpa.peakRssMiB, 1),
    phasesFromItsLog: Object.fromEntries(
      Object.entries(vpa.phases).map(([k, v]) => [k, v === undefined ? null : round(v, 1)]),
    ),
    recommendations: vpa.recommendations.size,
    exampleBench0D1: { vpa: example(vpa.recommendations), ours: example(c.ours), oursOnVpaSamples: example(matched) },
    confidenceDaysBench0D1: {
      oursAsController: round(c.ours.get("bench-0/d1")?.confidenceDays ?? Number.NaN, 3),
      vpaFormulaOnItsSamples: round(matched.get("bench-0/d1")?.confidenceDays ?? Number.NaN, 3),
    },
    oursAsControllerVsVpa: compareByShape(c.ours, vpa.recommendations),
    ...(c.oursVpaRule && {
      oursAsControllerVpaRuleVsVpa: {
        note: 'ours as the controller with spec.parameters.memoryPeakRule "VPA", fed the same reads as oursAsControllerVsVpa',
        ...compareByShape(c.oursVpaRule, vpa.recommendations),
      },
    }),
    oursOnVpaSamplesVsVpa: { samplesFed: samples, ...compareByShape(matched, vpa.recommendations) },
    vpaMemoryRuleOnVpaSamplesVsVpa: {
      note: "ours on VPA's samples with memoryPeakRule \"VPA\" (VPA's memory windows, model/container.ts): every bound; CPU as oursOnVpaSamplesVsVpa",
      ...compareByShape(vpaRule, vpa.recommendations),
    },
    differencesExplained: [
      "Feeding: VPA reads rate(cpu[30m]) and the plain memory gauge at a 30 m step from its own clock; ours (as the controller, rate window 5m raised to the step) reads rate(cpu[1800s]) and max_over_time(memory[30m]) at a 30 m step, its history from its own clock back by whole steps to exactly 8 days before, both ends included, as VPA reads (ReadGrid fromEnd), so each point of either is one step of usage. The CPU counter is written every 15 min so that a rate over one step has two samples; the synthetic noise changes every 30 min on the epoch's grid, so both readers see the same values whatever their clock offset (the original shape is smooth). Prometheus runs with --query.lookback-delta=31m so that VPA's instant selector finds the 30-minute memory samples.",
      "upperBound (CPU and memory): confidence. VPA's getConfidence is min(lifespan days, TotalSamplesCount / 1440): every sample counts as one minute, so 385 points × 2 pods at 30 m resolution are 0.53 days and the upper bound is × (1 + 1/0.53) ≈ 2.87. Ours counts each point as the minutes it stands for (30), so confidence is capped by the 8-day lifespan: × 1.125. Fed VPA's samples at one minute each, ours gives VPA's bound.",
      "Memory (target and lower bound): aggregation windows. Both keep one memory peak per pod per 24 h, VPA per pod container and window (model/container.go addMemorySample), ours per pod and UTC day. VPA's windows are anchored at each pod's first sample and each window's peak is added at the window's END: a Prometheus bootstrap reads exactly 8 days, so the last point (the usage at the moment VPA read its history) is alone in a ninth window whose end is ~24 h ahead, and weighs about half of that pod's histogram. Ours keeps each UTC day's peak at its own time, and today's peak so far weighs about as much. Where the usage at VPA's start is below the day's peak so far (spikes, noisy replicas), a percentile can fall a bucket apart, ours above; where it is at the daily high, as in the original shape after 06:00 UTC, every peak is the same. vpaMemoryRuleOnVpaSamplesVsVpa runs the model's \"VPA\" memory peak rule (VPA's windows) on VPA's own samples, and oursAsControllerVpaRuleVsVpa runs it as the controller reads: where it reproduces VPA's status, the remaining difference is that rule, not the per-pod aggregation.",
      "CPU: VPA truncates to whole millicores each usage sample (model.CPUAmountFromCores, before bucketing) and the result after the percentile, the margin and the confidence multiplier (model.ScaleResource); ours is compared unrounded, so ours is higher by about 1 m. The truncated samples can also move a percentile that sits at a bucket edge one bucket (5%) down: ours fed VPA's samples truncates them the same way.",
    ],
    vpaLogTail: vpa.logTail,
  };
}

async function run(opts: BenchOptions): Promise<Record<string, unknown>> {
  // BENCH_RECOMMENDER_NAMESPACES sets the size between --quick's 10 and the full 100 (50 workloads each).
  const namespaces = Number(process.env.BENCH_RECOMMENDER_NAMESPACES ?? (opts.quick ? 10 : 100));
  if (!Number.isInteger(namespaces) || namespaces < 1)
    throw new Error("BENCH_RECOMMENDER_NAMESPACES: a whole number ≥ 1");
  const deploymentsPerNamespace = 50;
  const intervalS = 1800;
  const podsPerNamespace = Array.from({ length: deploymentsPerNamespace }, (_, d) => shapeOf(d).pods).reduce(
    (a, b) => a + b,
    0,
  );
  const containers = namespaces * podsPerNamespace;
  const prom = new HistoryPrometheus();
  try {
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const start = end - 8 * dayMs;
    const synthetic: SyntheticContainer[] = [];
    for (let n = 0; n < namespaces; n++) {
      for (let d = 0; d < deploymentsPerNamespace; d++) {
        const shape = shapeOf(d);
        for (let p = 0; p < shape.pods; p++) {
          const place: PodPlace = {
            n,
            d,
            p,
            cpu: 0.05 + ((n * 7 + d * 13) % 40) / 20,
            memory: (200 + ((n + d) % 30) * 40) * MiB,
          };
          synthetic.push({
            namespace: `bench-${n}`,
            pod: `d${d}-5f7c9b${d % 10}-p${p}xyz`,
            container: "app",
            podLabels: { app: `d${d}` },
            cpu: (t) => shape.cpu(place, t),
            memory: (t) => shape.memory(place, t),
          });
        }
      }
    }
    const file = path.join(prom.dir, "history.om");
    let t = performance.now();
    // VPA runs after ours and reads the 8 days before its own clock: the history starts an hour early and goes
    // on 3 hours past `end` (ours reads [end − 8 d, end]), so both read 8 full days of the same series.
    // The samples sit halfway between the quarter-hours (7.5 min past them), never on a point of our 30-minute
    // grid: Prometheus 2 range selectors include both ends, so a counter sample on a point would put three samples
    // (two increments, two slots of usage) in a rate over one step, and a gauge sample in two max_over_time
    // windows. Scrapes at real-world millisecond offsets almost never land on a point; a run started at 1 minute
    // past a quarter-hour made every sample land on one.
    const quarterHourMs = 900_000;
    const gridStart =
      start -
      3_600_000 +
      ((((quarterHourMs / 2 - (start - 3_600_000)) % quarterHourMs) + quarterHourMs) % quarterHourMs);
    const { samples } = await writeOpenMetrics(file, synthetic, gridStart, end + 3 * 3_600_000, intervalS, {
      job: cadvisorJob,
      // VPA's CPU is rate(…[history resolution]) at that step: it needs two counter samples per 30 minutes.
      cpuIntervalS: intervalS / 2,
      podLabelsMetric,
    });
    const writeSeconds = (performance.now() - t) / 1000;
    opts.log(`wrote ${samples} samples for ${containers} containers in ${writeSeconds.toFixed(1)} s`);
    t = performance.now();
    await prom.backfill(file);
    const backfillSeconds = (performance.now() - t) / 1000;
    opts.log(`promtool backfill in ${backfillSeconds.toFixed(1)} s`);
    // VPA reads memory as the plain gauge at each 30-minute step; with a sample every 30 minutes the default
    // 5-minute lookback would miss most of them. Our queries use range selectors and are not affected.
    await prom.start([`--query.lookback-delta=${intervalS / 60 + 1}m`]);

    let queries = 0;
    const client = new PrometheusClient({
      url: prom.url,
      timeoutMs: 120_000,
      // The comparison replays VPA's own history queries, one query over every container (33.6 MB for the cpu one
      // at full size, over the controller's 32 MiB default, which its reads in groups of namespaces stay under).
      maxResponseBytes: 256 * 1024 * 1024,
      onRequest: () => queries++,
    });
    // The controller's default window (5m); at the 30 m history step the query's window is the step (usageQueries),
    // as VPA's rate over its history resolution.
    const source = new PrometheusUsageSource(client, defaultMetricNames);
    const resolver = new OwnerResolver({
      pod: () => undefined,
      replicaSet: (ns, name) => ({
        metadata: {
          name,
          namespace: ns,
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name: name.replace(/-[^-]+$/, ""),
              uid: "u",
              controller: true,
            },
          ],
        },
      }),
      replicaSetNames: () => Array.from({ length: deploymentsPerNamespace }, (_, d) => `d${d}-5f7c9b${d % 10}`),
      statefulSetNames: () => [],
    });
    const algorithm = algorithmByName("vpa-histogram");
    const params = resolveParameters(algorithm);
    const now = new Date(end);
    const models: WorkloadModel[] = [];
    const rssBefore = process.memoryUsage().rss;
    t = performance.now();
    // The controller's path: a ModelStore refreshed namespace by namespace by four workers; it reads groups of up
    // to 20 namespaces that are behind with one query per metric.
    const store = new ModelStore({
      source,
      resolver,
      now: () => now,
      historyStepSeconds: intervalS,
      bootstrapGatherMs: 0,
    });
    for (let n = 0; n < namespaces; n++) {
      const ns = `bench-${n}`;
      for (let d = 0; d < deploymentsPerNamespace; d++) {
        const m: WorkloadModel = {
          namespace: ns,
          ref: { kind: "Deployment" as const, name: `d${d}` },
          uid: `${ns}-d${d}`,
          containers: new Map(),
          halfLifeMs: 24 * 3_600_000,
          historyDays: 8,
        };
        store.set(m);
        models.push(m);
      }
    }
    const names = Array.from({ length: namespaces }, (_, n) => `bench-${n}`);
    let refreshed = 0;
    await mapLimit(names, 4, async (ns) => {
      await store.refresh(ns);
      if (++refreshed % 10 === 0) opts.log(`bootstrapped ${refreshed}/${namespaces} namespaces`);
    });
    const bootstrapReads = store.stats.refreshes;
    const bootstrapSeconds = (performance.now() - t) / 1000;
    const bootstrapQueries = queries;
    // Read here, before the VPA phase holds its re-read samples in this process.
    const rssGrowthDuringBootstrapMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    t = performance.now();
    let recommended = 0;
    const ours = new Map<string, Estimate>();
    for (const m of models) {
      for (const r of recommendContainers(["app"], m.containers, algorithm, params, now)) {
        if (r.reason === "Recommended") recommended++;
        if (r.estimate) ours.set(`${m.namespace}/${m.ref.name}`, r.estimate);
      }
    }
    const recommendSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const checkpoints = models.map((m) => JSON.stringify(toCheckpoint(m, now)));
    const checkpointBytes = checkpoints.map((c) => c.length);
    const checkpointSeconds = (performance.now() - t) / 1000;

    // A restart: models from checkpoints, then one live read per metric per namespace for the last minutes.
    t = performance.now();
    queries = 0;
    const restored = models.map((m, i) => {
      const r = fromCheckpoint(JSON.parse(checkpoints[i]!), {
        namespace: m.namespace,
        ref: m.ref,
        uid: m.uid,
        halfLifeMs: m.halfLifeMs,
        historyDays: 8,
      });
      if (!r.ok) throw new Error(r.reason);
      return r.model;
    });
    // Five minutes later: every restored model is behind by a live read, again in groups of namespaces.
    const later = new Date(end + 5 * 60_000);
    const restartStore = new ModelStore({ source, resolver, now: () => later, bootstrapGatherMs: 0 });
    for (const m of restored) restartStore.set(m);
    await mapLimit(names, 4, (ns) => restartStore.refresh(ns));
    const restartSeconds = (performance.now() - t) / 1000;
    // Read here: the VPA comparison re-runs VPA's queries through the same counting client.
    const restartQueries = queries;
    const sorted = [...checkpointBytes].sort((a, b) => a - b);
    const oursRecommendSeconds = bootstrapSeconds + recommendSeconds;
    const oursRss = process.resourceUsage().maxRSS / 1024;
    const prometheusRssOurs = prom.peakRssBytes() / 2 ** 20;

    // The same history read again by a store whose models use memoryPeakRule "VPA" (after every figure above, so
    // they are the default rule's alone), for the comparison of both rules with VPA.
    t = performance.now();
    const vpaRuleModels: WorkloadModel[] = models.map((m) => ({
      namespace: m.namespace,
      ref: m.ref,
      uid: m.uid,
      containers: new Map(),
      halfLifeMs: m.halfLifeMs,
      historyDays: m.historyDays,
      memoryPeakRule: "VPA",
    }));
    const vpaRuleStore = new ModelStore({
      source,
      resolver,
      now: () => now,
      historyStepSeconds: intervalS,
      bootstrapGatherMs: 0,
    });
    for (const m of vpaRuleModels) vpaRuleStore.set(m);
    await mapLimit(names, 4, (ns) => vpaRuleStore.refresh(ns));
    const oursVpaRule = new Map<string, Estimate>();
    for (const m of vpaRuleModels) {
      for (const r of recommendContainers(["app"], m.containers, algorithm, params, now))
        if (r.estimate) oursVpaRule.set(`${m.namespace}/${m.ref.name}`, r.estimate);
    }
    const vpaRuleSeconds = (performance.now() - t) / 1000;
    const vpa = await compareWithVpa({
      prom,
      client,
      namespaces,
      deploymentsPerNamespace,
      intervalS,
      ours,
      oursVpaRule,
      end,
      opts,
    });
    return {
      machine: machineInfo(),
      containers,
      namespaces,
      workloads: models.length,
      shapes: shapes.map((sh) => ({
        name: sh.name,
        podsPerWorkload: sh.pods,
        workloads: models.filter((m) => shapeOf(Number(m.ref.name.slice(1))).name === sh.name).length,
        description: sh.description,
      })),
      historyDays: 8,
      historyResolutionSeconds: intervalS,
      syntheticSamples: samples,
      openMetricsWriteSeconds: round(writeSeconds, 1),
      promtoolBackfillSeconds: round(backfillSeconds, 1),
      bootstrap: {
        wallSeconds: round(bootstrapSeconds, 2),
        promqlQueries: bootstrapQueries,
        reads: bootstrapReads,
        namespacesPerRead: round(namespaces / bootstrapReads, 1),
      },
      recommend: {
        wallSeconds: round(recommendSeconds, 3),
        containerModels: models.length,
        containerModelsRecommended: recommended,
      },
      checkpoint: {
        serializeSeconds: round(checkpointSeconds, 3),
        medianBytesPerWorkload: sorted[Math.floor(sorted.length / 2)],
        maxBytesPerWorkload: sorted[sorted.length - 1],
        totalMiB: round(checkpointBytes.reduce((a, b) => a + b, 0) / 2 ** 20, 1),
      },
      restartFromCheckpoints: {
        wallSeconds: round(restartSeconds, 2),
        promqlQueries: restartQueries,
        reads: restartStore.stats.refreshes,
        historyRead: restartStore.stats.historyReads > 0,
      },
      memoryPeakRuleVpa: {
        note: 'a second bootstrap and recommendation with memoryPeakRule "VPA", after the figures above',
        wallSeconds: round(vpaRuleSeconds, 2),
      },
      recommenderPeakRssMiB: round(oursRss, 1),
      recommenderRssGrowthDuringBootstrapMiB: round(rssGrowthDuringBootstrapMiB, 1),
      prometheusPeakRssMiB: round(prometheusRssOurs, 1),
      loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
      prometheusPeakRssMiBAfterVpa: round(prom.peakRssBytes() / 2 ** 20, 1),
      upstreamVpa: {
        ...vpa,
        timeRatioVpaOverOurs: round(vpa.recommendedAllSeconds / oursRecommendSeconds, 2),
        oursHistoryToRecommendationsSeconds: round(oursRecommendSeconds, 2),
      },
    };
  } finally {
    await prom.cleanup();
  }
}

/**
 * A run at BENCH_RECOMMENDER_NAMESPACES other than the full 100 goes beside the full-size figures in
 * results/recommender.json, under runsAtOtherSizes["<N> namespaces"]; --quick runs replace their file, full-size runs
 * everything but runsAtOtherSizes.
 */
function writeRecommenderResults(quick: boolean, body: Record<string, unknown>): string {
  const sized = process.env.BENCH_RECOMMENDER_NAMESPACES;
  if (sized === undefined || Number(sized) === 100) {
    // A full-size run keeps the runs at other sizes beside it.
    const kept = quick ? undefined : readResults("recommender")?.runsAtOtherSizes;
    return writeResults("recommender", quick, kept === undefined ? body : { ...body, runsAtOtherSizes: kept });
  }
  const full = readResults("recommender") ?? {};
  const other = (full.runsAtOtherSizes ?? {}) as Record<string, unknown>;
  other[`${String(body.namespaces)} namespaces`] = body;
  return `${writeResults("recommender", false, { ...full, runsAtOtherSizes: other })} (runsAtOtherSizes)`;
}

export const recommenderBenchmark: Benchmark = {
  name: "recommender",
  description:
    "12,000 containers × 8 days in five shapes: bootstrap queries, wall time, peak RSS of recommender and Prometheus, agreement with upstream VPA per shape",
  run,
  write: writeRecommenderResults,
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const log = (l: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} recommender] ${l}\n`);
  const started = performance.now();
  const figures = await run({ quick, coldBuild: false, log });
  const file = writeRecommenderResults(quick, {
    benchmark: "recommender",
    description: recommenderBenchmark.description,
    quick,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    ...figures,
  });
  log(`wrote ${file}`);
}
