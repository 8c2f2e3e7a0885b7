// Reliability benchmark: the chaos scenarios of test/chaos/ at full size, bad-input fuzzing at full count, and a load
// scenario (TenantControlPlanes, kwok nodes, pods with a stream of pod status changes; controller RSS and CPU,
// work-queue latency p99 from metapilot's /metrics, apiserver requests per minute by verb from the apiserver's
// /metrics, OOM decision latency p99, then a 429 storm with lowered inflight limits). Everything runs on a
// meta-cluster of its own (.cache/reliability-metacluster). Writes bench/results/reliability.json.
//
//   npx tsx bench/reliability.ts [--quick] [--only name,name] [--load-tcps N] [--load-nodes N] [--load-pods N]
//                                [--load-seconds N] [--fuzz-objects N] [--fuzz-prometheus-unreachable]
//                                [--out FILE] [--dir DIR]
//
// Standalone; also exports `reliabilityBenchmark` in bench/run.ts's Benchmark shape.
import * as k8s from "@kubernetes/client-node";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  down,
  ensureNodes,
  getUrl,
  repoRoot,
  restartApiserver,
  type MetaclusterState,
} from "../hack/lib/metacluster.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import { leaderKillDrain } from "../test/chaos/drain-scenario.js";
import {
  chaosUp,
  percentile,
  Scenario,
  waitUntil,
  chartServiceAccountKubeconfig,
  type ChaosEnv,
  type ControllerProcess,
  type ScenarioResult,
  Supervisor,
} from "../test/chaos/lib.js";
import {
  createTenant,
  decisionsIn,
  leaderKillScaleUp,
  oomKill,
  opsCenterDown,
  prometheusDown,
  prometheusGarbage,
  ScalerRig,
} from "../test/chaos/scaler-scenarios.js";
import { controlPlaneKill, restartMidUpgrade } from "../test/chaos/tcp-scenarios.js";
import { badInput } from "../test/fuzz/scenario.js";
import { cpuSeconds, diff, perMinute, rssKb, sum } from "./lib.js";

const defaultDir = path.join(repoRoot, ".cache/reliability-metacluster");

interface Sizes {
  tcps: number;
  kills: number;
  prometheusOutageMs: number;
  garbagePerModeMs: number;
  garbageRounds: number;
  opsOoms: number;
  opsOutageMs: number;
  failoverTrials: number;
  drainTenants: number;
  drainNodes: number;
  drainKills: number;
  /** Mutated objects the bad-input scenario creates (test/fuzz creates 1,000). */
  fuzzObjects: number;
  load: { tcps: number; nodes: number; pods: number; podChangesPerSecond: number; seconds: number; ooms: number };
}

const full: Sizes = {
  tcps: 20,
  kills: 3,
  prometheusOutageMs: 10 * 60_000,
  garbagePerModeMs: 20_000,
  garbageRounds: 2,
  opsOoms: 20,
  opsOutageMs: 120_000,
  failoverTrials: 10,
  drainTenants: 30,
  drainNodes: 5,
  drainKills: 3,
  fuzzObjects: 5000,
  load: { tcps: 1000, nodes: 1000, pods: 20_000, podChangesPerSecond: 50, seconds: 300, ooms: 50 },
};
const quick: Sizes = {
  tcps: 5,
  kills: 2,
  prometheusOutageMs: 60_000,
  garbagePerModeMs: 8000,
  garbageRounds: 1,
  opsOoms: 5,
  opsOutageMs: 20_000,
  failoverTrials: 3,
  drainTenants: 10,
  drainNodes: 3,
  drainKills: 2,
  fuzzObjects: 300,
  load: { tcps: 30, nodes: 100, pods: 1000, podChangesPerSecond: 50, seconds: 60, ooms: 20 },
};

