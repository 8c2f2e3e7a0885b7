// The bad-input scenario, shared by test/fuzz (1,000 objects) and bench/reliability.ts (full count): mutated objects
// of every kind (./mutations.ts) are created one by one on the real apiserver while every controller runs in this
// process. Invariants: each object is either rejected by the schema (OpenAPI or CEL) or accepted and then given a
// status for its generation by its controller; the process never sees an uncaught error; a valid sentinel of each
// kind keeps being reconciled; the audit log shows no write by the controllers' identity outside the fuzzed objects,
// the sentinels and what they own. No vitest import, so the bench can use it.
import { examples } from "../../src/api/examples.js";
import type { KindName } from "../../src/api/kinds.js";
import { availableControllers, controllerFactory } from "../../src/controllers.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import "../../src/register.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { ensureNamespace, Scenario, waitUntil, type ChaosEnv, type ScenarioResult } from "../chaos/lib.js";
import { fuzzCases, fuzzKinds, type FuzzCase } from "./mutations.js";

const controllerKinds: KindName[] = ["TenantControlPlane", "ClusterScaler", "NodeDrain", "NodePool", "WorkloadProfile"];

interface WithStatus extends KubeObject {
  status?: {
    phase?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; message?: string; observedGeneration?: number }>;
  };
}

const statusIsCurrent = (o: WithStatus | undefined) =>
  !!o?.status &&
  (o.status.observedGeneration === o.metadata?.generation ||
    (o.status.conditions ?? []).some((c) => c.observedGeneration === o.metadata?.generation));

/** A change to each sentinel that its controller must acknowledge with a new observedGeneration. */
const sentinelPatches: Record<string, Record<string, unknown>> = {
  TenantControlPlane: { spec: { apiServer: { replicas: 3 } } },
  ClusterScaler: { spec: { priority: 11 } },
  NodeDrain: { spec: { timeout: "20m" } },
  NodePool: { spec: { maxNodes: 51 } },
  WorkloadProfile: { spec: { parameters: { targetPercentile: 0.8 } } },
};

export interface BadInputOptions {
  count: number;
  seed: number;
  /** How long accepted objects may take to get a status for their generation. */
  statusWaitMs?: number;
  /**
   * The Prometheus the controllers are given: the meta-cluster's (as deployed; the default), or one that refuses
   * every connection, so bad input meets a metrics outage and the sentinels must still be served.
   */
  prometheus?: "metacluster" | "unreachable";
}

