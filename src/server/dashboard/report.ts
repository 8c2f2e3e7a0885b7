// The decision digest over a period, shared by `metapilot report` and the dashboard's /api/report, so both give
// the same JSON for the same decisions. Periods are durations back from now ("24h", "90m") or RFC 3339 times.
import { parseDuration } from "../../api/common.js";
import { buildDigest, type Digest, type ReportableDecision } from "../../scaler/reports.js";

export interface ReportQuery {
  /** Duration back from now ("24h") or an RFC 3339 time. Default 24h. */
  since?: string;
  /** Same forms as `since`; default now. */
  until?: string;
  dryRunOnly?: boolean;
  tenant?: string;
}

/** A point in time from "24h" or "7d" (that long before `now`) or from an RFC 3339 timestamp. */
export function parseTimeArg(text: string, now: number, what: string): Date {
  const s = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new Error(`${what}: "${text}" is not a valid RFC 3339 time`);
    return new Date(t);
  }
  // Whole days ("7d") read better than "168h" in a report period; Go durations have no day unit.
  const days = /^([0-9]{1,4})d$/.exec(s);
  if (days) return new Date(now - Number(days[1]) * 86_400_000);
  try {
    return new Date(now - parseDuration(s));
  } catch {
    throw new Error(`${what}: "${text}" is neither a duration (24h, 90m, 7d) nor an RFC 3339 time`);
  }
}

export function reportWindow(q: ReportQuery, now: number): { from: Date; to: Date } {
  const from = parseTimeArg(q.since ?? "24h", now, "since");
  const to = q.until ? parseTimeArg(q.until, now, "until") : new Date(now);
  if (from.getTime() > to.getTime())
    throw new Error(`since (${from.toISOString()}) is after until (${to.toISOString()})`);
  return { from, to };
}

export function tenantOf(d: ReportableDecision): string {
  const target = d.spec?.target as { tenant?: string } | undefined;
  return target?.tenant ?? d.metadata?.labels?.["metapilot.io/tenant"] ?? "";
}

/** The digest for a query: the one JSON shape of `metapilot report -o json` and GET /api/report?format=json. */
export function reportDigest(decisions: readonly ReportableDecision[], q: ReportQuery, now: number): Digest {
  const { from, to } = reportWindow(q, now);
  const selected = q.tenant ? decisions.filter((d) => tenantOf(d) === q.tenant) : decisions;
  return buildDigest(selected, from, to, { dryRunOnly: q.dryRunOnly });
}
