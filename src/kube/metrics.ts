import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Every metric metapilot's runtime exports. One instance per process (or per test), never module globals. */
export class RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
  readonly queueLatency: Histogram<"controller">;
  readonly queueRetries: Counter<"controller">;
  readonly apiRequests: Counter<"verb" | "resource" | "code">;
  readonly apiRequestDuration: Histogram<"verb">;
  readonly apiRateLimiterWait: Histogram<"verb">;
  readonly watchRestarts: Counter<"resource" | "reason">;
  readonly relists: Counter<"resource" | "reason">;
  readonly cacheObjects: Gauge<"resource">;
  readonly leader: Gauge<"lease">;
  readonly eventsEmitted: Counter<"type" | "result">;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = (this.registry = new Registry());
    if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "metapilot_process_" });
    const r = [registry];
    this.reconcileTotal = new Counter({
      name: "metapilot_reconcile_total",
      help: "Reconciles by controller and result (success, error, terminal, requeue).",
      labelNames: ["controller", "result"],
      registers: r,
    });
    this.reconcileErrors = new Counter({
      name: "metapilot_reconcile_errors_total",
      help: "Reconciles that returned an error, by controller.",
      labelNames: ["controller"],
      registers: r,
    });
    this.reconcileDuration = new Histogram({
      name: "metapilot_reconcile_duration_seconds",
      help: "Time spent in one reconcile, by controller.",
      labelNames: ["controller"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: r,
    });
    this.queueDepth = new Gauge({
      name: "metapilot_workqueue_depth",
      help: "Keys waiting in the work queue, by controller.",
      labelNames: ["controller"],
      registers: r,
    });
    this.queueLatency = new Histogram({
      name: "metapilot_workqueue_latency_seconds",
      help: "Time a key waits in the queue before a worker takes it, by controller.",
      labelNames: ["controller"],
      // Up to 10 minutes: a fleet created at once waits minutes in a fair FIFO queue, and that is worth seeing.
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: r,
    });
    this.queueRetries = new Counter({
      name: "metapilot_workqueue_retries_total",
      help: "Keys requeued with backoff after an error, by controller.",
      labelNames: ["controller"],
      registers: r,
    });
    this.apiRequests = new Counter({
      name: "metapilot_apiserver_requests_total",
      help: "Requests to the apiserver by verb, resource and HTTP code (0 for transport errors).",
      labelNames: ["verb", "resource", "code"],
      registers: r,
    });
    this.apiRequestDuration = new Histogram({
      name: "metapilot_apiserver_request_duration_seconds",
      help: "Apiserver request latency by verb (watches excluded).",
      labelNames: ["verb"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.apiRateLimiterWait = new Histogram({
      name: "metapilot_apiserver_rate_limiter_wait_seconds",
      help: "Time a request waited for the client-side rate limiter.",
      labelNames: ["verb"],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10],
      registers: r,
    });
    this.watchRestarts = new Counter({
      name: "metapilot_watch_restarts_total",
      help: "Watches restarted, by resource and reason (closed, error, stalled, gone).",
      labelNames: ["resource", "reason"],
      registers: r,
    });
    this.relists = new Counter({
      name: "metapilot_informer_relists_total",
      help: "Full LISTs made by informers, by resource and reason (initial, gone).",
      labelNames: ["resource", "reason"],
      registers: r,
    });
    this.cacheObjects = new Gauge({
      name: "metapilot_informer_cache_objects",
      help: "Objects held in each informer cache.",
      labelNames: ["resource"],
      registers: r,
    });
    this.leader = new Gauge({
      name: "metapilot_leader",
      help: "1 while this process holds the leader Lease, else 0.",
      labelNames: ["lease"],
      registers: r,
    });
    this.eventsEmitted = new Counter({
      name: "metapilot_events_total",
      help: "Kubernetes Events by type and result (created, aggregated, dropped, failed).",
      labelNames: ["type", "result"],
      registers: r,
    });
  }
}
