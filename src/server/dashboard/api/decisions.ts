// ScalingDecisions: the list over a period with filters, newest first, and one decision with its evidence chart
// (from Prometheus around the decision, else from the evidence recorded in it).
import { buildDigest, type DigestRow } from "../../../scaler/reports.js";
import { evidenceChart, type EvidenceChart } from "../evidence.js";
import { reportDigest, reportWindow } from "../report.js";
import { nowOf, type ApiDeps, type DecisionObject } from "./deps.js";
import { BadRequest, boolParam, sendJson, textParam, type ApiRoute } from "./http.js";

export interface DecisionQuery {
  since?: string;
  until?: string;
  tenant?: string;
  category?: string;
  dryRun?: boolean;
  limit?: number;
}

export interface DecisionList {
  from: string;
  to: string;
  total: number;
  /** Newest first; at most `limit`. */
  decisions: Array<DigestRow & { scaler?: string }>;
}

export function listDecisions(deps: ApiDeps, query: DecisionQuery): DecisionList {
  const digest = reportDigest(
    deps.caches.decisions.list(),
    { since: query.since, until: query.until, tenant: query.tenant, dryRunOnly: query.dryRun === true },
    nowOf(deps),
  );
  let rows = digest.rows;
  if (query.dryRun === false) rows = rows.filter((row) => !row.dryRun);
  if (query.category) rows = rows.filter((row) => row.category === query.category);
  rows = [...rows].reverse();
  const limit = query.limit ?? 500;
  return {
    from: digest.from,
    to: digest.to,
    total: rows.length,
    decisions: rows.slice(0, limit).map((row) => ({
      ...row,
      scaler: deps.caches.decisions.get(`${row.namespace}/${row.name}`)?.spec?.scaler,
    })),
  };
}

export interface DecisionDetail {
  decision: DecisionObject;
  chart: EvidenceChart;
  /** Whether an ops center is configured (else the decision's delivery state means nothing). */
  opsCenter: boolean;
  /** Dry-run decisions: the workload's real size at the decision, and whether "before" was a simulated size. */
  row?: DigestRow;
}

/** The workload's main container: the one named after the component, else the first (as the scaler picks it). */
function mainContainer(deps: ApiDeps, decision: DecisionObject): string {
  const target = decision.spec?.target;
  const component = decision.spec?.component ?? "";
  const cache = target?.kind === "StatefulSet" ? deps.caches.statefulSets : deps.caches.deployments;
  const containers = cache.get(`${target?.namespace}/${target?.name}`)?.spec?.template?.spec?.containers ?? [];
  if (containers.some((c) => c.name === component)) return component;
  return containers[0]?.name ?? component;
}

export async function decisionDetail(
  deps: ApiDeps,
  namespace: string,
  name: string,
  windowMs?: number,
): Promise<DecisionDetail | undefined> {
  const decision = deps.caches.decisions.get(`${namespace}/${name}`);
  if (!decision) return undefined;
  const chart = await evidenceChart(decision, {
    series: deps.series,
    container: mainContainer(deps, decision),
    rateWindow: deps.rateWindow ?? "1m",
    now: nowOf(deps),
    windowMs,
  });
  const decidedAt = Date.parse(decision.spec?.decidedAt ?? "");
  const row = Number.isNaN(decidedAt)
    ? undefined
    : buildDigest([decision], new Date(decidedAt), new Date(decidedAt)).rows[0];
  return { decision, chart, opsCenter: deps.opsCenter === true, ...(row ? { row } : {}) };
}

export const decisionListRoute: ApiRoute = {
  path: "/api/decisions",
  query: "?since=24h&until=&tenant=&category=&dryRun=true|false&limit=500",
  handle: (deps, { query }, res) => {
    const limit = query.get("limit");
    if (limit !== null && !/^\d+$/.test(limit)) throw new BadRequest("limit must be a whole number");
    return sendJson(
      res,
      200,
      listDecisions(deps, {
        since: textParam(query, "since"),
        until: textParam(query, "until"),
        tenant: textParam(query, "tenant"),
        category: textParam(query, "category"),
        dryRun: boolParam(query, "dryRun"),
        limit: limit === null ? undefined : Number(limit),
      }),
    );
  },
};

export const decisionRoute: ApiRoute = {
  path: "/api/decisions/{namespace}/{name}",
  query: "?window=15m",
  handle: async (deps, { params, query }, res) => {
    const namespace = params.namespace ?? "";
    const name = params.name ?? "";
    const window = query.get("window");
    let windowMs: number | undefined;
    if (window) {
      const now = nowOf(deps);
      windowMs = now - reportWindow({ since: window }, now).from.getTime();
    }
    const detail = await decisionDetail(deps, namespace, name, windowMs);
    if (!detail) return sendJson(res, 404, { error: `no ScalingDecision ${namespace}/${name} in the cache` });
    return sendJson(res, 200, detail);
  },
};
