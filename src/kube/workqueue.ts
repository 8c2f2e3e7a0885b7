// A work queue with client-go's guarantees: a key is queued at most once however often it is added, a key is
// never handed to two workers at once (an add while it is being processed is replayed after `done`), failures
// back off exponentially per key up to a cap, and `addAfter` delays a key without holding a worker.
//
// Two priorities, as controller-runtime's priority queue: what the initial LIST of a (re)started controller
// brings in is added with `low`, and so is a reconciler's periodic resync of an object that did not change;
// everything else (watch events, retries, the requeues of a reconcile in progress) is normal. Workers take
// normal keys first, so an OOM kill or a spec change is not queued behind a thousand reconciles of objects that
// did not change, after a restart or when resyncs come faster than the workers can serve them; one low key in
// every `lowEvery` picks keeps the backlog moving under a steady stream of events. A low key that is added again
// normally moves up.
import { backoffDelay } from "./backoff.js";
import type { RuntimeMetrics } from "./metrics.js";

export interface WorkQueueOptions {
  name: string;
  baseDelayMs?: number;
  maxDelayMs?: number;
  metrics?: RuntimeMetrics;
  now?: () => number;
  /** While both priorities wait, every this many picks takes a low-priority key (default 8). */
  lowEvery?: number;
}

export interface AddOptions {
  /** The initial list's keys and periodic resyncs: served after normal keys. */
  low?: boolean;
}

export class WorkQueue {
  /** Keys waiting, in insertion order (a Set: O(1) removal when a low key moves up). */
  private readonly high = new Set<string>();
  private readonly low = new Set<string>();
  private picks = 0;
  private readonly dirty = new Set<string>();
  /** Dirty keys whose pending add is low priority (a normal add clears it). */
  private readonly dirtyLow = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; low: boolean; timer: NodeJS.Timeout }>();
  private readonly enqueuedAt = new Map<string, number>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly now: () => number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly options: WorkQueueOptions) {
    this.now = options.now ?? (() => performance.now());
    this.baseDelayMs = options.baseDelayMs ?? 50;
    // A minute at most: after an outage every key is retried within a minute of the apiserver coming back.
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  get length(): number {
    return this.high.size + this.low.size;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  private updateDepth(): void {
    this.options.metrics?.queueDepth.set({ controller: this.options.name }, this.length);
  }

  add(key: string, opts: AddOptions = {}): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      // Already pending: a normal add moves a low-priority key up, a low add changes nothing.
      if (!opts.low && this.dirtyLow.delete(key) && this.low.delete(key)) this.high.add(key);
      return;
    }
    this.dirty.add(key);
    if (opts.low) this.dirtyLow.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  private push(key: string): void {
    this.enqueuedAt.set(key, this.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    (this.dirtyLow.has(key) ? this.low : this.high).add(key);
    this.updateDepth();
  }

  /** The next key: normal ones first, but a low one every `lowEvery` picks while both wait. */
  private shift(): string | undefined {
    const lowEvery = this.options.lowEvery ?? 8;
    const fromLow = this.low.size > 0 && (this.high.size === 0 || ++this.picks % lowEvery === 0);
    const from = fromLow ? this.low : this.high;
    const key = from.values().next().value;
    if (key !== undefined) from.delete(key);
    return key;
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.dirtyLow.delete(key);
    this.processing.add(key);
    const at = this.enqueuedAt.get(key);
    this.enqueuedAt.delete(key);
    if (at !== undefined)
      this.options.metrics?.queueLatency.observe({ controller: this.options.name }, (this.now() - at) / 1000);
  }

  /**
   * Adds `key` after `delayMs`; an earlier pending delay for the same key wins. The add is low priority only if
   * every add that was merged into it asked for low.
   */
  addAfter(key: string, delayMs: number, opts: AddOptions = {}): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key, opts);
    const at = this.now() + delayMs;
    const low = opts.low === true;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) {
      existing.low &&= low;
      return;
    }
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      // Read at firing time: a later normal add merged into this one clears `low`.
      const merged = this.delayed.get(key)?.low ?? low;
      this.delayed.delete(key);
      this.add(key, { low: merged });
    }, delayMs);
    timer.unref?.();
    this.delayed.set(key, { at, low: low && (existing?.low ?? true), timer });
  }

  /** Requeues after a failure, backing off exponentially per key. Returns the delay chosen. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = backoffDelay(n, this.baseDelayMs, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Clears a key's failure history (after a success or a terminal error). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Resolves with the next key, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.shift();
    if (key !== undefined) {
      this.take(key);
      this.updateDepth();
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key processed; if it was added meanwhile, it goes back on the queue now. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      const low = this.dirtyLow.has(key);
      this.dirty.delete(key);
      this.dirtyLow.delete(key);
      this.add(key, { low });
    }
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
