// Ops-center reports. Every ScalingDecision is sent as a CloudEvent (structured JSON over HTTP POST) to each
// configured endpoint, signed with HMAC-SHA256. The ScalingDecision itself is the outbox: delivery state lives in
// its status, so a restart or an ops-center outage loses nothing, and the event id (the decision's uid) lets a
// receiver deduplicate. The digest turns decisions over a period into JSON, a table or an HTML page.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { CloudEvent, HTTP } from "cloudevents";
import { Counter, type Registry } from "prom-client";
import type { KubeClient } from "../kube/client.js";
import { backoffDelay } from "../kube/backoff.js";
import type { Informer } from "../kube/informer.js";
import type { Logger } from "../kube/logger.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { userAgent } from "../version.js";
import type { OpsCenterEndpoint } from "../controllers.js";

export interface ReportableDecision extends KubeObject {
  spec?: Record<string, unknown> & { decidedAt?: string; dryRun?: boolean; direction?: string; component?: string };
  status?: {
    phase?: string;
    message?: string;
    appliedAt?: string;
    delivery?: {
      state?: string;
      attempts?: number;
      lastAttemptTime?: string;
      lastError?: string;
      deliveredAt?: string;
    };
  };
}

export const eventType = "io.metapilot.scalingdecision.v1";

export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** The CloudEvent for a decision, in structured mode: headers and JSON body. */
export function toCloudEvent(d: ReportableDecision, source: string): { headers: Record<string, string>; body: string } {
  const ce = new CloudEvent({
    specversion: "1.0",
    id: d.metadata?.uid ?? `${d.metadata?.namespace}/${d.metadata?.name}`,
    source,
    type: eventType,
    subject: `${d.metadata?.namespace}/${d.metadata?.name}`,
    time: d.spec?.decidedAt ?? new Date().toISOString(),
    datacontenttype: "application/json",
    data: {
      name: d.metadata?.name,
      namespace: d.metadata?.namespace,
      spec: d.spec,
      phase: d.status?.phase,
      message: d.status?.message,
    },
  });
  const msg = HTTP.structured(ce);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(msg.headers)) headers[k.toLowerCase()] = String(v);
  return { headers, body: typeof msg.body === "string" ? msg.body : JSON.stringify(msg.body) };
}

