// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timing rules and two improvements:
// a standby watches the Lease instead of polling it, so a released Lease is taken over at once (hot standby,
// well under 2 s), and the leader fences its own writes: once it has failed to renew for renewDeadline it
// stops acting, which is strictly before any other candidate can see the Lease as expired.
import { ApiError } from "./errors.js";
import { sleep } from "./backoff.js";
import type { KubeClient } from "./client.js";
import { Informer } from "./informer.js";
import type { Logger } from "./logger.js";
import type { RuntimeMetrics } from "./metrics.js";
import { Resources, type KubeObject } from "./resources.js";

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/**
 * The Lease can never be created: its namespace does not exist. Retrying cannot fix that, so `run` gives up with
 * this error instead of campaigning forever while the process looks healthy.
 */
export class LeaseNamespaceMissingError extends Error {
  constructor(
    readonly namespace: string,
    readonly lease: string,
  ) {
    super(
      `leader election: namespace "${namespace}" does not exist, so the Lease ${namespace}/${lease} cannot be ` +
        `created. Create it (kubectl create namespace ${namespace}), name another with ` +
        `--leader-election-namespace <ns>, or run a single replica with --no-leader-elect.`,
    );
    this.name = "LeaseNamespaceMissingError";
  }
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  metrics?: RuntimeMetrics;
  now?: () => number;
  /** After a lost Lease, how long in-flight work may take before `run` returns anyway; default 5 s. */
  lostGraceMs?: number;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leading = false;
  private lastRenewAt = 0;
  private observed?: { holder: string; renewTime: string; resourceVersion: string; at: number; durationMs: number };
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly lostGraceMs: number;
  private readonly now: () => number;
  private wake?: () => void;
  /** The Lease as our last successful write returned it, while we lead. */
  private held?: Lease;
  /** Why the last attempt could not even read or create the Lease; cleared by the next attempt that could. */
  private leaseProblem?: string;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.lostGraceMs = options.lostGraceMs ?? 5_000;
    this.now = options.now ?? Date.now;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error("renewDeadline must be shorter than leaseDuration");
  }

  get identity(): string {
    return this.options.identity;
  }

  /**
   * True only while this process holds the Lease and renewed it within renewDeadline. Writes are gated on this,
   * so a leader cut off from the apiserver stops acting before its Lease can expire for anyone else.
   */
  isLeader(): boolean {
    return this.leading && this.now() - this.lastRenewAt < this.renewDeadlineMs;
  }

  /**
   * For /readyz: why this replica cannot take part in the election (the Lease cannot be read or created), or
   * undefined while it can. A standby that reads a Lease someone else holds is fine.
   */
  problem(): string | undefined {
    return this.leaseProblem;
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    if (!v) this.held = undefined;
    this.options.metrics?.leader.set({ lease: `${this.options.namespace}/${this.options.name}` }, v ? 1 : 0);
  }

  private observe(lease: Lease | undefined): void {
    const holder = lease?.spec?.holderIdentity ?? "";
    const renewTime = lease?.spec?.renewTime ?? "";
    const rv = lease?.metadata?.resourceVersion ?? "";
    const durationMs = (lease?.spec?.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
    // Expiry is judged by our own clock from the moment we saw the record change, never by comparing clocks.
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, resourceVersion: rv, at: this.now(), durationMs };
    } else {
      this.observed.resourceVersion = rv;
    }
  }

  private expiresInMs(): number {
    if (!this.observed || !this.observed.holder) return 0;
    return this.observed.at + this.observed.durationMs - this.now();
  }

  /** One attempt to acquire or renew; true when we hold the Lease afterwards. */
  private async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    // A leader renews from the Lease its last write returned: one request per renewal instead of a read and a
    // write, which halves how late a renewal runs on a slow apiserver. A 409 means someone else wrote the Lease
    // since: read it and decide as a candidate would.
    if (this.leading && this.held) {
      try {
        return await this.writeLease(this.held, false, signal);
      } catch (err) {
        this.held = undefined;
        if (!(err instanceof ApiError && err.isConflict)) throw err;
      }
    }
    const { client, namespace, name, identity } = this.options;
    const lease = await client.getOptional<Lease>(Resources.Lease, name, namespace, signal);
    if (!lease) {
      const sentAt = this.now();
      try {
        this.held = await client.create<Lease>(
          Resources.Lease,
          {
            metadata: { name, namespace },
            spec: { ...this.leaseSpec(sentAt), acquireTime: microTime(sentAt), leaseTransitions: 0 },
          },
          signal,
        );
      } catch (err) {
        if (err instanceof ApiError && (err.isConflict || err.statusCode === 409)) return false;
        // A create answered 404 names a namespace that does not exist (the Lease itself was just found missing).
        if (err instanceof ApiError && err.isNotFound) throw new LeaseNamespaceMissingError(namespace, name);
        throw err;
      }
      this.lastRenewAt = sentAt;
      return true;
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity ?? "";
    if (holder && holder !== identity && this.expiresInMs() > 0) return false;
    try {
      return await this.writeLease(lease, holder !== identity, signal);
    } catch (err) {
      if (err instanceof ApiError && err.isConflict) return false;
      throw err;
    }
  }

  private leaseSpec(atMs: number) {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: microTime(atMs),
    };
  }

  /**
   * Writes `lease` as held by us, now. The renewal counts from the moment the write is sent: no other candidate can
   * see the new record before the apiserver has it, so its expiry clock starts later still. Optimistic concurrency:
   * the resourceVersion in `lease` makes the write fail with 409 if anyone wrote the Lease since.
   */
  private async writeLease(lease: Lease, takingOver: boolean, signal?: AbortSignal): Promise<boolean> {
    const sentAt = this.now();
    const holder = lease.spec?.holderIdentity ?? "";
    const updated: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...this.leaseSpec(sentAt),
        acquireTime: takingOver ? microTime(sentAt) : (lease.spec?.acquireTime ?? microTime(sentAt)),
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (takingOver && holder ? 1 : 0),
      },
    };
    const result = await this.options.client.update<Lease>(Resources.Lease, updated, undefined, signal);
    this.observe(result);
    this.held = result;
    this.lastRenewAt = sentAt;
    return true;
  }

  /**
   * Campaigns until leading, calls `onStartedLeading` with a signal that aborts when leadership is lost or
   * `signal` aborts, and resolves when leadership ends. On a clean stop the Lease is released so a standby takes
   * over at once.
   */
  async run(
    signal: AbortSignal,
    onStartedLeading: (leading: AbortSignal) => Promise<void> | void,
  ): Promise<"released" | "lost" | "stopped"> {
    const { client, namespace, name, logger } = this.options;
    // A watch on our one Lease wakes the standby the moment the holder releases or changes it.
    const leaseInformer = new Informer<Lease>(client, {
      resource: Resources.Lease,
      namespace,
      fieldSelector: `metadata.name=${name}`,
      metrics: this.options.metrics,
      logger,
    });
    const informerStop = new AbortController();
    const stopInformer = () => informerStop.abort();
    signal.addEventListener("abort", stopInformer, { once: true });
    const poke = (l: Lease) => {
      this.observe(l);
      this.wake?.();
    };
    leaseInformer.on({ add: poke, update: poke, delete: () => this.wake?.() });
    void leaseInformer.start(informerStop.signal);
    try {
      // Campaign.
      while (!signal.aborted) {
        let acquired = false;
        try {
          acquired = await this.tryAcquireOrRenew();
          this.leaseProblem = undefined;
        } catch (err) {
          if (err instanceof LeaseNamespaceMissingError) {
            this.leaseProblem = err.message;
            throw err;
          }
          const problem = `cannot read or create the Lease ${namespace}/${name}: ${(err as Error).message}`;
          // Logged when the problem starts or changes, not on every retry.
          if (problem !== this.leaseProblem) logger.warn({ err }, "leader election: acquire attempt failed");
          this.leaseProblem = problem;
        }
        if (acquired) break;
        // After a failed attempt, the retry period; otherwise until the holder's Lease may expire (a watch event
        // wakes us sooner).
        const wait = this.leaseProblem
          ? this.retryPeriodMs
          : Math.max(50, Math.min(this.retryPeriodMs * 5, this.expiresInMs() + 10));
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, wait);
          this.wake = done;
          signal.addEventListener("abort", done, { once: true });
        });
        this.wake = undefined;
      }
      if (signal.aborted) return "stopped";
      this.setLeading(true);
      logger.info({ identity: this.identity, lease: `${namespace}/${name}` }, "became leader");
      const leading = new AbortController();
      const work = Promise.resolve(onStartedLeading(leading.signal)).catch((err: unknown) =>
        logger.error({ err }, "leader work failed"),
      );
      // Renew until we cannot or are asked to stop.
      let outcome: "released" | "lost" = "lost";
      while (true) {
        await sleep(this.retryPeriodMs, signal).catch(() => undefined);
        if (signal.aborted) {
          outcome = "released";
          break;
        }
        try {
          // A renewal stuck anywhere (a slow apiserver, a hung connection, retries) must not keep a leader that
          // cannot renew from stepping down: it is cut off two Lease durations after the last renewal. Writes
          // already stop at renewDeadline (isLeader), and a late renewal is safe (the update carries the Lease's
          // resourceVersion, so it fails if another candidate took over), so a merely slow one may still land.
          const left = Math.max(1, 2 * this.leaseDurationMs - (this.now() - this.lastRenewAt));
          if (await this.tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(left)]))) continue;
          logger.error("leader election: Lease taken by another candidate");
          break;
        } catch (err) {
          if (this.now() - this.lastRenewAt >= this.renewDeadlineMs) {
            logger.error({ err }, "leader election: could not renew within renewDeadline; stepping down");
            break;
          }
          logger.warn({ err }, "leader election: renew failed; retrying");
        }
      }
      // On a lost Lease the writes are refused at once (isLeader is false), and in-flight work gets a short grace
      // and no more: a process that waits minutes for slow reconciles leaves the fleet without a leader for as long.
      // On a clean stop no new work starts, and the work under way finishes with its writes while this process
      // still holds the Lease (then it is released): a reconcile stopped between recording a decision and writing
      // its phase would leave the next leader a decision to finish. isLeader still ends renewDeadline after the last
      // renewal, so a drain that outlasts it is fenced as a lost Lease is.
      if (outcome === "lost") this.setLeading(false);
      leading.abort(new Error(`leadership ${outcome}`));
      if (outcome === "released") await work;
      else await Promise.race([work, sleep(this.lostGraceMs)]);
      this.setLeading(false);
      if (outcome === "released") await this.release();
      return outcome;
    } finally {
      this.setLeading(false);
      informerStop.abort();
      signal.removeEventListener("abort", stopInformer);
    }
  }

  /** Gives the Lease up (holder cleared, duration 1 s) so a standby can take it immediately. */
  async release(): Promise<void> {
    const { client, namespace, name, identity, logger } = this.options;
    try {
      const lease = await client.getOptional<Lease>(Resources.Lease, name, namespace);
      if (!lease || lease.spec?.holderIdentity !== identity) return;
      await client.update<Lease>(Resources.Lease, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.now()) },
      });
      logger.info({ identity }, "released leader Lease");
    } catch (err) {
      logger.warn({ err }, "could not release leader Lease; it will expire");
    }
  }
}
