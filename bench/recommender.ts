// The recommender at fleet scale: 10,000 containers (100 namespaces × 50 Deployments × 2 pods) with 8 days of
// synthetic cAdvisor history backfilled into a Prometheus of its own (OpenMetrics → promtool). Measures the
// bootstrap (history read in batches, one range query per metric per group of namespaces, fed into the models), computing
// every recommendation, the checkpoint size, a restart from checkpoints, the number of PromQL queries, our peak
// RSS and Prometheus' peak RSS. History is at a 30-minute resolution to keep the backfill file under a GB; the
// query path is the controller's (ModelStore over PrometheusUsageSource, reading groups of namespaces, then
// recommendContainers).
// In the same run, on the same Prometheus, the upstream VPA recommender (bench/vpa-upstream.ts) reads the same
// history and its recommendations are compared with ours, per container: ours as the controller feeds it, and ours
// fed exactly the samples VPA read (its own queries, re-run), which separates feeding from the algorithm.
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
import { machineInfo, mapLimit, percentile, round, writeResults, type BenchOptions, type Benchmark } from "./lib.js";
import { runUpstreamVpa, type VpaRecommendation } from "./vpa-upstream.js";

const dayMs = 86_400_000;

/** VPA's history provider: a cAdvisor job label and a pod-labels series with the Deployment's selector label. */
const cadvisorJob = "kubernetes-cadvisor";
const podLabelsMetric = "kube_pod_labels";

type Bound = "target" | "lowerBound" | "upperBound";
const bounds: Bound[] = ["target", "lowerBound", "upperBound"];

