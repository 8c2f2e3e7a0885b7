// Wiring of the ClusterScaler: a per-workload controller keyed by the control-plane Deployment or StatefulSet,
// a status controller for ClusterScaler objects, the Prometheus poller, report delivery and decision GC.
import { parseClusterScaler, tenantNamespaceOf, type ClusterScaler } from "../api/index.js";
import { registerController, type ControllerConfig } from "../controllers.js";
import { sleep } from "../kube/backoff.js";
import { Controller, type Reconciler } from "../kube/controller.js";
import type { Informer } from "../kube/informer.js";
import type { Manager } from "../kube/manager.js";
import { keyOf, Resources, type KubeObject } from "../kube/resources.js";
import { PrometheusClient } from "../prometheus/client.js";
import { jsonEqual, mergeConditions, type ConditionInput } from "../api/conditions.js";
import { KubeActuator, RecordingActuator } from "./actuator.js";
import { defaultEngineOptions } from "./engine.js";
import { disruptionBudgetsStatus, fleetBudgetCondition, fleetBudgetStatus } from "./fleet-budget.js";
import { sharedFleetBudget } from "./shared-budget.js";
import { fleetRegressionCondition, fleetRegressionStatus } from "./fleet-model.js";
import { selectClusterScaler } from "./policy.js";
import { ScalerReconciler, type DecisionObject, type ScalerCaches } from "./reconciler.js";
import { Reporter, type ReportableDecision } from "./reports.js";
import { scaleUpBlockedCondition } from "./held.js";
import { signalConditions } from "./signal-conditions.js";
import { checkProbeUrl, ProbeSignals, type ProbeTarget } from "./signals/probe.js";
import { PrometheusSignals } from "./signals/prometheus.js";
import { signingKeyLoader } from "./signing-key.js";
import type { Node } from "../nodes/model.js";
import { tenantSelectionLabels } from "./tenancy.js";
import { pkiSecretName } from "../operator/pki/secrets.js";
import { componentLabel, probeUrlAnnotation, tenantLabel } from "../api/labels.js";

export interface ScalerWiring {
  controller: Controller;
  statusController: Controller;
  reconciler: ScalerReconciler;
  prometheus?: PrometheusSignals;
  probe?: ProbeSignals;
  reporter?: Reporter;
}

type TenantObject = KubeObject & {
  spec?: { namespace?: string };
  status?: { phase?: string; namespace?: string; endpoint?: string };
};

const specChanged = (obj: KubeObject, old: KubeObject) => obj.metadata?.generation !== old.metadata?.generation;
const labelsChanged = (obj: KubeObject, old: KubeObject) => !jsonEqual(obj.metadata?.labels, old.metadata?.labels);

