// The models of the profiled workloads, fed in batches. A refresh reads, for every model of the namespace that is
// behind, the range from the oldest model's coverage (or the start of its history window, if it has none) to now:
// one range query per metric for the whole namespace. When the source can batch, the same read also takes along
// other namespaces that are behind in the same way (history or live), up to maxNamespacesPerRead, so a fleet of
// N namespaces is read with about 2N/maxNamespacesPerRead queries however its reconciles interleave. A namespace
// is in at most one read at a time: its profiles' reconciles wait for that read instead of making their own. A
// read that fails is not repeated for its namespaces for failureBackoffMs: their profiles' reconciles get the same
// error at once, so an unreachable Prometheus is asked once per group and period, not once per profile, and the
// profile controller's workers are not held by doomed reads while spec changes wait.
import {
  addCpuSample,
  addMemorySample,
  dayMs,
  newContainerState,
  type ContainerState,
  type MemoryPeakRule,
} from "./model/container.js";
import { sleep } from "../kube/backoff.js";
import type { OwnerResolver, WorkloadRef } from "./input/owners.js";
import { readNamespaces, type UsageBatch, type UsageSource } from "./input/usage.js";

export interface WorkloadModel {
  namespace: string;
  ref: WorkloadRef;
  /** The workload's uid: a checkpoint of a deleted and re-created workload is not reused. */
  uid: string;
  containers: Map<string, ContainerState>;
  /** Usage has been read up to here (ms); undefined until the history is bootstrapped. */
  coveredUntilMs?: number;
  halfLifeMs: number;
  historyDays: number;
  /** How memory samples become peaks (model/container.ts); default "PerDay". */
  memoryPeakRule?: MemoryPeakRule;
  /** Where the last samples came from ("prometheus", "metrics-server", "checkpoint"). */
  source?: string;
}

export interface RefreshResult {
  fetched: boolean;
  source?: string;
  startMs?: number;
  endMs?: number;
  series?: number;
  /** Namespaces the read covered (this one and those it took along). */
  namespaces?: number;
}

export interface ModelStoreOptions {
  source: UsageSource;
  resolver: OwnerResolver;
  now?: () => Date;
  /** Step of live reads; default 60 s. */
  stepSeconds?: number;
  /** Step of history reads (bootstrap); default 300 s. */
  historyStepSeconds?: number;
  /** A model read less than this ago is fresh; default 60 s. */
  refreshIntervalMs?: number;
  onBatch?: (namespace: string, batch: UsageBatch) => void;
  /**
   * Before a history read, wait this long so that the profiles of a namespace reconciled together share one
   * read; default 500 ms.
   */
  bootstrapGatherMs?: number;
  /** Namespaces read together in one query per metric (when the source can batch); default 20. */
  maxNamespacesPerRead?: number;
  /** After a failed read, its namespaces are not read again for this long; default 30 s. */
  failureBackoffMs?: number;
}

export function workloadKey(namespace: string, ref: WorkloadRef): string {
  return `${namespace}/${ref.kind}/${ref.name}`;
}

export function containerState(model: WorkloadModel, container: string, nowMs: number): ContainerState {
  let s = model.containers.get(container);
  if (!s) {
    s = newContainerState(model.halfLifeMs, nowMs, model.memoryPeakRule);
    model.containers.set(container, s);
  }
  return s;
}

/**
 * Feeds a batch into the models of its namespace: each takes only points after its own coverage. A model's state
 * per container name aggregates that container of every pod of the workload, as VPA's aggregate container state
 * does.
 */
