// The upstream Vertical Pod Autoscaler recommender (built by hack/build-vpa.sh from the Go module proxy) on the
// recommender benchmark's own Prometheus history: a meta-cluster of its own in .cache/bench-vpa with VPA's CRDs,
// one Deployment (replicas 0: VPA reads the selector from the Deployment and the pods' labels from the pod-labels
// series, so no pod is needed) and one VerticalPodAutoscaler (updateMode "Off") per workload, then
// `vpa-recommender --storage=prometheus` pointed at the history. Times process start → every VPA has a
// recommendation in its status, samples the recommender's RSS, and returns every recommendation.
import { KubeConfig } from "@kubernetes/client-node";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binDir, down, up } from "../hack/lib/metacluster.js";
import { parseQuantity } from "../src/api/index.js";
import { KubeClient } from "../src/kube/client.js";
import { ApiError } from "../src/kube/errors.js";
import { Resources, type KubeObject, type ResourceType } from "../src/kube/resources.js";
import type { Resources as CpuMemory } from "../src/recommender/logic/index.js";
import { mapLimit, repoRoot, RssSampler } from "./lib.js";

export const vpaClusterDir = path.join(repoRoot, ".cache/bench-vpa");

const VerticalPodAutoscaler: ResourceType = {
  group: "autoscaling.k8s.io",
  version: "v1",
  kind: "VerticalPodAutoscaler",
  plural: "verticalpodautoscalers",
  namespaced: true,
};

interface Vpa extends KubeObject {
  spec?: unknown;
  status?: {
    recommendation?: {
      containerRecommendations?: Array<{
        containerName: string;
        target?: Record<string, string>;
        lowerBound?: Record<string, string>;
        upperBound?: Record<string, string>;
      }>;
    };
  };
}

export interface VpaWorkload {
  namespace: string;
  deployment: string;
  /** The pods' labels, as the pod-labels series carries them. */
  labels: Record<string, string>;
}

export interface VpaRecommendation {
  target: CpuMemory;
  lowerBound: CpuMemory;
  upperBound: CpuMemory;
}

export interface VpaRunOptions {
  prometheusUrl: string;
  workloads: readonly VpaWorkload[];
  container: string;
  historyLength: string;
  historyResolution: string;
  /** Flags that make the history provider read the synthetic series. */
  cadvisorJob: string;
  podLabelsQuery: string;
  log: (line: string) => void;
  timeoutMs?: number;
}

export interface VpaRunResult {
  version: string;
  flags: string[];
  metaclusterUpSeconds: number;
  createSeconds: number;
  /** Process start → every VPA has a recommendation in its status (what a user waits for). */
  recommendedAllSeconds: number;
  /** Process start → the first VPA status with a recommendation. */
  firstRecommendationSeconds: number;
  peakRssMiB: number;
  phases: ReturnType<typeof phases>;
  recommendations: Map<string, VpaRecommendation>;
  logTail: string[];
}

const intervalS = 2;

/** klog's header time (local time of today) in ms since the epoch. */
function klogTime(line: string): number | undefined {
  const m = /^[IWEF]\d{4} (\d\d):(\d\d):(\d\d)\.(\d{6})/.exec(line);
  if (!m) return undefined;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]) / 1000);
  return d.getTime();
}

/** Phases from the recommender's own log (--v=3), in seconds after the process started. */
function phases(lines: readonly string[], startedMs: number) {
  const at = (text: string, nth = 0) => {
    const hits = lines.filter((l) => l.includes(text));
    const hit = hits[nth];
    const t = hit === undefined ? undefined : klogTime(hit);
    return t === undefined ? undefined : (t - startedMs) / 1000;
  };
  const historyStart = at("Initializing VPA from history provider");
  const firstRun = at('"Recommender Run"');
  const firstRunEnd = at('"ClusterState is tracking" aggregateContainerStates');
  return {
    historyReadStartSeconds: historyStart,
    /** Query, parse and feed: the first loop starts one interval after it returns. */
    historyReadSeconds:
      historyStart !== undefined && firstRun !== undefined ? firstRun - intervalS - historyStart : undefined,
    firstLoopStartSeconds: firstRun,
    firstLoopSeconds: firstRun !== undefined && firstRunEnd !== undefined ? firstRunEnd - firstRun : undefined,
  };
}

