// `metapilot report`: the ScalingDecisions of a period as a table, JSON, YAML, CSV or HTML. One paginated LIST of
// ScalingDecisions (server-side filtered by tenant label when --tenant is given); the digest is the one the
// dashboard's /api/report serves, so `-o json` and GET /api/report?format=json have the same shape. The dry-run
// plan's "today" needs the workloads and its bounds the ClusterScalers: two more LISTs by tenant label, and one of
// ClusterScalers; without access to them the plan says "as recorded" and names no bounds.
import { Command, Option } from "commander";
import { stringify } from "yaml";
import { KubeClient } from "../kube/client.js";
import { Resources } from "../kube/resources.js";
import { ApiError } from "../kube/errors.js";
import type { KubeObject } from "../kube/resources.js";
import {
  renderDigestCsv,
  renderDigestTable,
  type Digest,
  type PlanContext,
  type ReportableDecision,
} from "../scaler/reports.js";
import { planContext, renderReportHtml, reportDigest } from "../server/dashboard/report.js";
import { userAgent } from "../version.js";
import { loadKubeConfig } from "./kubeconfig.js";
import { addApiserverTimeoutFlag, addKubeFlags, waitForApiserverFlag, type KubeFlags } from "./common-flags.js";
import { tenantLabel } from "../api/labels.js";

export const reportFormats = ["table", "json", "yaml", "csv", "html"] as const;
export type ReportFormat = (typeof reportFormats)[number];

interface ReportFlags extends KubeFlags {
  since: string;
  until?: string;
  dryRunOnly?: boolean;
  tenant?: string;
  output: ReportFormat;
  apiserverTimeout: string;
}

/** `decisions` feed the HTML page's evidence charts; the other formats need only the digest. */
export function renderReport(
  digest: Digest,
  format: ReportFormat,
  dryRunOnly = false,
  decisions: readonly ReportableDecision[] = [],
): string {
  switch (format) {
    case "json":
      return JSON.stringify(digest, null, 2) + "\n";
    case "yaml":
      return stringify(digest);
    case "csv":
      return renderDigestCsv(digest);
    case "html":
      return renderReportHtml(digest, decisions, dryRunOnly ? "metapilot dry-run decisions" : "metapilot decisions");
    default:
      return renderDigestTable(digest);
  }
}

type ReportQuery = { since: string; until?: string; dryRunOnly?: boolean; tenant?: string; namespace?: string };

/** Reads the decisions with one paginated LIST and builds the digest. */
export async function collectReport(
  client: KubeClient,
  query: ReportQuery,
  now = Date.now(),
  ctx: PlanContext = {},
): Promise<Digest> {
  return reportDigest(await listDecisions(client, query), query, now, ctx);
}

export async function listDecisions(client: KubeClient, query: ReportQuery): Promise<ReportableDecision[]> {
  const { items } = await client.listAll<ReportableDecision>(Resources.ScalingDecision, {
    namespace: query.namespace,
    labelSelector: query.tenant ? `${tenantLabel}=${query.tenant}` : undefined,
    limit: 500,
  });
  return items;
}

/**
 * Today's sizes and the bounds for the dry-run plan: the tenants' Deployments and StatefulSets (by tenant label)
 * and the ClusterScalers and TenantControlPlanes. A kind this user may not list (403) or that is not installed (404)
 * is left out, with a warning: the plan then says "as recorded" or names no bounds.
 */
export async function collectPlanContext(
  client: KubeClient,
  query: ReportQuery,
  warn: (message: string) => void = () => undefined,
): Promise<PlanContext> {
  const labelSelector = query.tenant ? `${tenantLabel}=${query.tenant}` : tenantLabel;
  const list = async (
    r: (typeof Resources)[keyof typeof Resources],
    opts: { namespace?: string; labelSelector?: string },
  ) => {
    try {
      return (await client.listAll<KubeObject>(r, { ...opts, limit: 500 })).items;
    } catch (err) {
      if (err instanceof ApiError && (err.statusCode === 403 || err.statusCode === 404)) {
        warn(`cannot list ${r.plural} (${err.message}): the dry-run plan goes on without them`);
        return [];
      }
      throw err;
    }
  };
  const [deployments, statefulSets, clusterScalers, tenants] = await Promise.all([
    list(Resources.Deployment, { namespace: query.namespace, labelSelector }),
    list(Resources.StatefulSet, { namespace: query.namespace, labelSelector }),
    list(Resources.ClusterScaler, {}),
    list(Resources.TenantControlPlane, {}),
  ]);
  const key = (o: KubeObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
  const byKind = {
    Deployment: new Map(deployments.map((o) => [key(o), o])),
    StatefulSet: new Map(statefulSets.map((o) => [key(o), o])),
  };
  const tenantByName = new Map(tenants.map((t) => [t.metadata?.name ?? "", t]));
  return planContext({
    workload: (kind, namespace, name) =>
      (kind === "StatefulSet" ? byKind.StatefulSet : byKind.Deployment).get(`${namespace}/${name}`),
    clusterScalers,
    tenant: (name) => tenantByName.get(name),
  });
}

export function reportCommand(): Command {
  const cmd = addKubeFlags(
    new Command("report").description(
      "summarise ScalingDecisions over a period (the dashboard's /api/report, from the command line)",
    ),
    "only decisions in this namespace (default: all)",
  );
  return addApiserverTimeoutFlag(cmd)
    .option("--since <when>", "start of the period: a duration back from now (24h, 90m, 7d) or an RFC 3339 time", "24h")
    .option("--until <when>", "end of the period, same forms as --since (default: now)")
    .option("--dry-run-only", "only decisions that were recorded but not applied")
    .option("--tenant <name>", "only this tenant's decisions")
    .addOption(
      new Option(
        "-o, --output <format>",
        "output format: table (the dry-run plan, then every decision), json, yaml, csv (one row per decision), " +
          "or html (a page with the dashboard's charts)",
      )
        .choices(reportFormats)
        .default("table"),
    )
    .action(async (flags: ReportFlags) => {
      const kc = loadKubeConfig(flags);
      const client = new KubeClient(kc, { userAgent: `${userAgent} report`, maxRetries: 2 });
      await waitForApiserverFlag(client, kc, flags);
      const [decisions, ctx] = await Promise.all([
        listDecisions(client, flags),
        flags.output === "csv"
          ? Promise.resolve({})
          : collectPlanContext(client, flags, (m) => process.stderr.write(`metapilot: warning: ${m}\n`)),
      ]);
      const digest = reportDigest(decisions, flags, Date.now(), ctx);
      process.stdout.write(renderReport(digest, flags.output, flags.dryRunOnly ?? false, decisions));
    });
}