function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const kv of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]!] = kv[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** A quantile (the upper bound of its bucket) from a Prometheus histogram's cumulative buckets. */
function histogramQuantile(samples: ReturnType<typeof parseMetrics>, name: string, q = 0.99): number | null {
  const buckets = new Map<number, number>();
  for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (!total) return null;
  const hit = sorted.find(([, c]) => c >= total * q);
  return hit ? hit[0] : null;
}

type Samples = ReturnType<typeof parseMetrics>;

/**
 * The controller's /metrics, scraped from every running generation every few seconds. The last scrape of each
 * generation is kept, so counters and histograms add up over restarts (a new generation starts from zero).
 */
class GenerationMetrics {
  private readonly last = new Map<ControllerProcess, Samples>();
  constructor(private readonly supervisor: Supervisor) {}
  async scrape(): Promise<void> {
    for (const g of this.supervisor.generations) {
      if (!g.running || !g.metricsPort) continue;
      const text = await g.metrics().catch(() => undefined);
      if (text) this.last.set(g, parseMetrics(text));
    }
  }
  /** Every generation's samples of one metric, concatenated (histogramQuantile and sums add them up). */
  samples(name: string, pred: (labels: Record<string, string>) => boolean = () => true): Samples {
    return [...this.last.values()].flatMap((all) => all.filter((x) => x.name === name && pred(x.labels)));
  }
  sum(name: string, pred?: (labels: Record<string, string>) => boolean): number {
    return this.samples(name, pred).reduce((n, x) => n + x.value, 0);
  }
  /** metapilot's own apiserver requests by verb, over all generations. */
  requestsByVerb(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const x of this.samples("metapilot_apiserver_requests_total"))
      out[x.labels.verb ?? "?"] = (out[x.labels.verb ?? "?"] ?? 0) + x.value;
    return out;
  }
}

async function apiserverRequestsByVerb(state: MetaclusterState): Promise<Record<string, number>> {
  const res = await getUrl(state, `${state.apiserverUrl}/metrics`, 10_000);
  const out: Record<string, number> = {};
  for (const s of parseMetrics(res.body).filter((x) => x.name === "apiserver_request_total"))
    out[s.labels.verb ?? "?"] = (out[s.labels.verb ?? "?"] ?? 0) + s.value;
  return out;
}

