// The manager owns what controllers share: one guarded client, the informer caches (shared between controllers
// that watch the same thing), the event recorder, the HTTP server and leader election. Caches start at once on
// every replica, so a standby is warm; controllers' workers run only while this replica leads.
import type { KubeConfig } from "@kubernetes/client-node";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { KubeClient } from "./client.js";
import type { Controller } from "./controller.js";
import { EventRecorder } from "./events.js";
import { Informer, type InformerOptions } from "./informer.js";
import { LeaderElector } from "./leader-election.js";
import type { Logger } from "./logger.js";
import { RuntimeMetrics } from "./metrics.js";
import { resourceName, type KubeObject } from "./resources.js";
import { HealthServer } from "./health.js";
import { userAgent } from "../version.js";

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  metrics?: RuntimeMetrics;
  identity?: string;
  qps?: number;
  burst?: number;
  /** "host:port" for /metrics, /healthz, /readyz; empty disables the server. */
  metricsAddress?: string;
  leaderElection?: {
    enabled: boolean;
    namespace: string;
    name: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
}

export type ManagerOutcome = "released" | "lost" | "stopped";

export class Manager {
  readonly client: KubeClient;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly identity: string;
  readonly server?: HealthServer;
  private readonly electionClient: KubeClient;
  private readonly elector?: LeaderElector;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private readonly recorders = new Map<string, EventRecorder>();
  private readonly leaderHooks: Array<(signal: AbortSignal) => Promise<void> | void> = [];
  private listening?: { host: string; port: number };

  constructor(private readonly options: ManagerOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics ?? new RuntimeMetrics({ defaultMetrics: true });
    this.identity = options.identity ?? `${hostname()}_${randomBytes(4).toString("hex")}`;
    const ua = `${userAgent} instance=${this.identity}`;
    const le = options.leaderElection;
    this.electionClient = new KubeClient(options.kubeConfig, {
      userAgent: ua,
      qps: 5,
      burst: 10,
      maxRetries: 1,
      requestTimeoutMs: 5_000,
      metrics: this.metrics,
      logger: this.logger,
    });
    if (le?.enabled) {
      this.elector = new LeaderElector({
        client: this.electionClient,
        namespace: le.namespace,
        name: le.name,
        identity: this.identity,
        leaseDurationMs: le.leaseDurationMs,
        renewDeadlineMs: le.renewDeadlineMs,
        retryPeriodMs: le.retryPeriodMs,
        logger: this.logger,
        metrics: this.metrics,
      });
    }
    const elector = this.elector;
    this.client = new KubeClient(options.kubeConfig, {
      userAgent: ua,
      qps: options.qps ?? 20,
      burst: options.burst ?? 40,
      // Global dry-run is not the apiserver's dryRun: decisions and reports must still be recorded, so it is
      // handed to the controllers, whose actuators switch to record-only.
      metrics: this.metrics,
      logger: this.logger,
      writeGuard: elector ? () => elector.isLeader() : undefined,
    });
    if (options.metricsAddress) {
      this.server = new HealthServer({
        registry: this.metrics.registry,
        logger: this.logger,
        readinessChecks: {
          informers: () => {
            const unsynced = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => i.name);
            return unsynced.length ? `caches not synced: ${unsynced.join(", ")}` : undefined;
          },
          // A replica that cannot even read or create its Lease can never lead: it is not ready.
          leaderElection: () => elector?.problem(),
        },
        livenessChecks: { process: () => undefined },
      });
    }
  }

  /** A shared informer: two controllers asking for the same resource and selectors get the same cache. */
  informer<T extends KubeObject>(opts: Omit<InformerOptions<T>, "metrics" | "logger">): Informer<T> {
    const key = [resourceName(opts.resource), opts.namespace, opts.labelSelector, opts.fieldSelector].join("|");
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<T>(this.client, {
        ...opts,
        metrics: this.metrics,
        logger: this.logger,
      }) as unknown as Informer<KubeObject>;
      this.informers.set(key, informer);
    }
    return informer as unknown as Informer<T>;
  }

  add(controller: Controller): this {
    this.controllers.push(controller);
    return this;
  }

  /** Work that runs only while leading (garbage collection, report delivery), beside the controllers. */
  onLeading(hook: (signal: AbortSignal) => Promise<void> | void): this {
    this.leaderHooks.push(hook);
    return this;
  }

  recorder(controller: string): EventRecorder {
    let r = this.recorders.get(controller);
    if (!r) {
      r = new EventRecorder({
        client: this.client,
        controller,
        instance: this.identity,
        logger: this.logger,
        metrics: this.metrics,
      });
      this.recorders.set(controller, r);
    }
    return r;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : true;
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  get address(): { host: string; port: number } | undefined {
    return this.listening;
  }

  async listen(): Promise<void> {
    if (this.server && this.options.metricsAddress && !this.listening) {
      this.listening = await this.server.listen(this.options.metricsAddress);
      this.logger.info(
        { address: `${this.listening.host}:${this.listening.port}` },
        "serving /metrics, /healthz, /readyz",
      );
    }
  }

  /**
   * Runs until `signal` aborts (a clean stop: the Lease is released) or leadership is lost. The caller should
   * exit the process after "lost", as client-go does: a fresh process re-lists with a clean slate.
   */
  async start(signal: AbortSignal): Promise<ManagerOutcome> {
    await this.listen();
    const informerStop = new AbortController();
    // Every informer, watch and in-flight reconcile listens on these signals; that is by design, not a leak.
    setMaxListeners(0, informerStop.signal, signal);
    for (const informer of this.informers.values()) void informer.start(informerStop.signal);
    const runControllers = async (leading: AbortSignal) => {
      setMaxListeners(0, leading);
      this.logger.info({ controllers: this.controllers.map((c) => c.name) }, "starting controllers");
      await Promise.all([
        ...this.controllers.map((c) => c.run(leading)),
        ...this.leaderHooks.map((h) => Promise.resolve(h(leading))),
      ]);
    };
    try {
      if (!this.elector) {
        await runControllers(signal);
        return "stopped";
      }
      return await this.elector.run(signal, runControllers);
    } finally {
      await Promise.all([...this.recorders.values()].map((r) => r.flush()));
      informerStop.abort();
      await this.server?.close();
    }
  }
}