export function addClusterScalerController(manager: Manager, config: ControllerConfig): ScalerWiring {
  const tenantScoped = <T extends KubeObject>(resource: (typeof Resources)[keyof typeof Resources]) =>
    manager.informer<T>({ resource, namespace: config.namespace, labelSelector: tenantLabel });
  const nodes = manager.informer<Node>({ resource: Resources.Node });
  const nodePools = manager.informer({ resource: Resources.NodePool });
  const drains = manager.informer({ resource: Resources.NodeDrain });
  const caches: ScalerCaches = {
    clusterScalers: manager.informer({ resource: Resources.ClusterScaler }),
    tenants: manager.informer({ resource: Resources.TenantControlPlane }),
    deployments: tenantScoped(Resources.Deployment),
    statefulSets: tenantScoped(Resources.StatefulSet),
    pods: tenantScoped(Resources.Pod),
    decisions: tenantScoped<DecisionObject>(Resources.ScalingDecision),
    profiles: manager.informer({ resource: Resources.WorkloadProfile, namespace: config.namespace }),
    // For the capacity check: the same shared caches the node-pool controllers read (placement.ts).
    nodes,
    nodePools,
    // Their recorded evictions are Drain changes of the disruption budgets (src/scaler/fleet-budget.ts).
    drains,
  };
  // The poller is built before the controllers it wakes, so it reaches them through this late-bound reference.
  const late: { controller?: Controller; reconciler?: ScalerReconciler } = {};
  const governed = (w: KubeObject) => late.reconciler?.governs(w) ?? false;
  /** Every governed workload's key (or of those `only` picks). */
  const governedKeys = (only?: (w: KubeObject) => boolean) =>
    [caches.deployments, caches.statefulSets].flatMap((inf) =>
      inf.list((o) => (!only || only(o)) && governed(o)).map(keyOf),
    );
  /**
   * Wakes governed workloads after a poll or a probe round. Rounds come every few seconds for every workload, so
   * their keys wait behind events (an OOM kill, a spec change) in the work queue, which still serves them in turn.
   */
  const enqueueAll = (only?: (w: KubeObject) => boolean) => {
    for (const k of governedKeys(only)) late.controller?.queue.add(k, { low: true });
  };
  const prometheus = config.prometheus
    ? new PrometheusSignals({
        client: new PrometheusClient(config.prometheus),
        intervalMs: config.pollIntervalMs ?? 15_000,
        rateWindow: config.rateWindow ?? "1m",
        logger: manager.logger,
        namespaces: () => {
          const ns = new Set(caches.deployments.list().map((d) => d.metadata?.namespace ?? ""));
          return ns.size > 0 && ns.size <= 300 ? [...ns] : undefined;
        },
        onUpdate: () => {
          enqueueAll();
          for (const cs of caches.clusterScalers.list()) statusController.queue.add(keyOf(cs));
        },
      })
    : undefined;
  // A probe round says something of tenant apiservers only.
  const probe = config.probeIntervalMs
    ? newProber(
        manager,
        caches,
        config,
        () => late.reconciler?.clusterScalers() ?? [],
        () => enqueueAll((w) => w.metadata?.labels?.[componentLabel] === "kube-apiserver"),
      )
    : undefined;
  const actuator = config.dryRun ? new RecordingActuator() : new KubeActuator(manager.client);
  // The process's budgets, shared with the drain controller, with their catch-up on every leadership term.
  const sharedBudget = sharedFleetBudget(manager, config);
  const reconciler = new ScalerReconciler({
    client: manager.client,
    caches,
    actuator,
    recorder: manager.recorder("clusterscaler"),
    prometheus,
    probe,
    registry: manager.metrics.registry,
    dryRun: config.dryRun,
    engine: config.staleAfterMs ? { staleAfterMs: config.staleAfterMs } : undefined,
    defaultDisruptionBudgets: config.defaultDisruptionBudgets,
    sharedBudget,
    // Its ScaleUpBlocked condition; a workload that enters the set with a decision wakes it through the decision too.
    onBlockedChange: (clusterScaler) => statusController.queue.add(clusterScaler),
    signingKey: signingKeyLoader(
      manager.client,
      { file: config.decisionSigningKeyFile, secret: config.decisionSigningKeySecret },
      manager.logger,
    ),
  });
  const controller = new Controller({
    name: "clusterscaler",
    reconciler,
    workers: config.workers,
    logger: manager.logger,
    metrics: manager.metrics,
  });
  late.controller = controller;
  late.reconciler = reconciler;
  // A workload that stops being governed needs no last reconcile: nothing is kept for it but its history, which
  // its deletion or the next governed reconcile settles.
  controller.watch(caches.deployments, (o) => (governed(o) ? [keyOf(o)] : []));
  controller.watch(caches.statefulSets, (o) => (governed(o) ? [keyOf(o)] : []));
  // A pod (an OOM kill in its status) maps to the workload of the same tenant and component in its namespace.
  const workloadOf = (pod: KubeObject): string[] => {
    const ns = pod.metadata?.namespace;
    const tenant = pod.metadata?.labels?.[tenantLabel];
    const component = pod.metadata?.labels?.[componentLabel];
    if (!ns || !tenant || !component) return [];
    const match = (w: KubeObject) =>
      w.metadata?.namespace === ns &&
      w.metadata.labels?.[tenantLabel] === tenant &&
      w.metadata.labels?.[componentLabel] === component;
    const direct = caches.deployments.get(`${ns}/${component}`) ?? caches.statefulSets.get(`${ns}/${component}`);
    if (direct && match(direct)) return governed(direct) ? [keyOf(direct)] : [];
    return [...caches.deployments.listNamespace(ns, match), ...caches.statefulSets.listNamespace(ns, match)]
      .filter(governed)
      .map(keyOf);
  };
  controller.watch(caches.pods, workloadOf);
  // A ClusterScaler's policy is its spec: its own status writes (matched tenants, the last decision's time, after
  // every decision) would otherwise wake every workload it governs.
  controller.watch(caches.clusterScalers, () => governedKeys(), { updateMatters: specChanged });
  // A TenantControlPlane (its labels, its pause) maps to its workloads through a label index: every tenant's
  // status write would otherwise scan the workloads of the whole fleet.
  caches.deployments.indexLabel(tenantLabel);
  caches.statefulSets.indexLabel(tenantLabel);
  controller.watch(caches.tenants, (t) => {
    const name = t.metadata?.name;
    if (!name) return [];
    return [caches.deployments, caches.statefulSets].flatMap((inf) =>
      inf.listByLabel(tenantLabel, name, governed).map(keyOf),
    );
  });
  controller.watch(caches.profiles, () => []);
  controller.watch(caches.decisions, () => []);
  // Read, not watched for work: a node or pool change shows in the next round of each workload.
  controller.watch(nodes, () => []);
  controller.watch(nodePools, () => []);
  // Read for the Drain budgets; watched so that no decision is made before the recorded evictions are in the cache.
  controller.watch(drains, () => []);
  manager.add(controller);

  const statusReconciler: Reconciler = {
    async reconcile(key) {
      const raw = caches.clusterScalers.get(key.name) as
        (KubeObject & { status?: { conditions?: never[] } }) | undefined;
      if (!raw?.metadata) return;
      const parsed = parseClusterScaler(raw);
      const conditions: ConditionInput[] = [];
      const status: Record<string, unknown> = { ...(raw.status ?? {}) };
      let requeueAfterMs: number | undefined;
      if (!parsed.ok) {
        conditions.push({
          type: "Ready",
          status: "False",
          reason: "InvalidSpec",
          message: `fix the spec: ${parsed.errors.join("; ")}`,
        });
      } else {
        const all = reconciler.clusterScalers();
        const tenants = caches.tenants.list();
        const matched = tenants.filter(
          (t) =>
            selectClusterScaler(all, tenantSelectionLabels(t.metadata?.name ?? "", t))?.metadata?.name === key.name,
        ).length;
        status.matchedTenants = matched;
        conditions.push({
          type: "Ready",
          status: "True",
          reason: "PolicyValid",
          message: parsed.value.spec.paused
            ? `paused (spec.paused): governs ${matched} tenants and changes none of them`
            : `governs ${matched} tenants (highest priority wins, then oldest, then name)`,
        });
        conditions.push(
          ...signalConditions({
            prometheus,
            held: reconciler.heldFor(key.name),
            now: Date.now(),
            staleAfterMs: config.staleAfterMs ?? defaultEngineOptions.staleAfterMs,
          }),
        );
        conditions.push(scaleUpBlockedCondition(reconciler.blockedFor(key.name)));
        const last = reconciler.lastDecisionAt.get(key.name);
        if (last) status.lastDecisionTime = new Date(last).toISOString();
        const now = Date.now();
        if (parsed.value.spec.components.some((c) => c.estimators?.includes("fleet-regression"))) {
          const fits = reconciler.fleetModel(now).get(key.name);
          status.fleetRegression = fleetRegressionStatus(fits);
          conditions.push(fleetRegressionCondition(fits));
        } else delete status.fleetRegression;
        const budget = await reconciler.fleetBudgetUsage(key.name, now);
        if (budget) {
          status.fleetBudget = fleetBudgetStatus(budget);
          status.disruptionBudgets = disruptionBudgetsStatus(budget);
          conditions.push(fleetBudgetCondition(budget));
          // The counts change when a decision leaves an interval, and a scheduled budget when its window opens or
          // closes, which no event announces.
          // At most an hour ahead: a window weeks away would overflow a timer (setTimeout takes 32 bits).
          if (budget.nextExpiryAt !== undefined)
            requeueAfterMs = Math.min(3_600_000, Math.max(1000, budget.nextExpiryAt - now + 100));
        }
      }
      const generation = raw.metadata.generation;
      const merged = mergeConditions(
        (raw.status as { conditions?: Parameters<typeof mergeConditions>[0] } | undefined)?.conditions,
        conditions,
        generation,
        new Date(),
      );
      const next = { ...status, conditions: merged, observedGeneration: generation };
      const result = requeueAfterMs === undefined ? undefined : { requeueAfterMs };
      if (jsonEqual(raw.status ?? {}, next)) return result;
      await manager.client.applyStatus(Resources.ClusterScaler, {
        metadata: { name: key.name },
        status: next,
      } as KubeObject & { status: unknown });
      return result;
    },
  };
  const statusController = new Controller({
    name: "clusterscaler-status",
    reconciler: statusReconciler,
    workers: 1,
    logger: manager.logger,
    metrics: manager.metrics,
  });
  statusController.watch(caches.clusterScalers);
  // Only a tenant's labels (or its coming and going) change what a ClusterScaler matches, not its status churn.
  statusController.watch(caches.tenants, () => caches.clusterScalers.list().map(keyOf), {
    updateMatters: labelsChanged,
  });
  // A decision recorded or finished changes what its ClusterScaler's fleet budget holds.
  statusController.watch(caches.decisions, (d) => (d.spec?.clusterScaler ? [{ name: d.spec.clusterScaler }] : []), {
    updateMatters: (d, old) => d.status?.phase !== old.status?.phase,
  });
  manager.add(statusController);

  const reporter = config.opsCenter?.length
    ? new Reporter({
        client: manager.client,
        decisions: caches.decisions as unknown as Informer<ReportableDecision>,
        endpoints: config.opsCenter,
        source: `metapilot.io/${config.clusterName ?? "meta-cluster"}`,
        logger: manager.logger,
        registry: manager.metrics.registry,
      })
    : undefined;
  manager.onLeading(async (signal) => {
    const work: Array<Promise<void>> = [];
    if (prometheus) work.push(prometheus.run(signal));
    if (probe) work.push(probe.run(signal));
    if (reporter) work.push(reporter.run(signal));
    work.push(
      collectGarbage(manager, caches.decisions, config.decisionRetentionMs ?? 7 * 86_400_000, !!reporter, signal),
    );
    await Promise.all(work);
  });
  return { controller, statusController, reconciler, prometheus, probe, reporter };
}