function post(
  endpoint: OpsCenterEndpoint,
  headers: Record<string, string>,
  body: string,
  agent?: HttpsAgent,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(endpoint.url);
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body), "user-agent": userAgent },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    const timeout = endpoint.timeoutMs ?? 10_000;
    req.setTimeout(timeout, () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

export interface ReporterOptions {
  client: KubeClient;
  decisions: Informer<ReportableDecision>;
  endpoints: OpsCenterEndpoint[];
  source: string;
  logger: Logger;
  registry?: Registry;
  concurrency?: number;
  now?: () => number;
}

/**
 * The HMAC key of an endpoint, or undefined when it is configured to send unsigned reports. A key file that cannot
 * be read or holds only whitespace, or an empty key, is an error that names the flag: never a silent unsigned report.
 */
export function hmacKeyOf(endpoint: OpsCenterEndpoint): string | undefined {
  if (endpoint.hmacSecret !== undefined) {
    if (endpoint.hmacSecret.trim() === "") throw new Error(`the ops-center HMAC key for ${endpoint.url} is empty`);
    return endpoint.hmacSecret;
  }
  if (endpoint.hmacSecretFile === undefined) return undefined;
  let key: string;
  try {
    key = readFileSync(endpoint.hmacSecretFile, "utf8").trim();
  } catch (err) {
    throw new Error(
      `--ops-center-hmac-secret-file ${endpoint.hmacSecretFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (key === "") {
    throw new Error(
      `--ops-center-hmac-secret-file ${endpoint.hmacSecretFile} is empty: put the HMAC-SHA256 key in it, or drop the flag to send unsigned reports`,
    );
  }
  return key;
}

export class Reporter {
  private readonly inFlight = new Set<string>();
  private readonly agents = new Map<string, HttpsAgent>();
  private readonly delivered?: Counter<"result">;
  private readonly now: () => number;

  constructor(private readonly o: ReporterOptions) {
    this.now = o.now ?? Date.now;
    // Fail at start, not with unsigned reports later: a key that is configured must be there and not empty.
    for (const endpoint of o.endpoints) hmacKeyOf(endpoint);
    if (o.registry) {
      this.delivered = new Counter({
        name: "metapilot_reports_total",
        help: "Ops-center report attempts by result (delivered, failed).",
        labelNames: ["result"],
        registers: [o.registry],
      });
    }
  }

  /** Decisions whose report is due: recorded (phase set), not yet delivered, and past their retry backoff. */
  due(now: number): ReportableDecision[] {
    return this.o.decisions.list((d) => {
      const key = `${d.metadata?.namespace}/${d.metadata?.name}`;
      if (!d.status?.phase || this.inFlight.has(key)) return false;
      const delivery = d.status.delivery;
      if (delivery?.state === "Delivered") return false;
      const attempts = delivery?.attempts ?? 0;
      if (attempts === 0 || !delivery?.lastAttemptTime) return true;
      const wait = backoffDelay(attempts - 1, 1000, 5 * 60_000, () => 1);
      return now - Date.parse(delivery.lastAttemptTime) >= wait;
    });
  }

  private agentFor(e: OpsCenterEndpoint): HttpsAgent | undefined {
    if (!e.url.startsWith("https:")) return undefined;
    let a = this.agents.get(e.url);
    if (!a) {
      a = new HttpsAgent({
        keepAlive: true,
        ca: e.caFile ? readFileSync(e.caFile) : undefined,
        rejectUnauthorized: !e.insecureSkipVerify,
      });
      this.agents.set(e.url, a);
    }
    return a;
  }

  /** Delivers one decision to every endpoint, then records the outcome in its status. */
  async deliver(d: ReportableDecision): Promise<boolean> {
    const { headers, body } = toCloudEvent(d, this.o.source);
    let error: string | undefined;
    for (const endpoint of this.o.endpoints) {
      const timestamp = String(Math.floor(this.now() / 1000));
      try {
        // Read on every delivery, so a rotated key file is picked up; emptied since start, nothing is sent.
        const secret = hmacKeyOf(endpoint);
        const signed = {
          ...headers,
          "x-metapilot-timestamp": timestamp,
          ...(secret !== undefined ? { "x-metapilot-signature": signBody(secret, timestamp, body) } : {}),
        };
        const code = await post(endpoint, signed, body, this.agentFor(endpoint));
        if (code < 200 || code >= 300) error = `${endpoint.url} answered ${code}`;
      } catch (err) {
        error = `${endpoint.url}: ${(err as Error).message}`;
      }
    }
    const attempts = (d.status?.delivery?.attempts ?? 0) + 1;
    const now = new Date(this.now()).toISOString();
    const delivery = error
      ? { state: "Pending", attempts, lastAttemptTime: now, lastError: error.slice(0, 4000) }
      : { state: "Delivered", attempts, lastAttemptTime: now, deliveredAt: now };
    this.delivered?.inc({ result: error ? "failed" : "delivered" });
    // The whole status is sent: server-side apply would drop any field this manager owns and leaves out.
    await this.o.client.applyStatus(Resources.ScalingDecision, {
      metadata: { name: d.metadata?.name, namespace: d.metadata?.namespace },
      status: { ...d.status, delivery },
    } as KubeObject & { status: unknown });
    if (error)
      this.o.logger.warn({ decision: d.metadata?.name, attempts, error }, "ops-center delivery failed; will retry");
    return !error;
  }

  /** Runs while leading: checks the outbox every second (from the cache, no API reads). */
  async run(signal: AbortSignal): Promise<void> {
    if (this.o.endpoints.length === 0) return;
    const limit = this.o.concurrency ?? 4;
    while (!signal.aborted) {
      const due = this.due(this.now()).slice(0, Math.max(0, limit - this.inFlight.size));
      for (const d of due) {
        const key = `${d.metadata?.namespace}/${d.metadata?.name}`;
        this.inFlight.add(key);
        void this.deliver(d)
          .catch((err: unknown) => this.o.logger.warn({ err, decision: key }, "recording delivery failed"))
          // Keep the key busy until the cache has seen the new status, so the same attempt is not made twice.
          .finally(() => setTimeout(() => this.inFlight.delete(key), 1500));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

// --- digest -----------------------------------------------------------------------------------------------

export interface DigestRow {
  name: string;
  namespace: string;
  tenant: string;
  component: string;
  direction: string;
  category: string;
  phase: string;
  dryRun: boolean;
  decidedAt: string;
  summary: string;
  before: string;
  after: string;
  delivery: string;
}

export interface Digest {
  from: string;
  to: string;
  total: number;
  byCategory: Record<string, number>;
  byPhase: Record<string, number>;
  rows: DigestRow[];
}

type DecisionSpecShape = {
  target?: { tenant?: string };
  rootCause?: { category?: string; summary?: string };
  before?: { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
  after?: { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
};

function sizeText(s: DecisionSpecShape["before"]): string {
  if (!s) return "";
  const r = s.resources?.requests ?? {};
  const l = s.resources?.limits ?? {};
  return [
    `${s.replicas ?? "?"}x`,
    r.cpu && `cpu ${r.cpu}`,
    r.memory && `mem ${r.memory}`,
    l.memory && `lim ${l.memory}`,
  ]
    .filter(Boolean)
    .join(" ");
}

export function buildDigest(
  decisions: readonly ReportableDecision[],
  from: Date,
  to: Date,
  opts: { dryRunOnly?: boolean } = {},
): Digest {
  const rows: DigestRow[] = [];
  for (const d of decisions) {
    const at = Date.parse(d.spec?.decidedAt ?? "");
    if (!(at >= from.getTime() && at <= to.getTime())) continue;
    if (opts.dryRunOnly && !d.spec?.dryRun) continue;
    const spec = d.spec as DecisionSpecShape & typeof d.spec;
    rows.push({
      name: d.metadata?.name ?? "",
      namespace: d.metadata?.namespace ?? "",
      tenant: spec?.target?.tenant ?? "",
      component: String(d.spec?.component ?? ""),
      direction: String(d.spec?.direction ?? ""),
      category: spec?.rootCause?.category ?? "",
      phase: d.status?.phase ?? "Pending",
      dryRun: d.spec?.dryRun === true,
      decidedAt: d.spec?.decidedAt ?? "",
      summary: spec?.rootCause?.summary ?? "",
      before: sizeText(spec?.before),
      after: sizeText(spec?.after),
      delivery: d.status?.delivery?.state ?? "Pending",
    });
  }
  rows.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));
  const count = (f: (r: DigestRow) => string) =>
    rows.reduce<Record<string, number>>((acc, r) => ((acc[f(r)] = (acc[f(r)] ?? 0) + 1), acc), {});
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    total: rows.length,
    byCategory: count((r) => r.category),
    byPhase: count((r) => r.phase),
    rows,
  };
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

export function renderDigestHtml(d: Digest, title = "metapilot decisions"): string {
  const cats = Object.entries(d.byCategory)
    .map(([k, v]) => `<li><b>${esc(k)}</b>: ${v}</li>`)
    .join("");
  const rows = d.rows
    .map(
      (r) =>
        `<tr class="${esc(r.direction.toLowerCase())}"><td>${esc(r.decidedAt)}</td><td>${esc(r.tenant)}</td><td>${esc(r.component)}</td><td>${esc(r.direction)}</td><td>${esc(r.category)}</td><td>${esc(r.phase)}</td><td>${esc(r.before)}</td><td>${esc(r.after)}</td><td>${esc(r.summary)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}tr.up td:nth-child(4){color:#b00}tr.down td:nth-child(4){color:#070}</style></head>
<body><h1>${esc(title)}</h1><p>${esc(d.from)} — ${esc(d.to)}: <b>${d.total}</b> decisions</p><ul>${cats}</ul>
<table><thead><tr><th>time</th><th>tenant</th><th>component</th><th>direction</th><th>root cause</th><th>phase</th><th>before</th><th>after</th><th>summary</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>\n`;
}

export function renderDigestTable(d: Digest): string {
  const header = ["TIME", "TENANT", "COMPONENT", "DIR", "ROOT CAUSE", "PHASE", "BEFORE", "AFTER"];
  const lines = d.rows.map((r) => [
    r.decidedAt.slice(0, 19),
    r.tenant,
    r.component,
    r.direction,
    r.category,
    r.phase,
    r.before,
    r.after,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const cats = Object.entries(d.byCategory)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [fmt(header), ...lines.map(fmt), "", `${d.total} decisions (${cats || "none"})`].join("\n") + "\n";
}
