// The models of the profiled workloads, fed in batches per namespace. A refresh reads, for every model of the
// namespace that is behind, the range from the oldest model's coverage (or the start of its history window, if
// it has none) to now: one range query per metric for the whole namespace. Refreshes of a namespace are
// serialized, so the reconciles of its profiles share one read instead of each making its own.
import { addCpuSample, addMemorySample, dayMs, newContainerState, type ContainerState } from "./model/container.js";
import { sleep } from "../kube/backoff.js";
import type { OwnerResolver, WorkloadRef } from "./input/owners.js";
import type { UsageBatch, UsageSource } from "./input/usage.js";

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
  /** Where the last samples came from ("prometheus", "metrics-server", "checkpoint"). */
  source?: string;
}

export interface RefreshResult {
  fetched: boolean;
  source?: string;
  startMs?: number;
  endMs?: number;
  series?: number;
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
}

export function workloadKey(namespace: string, ref: WorkloadRef): string {
  return `${namespace}/${ref.kind}/${ref.name}`;
}

export function containerState(model: WorkloadModel, container: string, nowMs: number): ContainerState {
  let s = model.containers.get(container);
  if (!s) {
    s = newContainerState(model.halfLifeMs, nowMs);
    model.containers.set(container, s);
  }
  return s;
}

/** Feeds a batch into the models of its namespace: each takes only points after its own coverage. */
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
  const feed = (series: UsageBatch["cpu"], add: (s: ContainerState, t: number, v: number) => void) => {
    for (const s of series) {
      const ref = resolver.resolve(namespace, s.pod);
      const model = ref && byRef.get(`${ref.kind}/${ref.name}`);
      if (!model) continue;
      const state = containerState(model, s.container, nowMs);
      const after = model.coveredUntilMs ?? Number.NEGATIVE_INFINITY;
      for (const [t, v] of s.points) if (t > after) add(state, t, v);
    }
  };
  feed(batch.cpu, (s, t, v) => addCpuSample(s, t, v, minutes));
  feed(batch.memory, (s, t, v) => addMemorySample(s, t, v));
  for (const m of models) {
    m.coveredUntilMs = Math.max(m.coveredUntilMs ?? Number.NEGATIVE_INFINITY, batch.endMs);
    m.source = batch.source;
  }
}

export class ModelStore {
  private readonly models = new Map<string, WorkloadModel>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  /** Counters a test or benchmark can read. */
  readonly stats = { refreshes: 0, historyReads: 0, liveReads: 0 };

  constructor(private readonly o: ModelStoreOptions) {
    this.now = o.now ?? (() => new Date());
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
    const previous = this.locks.get(namespace) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.refreshNow(namespace, signal));
    this.locks.set(namespace, next);
    void next
      .finally(() => {
        if (this.locks.get(namespace) === next) this.locks.delete(namespace);
      })
      .catch(() => undefined);
    return next;
  }

  private async refreshNow(namespace: string, signal?: AbortSignal): Promise<RefreshResult> {
    const needsHistory = [...this.models.values()].some(
      (m) => m.namespace === namespace && m.coveredUntilMs === undefined,
    );
    if (needsHistory && (this.o.bootstrapGatherMs ?? 500) > 0) await sleep(this.o.bootstrapGatherMs ?? 500, signal);
    const nowMs = this.now().getTime();
    const interval = this.o.refreshIntervalMs ?? 60_000;
    const stale = [...this.models.values()].filter(
      (m) => m.namespace === namespace && (m.coveredUntilMs ?? Number.NEGATIVE_INFINITY) < nowMs - interval,
    );
    if (stale.length === 0) return { fetched: false };
    const startMs = Math.min(...stale.map((m) => m.coveredUntilMs ?? nowMs - m.historyDays * dayMs));
    const liveStep = this.o.stepSeconds ?? 60;
    const historyStep = this.o.historyStepSeconds ?? 300;
    // History at a coarser step (Prometheus caps points per series); live reads at the fine one.
    const history = nowMs - startMs > 60 * 60_000;
    const step = history ? historyStep : liveStep;
    this.stats.refreshes++;
    if (history) this.stats.historyReads++;
    else this.stats.liveReads++;
    const batch = await this.o.source.fetch(namespace, startMs, nowMs, step, signal);
    this.o.onBatch?.(namespace, batch);
    feedBatch(batch, namespace, stale, this.o.resolver, nowMs);
    return { fetched: true, source: batch.source, startMs, endMs: batch.endMs, series: batch.cpu.length };
  }
}
