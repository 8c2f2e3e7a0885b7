// The one HTTP path from metapilot to an apiserver. @kubernetes/client-node supplies configuration and
// credentials (kubeconfig, in-cluster token files, exec plugins) and the object types; the transport is ours so
// that every request passes the same client-side rate limiter, retries 429 and 5xx with backoff that honours
// Retry-After, sends our User-Agent and is counted by verb and code. The generated API classes offer no hook
// that can re-issue a request, which is what honouring Retry-After needs.
import type { KubeConfig } from "@kubernetes/client-node";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { ApiError } from "./errors.js";
import { backoffDelay, sleep } from "./backoff.js";
import { TokenBucket } from "./rate-limiter.js";
import type { RuntimeMetrics } from "./metrics.js";
import type { Logger } from "./logger.js";
import { userAgent as defaultUserAgent } from "../version.js";
import {
  collectionPath,
  objectPath,
  resourceName,
  apiVersionOf,
  type KubeObject,
  type ResourceType,
} from "./resources.js";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete" | "deletecollection";

export interface ClientOptions {
  qps?: number;
  burst?: number;
  userAgent?: string;
  /** Retries of a retryable failure (429, 5xx, transport) before giving up. */
  maxRetries?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  requestTimeoutMs?: number;
  fieldManager?: string;
  metrics?: RuntimeMetrics;
  logger?: Logger;
  /** Global dry-run: every write is sent with dryRun=All, so the apiserver validates but persists nothing. */
  dryRun?: boolean;
  /**
   * Consulted before every write attempt (retries included). Leader election plugs in here, so a process that
   * is not (or no longer) the leader cannot write, whatever code path tries.
   */
  writeGuard?: () => boolean;
}

const writeVerbs = new Set<Verb>(["create", "update", "patch", "apply", "delete", "deletecollection"]);

export interface RequestSpec {
  verb: Verb;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  resource: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Retry budget override; 0 makes the call fail fast. */
  maxRetries?: number;
  timeoutMs?: number;
}

export interface ListResult<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export interface WatchEvent<T = KubeObject> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number };
}