/** The load scenario, as large as this machine allows; what did not run is said in `notes`. */
async function load(env: ChaosEnv, size: Sizes["load"], log: (l: string) => void): Promise<ScenarioResult> {
  const s = new Scenario("load", { ...size }, log);
  const notes: string[] = [];
  const { client, state } = env;
  const started = Date.now();
  await ensureNodes(state, size.nodes, log);
  s.figures.nodesReady = size.nodes;
  // Production lease timings (the chaos defaults are tight on purpose), and a supervisor that restarts the
  // controller when it exits, as its Deployment would: a Lease lost under load exits 1 by design.
  // The controller runs as the chart's ServiceAccount (production RBAC, and subject to inflight limits, which
  // system:masters is not: an admin controller never meets the 429 storm below).
  const { kubeconfig, args: rbacArgs } = await chartServiceAccountKubeconfig(env, "metapilot-load", "load");
  const supervisor = new Supervisor(env, {
    identity: `load-${Date.now().toString(36)}`,
    controllers: ["tenantcontrolplane", "clusterscaler"],
    leaseId: "load",
    kubeconfig,
    extraArgs: ["--concurrency=8", "--lease-duration=15s", "--renew-deadline=10s", "--retry-period=2s", ...rbacArgs],
  });
  await supervisor.start();
  const ctl = () => supervisor.current!;
  const ctlStarted = Date.now();
  await ctl().waitLeader(120_000);
  // CPU and RSS of every generation, and its /metrics, sampled every 5 s.
  const usage = new Map<number, { cpu: number; rssKb: number }>();
  const gm = new GenerationMetrics(supervisor);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const g of supervisor.generations) {
        const pid = g.child?.pid;
        const cpu = pid && g.running ? cpuSeconds(pid) : undefined;
        const rss = pid && g.running ? rssKb(pid) : undefined;
        if (pid && cpu !== undefined && rss !== undefined)
          usage.set(pid, { cpu, rssKb: Math.max(rss, usage.get(pid)?.rssKb ?? 0) });
      }
      await gm.scrape();
      await sleep(5000);
    }
  })();
  const before = await apiserverRequestsByVerb(state);
  const t0 = Date.now();
  // TenantControlPlanes, 20 at a time.
  const names = Array.from({ length: size.tcps }, (_, i) => `load-${i}`);
  for (let i = 0; i < names.length; i += 20)
    await Promise.all(
      names.slice(i, i + 20).map((n) =>
        client
          .create(Resources.TenantControlPlane, {
            apiVersion: "metapilot.io/v1alpha1",
            kind: "TenantControlPlane",
            metadata: { name: n },
            spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
          } as KubeObject)
          .catch(() => undefined),
      ),
    );
  const readyBy = Date.now() + Math.max(300_000, size.tcps * 3000);
  let ready = 0;
  let present = 0;
  const phases: Record<string, number> = {};
  // When each TCP was first seen Ready, from the start of the creation burst (to the 5 s of the polling).
  const readyAfterMs = new Map<string, number>();
  while (Date.now() < readyBy) {
    const list = await client.listAll<KubeObject & { status?: { phase?: string } }>(Resources.TenantControlPlane);
    const ours = list.items.filter((t) => names.includes(t.metadata?.name ?? ""));
    present = ours.length;
    ready = ours.filter((t) => t.status?.phase === "Ready").length;
    for (const t of ours)
      if (t.status?.phase === "Ready" && !readyAfterMs.has(t.metadata?.name ?? ""))
        readyAfterMs.set(t.metadata?.name ?? "", Date.now() - t0);
    for (const k of Object.keys(phases)) delete phases[k];
    for (const t of ours) phases[t.status?.phase ?? "none"] = (phases[t.status?.phase ?? "none"] ?? 0) + 1;
    if (ready === size.tcps) break;
    await sleep(5000);
  }
  s.figures.tcpsReady = ready;
  s.figures.tcpsReadySeconds = Math.round((Date.now() - t0) / 1000);
  const readyTimes = [...readyAfterMs.values()];
  if (readyTimes.length) {
    s.figures.tcpReadyP50Seconds = Math.round(percentile(readyTimes, 50) / 1000);
    s.figures.tcpReadyP90Seconds = Math.round(percentile(readyTimes, 90) / 1000);
    s.figures.tcpReadyP99Seconds = Math.round(percentile(readyTimes, 99) / 1000);
  }
  s.figures.tcpPhasesAtEnd = JSON.stringify(phases);
  s.objectsAtRisk = size.tcps;
  // Lost is gone: a TenantControlPlane that is not Ready yet is still there, and the check above says so.
  s.objectsLost = size.tcps - present;
  s.check(`${size.tcps} TCPs Ready`, ready === size.tcps, `${ready} Ready`);
  // Extra pods (a Deployment of pause pods on kwok nodes) to the requested count, then pod status churn.
  const podNs = "load-pods";
  await client
    .create(Resources.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: podNs } } as KubeObject)
    .catch(() => undefined);
  const existingPods = (await client.listAll<KubeObject>(Resources.Pod)).items.length;
  const extra = Math.max(0, size.pods - existingPods);
  await client
    .create(Resources.Deployment, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "filler", namespace: podNs },
      spec: {
        replicas: extra,
        selector: { matchLabels: { app: "filler" } },
        template: {
          metadata: { labels: { app: "filler" } },
          spec: {
            containers: [
              { name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "1m", memory: "1Mi" } } },
            ],
          },
        },
      },
    } as KubeObject)
    .catch(() => undefined);
  // kube-controller-manager and the scheduler place about 20 pods a second here while 1,000 tenants run: give
  // each filler pod 80 ms (15,000 pods: 20 minutes), never less than 10 minutes.
  const podsWaitMs = Math.max(600_000, extra * 80);
  const podsBy = Date.now() + podsWaitMs;
  let running = 0;
  while (Date.now() < podsBy) {
    running = (
      await client.listAll<KubeObject & { status?: { phase?: string } }>(Resources.Pod, { namespace: podNs })
    ).items.filter((p) => p.status?.phase === "Running").length;
    if (running >= extra) break;
    await sleep(5000);
  }
  s.figures.podsTotal = existingPods + running;
  s.figures.podsRunningSeconds = Math.round((Date.now() - (podsBy - podsWaitMs)) / 1000);
  if (running < extra)
    notes.push(`only ${running}/${extra} filler pods Running within ${Math.round(podsWaitMs / 60_000)} minutes`);
  // Pod status changes at the requested rate, plus OOM kills on one tenant for decision latency.
  const filler = (await client.listAll<KubeObject>(Resources.Pod, { namespace: podNs })).items.map(
    (p) => p.metadata?.name ?? "",
  );
  const core = env.kc.makeApiClient(k8s.CoreV1Api);
  let changes = 0;
  let churnErrors = 0;
  let churning = filler.length > 0;
  const churn = (async () => {
    const every = 1000 / size.podChangesPerSecond;
    // Paced against the start, not the last change: each sleep overshoots by a few ms on a busy machine, and pacing
    // change by change added that up (40.9 of 50 changes/s in the second 1,000-TCP run).
    const churnStarted = Date.now();
    while (churning) {
      const name = filler[changes % filler.length]!;
      void core
        .patchNamespacedPodStatus(
          {
            name,
            namespace: podNs,
            body: {
              status: {
                conditions: [
                  { type: "LoadProbe", status: changes % 2 ? "True" : "False", lastTransitionTime: new Date() },
                ],
              },
            },
          },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
        )
        .catch(() => churnErrors++);
      changes++;
      await sleep(Math.max(0, churnStarted + changes * every - Date.now()));
    }
  })();
  const oomNs = "load-oom";
  await createTenant(env, oomNs, "load-oom");
  await client
    .create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: "load-oom" },
      spec: {
        tenantSelector: { matchLabels: { "metapilot.io/tenant": "load-oom" } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }],
            estimators: ["oom-memory"],
            maxAllowed: { memory: "1Ti" },
          },
        ],
        scaleUp: { cooldown: "1s" },
      },
    } as KubeObject)
    .catch(() => undefined);
  const decisionLatencies: number[] = [];
  const churnStart = Date.now();
  for (let i = 1; i <= size.ooms; i++) {
    const n = (await decisionsIn(env, oomNs)).length;
    const at = Date.now();
    await oomKill(env, oomNs, i);
    if (await waitUntil(async () => (await decisionsIn(env, oomNs)).length > n, 30_000))
      decisionLatencies.push(Date.now() - at);
    await sleep(Math.max(0, (size.seconds * 1000) / size.ooms - (Date.now() - at)));
  }
  churning = false;
  await churn;
  const churnSeconds = (Date.now() - churnStart) / 1000;
  s.figures.podStatusChangesPerSecond = Math.round((changes / churnSeconds) * 10) / 10;
  s.figures.podStatusChangeErrors = churnErrors;
  s.figures.decisionLatencyP99Ms = decisionLatencies.length ? percentile(decisionLatencies, 99) : "n/a";
  s.figures.decisionLatencyP50Ms = decisionLatencies.length ? percentile(decisionLatencies, 50) : "n/a";
  // ×1.2 a kill reaches maxAllowed after about 40 kills; the kills after that are answered by Blocked decisions.
  const byPhase: Record<string, number> = {};
  for (const d of await decisionsIn(env, oomNs))
    byPhase[d.status?.phase ?? "none"] = (byPhase[d.status?.phase ?? "none"] ?? 0) + 1;
  s.figures.oomDecisionsByPhase = JSON.stringify(byPhase);
  s.check(
    `every OOM kill under load answered by a decision`,
    decisionLatencies.length === size.ooms,
    `${decisionLatencies.length}/${size.ooms}`,
  );
  const cpuTotal = [...usage.values()].reduce((n, u) => n + u.cpu, 0);
  s.figures.controllerRssMiBPeak = Math.round(Math.max(0, ...[...usage.values()].map((u) => u.rssKb)) / 1024);
  s.figures.controllerCpuCores = Math.round((cpuTotal / ((Date.now() - t0) / 1000)) * 100) / 100;
  s.figures.controllerRestarts = supervisor.exits.length;
  s.figures.controllerExits = JSON.stringify(supervisor.exits);
  const minutes = (Date.now() - t0) / 60_000;
  await gm.scrape();
  // Quantiles are the upper bounds of their histogram buckets; "_all" is every controller of the process.
  const quantile = (metric: string, q: number, controller?: string): number | string => {
    const samples = gm.samples(`${metric}_bucket`, (l) => !controller || l.controller === controller);
    const v = histogramQuantile(samples, metric, q);
    if (v === null) return "n/a";
    if (Number.isFinite(v)) return v;
    // In the +Inf bucket: above the largest finite bound (JSON has no Infinity).
    const bounds = samples.map((x) => Number(x.labels.le)).filter(Number.isFinite);
    return `>${Math.max(...bounds)}`;
  };
  s.figures.queueLatencyP99Seconds = quantile("metapilot_workqueue_latency_seconds", 0.99);
  for (const c of ["tenantcontrolplane", "clusterscaler"]) {
    s.figures[`queueLatencyP50Seconds_${c}`] = quantile("metapilot_workqueue_latency_seconds", 0.5, c);
    s.figures[`queueLatencyP99Seconds_${c}`] = quantile("metapilot_workqueue_latency_seconds", 0.99, c);
    s.figures[`reconcileDurationP99Seconds_${c}`] = quantile("metapilot_reconcile_duration_seconds", 0.99, c);
    s.figures[`reconciles_${c}`] = gm.sum("metapilot_reconcile_total", (l) => l.controller === c);
  }
  const after = await apiserverRequestsByVerb(state);
  // All clients of the meta-cluster's apiserver (kube-controller-manager, scheduler, kwok and the churn too) ...
  s.figures.apiserverRequestsPerMinuteByVerb = JSON.stringify(perMinute(diff(after, before), minutes * 60_000, 1));
  // ... and metapilot's own share, from its client's counters summed over every generation.
  s.figures.metapilotRequestsPerMinuteByVerb = JSON.stringify(
    perMinute(gm.requestsByVerb(), Date.now() - ctlStarted, 1),
  );
  // 429 storm: the apiserver restarted with tiny inflight limits while the controller keeps working. Amplification
  // is judged by metapilot's own request rate: during the storm against the 5 minutes before it.
  const steadyWindowMs = Math.min(5 * 60_000, size.seconds * 1000);
  await gm.scrape();
  const steadyFrom = gm.requestsByVerb();
  await sleep(steadyWindowMs);
  await gm.scrape();
  const stormFrom = gm.requestsByVerb();
  const steadyPerMinute = (sum(stormFrom) - sum(steadyFrom)) / (steadyWindowMs / 60_000);
  s.fault("kube-apiserver restarted with --max-requests-inflight=5 (429 storm)");
  const ctl429Before = gm.sum("metapilot_apiserver_requests_total", (l) => l.code === "429");
  const stormStarted = Date.now();
  await restartApiserver(state, 5);
  const stormNames = Array.from({ length: 10 }, (_, i) => `load-storm-${i}`);
  await Promise.all(
    stormNames.map((n) =>
      client
        .create(Resources.TenantControlPlane, {
          apiVersion: "metapilot.io/v1alpha1",
          kind: "TenantControlPlane",
          metadata: { name: n },
          spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
        } as KubeObject)
        .catch(() => undefined),
    ),
  );
  const stormReady = await waitUntil(async () => {
    const list = await client.listAll<KubeObject & { status?: { phase?: string } }>(Resources.TenantControlPlane);
    return (
      list.items.filter((t) => stormNames.includes(t.metadata?.name ?? "") && t.status?.phase === "Ready").length ===
      stormNames.length
    );
  }, 600_000);
  await gm.scrape();
  const stormMinutes = (Date.now() - stormStarted) / 60_000;
  const stormPerMinute = (sum(gm.requestsByVerb()) - sum(stormFrom)) / stormMinutes;
  s.figures.stormSeconds = Math.round(stormMinutes * 60);
  const throttled = gm.sum("metapilot_apiserver_requests_total", (l) => l.code === "429") - ctl429Before;
  const sent = sum(gm.requestsByVerb()) - sum(stormFrom);
  s.figures.stormControllerSaw429 = throttled;
  s.figures.stormRequestsSent = sent;
  s.figures.metapilotRequestsPerMinuteSteady = Math.round(steadyPerMinute);
  s.figures.metapilotRequestsPerMinuteStorm = Math.round(stormPerMinute);
  s.figures.stormRequestRateRatio = steadyPerMinute
    ? Math.round((stormPerMinute / steadyPerMinute) * 100) / 100
    : "n/a";
  // Amplification is requests sent per request answered: a client that retries 429s at once multiplies it, one
  // that backs off (honouring Retry-After) keeps it near 1. The rate itself also rises for honest reasons (the
  // storm's 10 new TCPs, and the relist of a generation that lost its Lease while the apiserver restarted), so
  // it is recorded against the steady rate but not judged.
  const amplification = sent > throttled ? sent / (sent - throttled) : Infinity;
  s.figures.stormAmplification = Number.isFinite(amplification) ? Math.round(amplification * 100) / 100 : "n/a";
  s.check(
    "the 429 storm is survived without amplification (requests sent per request answered at most 1.5)",
    amplification <= 1.5,
    `${sent} sent, ${throttled} answered 429 (x${s.figures.stormAmplification}); ${Math.round(stormPerMinute)}/min in the storm vs ${Math.round(steadyPerMinute)}/min before`,
  );
  s.check("the controller met 429s in the storm", Number(s.figures.stormControllerSaw429) > 0);
  s.check("10 TCPs created during the 429 storm converge", stormReady);
  s.check(
    "the controller survives the 429 storm without a crash",
    supervisor.crashLines().length === 0 && supervisor.exits.every((e) => e.code === 1 || e.code === 0),
    `${supervisor.exits.length} exits (lost Lease exits 1 by design): ${JSON.stringify(supervisor.exits)}`,
  );
  await restartApiserver(state, undefined);
  churning = false;
  sampling = false;
  await sampler;
  await supervisor.stop();
  s.figures.notes = notes.join("; ") || "none";
  s.figures.loadSeconds = Math.round((Date.now() - started) / 1000);
  return s.result();
}

