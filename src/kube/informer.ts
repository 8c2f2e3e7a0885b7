// An informer: one paginated LIST, then a WATCH with bookmarks that resumes from the last resourceVersion.
// It relists only when the apiserver answers 410 Gone (the resourceVersion fell out of its window). A watchdog
// restarts a watch that has gone silent, since a half-open TCP connection otherwise stalls a watch forever.
import { ApiError } from "./errors.js";
import { backoffDelay, sleep } from "./backoff.js";
import type { KubeClient, WatchEvent } from "./client.js";
import type { Logger } from "./logger.js";
import type { RuntimeMetrics } from "./metrics.js";
import { keyOf, resourceName, type KubeObject, type ResourceType } from "./resources.js";

export interface InformerHandlers<T> {
  /** `initial`: the object came with the first LIST (or the replay to a late handler), not with a change. */
  add?: (obj: T, initial?: boolean) => void;
  update?: (obj: T, old: T) => void;
  delete?: (obj: T) => void;
}

export interface InformerOptions<T> {
  resource: ResourceType;
  namespace?: string;
  /** Sent to the apiserver; the informer never filters a full list on the client. */
  labelSelector?: string;
  fieldSelector?: string;
  pageSize?: number;
  /** Restart a watch that delivered nothing (not even a bookmark) for this long. */
  watchIdleTimeoutMs?: number;
  /** Further trimming of what the cache keeps (managedFields are always dropped). */
  transform?: (obj: T) => T;
  metrics?: RuntimeMetrics;
  logger?: Logger;
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration";

/** Drops what a controller never reads but costs memory: managedFields and kubectl's last-applied copy. */
export function trimObject<T extends KubeObject>(obj: T): T {
  const meta = obj.metadata;
  if (!meta) return obj;
  if (meta.managedFields) delete meta.managedFields;
  if (meta.annotations && lastApplied in meta.annotations) {
    const { [lastApplied]: _dropped, ...rest } = meta.annotations;
    meta.annotations = rest;
  }
  return obj;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly name: string;
  private store = new Map<string, T>();
  /** namespace → key → object, so per-namespace reads never scan the whole cache. */
  private byNamespace = new Map<string, Map<string, T>>();
  /** label → value → key → object, for the labels a mapping asked to look up by (see indexLabel). */
  private byLabel = new Map<string, Map<string, Map<string, T>>>();
  private handlers: InformerHandlers<T>[] = [];
  private resourceVersion = "";
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;
  /** Counters a test or benchmark can read without scraping metrics. */
  readonly stats = { lists: 0, watches: 0, watchRestarts: 0, events: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions<T>,
  ) {
    const sel = [options.namespace, options.labelSelector, options.fieldSelector].filter(Boolean).join(",");
    this.name = resourceName(options.resource) + (sel ? `[${sel}]` : "");
  }

  on(handlers: InformerHandlers<T>): this {
    this.handlers.push(handlers);
    // A handler added after sync sees the current contents, as client-go's does.
    if (this.synced) for (const obj of this.store.values()) handlers.add?.(obj, true);
    return this;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener("abort", () => reject(signal.reason ?? new Error("aborted")), { once: true });
    });
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(filter?: (obj: T) => boolean): T[] {
    const all = [...this.store.values()];
    return filter ? all.filter(filter) : all;
  }

  /** Objects of one namespace, optionally filtered; cost proportional to that namespace only. */
  listNamespace(namespace: string, filter?: (obj: T) => boolean): T[] {
    const objs = [...(this.byNamespace.get(namespace)?.values() ?? [])];
    return filter ? objs.filter(filter) : objs;
  }

  /**
   * Keeps an index of the objects by the value of `label`, so listByLabel reads only the objects that carry a
   * value instead of scanning the cache (a tenant's workloads among every tenant's). Idempotent.
   */
  indexLabel(label: string): this {
    if (this.byLabel.has(label)) return this;
    this.byLabel.set(label, new Map());
    for (const [key, obj] of this.store) this.indexByLabel(label, key, obj, undefined);
    return this;
  }

  /** Objects whose `label` has `value`, optionally filtered; `label` must have been indexed with indexLabel. */
  listByLabel(label: string, value: string, filter?: (obj: T) => boolean): T[] {
    const index = this.byLabel.get(label);
    if (!index) throw new Error(`${this.name}: label ${label} is not indexed (call indexLabel first)`);
    const objs = [...(index.get(value)?.values() ?? [])];
    return filter ? objs.filter(filter) : objs;
  }

  private indexByLabel(label: string, key: string, obj: T | undefined, previous: T | undefined): void {
    const index = this.byLabel.get(label);
    if (!index) return;
    const oldValue = previous?.metadata?.labels?.[label];
    if (oldValue !== undefined) {
      const m = index.get(oldValue);
      m?.delete(key);
      if (m?.size === 0) index.delete(oldValue);
    }
    const value = obj?.metadata?.labels?.[label];
    if (obj && value !== undefined) {
      let m = index.get(value);
      if (!m) index.set(value, (m = new Map()));
      m.set(key, obj);
    }
  }

  private index(key: string, obj: T | undefined, previous: T | undefined): void {
    for (const label of this.byLabel.keys()) this.indexByLabel(label, key, obj, previous);
    const oldNs = previous?.metadata?.namespace;
    if (oldNs !== undefined) {
      const m = this.byNamespace.get(oldNs);
      m?.delete(key);
      if (m?.size === 0) this.byNamespace.delete(oldNs);
    }
    const ns = obj?.metadata?.namespace;
    if (obj && ns !== undefined) {
      let m = this.byNamespace.get(ns);
      if (!m) this.byNamespace.set(ns, (m = new Map()));
      m.set(key, obj);
    }
  }

