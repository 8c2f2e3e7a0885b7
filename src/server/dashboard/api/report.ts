// The decision digest over a period as JSON, HTML or CSV: the same digest as `metapilot report`, with the dry-run
// plan's "today" read from the workload caches and its bounds from the governing ClusterScaler.
import { renderDigestCsv, type Digest } from "../../../scaler/reports.js";
import { planContext, renderReportHtml, reportDigest, type ReportQuery } from "../report.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { BadRequest, boolParam, send, sendJson, textParam, type ApiRoute } from "./http.js";

/** The report digest from the caches, with the dry-run plan's today and bounds. */
export function digestFor(deps: ApiDeps, query: ReportQuery): Digest {
  const { caches } = deps;
  const context = planContext({
    workload: (kind, namespace, name) =>
      (kind === "StatefulSet" ? caches.statefulSets : caches.deployments).get(`${namespace}/${name}`),
    clusterScalers: caches.clusterScalers?.list() ?? [],
    tenant: (name) => caches.tenants.get(name),
  });
  return reportDigest(caches.decisions.list(), query, nowOf(deps), context);
}

const reportFormats = ["json", "html", "csv"] as const;

export const reportRoute: ApiRoute = {
  path: "/api/report",
  query: "?since=24h&until=&tenant=&dryRunOnly=true|false&format=json|html|csv",
  handle: (deps, { query }, res) => {
    const format = query.get("format") ?? "json";
    if (!reportFormats.includes(format as (typeof reportFormats)[number]))
      throw new BadRequest("format must be json, html or csv");
    const reportQuery: ReportQuery = {
      since: textParam(query, "since"),
      until: textParam(query, "until"),
      tenant: textParam(query, "tenant"),
      dryRunOnly: boolParam(query, "dryRunOnly"),
    };
    const digest = digestFor(deps, reportQuery);
    if (format === "html") {
      const title = reportQuery.dryRunOnly ? "metapilot dry-run decisions" : "metapilot decisions";
      const html = renderReportHtml(digest, deps.caches.decisions.list(), title);
      return send(res, 200, html, "text/html; charset=utf-8");
    }
    if (format === "csv") return send(res, 200, renderDigestCsv(digest), "text/csv; charset=utf-8");
    return sendJson(res, 200, digest);
  },
};
