// Black-box probe of each tenant apiserver: GET /readyz through its Service (the TenantControlPlane's
// status.endpoint) or through the URL in its `metapilot.io/probe-url` annotation. /readyz is public by default
// (system:public-info-viewer), so the probe needs no credentials; TLS is verified with the tenant's own cluster CA.
//
// The annotation is written by whoever may edit the TenantControlPlane, and metapilot's network position is
// privileged, so the URL is checked before anything is sent (checkProbeUrl): https only, no credentials, and a host
// that is the tenant's own (a Service in its namespace, or the host of its status.endpoint) or on the operator's
// allow-list (--probe-allowed-hosts). Nothing the endpoint answers is kept but its status code and the timing: the
// body is never read, and a transport error is reported by its code, because those texts end up in decisions, the
// dashboard and ops-center reports.
//
// Only answers that say something about the tenant count as failures: a non-2xx status or a timeout. A name that
// does not resolve, a refused connection or a TLS error says more about metapilot's network path than about the
// tenant, so it leaves the signal missing (never a failure, never a scale-up). And when many tenants fail in the
// same round, the prober itself is the likelier cause: that round is not counted for anyone.
import https from "node:https";
import type { LookupFunction } from "node:net";
import { Counter, Histogram, type Registry } from "prom-client";
import { sleep } from "../../kube/backoff.js";
import type { Logger } from "../../kube/logger.js";
import { userAgent } from "../../version.js";
import type { Measurement } from "../types.js";

export type ProbeOutcome = "ok" | "http-status" | "timeout" | "unreachable";

export interface ProbeResult {
  outcome: ProbeOutcome;
  status?: number;
  durationMs: number;
  message: string;
}

/** Why a probe URL is refused, or undefined when it may be probed. */
export interface ProbeUrlPolicy {
  /** The tenant's namespace: a Service in it (`<svc>.<ns>.svc[.cluster.local]`) is the tenant's own. */
  namespace: string;
  /** The TenantControlPlane's status.endpoint, whose host is the tenant's own too. */
  endpoint?: string;
  /** Hosts the operator allows besides: exact names or IPs, or `*.suffix` for any name under suffix. */
  allowedHosts?: readonly string[];
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A URL's host as compared: lower case, without a trailing dot or IPv6 brackets. */
function hostOf(u: URL): string {
  return u.hostname
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
}

/** Whether `host` matches one allow-list entry: the same name, or under a `*.suffix` entry. */
export function hostAllowed(host: string, entry: string): boolean {
  const e = entry.trim().toLowerCase().replace(/\.$/, "");
  if (!e) return false;
  if (e.startsWith("*.")) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
  return host === e;
}

/**
 * Checks a probe URL against the policy; returns the reason it is refused, or undefined. Pure, so the same rules
 * are unit-tested and applied by the prober.
 */
export function checkProbeUrl(url: string, policy: ProbeUrlPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "not a URL";
  }
  if (u.protocol !== "https:") return `scheme ${u.protocol.replace(/:$/, "")} is not allowed: https only`;
  if (u.username || u.password) return "credentials in the URL are not allowed";
  const host = hostOf(u);
  const parts = host.split(".");
  const svcSuffix = parts.slice(2).join(".");
  if (
    parts.length >= 3 &&
    dnsLabel.test(parts[0] ?? "") &&
    parts[1] === policy.namespace &&
    (svcSuffix === "svc" || svcSuffix === "svc.cluster.local")
  )
    return undefined;
  if (policy.endpoint) {
    try {
      const own = new URL(policy.endpoint);
      if (own.protocol === "https:" && hostOf(own) === host) return undefined;
    } catch {
      // an endpoint that does not parse allows nothing
    }
  }
  if ((policy.allowedHosts ?? []).some((e) => hostAllowed(host, e))) return undefined;
  return (
    `host ${host} is neither a Service in namespace ${policy.namespace}, nor the host of status.endpoint, ` +
    `nor allowed by --probe-allowed-hosts`
  );
}

export interface ProbeTarget {
  tenant: string;
  namespace: string;
  url: string;
}

/**
 * One GET of a /readyz URL (https only). Never throws: every way it can go wrong is an outcome. The result holds
 * the status code and the timing, never the answer's text.
 */
export function probeOnce(
  url: string,
  o: { timeoutMs: number; ca?: string; signal?: AbortSignal; lookup?: LookupFunction },
): Promise<ProbeResult> {
  const started = performance.now();
  const done = (outcome: ProbeOutcome, message: string, status?: number): ProbeResult => ({
    outcome,
    status,
    message,
    durationMs: Math.round(performance.now() - started),
  });
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve(done("unreachable", "not a URL"));
      return;
    }
    if (parsed.protocol !== "https:") {
      resolve(done("unreachable", "refused: only https URLs are probed"));
      return;
    }
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    const req = https.request(
      parsed,
      {
        method: "GET",
        headers: { "User-Agent": `${userAgent} probe`, Accept: "text/plain" },
        ca: o.ca,
        agent: false,
        signal,
        ...(o.lookup ? { lookup: o.lookup } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // The status line is the answer; the body is discarded unread (its text is the endpoint's, not ours).
        const outcome = status >= 200 && status < 300 ? "ok" : "http-status";
        resolve(done(outcome, `HTTP ${status}`, status));
        res.on("error", () => undefined);
        res.destroy();
      },
    );
    // A timeout counts against the tenant only once its endpoint accepted the connection: a name that never
    // resolves or a connection that never opens is the network path's problem, not the apiserver's.
    let connected = false;
    req.on("socket", (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once("connect", () => (connected = true));
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (timeout.aborted && connected) resolve(done("timeout", `no answer within ${o.timeoutMs} ms`));
      else if (timeout.aborted) resolve(done("unreachable", `no connection within ${o.timeoutMs} ms`));
      // The code, not the message: a TLS message quotes the peer's certificate names.
      else resolve(done("unreachable", err.code ?? "transport error"));
    });
    req.end();
  });
}

