// Ops-center reports. Every ScalingDecision is sent as a CloudEvent (structured JSON over HTTP POST) to each
// configured endpoint, signed with HMAC-SHA256. The ScalingDecision itself is the outbox: delivery state lives in
// its status, so a restart or an ops-center outage loses nothing, and the event id (the decision's uid) lets a
// receiver deduplicate. The digest turns decisions over a period into data (JSON, YAML, CSV) or a table, and the
// dry-run plan nets a workload's dry-run decisions into "today → would be".
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
import { resourcesOf } from "./actuator.js";
import { bytes, cores } from "./quantity.js";
import type { Size } from "./types.js";
import type { OpsCenterEndpoint } from "../controllers.js";
import type { ScalingDecisionObject } from "../api/index.js";
import { observedSizeAnnotation, tenantLabel } from "../api/labels.js";

/** A ScalingDecision as the reports read it from a cache or a LIST: the schema's shape, nothing guaranteed. */
export type ReportableDecision = ScalingDecisionObject;

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

  constructor(private readonly options: ReporterOptions) {
    this.now = options.now ?? Date.now;
    // Fail at start, not with unsigned reports later: a key that is configured must be there and not empty.
    for (const endpoint of options.endpoints) hmacKeyOf(endpoint);
    if (options.registry) {
      this.delivered = new Counter({
        name: "metapilot_reports_total",
        help: "Ops-center report attempts by result (delivered, failed).",
        labelNames: ["result"],
        registers: [options.registry],
      });
    }
  }

  /** Decisions whose report is due: recorded (phase set), not yet delivered, and past their retry backoff. */
  due(now: number): ReportableDecision[] {
    return this.options.decisions.list((d) => {
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
    const { headers, body } = toCloudEvent(d, this.options.source);
    let error: string | undefined;
    for (const endpoint of this.options.endpoints) {
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
    await this.options.client.applyStatus(Resources.ScalingDecision, {
      metadata: { name: d.metadata?.name, namespace: d.metadata?.namespace },
      status: { ...d.status, delivery },
    } as KubeObject & { status: unknown });
    if (error)
      this.options.logger.warn(
        { decision: d.metadata?.name, attempts, error },
        "ops-center delivery failed; will retry",
      );
    return !error;
  }

  /** Runs while leading: checks the outbox every second (from the cache, no API reads). */
  async run(signal: AbortSignal): Promise<void> {
    if (this.options.endpoints.length === 0) return;
    const limit = this.options.concurrency ?? 4;
    while (!signal.aborted) {
      const due = this.due(this.now()).slice(0, Math.max(0, limit - this.inFlight.size));
      for (const d of due) {
        const key = `${d.metadata?.namespace}/${d.metadata?.name}`;
        this.inFlight.add(key);
        void this.deliver(d)
          .catch((err: unknown) => this.options.logger.warn({ err, decision: key }, "recording delivery failed"))
          // Keep the key busy until the cache has seen the new status, so the same attempt is not made twice.
          .finally(() => setTimeout(() => this.inFlight.delete(key), 1500));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

// --- digest -----------------------------------------------------------------------------------------------

/** A workload size as data: replicas, and requests and limits per resource as Kubernetes quantities. */
export interface SizeFields {
  replicas?: number;
  requests: Record<string, string>;
  limits: Record<string, string>;
}

/**
 * How dry-run treats the effect of its own decisions; the report states it. The scaler's reconciler implements it
 * (dryRunBaselineHoldMs in src/scaler/history.ts).
 */
export const dryRunSemantics =
  "Dry-run changes nothing, so the signals it reads keep describing the real, unchanged workload. A simulated " +
  "change is the baseline of the workload's next decisions only for its cooldown (the scale-up cooldown after an " +
  "Up, the longer of the scale-down cooldown and stabilization window after a Down) and only while the real " +
  "workload keeps its size; OOM kills in that time build on it, as they would live. After that the next decision " +
  "starts from the real workload again. A decision whose before is a simulated size is marked baseline=simulated; " +
  "the plan nets each workload's decisions into its real size today and the size the latest one would set.";

export interface DigestRow {
  name: string;
  namespace: string;
  tenant: string;
  component: string;
  direction: string;
  category: string;
  phase: string;
  dryRun: boolean;
  /** RFC 3339 in UTC. */
  decidedAt: string;
  summary: string;
  before: SizeFields;
  after: SizeFields;
  /** Dry-run decisions: the workload's real size at the decision. */
  observed?: SizeFields;
  /** "simulated" when `before` is an earlier dry-run decision's size, not the workload's real one. */
  baseline: "workload" | "simulated";
  delivery: string;
}

/** Policy bounds of a workload, to say which ones the plan runs into. Numbers in cores and bytes. */
export interface SizeBounds {
  minAllowed: { cpu?: number; memory?: number };
  maxAllowed: { cpu?: number; memory?: number };
  replicas: { min?: number; max?: number };
}

export interface PlanChange {
  field: string;
  today?: string;
  wouldBe?: string;
}

/** A workload's dry-run decisions of the period, netted: its real size today, and what the latest one would set. */
export interface PlanRow {
  tenant: string;
  namespace: string;
  component: string;
  /** Kind/name of the workload. */
  workload: string;
  today?: SizeFields;
  /** "workload": read from the Deployment or StatefulSet now; "decision": as recorded at the latest decision. */
  todaySource: "workload" | "decision" | "unknown";
  wouldBe: SizeFields;
  changes: PlanChange[];
  decisions: number;
  /** Decisions of the chain whose before was a simulated size. */
  simulatedBaselines: number;
  firstAt: string;
  lastAt: string;
  categories: string[];
  /** Policy bounds the would-be size sits on, e.g. "memory limit at maxAllowed 8192Mi". */
  boundsHit: string[];
  lastDecision: { namespace: string; name: string };
}

export interface Digest {
  from: string;
  to: string;
  total: number;
  byCategory: Record<string, number>;
  byPhase: Record<string, number>;
  rows: DigestRow[];
  /** The dry-run plan: one row per workload with dry-run decisions in the period. */
  plan: PlanRow[];
  dryRunSemantics: string;
}

type SpecSize = {
  replicas?: number;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};

type DecisionSpecShape = {
  target?: { tenant?: string; kind?: string; name?: string; namespace?: string };
  rootCause?: { category?: string; summary?: string };
  before?: SpecSize;
  after?: SpecSize;
};

export function sizeFields(s: SpecSize | undefined): SizeFields {
  return {
    ...(s?.replicas !== undefined ? { replicas: s.replicas } : {}),
    requests: { ...s?.resources?.requests },
    limits: { ...s?.resources?.limits },
  };
}

function toSize(s: SizeFields): Size {
  return {
    replicas: s.replicas ?? 1,
    cpuRequest: cores(s.requests.cpu),
    cpuLimit: cores(s.limits.cpu),
    memoryRequest: bytes(s.requests.memory),
    memoryLimit: bytes(s.limits.memory),
  };
}

/** The same size written the way decisions write it (whole millicores and MiB), so sizes compare as text. */
export function normalizeSize(s: SizeFields): SizeFields {
  const size = toSize(s);
  return { ...(s.replicas !== undefined ? { replicas: s.replicas } : {}), ...resourcesOf(size) };
}

/** The real size recorded on a dry-run decision, if any. */
export function observedSizeOf(d: ReportableDecision): SizeFields | undefined {
  const raw = d.metadata?.annotations?.[observedSizeAnnotation];
  if (!raw) return undefined;
  try {
    const size = JSON.parse(raw) as Size;
    if (typeof size !== "object" || size === null) return undefined;
    return { replicas: size.replicas, ...resourcesOf(size) };
  } catch {
    return undefined;
  }
}

export function sameSizeFields(a: SizeFields, b: SizeFields): boolean {
  const x = normalizeSize(a);
  const y = normalizeSize(b);
  const eq = (p: Record<string, string>, q: Record<string, string>) =>
    Object.keys({ ...p, ...q }).every((k) => p[k] === q[k]);
  return (x.replicas ?? 1) === (y.replicas ?? 1) && eq(x.requests, y.requests) && eq(x.limits, y.limits);
}

/** "2x cpu 500m mem 1024Mi, limits mem 2048Mi": for tables. */
export function sizeText(s: SizeFields | undefined): string {
  if (!s) return "";
  const r = s.requests;
  const l = s.limits;
  const limits = [l.cpu && `cpu ${l.cpu}`, l.memory && `mem ${l.memory}`].filter(Boolean).join(" ");
  return [`${s.replicas ?? "?"}x`, r.cpu && `cpu ${r.cpu}`, r.memory && `mem ${r.memory}`, limits && `lim ${limits}`]
    .filter(Boolean)
    .join(" ");
}

const sizeFieldNames = [
  ["replicas", (s: SizeFields) => (s.replicas === undefined ? undefined : String(s.replicas))],
  ["cpu request", (s: SizeFields) => s.requests.cpu],
  ["memory request", (s: SizeFields) => s.requests.memory],
  ["cpu limit", (s: SizeFields) => s.limits.cpu],
  ["memory limit", (s: SizeFields) => s.limits.memory],
] as const;

/** The fields that differ between two sizes, in a fixed order. */
export function sizeChanges(today: SizeFields | undefined, wouldBe: SizeFields): PlanChange[] {
  const t = today ? normalizeSize(today) : undefined;
  const w = normalizeSize(wouldBe);
  const out: PlanChange[] = [];
  for (const [field, get] of sizeFieldNames) {
    const a = t ? get(t) : undefined;
    const b = get(w);
    if (a !== b && b !== undefined) out.push({ field, today: a, wouldBe: b });
  }
  return out;
}

function boundsHit(s: SizeFields, b: SizeBounds | undefined): string[] {
  if (!b) return [];
  const size = toSize(s);
  const n = normalizeSize(s);
  const out: string[] = [];
  const near = (v: number | undefined, bound: number | undefined) =>
    v !== undefined && bound !== undefined && Math.abs(v - bound) <= Math.max(1e-9, bound * 1e-6);
  const check = (v: number | undefined, text: string | undefined, field: string, kind: "cpu" | "memory") => {
    if (near(v, b.maxAllowed[kind])) out.push(`${field} at maxAllowed ${text}`);
    else if (near(v, b.minAllowed[kind])) out.push(`${field} at minAllowed ${text}`);
  };
  if (b.replicas.max !== undefined && size.replicas >= b.replicas.max) out.push(`replicas at max ${b.replicas.max}`);
  else if (b.replicas.min !== undefined && size.replicas <= b.replicas.min && s.replicas !== undefined)
    out.push(`replicas at min ${b.replicas.min}`);
  check(size.cpuRequest, n.requests.cpu, "cpu request", "cpu");
  check(size.memoryRequest, n.requests.memory, "memory request", "memory");
  check(size.cpuLimit, n.limits.cpu, "cpu limit", "cpu");
  check(size.memoryLimit, n.limits.memory, "memory limit", "memory");
  return out;
}

export interface PlanContext {
  /** The workload's real size now (main container), by "Kind/namespace/name"; undefined when it is not known. */
  workloadSize?: (kind: string, namespace: string, name: string) => SizeFields | undefined;
  /** The policy bounds that govern a decision's workload, when known. */
  bounds?: (d: ReportableDecision) => SizeBounds | undefined;
}

export function buildDigest(
  decisions: readonly ReportableDecision[],
  from: Date,
  to: Date,
  opts: { dryRunOnly?: boolean } & PlanContext = {},
): Digest {
  const rows: DigestRow[] = [];
  const byName = new Map<string, ReportableDecision>();
  for (const d of decisions) {
    const at = Date.parse(d.spec?.decidedAt ?? "");
    if (!(at >= from.getTime() && at <= to.getTime())) continue;
    if (opts.dryRunOnly && !d.spec?.dryRun) continue;
    const spec = d.spec as DecisionSpecShape & typeof d.spec;
    const before = sizeFields(spec?.before);
    const observed = d.spec?.dryRun ? observedSizeOf(d) : undefined;
    byName.set(`${d.metadata?.namespace}/${d.metadata?.name}`, d);
    rows.push({
      name: d.metadata?.name ?? "",
      namespace: d.metadata?.namespace ?? "",
      tenant: spec?.target?.tenant ?? d.metadata?.labels?.[tenantLabel] ?? "",
      component: String(d.spec?.component ?? ""),
      direction: String(d.spec?.direction ?? ""),
      category: spec?.rootCause?.category ?? "",
      phase: d.status?.phase ?? "Pending",
      dryRun: d.spec?.dryRun === true,
      decidedAt: new Date(at).toISOString(),
      summary: spec?.rootCause?.summary ?? "",
      before,
      after: sizeFields(spec?.after),
      ...(observed ? { observed } : {}),
      baseline: observed && !sameSizeFields(observed, before) ? "simulated" : "workload",
      delivery: d.status?.delivery?.state ?? "Pending",
    });
  }
  rows.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt) || a.name.localeCompare(b.name));
  const count = (f: (r: DigestRow) => string) =>
    rows.reduce<Record<string, number>>((acc, r) => ((acc[f(r)] = (acc[f(r)] ?? 0) + 1), acc), {});
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    total: rows.length,
    byCategory: count((r) => r.category),
    byPhase: count((r) => r.phase),
    rows,
    plan: buildPlan(rows, byName, opts),
    dryRunSemantics,
  };
}

/** Nets the dry-run decisions (phase DryRun) of each workload; rows oldest first, as the digest holds them. */
export function buildPlan(
  rows: readonly DigestRow[],
  decisions: ReadonlyMap<string, ReportableDecision>,
  ctx: PlanContext = {},
): PlanRow[] {
  const groups = new Map<string, DigestRow[]>();
  for (const r of rows) {
    if (!r.dryRun || r.phase !== "DryRun") continue;
    const d = decisions.get(`${r.namespace}/${r.name}`);
    const target = (d?.spec as DecisionSpecShape | undefined)?.target;
    const key = `${target?.kind ?? "Deployment"}/${target?.namespace ?? r.namespace}/${target?.name ?? r.component}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const plan: PlanRow[] = [];
  for (const [key, list] of groups) {
    const [kind = "", namespace = "", name = ""] = key.split("/");
    const last = list[list.length - 1]!;
    const first = list[0]!;
    const live = ctx.workloadSize?.(kind, namespace, name);
    const today = live ? normalizeSize(live) : last.observed;
    const lastDecision = decisions.get(`${last.namespace}/${last.name}`);
    plan.push({
      tenant: last.tenant,
      namespace,
      component: last.component,
      workload: `${kind}/${name}`,
      ...(today ? { today } : {}),
      todaySource: live ? "workload" : last.observed ? "decision" : "unknown",
      wouldBe: last.after,
      changes: sizeChanges(today, last.after),
      decisions: list.length,
      simulatedBaselines: list.filter((r) => r.baseline === "simulated").length,
      firstAt: first.decidedAt,
      lastAt: last.decidedAt,
      categories: [...new Set(list.map((r) => r.category))],
      boundsHit: boundsHit(last.after, lastDecision ? ctx.bounds?.(lastDecision) : undefined),
      lastDecision: { namespace: last.namespace, name: last.name },
    });
  }
  return plan.sort(
    (a, b) =>
      a.tenant.localeCompare(b.tenant) ||
      a.component.localeCompare(b.component) ||
      a.workload.localeCompare(b.workload),
  );
}

/** "replicas 2 → 3, cpu request 500m → 750m"; "no change" when the latest decision sets today's size. */
export function changesText(changes: readonly PlanChange[]): string {
  if (changes.length === 0) return "no change";
  return changes.map((c) => `${c.field} ${c.today ?? "unset"} → ${c.wouldBe}`).join(", ");
}

// --- CSV ------------------------------------------------------------------------------------------------------

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces, quotes doubled.
 * By hand rather than a library: this and csvLine are the whole writer, and csv.test cases pin the edge cases.
 */
export function csvField(v: string | number | boolean | undefined): string {
  const s = v === undefined ? "" : String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(fields: ReadonlyArray<string | number | boolean | undefined>): string {
  return fields.map(csvField).join(",") + "\r\n";
}

const sizeColumns = (prefix: string) => [
  `${prefix}_replicas`,
  `${prefix}_cpu_request`,
  `${prefix}_memory_request`,
  `${prefix}_cpu_limit`,
  `${prefix}_memory_limit`,
];
const sizeCells = (s: SizeFields | undefined) => [
  s?.replicas,
  s?.requests.cpu,
  s?.requests.memory,
  s?.limits.cpu,
  s?.limits.memory,
];

/** The digest's decisions as CSV: one row per decision, sizes as one column per field. */
export function renderDigestCsv(d: Digest): string {
  const header = [
    "decided_at",
    "namespace",
    "name",
    "tenant",
    "component",
    "direction",
    "root_cause",
    "phase",
    "dry_run",
    "baseline",
    ...sizeColumns("before"),
    ...sizeColumns("after"),
    ...sizeColumns("observed"),
    "delivery",
    "summary",
  ];
  const lines = d.rows.map((r) =>
    csvLine([
      r.decidedAt,
      r.namespace,
      r.name,
      r.tenant,
      r.component,
      r.direction,
      r.category,
      r.phase,
      r.dryRun,
      r.baseline,
      ...sizeCells(r.before),
      ...sizeCells(r.after),
      ...sizeCells(r.observed),
      r.delivery,
      r.summary,
    ]),
  );
  return csvLine(header) + lines.join("");
}

// --- table ----------------------------------------------------------------------------------------------------

/** RFC 3339 in UTC to whole seconds: 2026-12-05T19:20:03Z. */
export function isoSeconds(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function table(header: string[], lines: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [fmt(header), ...lines.map(fmt)];
}

export function renderPlanTable(d: Digest): string {
  if (d.plan.length === 0) return "";
  const lines = d.plan.map((p) => [
    p.tenant,
    p.component,
    `${sizeText(p.today)}${p.todaySource === "decision" ? " (as recorded)" : p.todaySource === "unknown" ? "unknown" : ""}`,
    sizeText(p.wouldBe),
    changesText(p.changes),
    String(p.decisions),
    [
      p.simulatedBaselines ? `${p.simulatedBaselines} from a simulated baseline` : "",
      ...p.boundsHit.map((b) => `bound: ${b}`),
    ]
      .filter(Boolean)
      .join("; "),
  ]);
  return (
    [
      "DRY-RUN PLAN (net per workload: its real size today → what the latest dry-run decision would set)",
      ...table(["TENANT", "COMPONENT", "TODAY", "WOULD BE", "CHANGE", "DECISIONS", "NOTES"], lines),
      "",
    ].join("\n") + "\n"
  );
}

export function renderDigestTable(d: Digest): string {
  const header = ["TIME", "TENANT", "COMPONENT", "DIR", "ROOT CAUSE", "PHASE", "BEFORE", "AFTER"];
  const lines = d.rows.map((r) => [
    isoSeconds(r.decidedAt),
    r.tenant,
    r.component,
    r.direction,
    r.category,
    r.phase,
    `${sizeText(r.before)}${r.baseline === "simulated" ? " (simulated)" : ""}`,
    sizeText(r.after),
  ]);
  const cats = Object.entries(d.byCategory)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const plan = renderPlanTable(d);
  return (
    [
      ...(plan ? [plan.trimEnd(), "", `dry-run: ${d.dryRunSemantics}`, ""] : []),
      ...table(header, lines),
      "",
      `${d.total} decisions (${cats || "none"}) from ${isoSeconds(d.from)} to ${isoSeconds(d.to)}`,
    ].join("\n") + "\n"
  );
}

// --- HTML -----------------------------------------------------------------------------------------------------

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** Extra parts of the page: the dashboard's report adds its charts (src/server/dashboard/report.ts). */
export interface HtmlExtras {
  head?: string;
  /** Placed after the summary, before the tables. */
  charts?: string;
}

/** The digest as one self-contained page: summary, the dry-run plan, then every decision. */
export function renderDigestHtml(d: Digest, title = "metapilot decisions", extras: HtmlExtras = {}): string {
  const cats = Object.entries(d.byCategory)
    .map(([k, v]) => `<li><b>${esc(k)}</b>: ${v}</li>`)
    .join("");
  const size = (s: SizeFields | undefined) => esc(sizeText(s));
  const plan = d.plan
    .map(
      (p) =>
        `<tr data-tenant="${esc(p.tenant)}"><td>${esc(p.tenant)}</td><td>${esc(p.component)}</td><td>${size(p.today)}${p.todaySource === "workload" ? "" : ` <i>(${p.todaySource === "decision" ? "as recorded at the decision" : "unknown"})</i>`}</td><td>${size(p.wouldBe)}</td><td>${esc(changesText(p.changes))}</td><td>${p.decisions}${p.simulatedBaselines ? ` <span class="sim">${p.simulatedBaselines} from a simulated baseline</span>` : ""}</td><td>${p.boundsHit.map((b) => `<span class="bound">${esc(b)}</span>`).join(" ")}</td></tr>`,
    )
    .join("\n");
  const rows = d.rows
    .map(
      (r) =>
        `<tr class="${esc(r.direction.toLowerCase())}"><td>${esc(isoSeconds(r.decidedAt))}</td><td>${esc(r.tenant)}</td><td>${esc(r.component)}</td><td>${esc(r.direction)}</td><td>${esc(r.category)}</td><td>${esc(r.phase)}</td><td>${size(r.before)}${r.baseline === "simulated" ? ' <span class="sim">simulated</span>' : ""}</td><td>${size(r.after)}</td><td>${esc(r.summary)}</td></tr>`,
    )
    .join("\n");
  const planSection = d.plan.length
    ? `<h2>Dry-run plan: today → would be</h2><p class="note">${esc(d.dryRunSemantics)}</p>
<table id="plan"><thead><tr><th>tenant</th><th>component</th><th>today</th><th>would be</th><th>change</th><th>decisions</th><th>bounds hit</th></tr></thead><tbody>
${plan}
</tbody></table>`
    : "";
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}tr.up td:nth-child(4){color:#b00}tr.down td:nth-child(4){color:#070}.sim,.bound{font-size:12px;padding:0 4px;border-radius:3px;background:#fdebd0}.bound{background:#fadbd8}.note{color:#555;max-width:60em}.chart{position:relative;height:240px;margin-bottom:1em}</style>${extras.head ?? ""}</head>
<body><h1>${esc(title)}</h1><p>${esc(isoSeconds(d.from))} – ${esc(isoSeconds(d.to))}: <b>${d.total}</b> decisions</p><ul>${cats}</ul>
${planSection}
${extras.charts ?? ""}
<h2>Decisions</h2>
<table id="decisions"><thead><tr><th>time (UTC)</th><th>tenant</th><th>component</th><th>direction</th><th>root cause</th><th>phase</th><th>before</th><th>after</th><th>summary</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
