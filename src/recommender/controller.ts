// Wiring of the recommender: the workload controllers (one profile per selected Deployment / StatefulSet) and
// the profile controller, over shared caches. Prometheus is the controller command's (--prometheus-* flags and
// PROMETHEUS_* variables, shared with every subcommand); without them, and for the rest of the configuration, the
// environment (METAPILOT_PROMETHEUS_*, METAPILOT_RECOMMENDER_*) is read, so `metapilot controller` needs no
// recommender-specific flags; the default algorithm and the selector are checked here, at start-up.
import { parseDuration } from "../api/index.js";
import { registerController, type ControllerConfig } from "../controllers.js";
import { Controller, ownerKeys } from "../kube/controller.js";
import type { Manager } from "../kube/manager.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { MetricsServerSource } from "./input/metrics-server.js";
import { OwnerResolver, type WorkloadKind } from "./input/owners.js";
import { PrometheusClient, type PrometheusOptions } from "../prometheus/client.js";
import { defaultMetricNames, FallbackUsageSource, PrometheusUsageSource, type MetricNames } from "./input/usage.js";
import { algorithmByName } from "./logic/index.js";
import { ProfileReconciler, type PodObject, type RawWorkloadProfile, type Workload } from "./reconciler.js";
import { WorkloadSelector, type WorkloadSelectorConfig } from "./selector.js";
import { ModelStore } from "./store.js";
import { WorkloadReconciler } from "./workloads.js";
import { Counter } from "prom-client";
import { recommenderAnnotation } from "../api/labels.js";

export interface RecommenderConfig {
  prometheus: PrometheusOptions;
  metricNames?: Partial<MetricNames>;
  selector: WorkloadSelectorConfig;
  defaultAlgorithm: string;
  /** Fall back to metrics.k8s.io for live samples when Prometheus fails. */
  metricsServerFallback?: boolean;
  stepSeconds?: number;
  historyStepSeconds?: number;
  /** Requeue period of a profile; default 60 s. */
  resyncMs?: number;
  /** Models read less than this ago are not read again; default 60 s. */
  refreshIntervalMs?: number;
  checkpointIntervalMs?: number;
  now?: () => Date;
}

export function recommenderConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RecommenderConfig {
  const list = (v: string | undefined) =>
    v
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const num = (v: string | undefined) => (v ? Number(v) : undefined);
  return {
    prometheus: {
      url: env.METAPILOT_PROMETHEUS_URL ?? "http://prometheus.monitoring.svc:9090",
      bearerTokenFile: env.METAPILOT_PROMETHEUS_BEARER_TOKEN_FILE,
      caFile: env.METAPILOT_PROMETHEUS_CA_FILE,
      insecureSkipVerify: env.METAPILOT_PROMETHEUS_INSECURE_SKIP_VERIFY === "true",
      timeoutMs: num(env.METAPILOT_PROMETHEUS_TIMEOUT_MS),
    },
    metricNames: {
      ...(env.METAPILOT_RECOMMENDER_CPU_METRIC ? { cpuUsageSeconds: env.METAPILOT_RECOMMENDER_CPU_METRIC } : {}),
      ...(env.METAPILOT_RECOMMENDER_MEMORY_METRIC ? { memoryWorkingSet: env.METAPILOT_RECOMMENDER_MEMORY_METRIC } : {}),
      ...(env.METAPILOT_RECOMMENDER_EXTRA_SELECTOR ? { extraSelector: env.METAPILOT_RECOMMENDER_EXTRA_SELECTOR } : {}),
      ...(env.METAPILOT_RECOMMENDER_RATE_WINDOW ? { rateWindow: env.METAPILOT_RECOMMENDER_RATE_WINDOW } : {}),
    },
    selector: {
      namespaces: list(env.METAPILOT_RECOMMENDER_NAMESPACES),
      labelSelector: env.METAPILOT_RECOMMENDER_SELECTOR ?? "tenant-control-planes",
    },
    defaultAlgorithm: env.METAPILOT_RECOMMENDER_ALGORITHM ?? "vpa-histogram",
    metricsServerFallback: env.METAPILOT_RECOMMENDER_METRICS_SERVER !== "false",
  };
}