export async function runReliability(opts: {
  quick: boolean;
  only?: string[];
  load?: Partial<Sizes["load"]>;
  fuzzObjects?: number;
  /** The bad-input scenario's controllers get a Prometheus that refuses connections. */
  fuzzPrometheusUnreachable?: boolean;
  log: (l: string) => void;
  /** The meta-cluster's directory; two runs side by side need two. */
  dir?: string;
}) {
  const dir = opts.dir ?? defaultDir;
  const sizes: Sizes = opts.quick ? quick : full;
  if (opts.load) sizes.load = { ...sizes.load, ...opts.load };
  if (opts.fuzzObjects !== undefined) sizes.fuzzObjects = opts.fuzzObjects;
  const log = opts.log;
  const want = (n: string) => !opts.only?.length || opts.only.includes(n);
  const results: ScenarioResult[] = [];
  const errors: Array<{ scenario: string; error: string }> = [];
  const env = await chaosUp(10, log, dir);
  const run = async (name: string, fn: () => Promise<ScenarioResult>) => {
    if (!want(name)) return;
    log(`scenario ${name}`);
    try {
      results.push(await fn());
    } catch (e) {
      errors.push({ scenario: name, error: e instanceof Error ? (e.stack ?? e.message).slice(0, 2000) : String(e) });
      log(`scenario ${name} FAILED: ${String(e)}`);
    }
  };
  try {
    await run("apiserver-kill", () =>
      controlPlaneKill(env, {
        component: "kube-apiserver",
        tcps: sizes.tcps,
        kills: sizes.kills,
        downMs: 5000,
        convergeMs: 600_000,
      }),
    );
    await run("etcd-kill", () =>
      controlPlaneKill(env, {
        component: "etcd",
        tcps: sizes.tcps,
        kills: sizes.kills,
        downMs: 5000,
        convergeMs: 600_000,
      }),
    );
    await run("upgrade-restart", () =>
      restartMidUpgrade(env, { tcps: Math.max(2, Math.round(sizes.tcps / 4)), convergeMs: 600_000 }),
    );
    let rig: ScalerRig | undefined;
    if (["prometheus-down", "prometheus-garbage", "ops-center-down"].some(want)) {
      rig = new ScalerRig(env);
      await rig.start();
    }
    await run("prometheus-down", () => prometheusDown(env, rig!, { outageMs: sizes.prometheusOutageMs }));
    await run("prometheus-garbage", () =>
      prometheusGarbage(env, rig!, { perModeMs: sizes.garbagePerModeMs, rounds: sizes.garbageRounds }),
    );
    await run("ops-center-down", () => opsCenterDown(env, rig!, { ooms: sizes.opsOoms, outageMs: sizes.opsOutageMs }));
    await rig?.cleanup();
    await run("leader-kill-scale-up", () => leaderKillScaleUp(env, { trials: sizes.failoverTrials }));
    await run("leader-kill-drain", () =>
      leaderKillDrain(env, { tenants: sizes.drainTenants, sourceNodes: sizes.drainNodes, kills: sizes.drainKills }),
    );
    // Another seed than test/fuzz's, so the full count is not the small run again with more behind it.
    await run("bad-input", () =>
      badInput(
        env,
        {
          count: sizes.fuzzObjects,
          seed: 20261201,
          statusWaitMs: 600_000,
          prometheus: opts.fuzzPrometheusUnreachable ? "unreachable" : "metacluster",
        },
        log,
      ),
    );
    await run("load", () => load(env, sizes.load, log));
  } finally {
    if (process.env.RELIABILITY_KEEP !== "1") await down(dir);
  }
  return {
    sizes,
    scenarios: results,
    errors,
    totals: {
      invariantChecksPassed: results.reduce((n, r) => n + r.invariantChecksPassed, 0),
      invariantChecksRun: results.reduce((n, r) => n + r.invariantChecksRun, 0),
      objectsAtRisk: results.reduce((n, r) => n + r.objectsAtRisk, 0),
      objectsLost: results.reduce((n, r) => n + r.objectsLost, 0),
    },
  };
}

