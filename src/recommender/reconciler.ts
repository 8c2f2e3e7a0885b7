// The profile controller's reconcile: validate the profile, find its workload in the cache, pick the algorithm
// (the workload's metapilot.io/recommender annotation, else spec.algorithm), restore the model from the
// checkpoint if this process has none, bring it up to date with one batched read for the namespace, count OOM
// kills from pod status, and write status only when it changed (the checkpoint at most once per interval).
import { parseWorkloadProfile, type WorkloadProfileStatus } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey } from "../kube/resources.js";
import { jsonEqual, mergeConditions, type ConditionInput } from "../api/conditions.js";
import { fromCheckpoint, toCheckpoint, Checkpoint } from "./checkpoint.js";
import type { OwnerResolver, WorkloadKind, WorkloadRef } from "./input/owners.js";
import { algorithmByName, resolveParameters, type Algorithm, type RecommenderParameters } from "./logic/index.js";
import { applyOomKills, oomKillsOfWorkload } from "./input/ooms.js";
import { recommendContainers, toContainerRecommendation, type ContainerResult } from "./recommend.js";
import type { ModelStore, WorkloadModel } from "./store.js";
import { recommenderAnnotation } from "../api/labels.js";

export interface RawWorkloadProfile extends KubeObject {
  spec?: Record<string, unknown>;
  status?: WorkloadProfileStatus;
}

export interface ContainerSpec {
  name: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Workload extends KubeObject {
  spec?: { template?: { spec?: { containers?: ContainerSpec[] } } };
}

export interface PodObject extends KubeObject {
  spec?: { containers?: ContainerSpec[] };
  status?: {
    containerStatuses?: Array<{
      name: string;
      lastState?: { terminated?: { reason?: string; finishedAt?: string } };
    }>;
  };
}

export interface RecommenderCaches {
  profiles: Informer<RawWorkloadProfile>;
  deployments: Informer<Workload>;
  statefulSets: Informer<Workload>;
  pods: Informer<PodObject>;
}

export interface ProfileReconcilerOptions {
  client: KubeClient;
  caches: RecommenderCaches;
  store: ModelStore;
  resolver: OwnerResolver;
  recorder?: EventRecorder;
  now?: () => Date;
  /** Requeue period of a profile; default 60 s. */
  resyncMs?: number;
  /** The checkpoint is rewritten at most this often when nothing else changed; default 10 min. */
  checkpointIntervalMs?: number;
}

export class ProfileReconciler implements Reconciler {
  private readonly now: () => Date;
  /** profile key → workload it models, to forget the model when the profile goes. */
  private readonly targets = new Map<string, WorkloadRef>();