/**
 * The CPU rate window (METAPILOT_RECOMMENDER_RATE_WINDOW): whole hours, minutes and seconds such as 1m or 1m30s,
 * at least 1s. Both Prometheus and parseDuration read that form (Prometheus refuses a fraction such as 1.5m, and
 * parseDuration a day), and the window goes into the query as written.
 */
export function checkRateWindow(window: string | undefined): void {
  if (window === undefined) return;
  if (!/^(\d+[hms])+$/.test(window) || parseDuration(window) < 1000)
    throw new Error(`METAPILOT_RECOMMENDER_RATE_WINDOW: "${window}" is not a window such as 1m or 90s (at least 1s)`);
}

export interface RecommenderHandle {
  profiles: Controller;
  workloads: Controller[];
  store: ModelStore;
  client: PrometheusClient;
}

export function addRecommender(
  manager: Manager,
  config: ControllerConfig,
  rc: RecommenderConfig = recommenderConfigFromEnv(),
): RecommenderHandle {
  algorithmByName(rc.defaultAlgorithm); // unknown names fail here, at start-up
  checkRateWindow(rc.metricNames?.rateWindow); // and so does a CPU rate window that is not a duration
  const selector = new WorkloadSelector(rc.selector); // and so does a bad selector
  const registry = manager.metrics.registry;
  const queries =
    (registry.getSingleMetric("metapilot_recommender_prometheus_requests_total") as Counter<"path"> | undefined) ??
    new Counter({
      name: "metapilot_recommender_prometheus_requests_total",
      help: "HTTP requests the recommender made to Prometheus, by API path.",
      labelNames: ["path"],
      registers: [registry],
    });
  const client = new PrometheusClient({ ...rc.prometheus, onRequest: (path) => queries.inc({ path }) });
  const ns = config.namespace;
  const caches = {
    profiles: manager.informer<RawWorkloadProfile>({ resource: Resources.WorkloadProfile, namespace: ns }),
    deployments: manager.informer<Workload>({ resource: Resources.Deployment, namespace: ns }),
    statefulSets: manager.informer<Workload>({ resource: Resources.StatefulSet, namespace: ns }),
    replicaSets: manager.informer<KubeObject>({
      resource: Resources.ReplicaSet,
      namespace: ns,
      // Only the owner chain is read; keep the cache small.
      transform: (o) => ({ metadata: o.metadata }),
    }),
    pods: manager.informer<PodObject>({
      resource: Resources.Pod,
      namespace: ns,
      transform: (p) => ({
        metadata: p.metadata,
        spec: { containers: p.spec?.containers?.map((c) => ({ name: c.name, resources: c.resources })) },
        status: {
          containerStatuses: p.status?.containerStatuses?.map((c) => ({ name: c.name, lastState: c.lastState })),
        },
      }),
    }),
  };
  const byName = (inf: { list(): KubeObject[] }) => (namespace: string) =>
    inf.list().flatMap((o) => (o.metadata?.namespace === namespace && o.metadata.name ? [o.metadata.name] : []));
  const resolver = new OwnerResolver({
    pod: (namespace, name) => caches.pods.get(`${namespace}/${name}`),
    replicaSet: (namespace, name) => caches.replicaSets.get(`${namespace}/${name}`),
    replicaSetNames: byName(caches.replicaSets),
    statefulSetNames: byName(caches.statefulSets),
  });
  const prometheus = new PrometheusUsageSource(client, { ...defaultMetricNames, ...rc.metricNames });
  const source = new FallbackUsageSource(
    prometheus,
    rc.metricsServerFallback === false ? undefined : new MetricsServerSource(manager.client),
  );
  const store = new ModelStore({
    source,
    resolver,
    now: rc.now,
    stepSeconds: rc.stepSeconds,
    historyStepSeconds: rc.historyStepSeconds,
    refreshIntervalMs: rc.refreshIntervalMs,
  });
  const recorder = manager.recorder("workloadprofile");
  const profiles = new Controller({
    name: "workloadprofile",
    reconciler: new ProfileReconciler({
      client: manager.client,
      caches,
      store,
      resolver,
      recorder,
      now: rc.now,
      resyncMs: rc.resyncMs,
      checkpointIntervalMs: rc.checkpointIntervalMs,
    }),
    workers: config.workers,
    logger: manager.logger,
    metrics: manager.metrics,
  })
    // A profile's own status writes are not changes to it: only its spec (generation) and deletion are.
    .watch(caches.profiles, undefined, { updateMatters: specOrDeletionChanged })
    // A changed workload (containers, annotation) is re-profiled at once; its status churn (rollouts, readiness
    // of every tenant's pods) is not a change the profile reads.
    .watch(caches.deployments, (d) => profileKeysOf(caches.profiles.list(), "Deployment", d), {
      updateMatters: workloadChanged,
    })
    .watch(caches.statefulSets, (s) => profileKeysOf(caches.profiles.list(), "StatefulSet", s), {
      updateMatters: workloadChanged,
    });
  const workloads = (["Deployment", "StatefulSet"] as WorkloadKind[]).map((kind) =>
    new Controller({
      name: `workloadprofile-${kind.toLowerCase()}s`,
      reconciler: new WorkloadReconciler({
        kind,
        client: manager.client,
        workloads: kind === "Deployment" ? caches.deployments : caches.statefulSets,
        profiles: caches.profiles,
        selector,
        defaultAlgorithm: rc.defaultAlgorithm,
        recorder,
      }),
      workers: Math.max(1, Math.min(2, config.workers)),
      logger: manager.logger,
      metrics: manager.metrics,
    })
      .watch(kind === "Deployment" ? caches.deployments : caches.statefulSets)
      .watch(caches.profiles, ownerKeys(kind, true)),
  );
  manager.add(profiles);
  for (const w of workloads) manager.add(w);
  return { profiles, workloads, store, client };
}