export const reliabilityBenchmark = {
  name: "reliability",
  description: "chaos scenarios at full size, bad-input fuzzing, load with a 429 storm",
  run: (o: { quick: boolean; log: (l: string) => void }) => runReliability({ quick: o.quick, log: o.log }),
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const log = (l: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} reliability] ${l}\n`);
  // Stopped by a signal, exit through the exit hooks, which stop the controller children (a leftover one would keep
  // its Lease and leave the next run's controller waiting). The meta-cluster stays up for a next run to reuse.
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(1));
  const quickRun = argv.includes("--quick");
  const loadOverride: Partial<Sizes["load"]> = {};
  if (arg("--load-tcps")) loadOverride.tcps = Number(arg("--load-tcps"));
  if (arg("--load-nodes")) loadOverride.nodes = Number(arg("--load-nodes"));
  if (arg("--load-pods")) loadOverride.pods = Number(arg("--load-pods"));
  if (arg("--load-seconds")) loadOverride.seconds = Number(arg("--load-seconds"));
  const started = Date.now();
  const fuzzObjects = arg("--fuzz-objects") ? Number(arg("--fuzz-objects")) : undefined;
  const body = await runReliability({
    quick: quickRun,
    only: arg("--only")?.split(","),
    load: loadOverride,
    fuzzObjects,
    fuzzPrometheusUnreachable: argv.includes("--fuzz-prometheus-unreachable"),
    log,
    dir: arg("--dir") ? path.resolve(arg("--dir")!) : undefined,
  });
  const out = arg("--out")
    ? path.resolve(arg("--out")!)
    : path.join(repoRoot, "bench/results", quickRun ? "reliability.quick.json" : "reliability.json");
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: "reliability",
        quick: quickRun,
        machine: {
          cpus: os.cpus().length,
          memoryGiB: Math.round(os.totalmem() / 2 ** 30),
          loadAverage1mAtEnd: os.loadavg()[0],
        },
        durationSeconds: Math.round((Date.now() - started) / 1000),
        ...body,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${out}`);
  process.exit(body.totals.objectsLost === 0 && body.errors.length === 0 ? 0 : 1);
}