export function feedBatch(
  batch: UsageBatch,
  namespace: string,
  models: readonly WorkloadModel[],
  resolver: OwnerResolver,
  nowMs: number,
): void {
  const byRef = new Map(models.map((m) => [`${m.ref.kind}/${m.ref.name}`, m]));
  const minutes = batch.stepSeconds / 60;
  resolver.reset();
  const feed = (series: UsageBatch["cpu"], add: (s: ContainerState, pod: string, t: number, v: number) => void) => {
    for (const s of series) {
      const ref = resolver.resolve(namespace, s.pod);
      const model = ref && byRef.get(`${ref.kind}/${ref.name}`);
      if (!model) continue;
      const state = containerState(model, s.container, nowMs);
      const after = model.coveredUntilMs ?? Number.NEGATIVE_INFINITY;
      for (const [t, v] of s.points) if (t > after) add(state, s.pod, t, v);
    }
  };
  // CPU samples of all pods go into one histogram per container name; memory keeps each pod's peak of the day.
  feed(batch.cpu, (s, _pod, t, v) => addCpuSample(s, t, v, minutes));
  feed(batch.memory, (s, pod, t, v) => addMemorySample(s, pod, t, v));
  for (const m of models) {
    m.coveredUntilMs = Math.max(m.coveredUntilMs ?? Number.NEGATIVE_INFINITY, batch.endMs);
    m.source = batch.source;
  }
}

export class ModelStore {
  private readonly models = new Map<string, WorkloadModel>();
  /** namespace → the refresh asked for it (gathering, then reading). */
  private readonly refreshing = new Map<string, Promise<unknown>>();
  /** namespace → the query in flight that covers it (its own or another namespace's). */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  /** namespace → the last failed read that covered it, and until when it stands. */
  private readonly failed = new Map<string, { untilMs: number; error: unknown }>();
  /** Counters a test or benchmark can read. */
  readonly stats = { refreshes: 0, historyReads: 0, liveReads: 0, failedReads: 0, failuresReused: 0 };

  constructor(private readonly options: ModelStoreOptions) {
    this.now = options.now ?? (() => new Date());
  }

  get(namespace: string, ref: WorkloadRef): WorkloadModel | undefined {
    return this.models.get(workloadKey(namespace, ref));
  }

  set(model: WorkloadModel): void {
    this.models.set(workloadKey(model.namespace, model.ref), model);
  }

  delete(namespace: string, ref: WorkloadRef): void {
    this.models.delete(workloadKey(namespace, ref));
  }

  get size(): number {
    return this.models.size;
  }

  /** Brings every stale model of `namespace` up to now with one batched read. */
  refresh(namespace: string, signal?: AbortSignal): Promise<RefreshResult> {
    const failure = this.reusedFailure(namespace, this.now().getTime());
    if (failure) return Promise.reject(failure.error);
    const pending = this.inflight.get(namespace) ?? this.refreshing.get(namespace);
    if (pending) {
      // Another refresh or read covers this namespace: wait for it, then look again (usually nothing is left).
      return pending.catch(() => undefined).then(() => this.refresh(namespace, signal));
    }
    const next = this.refreshNow(namespace, signal);
    this.track(this.refreshing, [namespace], next);
    return next;
  }

  private track(map: Map<string, Promise<unknown>>, namespaces: readonly string[], p: Promise<unknown>): void {
    for (const ns of namespaces) map.set(ns, p);
    void p
      .finally(() => {
        for (const ns of namespaces) if (map.get(ns) === p) map.delete(ns);
      })
      .catch(() => undefined);
  }

  /** The failed read that still stands for `namespace`, if any (an expired one is forgotten). */
  private recentFailure(namespace: string, nowMs: number) {
    const f = this.failed.get(namespace);
    if (!f) return undefined;
    if (f.untilMs > nowMs) return f;
    this.failed.delete(namespace);
    return undefined;
  }

  /** recentFailure, counted as reused: what a refresh of `namespace` answers with instead of reading. */
  private reusedFailure(namespace: string, nowMs: number) {
    const f = this.recentFailure(namespace, nowMs);
    if (f) this.stats.failuresReused++;
    return f;
  }

  private staleModels(namespace: string, nowMs: number): WorkloadModel[] {
    const interval = this.options.refreshIntervalMs ?? 60_000;
    return [...this.models.values()].filter(
      (m) => m.namespace === namespace && (m.coveredUntilMs ?? Number.NEGATIVE_INFINITY) < nowMs - interval,
    );
  }