  get size(): number {
    return this.store.size;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Starts the list/watch loop; it runs until `signal` aborts. */
  start(signal: AbortSignal): Promise<void> {
    this.running ??= this.run(signal).catch((err: unknown) => {
      if (!signal.aborted) this.options.logger?.error({ err, informer: this.name }, "informer stopped");
    });
    return this.running;
  }

  private emit(kind: "add" | "update" | "delete", obj: T, old?: T, initial = false): void {
    this.stats.events++;
    for (const h of this.handlers) {
      try {
        if (kind === "add") h.add?.(obj, initial);
        else if (kind === "update") h.update?.(obj, old as T);
        else h.delete?.(obj);
      } catch (err) {
        // A broken handler must not kill the watch for every other handler.
        this.options.logger?.error({ err, informer: this.name }, "informer handler failed");
      }
    }
  }

  private prepare(obj: T): T {
    const trimmed = trimObject(obj);
    return this.options.transform ? this.options.transform(trimmed) : trimmed;
  }

  private async relist(signal: AbortSignal, reason: "initial" | "gone"): Promise<void> {
    const { resource, namespace, labelSelector, fieldSelector, pageSize } = this.options;
    this.stats.lists++;
    this.options.metrics?.relists.inc({ resource: resourceName(resource), reason });
    const fresh = new Map<string, T>();
    const { resourceVersion } = await this.client.listAll<T>(resource, {
      namespace,
      labelSelector,
      fieldSelector,
      limit: pageSize ?? 500,
      signal,
      onItem: (item) => {
        const obj = this.prepare(item);
        fresh.set(keyOf(obj), obj);
      },
    });
    const old = this.store;
    this.store = fresh;
    this.byNamespace = new Map();
    for (const label of this.byLabel.keys()) this.byLabel.set(label, new Map());
    for (const [key, obj] of fresh) this.index(key, obj, undefined);
    this.resourceVersion = resourceVersion;
    // Replace semantics: tell handlers what changed while we were not watching. The first LIST's objects are
    // marked initial: a controller queues them behind real changes.
    const initial = !this.synced;
    for (const [key, obj] of fresh) {
      const prev = old.get(key);
      if (!prev) this.emit("add", obj, undefined, initial);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit("update", obj, prev);
    }
    for (const [key, obj] of old) if (!fresh.has(key)) this.emit("delete", obj);
    this.options.metrics?.cacheObjects.set({ resource: this.name }, this.store.size);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private apply(event: WatchEvent<T>): void {
    const obj = event.object;
    const rv = obj.metadata?.resourceVersion;
    if (event.type === "BOOKMARK") {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const prepared = this.prepare(obj);
    const key = keyOf(prepared);
    if (event.type === "DELETED") {
      const prev = this.store.get(key);
      this.store.delete(key);
      this.index(key, undefined, prev);
      this.emit("delete", prev ?? prepared);
    } else {
      const prev = this.store.get(key);
      this.store.set(key, prepared);
      this.index(key, prepared, prev);
      if (prev) this.emit("update", prepared, prev);
      else this.emit("add", prepared);
    }
    if (rv) this.resourceVersion = rv;
    this.options.metrics?.cacheObjects.set({ resource: this.name }, this.store.size);
  }

  private async run(signal: AbortSignal): Promise<void> {
    const resource = resourceName(this.options.resource);
    let needList: "initial" | "gone" | undefined = "initial";
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal, needList);
          needList = undefined;
        }
        this.stats.watches++;
        for await (const event of this.client.watch<T>(this.options.resource, {
          namespace: this.options.namespace,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
          resourceVersion: this.resourceVersion,
          signal,
          idleTimeoutMs: this.options.watchIdleTimeoutMs ?? 150_000,
        })) {
          if (event.type === "ERROR") {
            const status = event.object as unknown as { code?: number; message?: string; reason?: string };
            throw new ApiError(`watch ${this.name}: ${status.message ?? "error"}`, status.code ?? 500, status.reason);
          }
          this.apply(event);
          failures = 0;
        }
        // The server ended the watch (its timeoutSeconds): resume from where we are, no relist.
        this.stats.watchRestarts++;
        this.options.metrics?.watchRestarts.inc({ resource, reason: "closed" });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.isGone) {
          needList = "gone";
          this.stats.watchRestarts++;
          this.options.metrics?.watchRestarts.inc({ resource, reason: "gone" });
          this.options.logger?.info({ informer: this.name }, "resourceVersion too old (410 Gone); relisting");
          continue;
        }
        const stalled = err instanceof Error && err.message.startsWith("watch stalled");
        this.stats.watchRestarts++;
        this.options.metrics?.watchRestarts.inc({ resource, reason: stalled ? "stalled" : "error" });
        const delay = backoffDelay(failures++, 250, 30_000);
        const retryAfter = err instanceof ApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
        this.options.logger?.warn(
          { informer: this.name, err, delayMs: Math.max(delay, retryAfter) },
          stalled ? "watch stalled; restarting" : "watch failed; retrying",
        );
        await sleep(Math.max(delay, retryAfter), signal).catch(() => undefined);
      }
    }
  }
}