  constructor(private readonly options: ProfileReconcilerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async reconcile(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    const namespace = key.namespace ?? "";
    const profileKey = `${namespace}/${key.name}`;
    const raw = this.options.caches.profiles.get(profileKey);
    if (!raw?.metadata?.name || raw.metadata.deletionTimestamp) {
      const ref = this.targets.get(profileKey);
      if (ref) this.options.store.delete(namespace, ref);
      this.targets.delete(profileKey);
      return;
    }
    // Re-reading usage is a resync: it waits behind changes to profiles, however many profiles there are.
    const resync = { requeueAfterMs: this.options.resyncMs ?? 60_000, resync: true };
    const parsed = parseWorkloadProfile(raw);
    if (!parsed.ok) {
      await this.writeStatus(raw, {
        conditions: [notReady("InvalidSpec", `fix the spec: ${parsed.errors.join("; ")}`)],
      });
      return;
    }
    const spec = parsed.value.spec;
    const ref: WorkloadRef = { kind: spec.targetRef.kind as WorkloadKind, name: spec.targetRef.name };
    this.targets.set(profileKey, ref);
    const cache = ref.kind === "Deployment" ? this.options.caches.deployments : this.options.caches.statefulSets;
    const workload = cache.get(`${namespace}/${ref.name}`);
    if (!workload?.metadata?.uid) {
      this.options.store.delete(namespace, ref);
      await this.writeStatus(raw, {
        conditions: [notReady("TargetNotFound", `${ref.kind} ${namespace}/${ref.name} does not exist`)],
      });
      return resync;
    }
    const algorithmName = workload.metadata.annotations?.[recommenderAnnotation] ?? spec.algorithm;
    let algorithm: Algorithm;
    try {
      algorithm = algorithmByName(algorithmName);
    } catch (err) {
      await this.writeStatus(raw, {
        algorithm: algorithmName.slice(0, 64),
        containers: undefined,
        conditions: [notReady("UnknownAlgorithm", (err as Error).message)],
      });
      return;
    }
    const params = resolveParameters(algorithm, spec.parameters);
    const model = this.model(raw, namespace, ref, workload.metadata.uid, params, rc);

    let fetchError: Error | undefined;
    try {
      await this.options.store.refresh(namespace, rc.signal);
    } catch (err) {
      if (rc.signal.aborted) throw err;
      fetchError = err as Error;
      rc.logger.warn({ err, namespace }, "reading usage failed");
    }
    const containers = (workload.spec?.template?.spec?.containers ?? []).map((c) => c.name);
    this.countOoms(namespace, ref, model, params, rc);
    const now = this.now();
    const results = recommendContainers(containers, model.containers, algorithm, params, now);
    await this.writeStatus(raw, this.statusOf(results, params, algorithm.name, model, fetchError), model, containers);
    return fetchError ? { ...resync, requeueAfterMs: Math.min(30_000, resync.requeueAfterMs) } : resync;
  }

  /** The model in memory, else the one in the checkpoint, else an empty one that will read the history. */
  private model(
    raw: RawWorkloadProfile,
    namespace: string,
    ref: WorkloadRef,
    uid: string,
    params: RecommenderParameters,
    rc: ReconcileContext,
  ): WorkloadModel {
    const halfLifeMs = params.halfLifeHours * 3_600_000;
    let model = this.options.store.get(namespace, ref);
    const memoryPeakRule = params.memoryPeakRule;
    if (model && (model.uid !== uid || model.halfLifeMs !== halfLifeMs || model.memoryPeakRule !== memoryPeakRule))
      model = undefined;
    if (!model) {
      const base = { namespace, ref, uid, halfLifeMs, historyDays: params.historyDays, memoryPeakRule };
      const restored = fromCheckpoint(raw.status?.checkpoint, base);
      if (restored.ok) {
        model = restored.model;
        rc.logger.debug({ coveredUntil: new Date(model.coveredUntilMs ?? 0) }, "model restored from checkpoint");
      } else {
        model = { ...base, containers: new Map() };
        // A checkpoint that is there but unusable (another rule, half-life or workload) is worth a line.
        if (raw.status?.checkpoint)
          rc.logger.info({ reason: restored.reason }, "checkpoint dropped; reading the history");
        else rc.logger.debug({ reason: restored.reason }, "no usable checkpoint; reading the history");
      }
      this.options.store.set(model);
    }
    model.historyDays = params.historyDays;
    return model;
  }

  private countOoms(
    namespace: string,
    ref: WorkloadRef,
    model: WorkloadModel,
    params: RecommenderParameters,
    rc: ReconcileContext,
  ): void {
    const pods = this.options.caches.pods.list((p) => p.metadata?.namespace === namespace);
    const kills = oomKillsOfWorkload(pods, namespace, ref, this.options.resolver);
    const bump = { bumpBytes: params.oomBumpBytes, bumpRatio: params.oomBumpRatio };
    for (const k of applyOomKills(model, kills, bump, this.now().getTime()))
      rc.logger.info({ pod: k.pod, container: k.container }, "OOM kill counted");
  }

  private statusOf(
    results: ContainerResult[],
    params: RecommenderParameters,
    algorithm: string,
    model: WorkloadModel,
    fetchError: Error | undefined,
  ): StatusPatch {
    const recommended = results.filter((r) => r.reason === "Recommended");
    const withData = results.filter((r) => r.reason !== "NoData");
    const allReady = results.length > 0 && recommended.length === results.length;
    const firsts = withData.flatMap((r) => (r.firstSampleMs === undefined ? [] : [r.firstSampleMs]));
    const lasts = withData.flatMap((r) => (r.lastSampleMs === undefined ? [] : [r.lastSampleMs]));
    const conditions: ConditionInput[] = [
      allReady
        ? {
            type: "Ready",
            status: "True",
            reason: "Recommended",
            message: `${algorithm}: every container has a recommendation`,
          }
        : notReady(
            "InsufficientData",
            results.length === 0
              ? "the workload has no containers"
              : results
                  .filter((r) => r.reason !== "Recommended")
                  .map((r) => r.message)
                  .join("; "),
          ),
      withData.length > 0
        ? {
            type: "HistoryAvailable",
            status: "True",
            reason: "SamplesFound",
            message: `${withData.length} containers with samples`,
          }
        : {
            type: "HistoryAvailable",
            status: "False",
            reason: "NoData",
            message: "no usage samples for any container",
          },
      fetchError
        ? { type: "MetricsAvailable", status: "False", reason: "MetricsUnavailable", message: fetchError.message }
        : {
            type: "MetricsAvailable",
            status: "True",
            reason: "Read",
            message: `usage read from ${model.source ?? "none"}`,
          },
    ];
    const confidence = results.length
      ? Math.min(...results.map((r) => Math.min(1, r.confidenceDays / params.historyDays)))
      : 0;
    return {
      algorithm,
      containers: results.map(toContainerRecommendation),
      confidence: Math.round(confidence * 1000) / 1000,
      sampleCount: results.reduce((s, r) => s + r.sampleCount, 0),
      window: firsts.length
        ? { start: new Date(Math.min(...firsts)).toISOString(), end: new Date(Math.max(...lasts)).toISOString() }
        : undefined,
      conditions,
    };
  }

  private async writeStatus(
    raw: RawWorkloadProfile,
    patch: StatusPatch,
    model?: WorkloadModel,
    containers?: readonly string[],
  ): Promise<void> {
    const previous = raw.status ?? {};
    const now = this.now();
    const generation = raw.metadata?.generation;
    const { conditions: nextConditions, ...rest } = patch;
    const conditions = mergeConditions(previous.conditions, nextConditions, generation, now);
    const { checkpoint: previousCheckpoint, lastUpdated: previousUpdated, ...previousRest } = previous;
    const nextRest = { ...previousRest, ...rest, conditions, observedGeneration: generation };
    if (!("containers" in patch)) delete nextRest.containers;
    const changed = !jsonEqual(previousRest, nextRest);
    // A checkpoint of an older version counts as never saved: the first write rewrites it in the current shape.
    const savedAt = Checkpoint.safeParse(previousCheckpoint).data?.savedAt ?? 0;
    const checkpointDue =
      model !== undefined &&
      model.coveredUntilMs !== undefined &&
      now.getTime() - savedAt >= (this.options.checkpointIntervalMs ?? 10 * 60_000);
    if (!changed && !checkpointDue) return;
    const checkpoint = model?.coveredUntilMs !== undefined ? toCheckpoint(model, now, containers) : previousCheckpoint;
    await this.options.client.applyStatus(Resources.WorkloadProfile, {
      metadata: { name: raw.metadata?.name, namespace: raw.metadata?.namespace },
      status: {
        ...nextRest,
        lastUpdated: changed ? now.toISOString() : previousUpdated,
        checkpoint: checkpoint as Record<string, unknown> | undefined,
      },
    } as RawWorkloadProfile);
  }
}

type StatusPatch = Partial<Omit<WorkloadProfileStatus, "conditions" | "checkpoint" | "lastUpdated">> & {
  conditions: ConditionInput[];
};

function notReady(reason: string, message: string): ConditionInput {
  return { type: "Ready", status: "False", reason, message };
}