function specOrDeletionChanged(obj: KubeObject, old: KubeObject): boolean {
  return (
    obj.metadata?.generation !== old.metadata?.generation ||
    !!obj.metadata?.deletionTimestamp !== !!old.metadata?.deletionTimestamp
  );
}

/** What the profile reconciler reads of a workload: its spec (containers), its uid and the algorithm annotation. */
export function workloadChanged(obj: KubeObject, old: KubeObject): boolean {
  return (
    specOrDeletionChanged(obj, old) ||
    obj.metadata?.uid !== old.metadata?.uid ||
    obj.metadata?.annotations?.[recommenderAnnotation] !== old.metadata?.annotations?.[recommenderAnnotation]
  );
}

function profileKeysOf(profiles: RawWorkloadProfile[], kind: WorkloadKind, workload: KubeObject) {
  return profiles
    .filter((p) => {
      const ref = (p.spec as { targetRef?: { kind?: string; name?: string } } | undefined)?.targetRef;
      return (
        p.metadata?.namespace === workload.metadata?.namespace &&
        ref?.kind === kind &&
        ref.name === workload.metadata?.name
      );
    })
    .map((p) => ({ namespace: p.metadata?.namespace, name: p.metadata?.name ?? "" }));
}

registerController("recommender", (manager, config) => {
  const fromEnv = recommenderConfigFromEnv();
  // The controller command's Prometheus flags, when given, win over the environment.
  const p = config.prometheus;
  const prometheus = p
    ? {
        url: p.url,
        bearerToken: p.bearerToken,
        bearerTokenFile: p.bearerTokenFile,
        caFile: p.caFile,
        insecureSkipVerify: p.insecureSkipVerify,
        timeoutMs: p.timeoutMs,
        retries: p.retries,
      }
    : fromEnv.prometheus;
  addRecommender(manager, config, { ...fromEnv, prometheus });
});