  private async refreshNow(namespace: string, signal?: AbortSignal): Promise<RefreshResult> {
    const needsHistory = [...this.models.values()].some(
      (m) => m.namespace === namespace && m.coveredUntilMs === undefined,
    );
    if (needsHistory && (this.options.bootstrapGatherMs ?? 500) > 0)
      await sleep(this.options.bootstrapGatherMs ?? 500, signal);
    // Another namespace's read may have taken this one along meanwhile.
    for (let claimed = this.inflight.get(namespace); claimed; claimed = this.inflight.get(namespace))
      await claimed.catch(() => undefined);
    const nowMs = this.now().getTime();
    // ... and may have failed: its error stands for this namespace too.
    const failure = this.reusedFailure(namespace, nowMs);
    if (failure) throw failure.error;
    const stale = this.staleModels(namespace, nowMs);
    if (stale.length === 0) return { fetched: false };
    const startOf = (models: readonly WorkloadModel[]) =>
      Math.min(...models.map((m) => m.coveredUntilMs ?? nowMs - m.historyDays * dayMs));
    // History at a coarser step (Prometheus caps points per series); live reads at the fine one.
    const isHistory = (start: number) => nowMs - start > 60 * 60_000;
    const history = isHistory(startOf(stale));
    const group = new Map<string, WorkloadModel[]>([[namespace, stale]]);
    const max = this.options.maxNamespacesPerRead ?? 20;
    if (this.options.source.fetchMany && max > 1) {
      const others = new Map<string, WorkloadModel[]>();
      for (const m of this.models.values()) {
        if (m.namespace === namespace || this.inflight.has(m.namespace) || this.recentFailure(m.namespace, nowMs))
          continue;
        if (!others.has(m.namespace)) others.set(m.namespace, this.staleModels(m.namespace, nowMs));
      }
      const candidates = [...others.entries()]
        .filter(([, models]) => models.length > 0 && isHistory(startOf(models)) === history)
        .sort((a, b) => startOf(a[1]) - startOf(b[1]) || a[0].localeCompare(b[0]));
      for (const [ns, models] of candidates.slice(0, max - 1)) group.set(ns, models);
    }
    const startMs = Math.min(...[...group.values()].map(startOf));
    const step = history ? (this.options.historyStepSeconds ?? 300) : (this.options.stepSeconds ?? 60);
    this.stats.refreshes++;
    if (history) this.stats.historyReads++;
    else this.stats.liveReads++;
    const namespaces = [...group.keys()];
    // A history read ends at now, as VPA's does (see ReadGrid); live reads stay on the epoch's grid.
    const read = readNamespaces(
      this.options.source,
      namespaces,
      startMs,
      nowMs,
      step,
      signal,
      history ? "fromEnd" : "epoch",
    );
    this.track(this.inflight, namespaces, read);
    let batches: Awaited<typeof read>;
    try {
      batches = await read;
    } catch (err) {
      // An aborted read (shutdown, reconcile timeout) says nothing about the source.
      if (!signal?.aborted) {
        this.stats.failedReads++;
        const untilMs = this.now().getTime() + (this.options.failureBackoffMs ?? 30_000);
        for (const ns of namespaces) this.failed.set(ns, { untilMs, error: err });
      }
      throw err;
    }
    for (const ns of namespaces) this.failed.delete(ns);
    let own: UsageBatch | undefined;
    for (const [ns, models] of group) {
      const batch = batches.get(ns);
      if (!batch) continue;
      if (ns === namespace) own = batch;
      this.options.onBatch?.(ns, batch);
      feedBatch(batch, ns, models, this.options.resolver, nowMs);
    }
    return {
      fetched: true,
      source: own?.source,
      startMs,
      endMs: own?.endMs,
      series: own?.cpu.length,
      namespaces: namespaces.length,
    };
  }
}