export class KubeClient {
  readonly server: URL;
  readonly fieldManager: string;
  readonly dryRun: boolean;
  private readonly limiter: TokenBucket;
  private readonly userAgent: string;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: ClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
    this.limiter = new TokenBucket(options.qps ?? 20, options.burst ?? 40);
    this.userAgent = options.userAgent ?? defaultUserAgent;
    this.maxRetries = options.maxRetries ?? 8;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.retryCapMs = options.retryCapMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.fieldManager = options.fieldManager ?? "metapilot";
    this.dryRun = options.dryRun ?? false;
  }

  private async requestOptions(method: string, url: URL, headers: Record<string, string>): Promise<RequestOptions> {
    const opts: RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { "user-agent": this.userAgent, accept: "application/json", ...headers },
    };
    // Sets ca/cert/key and the Authorization header; re-read per request so rotated token files are picked up.
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // It also sets an agent. client-node 2.x keeps one per (cluster, user), built from the TLS material of the first
    // request, and an agent's TLS options override the request's: a rotated client certificate or CA file would
    // never be used again. A one-off agent (what 1.x built on every request) uses the material read just now. A
    // proxy (cluster.proxyUrl) needs client-node's agent.
    if (!this.kubeConfig.getCurrentCluster()?.proxyUrl) opts.agent = false;
    return opts;
  }

  private url(path: string, query?: RequestSpec["query"]): URL {
    const url = new URL(this.server.toString().replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private send(
    spec: RequestSpec,
    opts: RequestOptions,
    body: string | undefined,
  ): Promise<{ status: number; headers: IncomingMessage["headers"]; text: string }> {
    return new Promise((resolve, reject) => {
      const req = (opts.protocol === "https:" ? httpsRequest : httpRequest)(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      });
      const timeoutMs = spec.timeoutMs ?? this.requestTimeoutMs;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      const onAbort = () =>
        req.destroy(spec.signal?.reason instanceof Error ? spec.signal.reason : new Error("aborted"));
      spec.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => spec.signal?.removeEventListener("abort", onAbort));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** One logical request: rate-limited, retried on 429/5xx/transport errors with backoff and Retry-After. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const body =
      spec.body === undefined ? undefined : typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body);
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers["content-type"] = spec.contentType ?? "application/json";
      // Explicit, not left to node:http: it frames a DELETE's body (DeleteOptions) the same way on every path, and
      // nock 15's interceptor lets a DELETE with a body but no declared length through to the network unmocked.
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    const url = this.url(spec.path, spec.query);
    const maxRetries = spec.maxRetries ?? this.maxRetries;
    const metrics = this.options.metrics;
    for (let attempt = 0; ; attempt++) {
      spec.signal?.throwIfAborted();
      if (writeVerbs.has(spec.verb) && this.options.writeGuard && !this.options.writeGuard()) {
        throw new ApiError(`${spec.method} ${spec.path}: refused, this process is not the leader`, 0, "NotLeader");
      }
      const waited = await this.limiter.acquire();
      metrics?.apiRateLimiterWait.observe({ verb: spec.verb }, waited / 1000);
      const started = performance.now();
      let error: ApiError;
      try {
        const opts = await this.requestOptions(spec.method, url, headers);
        const res = await this.send(spec, opts, body);
        metrics?.apiRequests.inc({ verb: spec.verb, resource: spec.resource, code: String(res.status) });
        metrics?.apiRequestDuration.observe({ verb: spec.verb }, (performance.now() - started) / 1000);
        if (res.status >= 200 && res.status < 300) return (res.text ? JSON.parse(res.text) : undefined) as T;
        error = toApiError(spec, res.status, res.text, res.headers["retry-after"]);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (spec.signal?.aborted) throw err;
        metrics?.apiRequests.inc({ verb: spec.verb, resource: spec.resource, code: "0" });
        error = new ApiError(`${spec.method} ${spec.path}: ${(err as Error).message}`, 0, "TransportError");
      }
      if (!error.isRetryable || attempt >= maxRetries) throw error;
      const delay = Math.max(
        backoffDelay(attempt, this.retryBaseMs, this.retryCapMs),
        (error.retryAfterSeconds ?? 0) * 1000,
      );
      this.options.logger?.debug(
        { verb: spec.verb, path: spec.path, code: error.statusCode, attempt, delayMs: delay },
        "retrying apiserver request",
      );
      await sleep(delay, spec.signal);
    }
  }

  // --- typed helpers --------------------------------------------------------------------------------------

  get<T extends KubeObject>(t: ResourceType, name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>({
      verb: "get",
      method: "GET",
      path: objectPath(t, name, namespace),
      resource: resourceName(t),
      signal,
    });
  }

  /** get, with a 404 turned into undefined. */
  async getOptional<T extends KubeObject>(
    t: ResourceType,
    name: string,
    namespace?: string,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(t, name, namespace, signal);
    } catch (err) {
      if (err instanceof ApiError && err.isNotFound) return undefined;
      throw err;
    }
  }

  /** One page of a LIST. */
  listPage<T>(
    t: ResourceType,
    opts: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      limit?: number;
      continueToken?: string;
      resourceVersion?: string;
      signal?: AbortSignal;
    },
  ): Promise<ListResult<T>> {
    return this.request<ListResult<T>>({
      verb: "list",
      method: "GET",
      path: collectionPath(t, opts.namespace),
      resource: resourceName(t),
      signal: opts.signal,
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit ?? 500,
        continue: opts.continueToken,
        resourceVersion: opts.continueToken ? undefined : opts.resourceVersion,
      },
    });
  }

  /** A paginated LIST (500 a page), returning every item and the list's resourceVersion. */
  async listAll<T>(
    t: ResourceType,
    opts: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      limit?: number;
      signal?: AbortSignal;
      onItem?: (item: T) => void;
    } = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.listPage<T>(t, { ...opts, continueToken });
      for (const item of page.items) {
        if (opts.onItem) opts.onItem(item);
        else items.push(item);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (continueToken);
    return { items, resourceVersion };
  }

  private writeQuery(
    extra: Record<string, string | boolean | undefined> = {},
  ): Record<string, string | boolean | undefined> {
    return { fieldManager: this.fieldManager, dryRun: this.dryRun ? "All" : undefined, ...extra };
  }

  /** Server-side apply with metapilot's single field manager. `force` takes fields over from other managers. */
  apply<T extends KubeObject>(
    t: ResourceType,
    obj: T,
    opts: { force?: boolean; subresource?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`apply ${t.kind}: metadata.name is required`);
    const body = { ...obj, apiVersion: apiVersionOf(t), kind: t.kind };
    return this.request<T>({
      verb: "apply",
      method: "PATCH",
      path: objectPath(t, name, obj.metadata?.namespace, opts.subresource),
      resource: resourceName(t),
      query: this.writeQuery({ force: opts.force ?? true }),
      body,
      contentType: "application/apply-patch+yaml",
      signal: opts.signal,
    });
  }

  create<T extends KubeObject>(t: ResourceType, obj: T, signal?: AbortSignal): Promise<T> {
    return this.request<T>({
      verb: "create",
      method: "POST",
      path: collectionPath(t, obj.metadata?.namespace),
      resource: resourceName(t),
      query: this.writeQuery(),
      body: { ...obj, apiVersion: apiVersionOf(t), kind: t.kind },
      signal,
    });
  }

  update<T extends KubeObject>(t: ResourceType, obj: T, subresource?: string, signal?: AbortSignal): Promise<T> {
    const name = obj.metadata?.name ?? "";
    return this.request<T>({
      verb: "update",
      method: "PUT",
      path: objectPath(t, name, obj.metadata?.namespace, subresource),
      resource: resourceName(t),
      query: this.writeQuery(),
      body: { ...obj, apiVersion: apiVersionOf(t), kind: t.kind },
      signal,
    });
  }

  /** Updates the status subresource by server-side apply: only the fields we own are touched. */
  applyStatus<T extends KubeObject & { status?: unknown }>(t: ResourceType, obj: T, signal?: AbortSignal): Promise<T> {
    const meta = obj.metadata ?? {};
    return this.apply<T>(
      t,
      {
        apiVersion: apiVersionOf(t),
        kind: t.kind,
        metadata: { name: meta.name, namespace: meta.namespace },
        status: obj.status,
      } as T,
      { subresource: "status", signal },
    );
  }

  patch<T extends KubeObject>(
    t: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    type: "merge" | "json" | "strategic" = "merge",
    subresource?: string,
  ): Promise<T> {
    const contentType = {
      merge: "application/merge-patch+json",
      json: "application/json-patch+json",
      strategic: "application/strategic-merge-patch+json",
    }[type];
    return this.request<T>({
      verb: "patch",
      method: "PATCH",
      path: objectPath(t, name, namespace, subresource),
      resource: resourceName(t),
      query: this.writeQuery(),
      body: patch,
      contentType,
    });
  }

  /** Deletes; a 404 counts as done. */
  async delete(
    t: ResourceType,
    name: string,
    namespace?: string,
    opts: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; uid?: string } = {},
  ): Promise<void> {
    try {
      await this.request({
        verb: "delete",
        method: "DELETE",
        path: objectPath(t, name, namespace),
        resource: resourceName(t),
        query: this.writeQuery({ fieldManager: undefined }),
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          propagationPolicy: opts.propagationPolicy ?? "Background",
          ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
          ...(this.dryRun ? { dryRun: ["All"] } : {}),
        },
      });
    } catch (err) {
      if (err instanceof ApiError && err.isNotFound) return;
      throw err;
    }
  }

  /**
   * Opens a watch and yields its events. Ends when the server closes the stream, the signal aborts, or
   * `idleTimeoutMs` passes with no bytes at all (bookmarks arrive about once a minute on a healthy watch).
   */
  async *watch<T = KubeObject>(
    t: ResourceType,
    opts: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      resourceVersion: string;
      timeoutSeconds?: number;
      signal?: AbortSignal;
      idleTimeoutMs?: number;
    },
  ): AsyncGenerator<WatchEvent<T>> {
    const url = this.url(collectionPath(t, opts.namespace), {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
    });
    await this.limiter.acquire();
    const reqOpts = await this.requestOptions("GET", url, {});
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (reqOpts.protocol === "https:" ? httpsRequest : httpRequest)(reqOpts, resolve);
      req.on("error", reject);
      const onAbort = () => req.destroy(new Error("watch aborted"));
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => opts.signal?.removeEventListener("abort", onAbort));
      req.end();
    });
    const resource = resourceName(t);
    this.options.metrics?.apiRequests.inc({ verb: "watch", resource, code: String(res.statusCode) });
    if ((res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw toApiError(
        { method: "GET", path: url.pathname, verb: "watch", resource },
        res.statusCode ?? 0,
        Buffer.concat(chunks).toString(),
        res.headers["retry-after"],
      );
    }
    let idleTimer: NodeJS.Timeout | undefined;
    const idleMs = opts.idleTimeoutMs ?? 0;
    const armIdle = () => {
      if (!idleMs) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => res.destroy(new Error(`watch stalled: no data for ${idleMs} ms`)), idleMs);
    };
    armIdle();
    res.on("data", armIdle);
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (!line.trim()) continue;
        yield JSON.parse(line) as WatchEvent<T>;
      }
    } finally {
      clearTimeout(idleTimer);
      res.destroy();
    }
  }
}

function toApiError(
  spec: Pick<RequestSpec, "method" | "path" | "verb" | "resource">,
  status: number,
  text: string,
  retryAfter: string | string[] | undefined,
): ApiError {
  let body: StatusBody | undefined;
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    body = undefined;
  }
  const header = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  let retryAfterSeconds = body?.details?.retryAfterSeconds;
  if (header !== undefined) {
    const seconds = Number(header);
    retryAfterSeconds = Number.isFinite(seconds) ? seconds : Math.max(0, (Date.parse(header) - Date.now()) / 1000);
  }
  const message = body?.message ?? text.slice(0, 300);
  return new ApiError(
    `${spec.method} ${spec.path}: ${status} ${body?.reason ?? ""} ${message}`.trim(),
    status,
    body?.reason,
    retryAfterSeconds,
    body,
  );
}