const key = (namespace: string, deployment: string) => `${namespace}/${deployment}`;

function resources(list: Record<string, string> | undefined): CpuMemory | undefined {
  if (!list?.cpu || !list.memory) return undefined;
  return { cpu: parseQuantity(list.cpu), memory: parseQuantity(list.memory) };
}

export async function runUpstreamVpa(o: VpaRunOptions): Promise<VpaRunResult> {
  const { log } = o;
  execFileSync("bash", [path.join(repoRoot, "hack/build-vpa.sh")], { stdio: ["ignore", "inherit", "inherit"] });
  const version = readFileSync(path.join(binDir, ".vpa-recommender.version"), "utf8").trim();
  await down(vpaClusterDir);
  try {
    let t = performance.now();
    const state = await up({ dir: vpaClusterDir, nodes: 1, log: (l) => log(`  ${l}`) });
    const metaclusterUpSeconds = (performance.now() - t) / 1000;
    const kubectl = (...args: string[]) =>
      execFileSync(path.join(binDir, "kubectl"), ["--kubeconfig", state.kubeconfig, ...args], { encoding: "utf8" });
    kubectl("apply", "--server-side", "-f", path.join(binDir, "vpa-v1-crd-gen.yaml"));
    // Polled rather than `kubectl wait` (or a jsonpath filter): right after the apply the CRD may have no
    // status.conditions yet, and kubectl then fails at once ("status.conditions accessor error: <nil>").
    const established = () => {
      const crd = JSON.parse(kubectl("get", "crd/verticalpodautoscalers.autoscaling.k8s.io", "-o", "json")) as {
        status?: { conditions?: Array<{ type?: string; status?: string }> };
      };
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;
    };
    for (const deadline = Date.now() + 120_000; !established(); await sleep(500)) {
      if (Date.now() > deadline) throw new Error("the VerticalPodAutoscaler CRD was not Established within 120 s");
    }

    const kc = new KubeConfig();
    kc.loadFromFile(state.kubeconfig);
    const admin = new KubeClient(kc, {
      userAgent: "metapilot-bench-vpa",
      qps: 500,
      burst: 1000,
      requestTimeoutMs: 60_000,
    });
    const ignoreConflict = (err: unknown) => {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    };
    t = performance.now();
    for (const ns of new Set(o.workloads.map((w) => w.namespace))) {
      await admin.create(Resources.Namespace, { metadata: { name: ns } }).catch(ignoreConflict);
    }
    let created = 0;
    await mapLimit(o.workloads, 32, async (w) => {
      await admin
        .create(Resources.Deployment, {
          metadata: { name: w.deployment, namespace: w.namespace, labels: w.labels },
          spec: {
            replicas: 0,
            selector: { matchLabels: w.labels },
            template: {
              metadata: { labels: w.labels },
              spec: { containers: [{ name: o.container, image: "registry.invalid/bench:1" }] },
            },
          },
        } as KubeObject)
        .catch(ignoreConflict);
      await admin
        .create<Vpa>(VerticalPodAutoscaler, {
          metadata: { name: w.deployment, namespace: w.namespace },
          spec: {
            targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: w.deployment },
            updatePolicy: { updateMode: "Off" },
          },
        })
        .catch(ignoreConflict);
      if (++created % 1000 === 0) log(`  ${created}/${o.workloads.length} Deployments and VPAs created`);
    });
    const createSeconds = (performance.now() - t) / 1000;

    const flags = [
      `--kubeconfig=${state.kubeconfig}`,
      "--storage=prometheus",
      `--prometheus-address=${o.prometheusUrl}`,
      `--history-length=${o.historyLength}`,
      `--history-resolution=${o.historyResolution}`,
      `--prometheus-cadvisor-job-name=${o.cadvisorJob}`,
      "--container-namespace-label=namespace",
      "--container-pod-name-label=pod",
      "--container-name-label=container",
      `--metric-for-pod-labels=${o.podLabelsQuery}`,
      "--pod-namespace-label=namespace",
      "--pod-name-label=pod",
      "--pod-label-prefix=pod_label_",
      // The first loop runs one interval after the history is read: 2 s instead of 1 min (the log below gives
      // the phases, so the interval is not counted as work).
      `--recommender-interval=${intervalS}s`,
      // Client-side throttling (default 50 qps) would make the VPA status writes the bottleneck.
      "--kube-api-qps=1000",
      "--kube-api-burst=2000",
      "--address=127.0.0.1:0",
      "--v=3",
    ];
    const logFile = path.join(vpaClusterDir, "logs/vpa-recommender.log");
    const fd = openSync(logFile, "w");
    log(`starting vpa-recommender ${version}`);
    const started = performance.now();
    const startedMs = Date.now();
    const child = spawn(path.join(binDir, "vpa-recommender"), flags, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const rss = new RssSampler(child.pid!, 250);
    rss.start();
    let exitCode: number | null = null;
    child.once("exit", (code) => (exitCode = code));
    const recommendations = new Map<string, VpaRecommendation>();
    let firstRecommendationSeconds = Number.NaN;
    let recommendedAllSeconds = Number.NaN;
    try {
      const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
      for (;;) {
        if (exitCode !== null) throw new Error(`vpa-recommender exited with ${exitCode}; see ${logFile}`);
        if (Date.now() > deadline) throw new Error(`VPAs without a recommendation after the timeout; see ${logFile}`);
        await sleep(1000);
        const at = (performance.now() - started) / 1000;
        const { items } = await admin.listAll<Vpa>(VerticalPodAutoscaler, { limit: 1000 });
        for (const v of items) {
          const ns = v.metadata?.namespace ?? "";
          const name = v.metadata?.name ?? "";
          const c = v.status?.recommendation?.containerRecommendations?.find((r) => r.containerName === o.container);
          const target = resources(c?.target);
          const lowerBound = resources(c?.lowerBound);
          const upperBound = resources(c?.upperBound);
          if (!target || !lowerBound || !upperBound) continue;
          if (!recommendations.has(key(ns, name)) && Number.isNaN(firstRecommendationSeconds))
            firstRecommendationSeconds = at;
          recommendations.set(key(ns, name), { target, lowerBound, upperBound });
        }
        if (recommendations.size >= o.workloads.length) {
          recommendedAllSeconds = at;
          break;
        }
        if (Math.round(at) % 15 === 0)
          log(`  ${recommendations.size}/${o.workloads.length} VPAs with a recommendation after ${at.toFixed(0)} s`);
      }
    } finally {
      rss.stop();
      if (exitCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(10_000).then(() => child.kill("SIGKILL"))]);
      }
    }
    const lines = readFileSync(logFile, "utf8").split("\n").filter(Boolean);
    const logTail = lines.filter((l) => !l.includes("Deleting Pod")).slice(-12);
    return {
      version,
      flags: flags.filter((f) => !f.startsWith("--kubeconfig") && !f.startsWith("--prometheus-address")),
      metaclusterUpSeconds,
      createSeconds,
      recommendedAllSeconds,
      firstRecommendationSeconds,
      peakRssMiB: Math.max(0, ...rss.samplesKb) / 1024,
      phases: phases(lines, startedMs),
      recommendations,
      logTail,
    };
  } finally {
    await down(vpaClusterDir);
  }
}
