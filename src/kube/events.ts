// Kubernetes Events (events.k8s.io/v1) with aggregation. A repeat of the same (object, type, reason, action)
// within the aggregation window becomes a count on one Event (its `series`), flushed at most once per
// `seriesFlushMs`; a per-object token bucket drops floods. A flapping object therefore writes a handful of
// Events, not thousands. Writes never block a reconcile: they are queued and sent in the background.
import { randomBytes } from "node:crypto";
import type { KubeClient } from "./client.js";
import type { Logger } from "./logger.js";
import type { RuntimeMetrics } from "./metrics.js";
import { microTime } from "./leader-election.js";
import { Resources, type KubeObject } from "./resources.js";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  client: KubeClient;
  controller: string;
  instance: string;
  logger: Logger;
  metrics?: RuntimeMetrics;
  /** Repeats within this window aggregate onto one Event. */
  aggregationWindowMs?: number;
  /** Minimum time between two writes of the same aggregated Event. */
  seriesFlushMs?: number;
  /** Per-object spam filter: burst and refill interval, as client-go's EventSourceObjectSpamFilter. */
  perObjectBurst?: number;
  perObjectRefillMs?: number;
  now?: () => number;
}

interface Aggregate {
  name: string;
  namespace: string;
  count: number;
  firstMs: number;
  lastMs: number;
  writtenCount: number;
  lastWriteMs: number;
  flushTimer?: NodeJS.Timeout;
  /** Writes the series count now, when a flush is scheduled (shutdown, and flush()). */
  flushNow?: () => void;
  created: boolean;
  note: string;
}

interface Bucket {
  tokens: number;
  last: number;
}

const maxNoteLength = 1024;

export class EventRecorder {
  private readonly aggregates = new Map<string, Aggregate>();
  private readonly buckets = new Map<string, Bucket>();
  private pending: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  readonly stats = { created: 0, aggregated: 0, dropped: 0, writes: 0 };

  constructor(private readonly options: EventRecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  private allow(objectKey: string): boolean {
    const burst = this.options.perObjectBurst ?? 25;
    const refill = this.options.perObjectRefillMs ?? 5 * 60_000;
    const t = this.now();
    const b = this.buckets.get(objectKey) ?? { tokens: burst, last: t };
    b.tokens = Math.min(burst, b.tokens + (t - b.last) / refill);
    b.last = t;
    this.buckets.set(objectKey, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Records an Event about `regarding`. Returns at once; the write happens in the background. */
  record(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    const meta = regarding.metadata ?? {};
    const objectKey = `${regarding.kind}/${meta.namespace ?? ""}/${meta.name}/${meta.uid ?? ""}`;
    const key = `${objectKey}/${type}/${reason}/${action}`;
    const t = this.now();
    const window = this.options.aggregationWindowMs ?? 10 * 60_000;
    this.gc(t, window);
    const existing = this.aggregates.get(key);
    if (existing && t - existing.lastMs < window) {
      existing.count++;
      existing.lastMs = t;
      existing.note = note.slice(0, maxNoteLength);
      this.stats.aggregated++;
      this.options.metrics?.eventsEmitted.inc({ type, result: "aggregated" });
      this.scheduleFlush(key, existing, regarding, type, reason, action);
      return;
    }
    if (!this.allow(objectKey)) {
      this.stats.dropped++;
      this.options.metrics?.eventsEmitted.inc({ type, result: "dropped" });
      return;
    }
    const agg: Aggregate = {
      name: `${(meta.name ?? "object").slice(0, 200)}.${randomBytes(8).toString("hex")}`,
      namespace: meta.namespace ?? "default",
      count: 1,
      firstMs: t,
      lastMs: t,
      writtenCount: 0,
      lastWriteMs: 0,
      created: false,
      note: note.slice(0, maxNoteLength),
    };
    this.aggregates.set(key, agg);
    this.enqueue(() => this.write(agg, regarding, type, reason, action));
  }

  private gc(t: number, window: number): void {
    if (this.aggregates.size < 1000) return;
    for (const [k, a] of this.aggregates) if (t - a.lastMs >= window && !a.flushTimer) this.aggregates.delete(k);
  }

  private scheduleFlush(
    key: string,
    agg: Aggregate,
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
  ): void {
    if (agg.flushTimer) return;
    const flushMs = this.options.seriesFlushMs ?? 30_000;
    const wait = Math.max(0, agg.lastWriteMs + flushMs - this.now());
    agg.flushNow = () => {
      clearTimeout(agg.flushTimer);
      agg.flushTimer = undefined;
      agg.flushNow = undefined;
      if (agg.count !== agg.writtenCount) this.enqueue(() => this.write(agg, regarding, type, reason, action));
    };
    agg.flushTimer = setTimeout(() => agg.flushNow?.(), wait);
    agg.flushTimer.unref?.();
    void key;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.pending = this.pending.then(fn).catch((err: unknown) => {
      this.options.logger.debug({ err }, "event write failed");
    });
  }

  private async write(
    agg: Aggregate,
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
  ): Promise<void> {
    const meta = regarding.metadata ?? {};
    const body = {
      metadata: { name: agg.name, namespace: agg.namespace },
      eventTime: microTime(agg.firstMs),
      reportingController: `metapilot.io/${this.options.controller}`,
      reportingInstance: this.options.instance,
      action,
      reason,
      type,
      note: agg.note,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      ...(agg.count > 1 ? { series: { count: agg.count, lastObservedTime: microTime(agg.lastMs) } } : {}),
    };
    const client = this.options.client;
    try {
      this.stats.writes++;
      agg.lastWriteMs = this.now();
      const count = agg.count;
      if (!agg.created) {
        await client.create(Resources.Event, body);
        agg.created = true;
        this.stats.created++;
        this.options.metrics?.eventsEmitted.inc({ type, result: "created" });
      } else {
        await client.patch(Resources.Event, agg.name, agg.namespace, { series: body.series, note: body.note }, "merge");
      }
      agg.writtenCount = count;
    } catch (err) {
      this.options.metrics?.eventsEmitted.inc({ type, result: "failed" });
      throw err;
    }
  }

  /**
   * Writes every series count still waiting for its flush interval, then waits for all queued writes: at shutdown,
   * so that a stopping controller loses no count, and in tests that measure the writes of a steady state.
   */
  async flush(): Promise<void> {
    for (const agg of this.aggregates.values()) agg.flushNow?.();
    await this.pending;
  }
}