/**
 * The black-box prober: every tenant a ClusterScaler governs, once it has an endpoint, through its Service
 * (status.endpoint) or the URL in its metapilot.io/probe-url annotation, verified with the tenant's cluster CA.
 * A URL that checkProbeUrl refuses is never requested: the tenant is left unprobed, with a Warning Event
 * (ProbeURLRefused) and one log line each time the reason changes.
 */
function newProber(
  manager: Manager,
  caches: ScalerCaches,
  config: ControllerConfig,
  /** The valid ClusterScalers, as the reconciler parsed them. */
  clusterScalers: () => readonly ClusterScaler[],
  onUpdate: () => void,
): ProbeSignals {
  const cas = new Map<string, { pem: string | undefined; at: number }>();
  /** tenant → the refusal last reported, so it is reported once per change, not every round. */
  const refused = new Map<string, string>();
  const recorder = manager.recorder("clusterscaler");
  const targets = (): ProbeTarget[] => {
    const scalers = clusterScalers();
    const out: ProbeTarget[] = [];
    for (const raw of caches.tenants.list() as TenantObject[]) {
      const name = raw.metadata?.name;
      if (!name || raw.metadata?.deletionTimestamp) continue;
      if (!selectClusterScaler(scalers, raw.metadata?.labels ?? {})) continue;
      const override = raw.metadata?.annotations?.[probeUrlAnnotation];
      const endpoint = raw.status?.endpoint;
      if (!override && (!endpoint || raw.status?.phase === "Provisioning")) continue;
      const namespace = tenantNamespaceOf(raw);
      const url = override ?? `${endpoint}/readyz`;
      const reason = checkProbeUrl(url, { namespace, endpoint, allowedHosts: config.probeAllowedHosts });
      if (reason) {
        const why = `${override ? `annotation ${probeUrlAnnotation}` : "status.endpoint"} refused: ${reason}`;
        if (refused.get(name) !== why) {
          refused.set(name, why);
          manager.logger.warn({ tenant: name, reason: why }, "probe URL refused; the tenant is not probed");
          recorder.record(raw, "Warning", "ProbeURLRefused", "Probe", `${why}; the apiserver is not probed`);
        }
        continue;
      }
      refused.delete(name);
      out.push({ tenant: name, namespace, url });
    }
    for (const tenant of refused.keys()) if (!caches.tenants.get(tenant)) refused.delete(tenant);
    return out;
  };
  return new ProbeSignals({
    intervalMs: config.probeIntervalMs ?? 10_000,
    timeoutMs: config.probeTimeoutMs ?? 3000,
    targets,
    // The cluster CA's certificate (never its key) is kept for an hour, or until a TLS failure says it was rotated;
    // a tenant without a CA Secret is asked about again only after the hour, not every round.
    caFor: async (t) => {
      const cached = cas.get(t.tenant);
      if (cached && Date.now() - cached.at < 60 * 60_000) return cached.pem;
      const secret = await manager.client
        .get<KubeObject & { data?: Record<string, string> }>(
          Resources.Secret,
          pkiSecretName(t.tenant, "ca"),
          t.namespace,
        )
        .catch(() => undefined);
      const crt = secret?.data?.["tls.crt"];
      const pem = crt ? Buffer.from(crt, "base64").toString("utf8") : undefined;
      cas.set(t.tenant, { pem, at: Date.now() });
      return pem;
    },
    forgetCa: (t) => {
      if (cas.get(t.tenant)?.pem) cas.delete(t.tenant);
    },
    logger: manager.logger,
    registry: manager.metrics.registry,
    onUpdate,
  });
}

/** Deletes decisions older than the retention, but never one whose report has not been delivered. */
async function collectGarbage(
  manager: Manager,
  decisions: Informer<DecisionObject>,
  retentionMs: number,
  reporting: boolean,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    const cutoff = Date.now() - retentionMs;
    for (const d of decisions.list()) {
      const at = Date.parse(d.spec?.decidedAt ?? "") || Date.now();
      if (at > cutoff) continue;
      if (reporting && d.status?.delivery?.state !== "Delivered") continue;
      await manager.client
        .delete(Resources.ScalingDecision, d.metadata?.name ?? "", d.metadata?.namespace)
        .catch(() => undefined);
    }
    await sleep(10 * 60_000, signal).catch(() => undefined);
  }
}

registerController("clusterscaler", addClusterScalerController);