export interface ProbeRecord {
  at: number;
  outcome: ProbeOutcome;
  message: string;
}

export interface ProbeSignalsOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Probes in flight at once. */
  concurrency?: number;
  /** The tenants to probe this round. */
  targets: () => ProbeTarget[];
  /** The tenant's cluster CA (PEM) for an https URL; undefined uses the system's trust store. */
  caFor?: (target: ProbeTarget) => Promise<string | undefined>;
  /** Called after a TLS failure, so a rotated CA is read again. */
  forgetCa?: (target: ProbeTarget) => void;
  /** A round in which at least this share of tenants (and at least minSuspectTenants) fails is not counted. */
  suspectShare?: number;
  minSuspectTenants?: number;
  logger: Logger;
  registry?: Registry;
  onUpdate: () => void;
  probe?: typeof probeOnce;
}

export class ProbeSignals {
  /** tenant → recent results, oldest first (bounded). */
  private readonly results = new Map<string, ProbeRecord[]>();
  /** Why the last round was not counted, when it was not. */
  suspectReason?: string;
  lastRoundAt?: number;
  private readonly duration?: Histogram<"outcome">;
  private readonly ignored?: Counter;

  constructor(private readonly options: ProbeSignalsOptions) {
    if (options.registry) {
      this.duration = new Histogram({
        name: "metapilot_probe_duration_seconds",
        help: "Black-box /readyz probes of tenant apiservers, by outcome (ok, http-status, timeout, unreachable).",
        labelNames: ["outcome"],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
        registers: [options.registry],
      });
      this.ignored = new Counter({
        name: "metapilot_probe_rounds_ignored_total",
        help: "Probe rounds not counted because too many tenants failed at once (the prober's own path is suspect).",
        registers: [options.registry],
      });
    }
  }

  /**
   * Failed probes of one tenant within the window, as a measurement timed at the latest probe. Missing when the
   * tenant was never probed or its latest probe could not reach it: silence is never a failure.
   */
  failuresWithin(tenant: string, windowMs: number, now: number): Measurement | undefined {
    const list = this.results.get(tenant);
    const last = list?.at(-1);
    if (!list || !last || last.outcome === "unreachable") return undefined;
    const failures = list.filter(
      (r) => r.at >= now - windowMs && (r.outcome === "http-status" || r.outcome === "timeout"),
    );
    return { value: failures.length, observedAt: last.at, source: `probe: ${last.message}` };
  }

  /** The latest result of one tenant, for status and the dashboard. */
  latest(tenant: string): ProbeRecord | undefined {
    return this.results.get(tenant)?.at(-1);
  }

  /** One round over every target, with bounded concurrency. */
  async round(signal?: AbortSignal): Promise<void> {
    const targets = this.options.targets();
    const probe = this.options.probe ?? probeOnce;
    const outcomes = new Map<string, ProbeRecord>();
    const queue = [...targets];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        if (signal?.aborted) return;
        let ca: string | undefined;
        try {
          ca = t.url.startsWith("https:") ? await this.options.caFor?.(t) : undefined;
        } catch (err) {
          outcomes.set(t.tenant, {
            at: Date.now(),
            outcome: "unreachable",
            message: `no CA: ${(err as Error).message}`,
          });
          continue;
        }
        const r = await probe(`${t.url}`, { timeoutMs: this.options.timeoutMs, ca, signal });
        this.duration?.observe({ outcome: r.outcome }, r.durationMs / 1000);
        if (r.outcome === "unreachable" && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|SIGNATURE/i.test(r.message))
          this.options.forgetCa?.(t);
        outcomes.set(t.tenant, { at: Date.now(), outcome: r.outcome, message: r.message });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency ?? 16) }, worker));
    if (signal?.aborted) return;
    const failed = [...outcomes.values()].filter((r) => r.outcome === "http-status" || r.outcome === "timeout").length;
    const share = this.options.suspectShare ?? 0.5;
    const min = this.options.minSuspectTenants ?? 3;
    if (failed >= min && failed >= share * outcomes.size) {
      this.suspectReason = `${failed} of ${outcomes.size} tenants failed their /readyz probe in the same round; metapilot's own network path is the likelier cause, so the round is not counted`;
      this.ignored?.inc();
      this.options.logger.warn(
        { failed, probed: outcomes.size },
        "probe round not counted: too many tenants failed at once",
      );
      // Each tenant keeps its earlier results, but its latest says "unknown": no failure is counted from here.
      for (const [tenant, r] of outcomes)
        outcomes.set(tenant, { ...r, outcome: "unreachable", message: "round not counted" });
    } else this.suspectReason = undefined;
    const live = new Set(targets.map((t) => t.tenant));
    for (const tenant of this.results.keys()) if (!live.has(tenant)) this.results.delete(tenant);
    const horizon = Date.now() - 60 * 60_000;
    for (const [tenant, r] of outcomes) {
      const list = (this.results.get(tenant) ?? []).filter((x) => x.at >= horizon);
      list.push(r);
      if (list.length > 256) list.splice(0, list.length - 256);
      this.results.set(tenant, list);
    }
    this.lastRoundAt = Date.now();
    this.options.onUpdate();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = Date.now();
      await this.round(signal).catch((err: unknown) => this.options.logger.warn({ err }, "probe round failed"));
      await sleep(Math.max(0, this.options.intervalMs - (Date.now() - started)), signal).catch(() => undefined);
    }
  }
}