/** |ours − VPA| / VPA per container, for each bound and resource. */
function compare(ours: ReadonlyMap<string, Estimate>, vpa: ReadonlyMap<string, VpaRecommendation>) {
  const out: Record<string, unknown> = {};
  let both = 0;
  for (const b of bounds) {
    for (const r of ["cpu", "memory"] as const) {
      const diffs: number[] = [];
      let oursHigher = 0;
      for (const [k, v] of vpa) {
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

  // Ours on exactly VPA's samples.
  const algorithm = algorithmByName("vpa-histogram");
  const params = resolveParameters(algorithm);
  const states = new Map<string, ContainerState>();
  const stateOf = (labels: Record<string, string>) => {
    const k = `${labels.namespace}/${(labels.pod ?? "").split("-")[0]}`;
    let st = states.get(k);
    if (!st) states.set(k, (st = newContainerState(24 * 3_600_000, cpuQuery.endMs)));
    return st;
  };
  let samples = 0;
  for (const s of await c.client.queryRange(
    cpuQuery.query,
    new Date(cpuQuery.startMs),
    new Date(cpuQuery.endMs),
    cpuQuery.step,
  )) {
    const st = stateOf(s.labels);
    // VPA stores usage as whole millicores (model.CPUAmountFromCores truncates) before it buckets a sample.
    for (const [t, v] of s.points) addCpuSample(st, t, Math.trunc(v * 1000) / 1000, 1);
    samples += s.points.length;
  }
  for (const s of await c.client.queryRange(
    memoryQuery.query,
    new Date(memoryQuery.startMs),
    new Date(memoryQuery.endMs),
    memoryQuery.step,
  )) {
    const st = stateOf(s.labels);
    // VPA keeps one memory peak per pod container and window: the pod is the series' own.
    for (const [t, v] of s.points) addMemorySample(st, s.labels.pod ?? "", t, v);
    samples += s.points.length;
  }
  const matched = new Map<string, Estimate>();
  const vpaNow = new Date(cpuQuery.endMs);
  for (const [k, st] of states) {
    const [r] = recommendContainers(["app"], new Map([["app", st]]), algorithm, params, vpaNow);
    if (r?.estimate) matched.set(k, r.estimate);
  }
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
    oursAsControllerVsVpa: compare(c.ours, vpa.recommendations),
    oursOnVpaSamplesVsVpa: { samplesFed: samples, ...compare(matched, vpa.recommendations) },
    differencesExplained: [
      "Feeding: VPA reads rate(cpu[30m]) and the plain memory gauge at a 30 m step from its own clock; ours (as the controller) reads rate(cpu[1h]) and max_over_time(memory[30m]) on a 30 m grid aligned to the epoch. The CPU counter is written every 15 min so that VPA's rate over one step has two samples; Prometheus runs with --query.lookback-delta=31m so that VPA's instant selector finds the 30-minute memory samples.",
      "upperBound (CPU and memory): confidence. VPA's getConfidence is min(lifespan days, TotalSamplesCount / 1440): every sample counts as one minute, so 385 points × 2 pods at 30 m resolution are 0.53 days and the upper bound is × (1 + 1/0.53) ≈ 2.87. Ours counts each point as the minutes it stands for (30), so confidence is capped by the 8-day lifespan: × 1.125. Fed VPA's samples at one minute each, ours gives VPA's bound.",
      "lowerBound.memory: aggregation windows. VPA's per-container memory windows are 24 h from the first sample, and each window's peak is added at the window's END (model/container.go addMemorySample); 385 points fill 8 windows and leave the last point alone in a 9th window whose end is ~24 h ahead, so that single sample (the usage at the moment VPA ran, here the low part of the daily cycle) weighs 2^9/(2^10−2) ≈ 50% of the histogram and becomes the p50. Ours keeps one peak per UTC day at the peak's own time, and in a run after 06:00 UTC (when the synthetic cycle peaks) today's partial day already holds the daily maximum, so every peak is the same and the p50 equals the p90 (in a run before 06:00 UTC, today's lower partial peak could become ours' p50 too). Not a bug on either side; VPA's memory lower bound from a Prometheus bootstrap depends on the time of day it starts.",
      "CPU: VPA truncates to whole millicores each usage sample (model.CPUAmountFromCores, before bucketing) and the result after the percentile, the margin and the confidence multiplier (model.ScaleResource); ours is compared unrounded, so ours is higher by about 1 m. The truncated samples can also move a percentile that sits at a bucket edge one bucket (5%) down: ours fed VPA's samples truncates them the same way.",
    ],
    vpaLogTail: vpa.logTail,
  };
}

async function run(opts: BenchOptions): Promise<Record<string, unknown>> {
  const namespaces = opts.quick ? 10 : 100;
  const deploymentsPerNamespace = 50;
  const podsPerDeployment = 2;
  const intervalS = 1800;
  const containers = namespaces * deploymentsPerNamespace * podsPerDeployment;
  const prom = new HistoryPrometheus();
  try {
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const start = end - 8 * dayMs;
    const synthetic: SyntheticContainer[] = [];
    for (let n = 0; n < namespaces; n++) {
      for (let d = 0; d < deploymentsPerNamespace; d++) {
        for (let p = 0; p < podsPerDeployment; p++) {
          const base = 0.05 + ((n * 7 + d * 13) % 40) / 20;
          synthetic.push({
            namespace: `bench-${n}`,
            pod: `d${d}-5f7c9b${d % 10}-p${p}xyz`,
            container: "app",
            podLabels: { app: `d${d}` },
            // A daily cycle: busy by day, quiet at night.
            cpu: (t) => base * (1 + 0.5 * Math.sin((2 * Math.PI * (t % dayMs)) / dayMs)),
            memory: (t) => (200 + ((n + d) % 30) * 40) * 2 ** 20 * (1 + 0.2 * Math.sin((2 * Math.PI * t) / dayMs)),
          });
        }
      }
    }
    const file = path.join(prom.dir, "history.om");
    let t = performance.now();
    // VPA runs after ours and reads the 8 days before its own clock: the history starts an hour early and goes
    // on 3 hours past `end` (ours reads [end − 8 d, end]), so both read 8 full days of the same series.
    const { samples } = await writeOpenMetrics(file, synthetic, start - 3_600_000, end + 3 * 3_600_000, intervalS, {
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
    const client = new PrometheusClient({ url: prom.url, timeoutMs: 120_000, onRequest: () => queries++ });
    const source = new PrometheusUsageSource(client, { ...defaultMetricNames, rateWindow: "1h" });
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
    const sorted = [...checkpointBytes].sort((a, b) => a - b);
    const oursRecommendSeconds = bootstrapSeconds + recommendSeconds;
    const oursRss = process.resourceUsage().maxRSS / 1024;
    const prometheusRssOurs = prom.peakRssBytes() / 2 ** 20;
    const vpa = await compareWithVpa({ prom, client, namespaces, deploymentsPerNamespace, intervalS, ours, end, opts });
    return {
      machine: machineInfo(),
      containers,
      namespaces,
      workloads: models.length,
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
        promqlQueries: queries,
        reads: restartStore.stats.refreshes,
        historyRead: restartStore.stats.historyReads > 0,
      },
      recommenderPeakRssMiB: round(oursRss, 1),
      recommenderRssGrowthDuringBootstrapMiB: round((process.memoryUsage().rss - rssBefore) / 2 ** 20, 1),
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

export const recommenderBenchmark: Benchmark = {
  name: "recommender",
  description: "10,000 containers × 8 days: bootstrap queries, wall time, peak RSS of recommender and Prometheus",
  run,
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const log = (l: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} recommender] ${l}\n`);
  const started = performance.now();
  const figures = await run({ quick, coldBuild: false, log });
  const file = writeResults("recommender", quick, {
    benchmark: "recommender",
    description: recommenderBenchmark.description,
    quick,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    ...figures,
  });
  log(`wrote ${file}`);
}