export async function badInput(env: ChaosEnv, o: BadInputOptions, log: (l: string) => void): Promise<ScenarioResult> {
  const prometheusMode = o.prometheus ?? "metacluster";
  const s = new Scenario("bad-input", { objects: o.count, seed: o.seed }, log);
  s.figures.prometheus = prometheusMode;
  const client = env.client;
  const stamp = Date.now().toString(36);
  const identity = `fuzz-${stamp}`;
  const ns = `fuzz-${stamp}`;
  const prefix = `fz${stamp.slice(-4)}`;
  const sentinelName = (k: KindName) => `${prefix}-sentinel-${k.toLowerCase()}`;
  const sentinelNs = (k: KindName) => (Resources[k].namespaced ? ns : undefined);
  const uncaught: string[] = [];
  const onError = (e: unknown) => uncaught.push(String(e instanceof Error ? e.stack : e));
  const accepted: FuzzCase[] = [];
  const stop = new AbortController();
  await ensureNamespace(client, ns);
  // TCPs already there (another scenario's, still being finalized) are the controllers' business too.
  const preexisting = (await client.listAll<KubeObject>(Resources.TenantControlPlane)).items.map(
    (t) => t.metadata?.name ?? "",
  );
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  const since = new Date();
  try {
    const manager = new Manager({
      kubeConfig: env.kc,
      logger: createLogger({ level: "error" }),
      identity,
      qps: 200,
      burst: 400,
    });
    // The controllers as deployed: the meta-cluster's Prometheus for usage and signals (or port 1: refused).
    const prometheus = { url: prometheusMode === "unreachable" ? "http://127.0.0.1:1" : env.state.prometheusUrl };
    for (const name of availableControllers())
      controllerFactory(name)(manager, { workers: 4, dryRun: false, prometheus });
    void manager.start(stop.signal);
    if (!(await waitUntil(() => manager.hasSynced(), 120_000))) throw new Error("controllers not synced in 120 s");
    // A valid sentinel of every kind with a controller: the objects the fuzzing must not harm or hold up.
    for (const kind of controllerKinds) {
      const obj = examples()[kind] as unknown as KubeObject & { spec: Record<string, unknown> };
      obj.metadata = { name: sentinelName(kind), ...(Resources[kind].namespaced ? { namespace: ns } : {}) };
      if (kind === "TenantControlPlane")
        obj.spec = { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } };
      if (kind === "NodeDrain") obj.spec = { nodeNames: ["metacluster-node-9"], dryRun: true };
      if (kind === "NodePool") obj.spec = { ...obj.spec, minNodes: 0, dryRun: true };
      await client.create(Resources[kind], obj);
    }
    s.objectsAtRisk = controllerKinds.length;

    const cases = fuzzCases(o.count, o.seed, ns, prefix);
    const rejected: FuzzCase[] = [];
    const otherErrors: string[] = [];
    const applyStarted = Date.now();
    for (const c of cases) {
      try {
        await client.create(Resources[c.kind], c.object as unknown as KubeObject);
        accepted.push(c);
      } catch (e) {
        const message = String(e);
        // 422 Invalid (OpenAPI or CEL) and 400 BadRequest (undecodable) are the schema saying no.
        if (/422|400|Invalid|BadRequest|is invalid|must be|Unsupported value|should be/i.test(message))
          rejected.push(c);
        else otherErrors.push(`${c.object.metadata.name}: ${message.slice(0, 200)}`);
      }
    }
    s.fault(`${cases.length} mutated objects of ${fuzzKinds.length} kinds created one by one`);
    s.figures.applySeconds = Math.round((Date.now() - applyStarted) / 1000);
    s.figures.accepted = accepted.length;
    s.figures.rejectedBySchema = rejected.length;
    s.figures.byKind = JSON.stringify(
      Object.fromEntries(
        fuzzKinds.map((k) => [
          k,
          `${accepted.filter((c) => c.kind === k).length} accepted / ${rejected.filter((c) => c.kind === k).length} rejected`,
        ]),
      ),
    );
    s.check(
      "every object is rejected by the schema or accepted",
      otherErrors.length === 0,
      otherErrors.slice(0, 5).join("; "),
    );

    // Every accepted object of a kind with a controller gets a status for its current generation.
    const withController = accepted.filter((c) => controllerKinds.includes(c.kind));
    const silent = async () => {
      const out: string[] = [];
      for (const c of withController) {
        const obj = await client.getOptional<WithStatus>(
          Resources[c.kind],
          c.object.metadata.name,
          c.object.metadata.namespace,
        );
        if (obj && !statusIsCurrent(obj))
          out.push(`${c.kind}/${c.object.metadata.name} ${JSON.stringify(c.mutations).slice(0, 160)}`);
      }
      return out;
    };
    const statusStarted = Date.now();
    await waitUntil(async () => (await silent()).length === 0, o.statusWaitMs ?? 180_000);
    s.figures.statusSeconds = Math.round((Date.now() - statusStarted) / 1000);
    const left = await silent();
    s.check(
      `every accepted object with a controller (${withController.length}) has a status for its generation`,
      left.length === 0,
      left.slice(0, 5).join("; "),
    );

    // The sentinels are still there and are still reconciled: bad objects block nobody. Each change is timed,
    // with the controllers' queue depths when it was made (what it had to get past).
    const depths = async () =>
      Object.fromEntries(
        (await manager.metrics.queueDepth.get()).values.map((v) => [String(v.labels.controller), v.value]),
      );
    s.figures.queueDepthsAtSentinelChange = JSON.stringify(await depths());
    const changedAt = Date.now();
    for (const k of controllerKinds)
      await client.patch(Resources[k], sentinelName(k), sentinelNs(k), sentinelPatches[k]!, "merge").catch(() => {
        s.objectsLost++;
      });
    const acknowledged = new Map<KindName, number>();
    await waitUntil(async () => {
      for (const k of controllerKinds) {
        if (acknowledged.has(k)) continue;
        const obj = await client.getOptional<WithStatus>(Resources[k], sentinelName(k), sentinelNs(k));
        if (statusIsCurrent(obj)) acknowledged.set(k, (Date.now() - changedAt) / 1000);
      }
      return acknowledged.size === controllerKinds.length;
    }, 120_000);
    const stale = controllerKinds.filter((k) => !acknowledged.has(k));
    s.figures.sentinelSeconds = JSON.stringify(
      Object.fromEntries(controllerKinds.map((k) => [k, acknowledged.get(k)?.toFixed(1) ?? "> 120"])),
    );
    if (stale.length) s.figures.queueDepthsAtTimeout = JSON.stringify(await depths());
    s.figures.recommender = JSON.stringify(await recommenderFigures(manager));
    s.check("a valid sentinel of each kind keeps being reconciled", stale.length === 0, stale.join(", "));
    s.check("the controllers never see an uncaught error", uncaught.length === 0, uncaught.slice(0, 3).join("; "));

    // Writes by the controllers' identity, from the audit log: only to what the fuzzing and the sentinels made.
    await new Promise((r) => setTimeout(r, 2000));
    const names = new Set([...accepted.map((c) => c.object.metadata.name), ...controllerKinds.map(sentinelName)]);
    const tcpNames = [
      ...accepted.filter((c) => c.kind === "TenantControlPlane").map((c) => c.object.metadata.name),
      sentinelName("TenantControlPlane"),
      ...preexisting,
    ];
    const ownerNames = [
      ...tcpNames,
      ...accepted.filter((c) => c.kind === "NodePool").map((c) => c.object.metadata.name),
      sentinelName("NodePool"),
    ];
    const owned = new Set([ns, ...tcpNames.map((n) => `tcp-${n}`)]);
    // A TCP may name its namespace in spec.namespace.
    for (const c of accepted.filter((x) => x.kind === "TenantControlPlane")) {
      const n = (c.object.spec as { namespace?: unknown } | null)?.namespace;
      if (typeof n === "string") owned.add(n);
    }
    const drainsOrPools = accepted.some((c) => c.kind === "NodeDrain" || c.kind === "NodePool");
    const writes = readAudit(env.state, since).filter(
      (e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`),
    );
    const stray = writes.filter((e) => {
      const r = e.objectRef ?? {};
      if (r.name && names.has(r.name)) return false;
      if (r.namespace && owned.has(r.namespace)) return false;
      if (r.resource === "namespaces" && r.name && owned.has(r.name)) return false;
      if (r.resource === "events" && (r.namespace === "default" || (r.namespace && owned.has(r.namespace))))
        return false;
      if (drainsOrPools && (r.resource === "nodes" || (r.resource === "pods" && r.subresource === "eviction")))
        return false;
      // What the controllers create for a fuzzed or sentinel object carries its name as prefix: a tenant's PKI
      // Secrets and kubeconfigs, a NodePool's scale-down NodeDrains (`<pool>-scaledown-<time>`).
      if (r.name && ownerNames.some((t) => r.name!.startsWith(`${t}-`))) return false;
      return true;
    });
    s.figures.controllerWrites = writes.length;
    s.check(
      `no write outside the fuzzed objects, the sentinels and what they own (${writes.length} writes)`,
      stray.length === 0,
      stray
        .slice(0, 10)
        .map((e) => `${e.verb} ${e.requestURI}`)
        .join("; "),
    );
    return s.result();
  } finally {
    for (const c of accepted)
      await client.delete(Resources[c.kind], c.object.metadata.name, c.object.metadata.namespace).catch(() => {});
    for (const k of controllerKinds) await client.delete(Resources[k], sentinelName(k), sentinelNs(k)).catch(() => {});
    await new Promise((r) => setTimeout(r, 3000)); // the drain sweep uncordons
    stop.abort();
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onError);
  }
}

/** What the profile controller did during the run: reconciles by result, their mean time, Prometheus requests. */
async function recommenderFigures(manager: Manager): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const controller = "workloadprofile";
  for (const v of (await manager.metrics.reconcileTotal.get()).values)
    if (v.labels.controller === controller) out[`reconciles_${String(v.labels.result)}`] = v.value;
  const duration = (await manager.metrics.reconcileDuration.get()).values.filter(
    (v) => v.labels.controller === controller,
  );
  const sum = duration.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
  const count = duration.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
  out.reconcileMeanSeconds = count ? Math.round((sum / count) * 1000) / 1000 : 0;
  const queries = manager.metrics.registry.getSingleMetric("metapilot_recommender_prometheus_requests_total");
  for (const v of (await queries?.get())?.values ?? []) out[`prometheus_${String(v.labels.path)}`] = v.value;
  return out;
}
