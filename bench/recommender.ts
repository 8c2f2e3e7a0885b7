// The recommender at fleet scale: 10,000 containers (100 namespaces × 50 Deployments × 2 pods) with 8 days of
// synthetic cAdvisor history backfilled into a Prometheus of its own (OpenMetrics → promtool). Measures the
// bootstrap (history read in batches, one range query per metric per namespace, fed into the models), computing
// every recommendation, the checkpoint size, a restart from checkpoints, the number of PromQL queries, our peak
// RSS and Prometheus' peak RSS. History is at a 30-minute resolution to keep the backfill file under a GB; the
// query path is the controller's (PrometheusUsageSource, feedBatch, recommendContainers).
// Run alone: `npx tsx bench/recommender.ts [--quick]`, or through bench/run.ts as "recommender".
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HistoryPrometheus, writeOpenMetrics, type SyntheticContainer } from "../test/recommender/history.js";
import { fromCheckpoint, toCheckpoint } from "../src/recommender/checkpoint.js";
import { OwnerResolver } from "../src/recommender/input/owners.js";
import { PrometheusClient } from "../src/prometheus/client.js";
import { defaultMetricNames, PrometheusUsageSource } from "../src/recommender/input/usage.js";
import { algorithmByName, resolveParameters } from "../src/recommender/logic/index.js";
import { recommendContainers } from "../src/recommender/recommend.js";
import { feedBatch, type WorkloadModel } from "../src/recommender/store.js";
import { machineInfo, round, writeResults, type BenchOptions, type Benchmark } from "./lib.js";

const dayMs = 86_400_000;

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
            // A daily cycle: busy by day, quiet at night.
            cpu: (t) => base * (1 + 0.5 * Math.sin((2 * Math.PI * (t % dayMs)) / dayMs)),
            memory: (t) => (200 + ((n + d) % 30) * 40) * 2 ** 20 * (1 + 0.2 * Math.sin((2 * Math.PI * t) / dayMs)),
          });
        }
      }
    }
    const file = path.join(prom.dir, "history.om");
    let t = performance.now();
    const { samples } = await writeOpenMetrics(file, synthetic, start, end, intervalS);
    const writeSeconds = (performance.now() - t) / 1000;
    opts.log(`wrote ${samples} samples for ${containers} containers in ${writeSeconds.toFixed(1)} s`);
    t = performance.now();
    await prom.backfill(file);
    const backfillSeconds = (performance.now() - t) / 1000;
    opts.log(`promtool backfill in ${backfillSeconds.toFixed(1)} s`);
    await prom.start();

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
    for (let n = 0; n < namespaces; n++) {
      const ns = `bench-${n}`;
      const nsModels: WorkloadModel[] = Array.from({ length: deploymentsPerNamespace }, (_, d) => ({
        namespace: ns,
        ref: { kind: "Deployment" as const, name: `d${d}` },
        uid: `${ns}-d${d}`,
        containers: new Map(),
        halfLifeMs: 24 * 3_600_000,
        historyDays: 8,
      }));
      const batch = await source.fetch(ns, end - 8 * dayMs, end, intervalS);
      feedBatch(batch, ns, nsModels, resolver, end);
      models.push(...nsModels);
      if (n % 10 === 9) opts.log(`bootstrapped ${n + 1}/${namespaces} namespaces`);
    }
    const bootstrapSeconds = (performance.now() - t) / 1000;
    const bootstrapQueries = queries;
    t = performance.now();
    let recommended = 0;
    for (const m of models) {
      for (const r of recommendContainers(["app"], m.containers, algorithm, params, now)) {
        if (r.reason === "Recommended") recommended++;
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
    for (let n = 0; n < namespaces; n++) {
      const ns = `bench-${n}`;
      const nsModels = restored.filter((m) => m.namespace === ns);
      const batch = await source.fetch(ns, end - 10 * 60_000, end, 60);
      feedBatch(batch, ns, nsModels, resolver, end);
    }
    const restartSeconds = (performance.now() - t) / 1000;
    const sorted = [...checkpointBytes].sort((a, b) => a - b);
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
        queriesPerNamespace: bootstrapQueries / namespaces,
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
      restartFromCheckpoints: { wallSeconds: round(restartSeconds, 2), promqlQueries: queries, historyRead: false },
      recommenderPeakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
      recommenderRssGrowthDuringBootstrapMiB: round((process.memoryUsage().rss - rssBefore) / 2 ** 20, 1),
      prometheusPeakRssMiB: round(prom.peakRssBytes() / 2 ** 20, 1),
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
