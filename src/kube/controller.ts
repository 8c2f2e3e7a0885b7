// The reconciler contract (controller-runtime's): reconcile({namespace, name}) → {requeueAfterMs?}. The key is
// all a reconciler gets; it re-reads the object from the cache and never trusts an event payload. Errors are
// retried with per-key backoff, TerminalError is not, and one key is never reconciled twice at once.
import { isNotLeader, TerminalError } from "./errors.js";
import type { Informer } from "./informer.js";
import type { Logger } from "./logger.js";
import type { RuntimeMetrics } from "./metrics.js";
import { WorkQueue } from "./workqueue.js";
import { formatKey, keyOf, parseKey, type KubeObject, type ObjectKey } from "./resources.js";

export interface ReconcileResult {
  requeueAfterMs?: number;
  /**
   * The requeue is a periodic resync of an object that did not change (not a step of work in progress): it is
   * queued behind changes, as the initial list is, so a spec change never waits for a round of resyncs.
   */
  resync?: boolean;
}

export interface ReconcileContext {
  signal: AbortSignal;
  logger: Logger;
}

export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

export type KeyMapper<T extends KubeObject = KubeObject> = (obj: T) => Array<string | ObjectKey>;

/** Maps an owned object to its controller owner of `kind` (same namespace, or cluster-scoped owner). */
export function ownerKeys(kind: string, ownerNamespaced: boolean): KeyMapper {
  return (obj) =>
    (obj.metadata?.ownerReferences ?? [])
      .filter((ref) => ref.kind === kind && ref.controller)
      .map((ref) => ({ name: ref.name, namespace: ownerNamespaced ? obj.metadata?.namespace : undefined }));
}

/** Maps an object to the owner named in a label, e.g. metapilot.io/tenant → the TenantControlPlane. */
export function labelKeys(label: string): KeyMapper {
  return (obj) => {
    const v = obj.metadata?.labels?.[label];
    return v ? [{ name: v }] : [];
  };
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  workers?: number;
  metrics?: RuntimeMetrics;
  logger: Logger;
  /** Upper bound on one reconcile; it is aborted and retried after this. */
  reconcileTimeoutMs?: number;
  /**
   * When a write was refused because the leader's renewal is late (not lost: that aborts the run), retry after this
   * long, without adding to the key's backoff. Default 1 s.
   */
  notLeaderRetryMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly informers: Informer<KubeObject>[] = [];
  private workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue({
      name: options.name,
      metrics: options.metrics,
      baseDelayMs: options.baseDelayMs,
      maxDelayMs: options.maxDelayMs,
    });
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * Watch `informer`, mapping each changed object to the keys to reconcile. `options.updateMatters` narrows which
   * updates count (adds and deletes always do): a mapping that fans one object out to many keys should not run
   * for changes its targets never read, such as a status write.
   */
  watch<T extends KubeObject>(
    informer: Informer<T>,
    mapper: KeyMapper<T> = (o) => [keyOf(o)],
    options: { updateMatters?: (obj: T, old: T) => boolean } = {},
  ): this {
    const enqueue = (obj: T, low = false) => {
      for (const k of mapper(obj)) this.queue.add(typeof k === "string" ? k : formatKey(k), { low });
    };
    informer.on({
      // What the first LIST brings is queued behind changes (see WorkQueue).
      add: (obj, initial) => enqueue(obj, initial === true),
      update: (obj, old) => {
        // Status-only churn of an owned object still matters (readiness), so every real change enqueues; a
        // resync-style update with the same resourceVersion does not.
        if (obj.metadata?.resourceVersion === old.metadata?.resourceVersion) return;
        if (options.updateMatters && !options.updateMatters(obj, old)) return;
        enqueue(obj);
      },
      delete: enqueue,
    });
    this.informers.push(informer as unknown as Informer<KubeObject>);
    return this;
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /** Runs the workers until `signal` aborts. Call only while leading. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    const n = this.options.workers ?? 2;
    const stop = () => this.queue.shutdown();
    signal.addEventListener("abort", stop, { once: true });
    this.workers = Array.from({ length: n }, () => this.worker(signal));
    await Promise.all(this.workers);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processOne(key, signal);
      } finally {
        this.queue.done(key);
      }
      // A reconcile that is answered from the caches never leaves the microtask queue, and neither does the next
      // key of a full queue: without this yield, thousands of them in a row starve every socket and timer of the
      // process (Lease renewals, watches, /metrics, /healthz) for as long as the queue stays full.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Reconciles one key now (exposed for tests and for the dry-run CLI). */
  async processOne(key: string, signal: AbortSignal): Promise<void> {
    const { name, metrics, reconciler } = this.options;
    const logger = this.options.logger.child({ controller: name, key });
    // A timer of our own, cleared when the reconcile ends (AbortSignal.timeout's would live on for its full
    // length after every reconcile: tens of thousands of them on a busy controller).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error("reconcile timed out")),
      this.options.reconcileTimeoutMs ?? 120_000,
    );
    timer.unref();
    const combined = AbortSignal.any([signal, deadline.signal]);
    const started = performance.now();
    try {
      const result = await reconciler.reconcile(parseKey(key), { signal: combined, logger });
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs, { low: result.resync === true });
        metrics?.reconcileTotal.inc({ controller: name, result: "requeue" });
      } else {
        metrics?.reconcileTotal.inc({ controller: name, result: "success" });
      }
    } catch (err) {
      if (signal.aborted) return;
      metrics?.reconcileErrors.inc({ controller: name });
      if (isNotLeader(err)) {
        // The leader's Lease renewal is late, say on a slow apiserver, and its write guard refused the write. That
        // is no fault of the object: counted as one, a few such windows in a row back a key off for a minute and
        // keep it from converging long after the renewal lands. The refusal cost no request, so a short fixed
        // retry is cheap; a Lease that is really lost aborts `signal` and the run ends instead.
        this.queue.addAfter(key, this.options.notLeaderRetryMs ?? 1000);
        metrics?.reconcileTotal.inc({ controller: name, result: "not_leader" });
        logger.debug({ err }, "write refused while the Lease renewal is late; retrying without backoff");
      } else if (err instanceof TerminalError) {
        this.queue.forget(key);
        metrics?.reconcileTotal.inc({ controller: name, result: "terminal" });
        logger.warn({ err }, "reconcile failed terminally; not retrying until the object changes");
      } else {
        const delay = this.queue.addRateLimited(key);
        metrics?.queueRetries.inc({ controller: name });
        metrics?.reconcileTotal.inc({ controller: name, result: "error" });
        logger.warn({ err, retryInMs: delay, attempt: this.queue.numRequeues(key) }, "reconcile failed; retrying");
      }
    } finally {
      clearTimeout(timer);
      metrics?.reconcileDuration.observe({ controller: name }, (performance.now() - started) / 1000);
    }
  }
}
