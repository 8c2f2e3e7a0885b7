// `metapilot report`: the ScalingDecisions of a period as a table, JSON, YAML or HTML. One paginated LIST of
// ScalingDecisions (server-side filtered by tenant label when --tenant is given); the digest is the one the
// dashboard's /api/report serves, so `-o json` and GET /api/report?format=json have the same shape.
import { Command, Option } from "commander";
import { stringify } from "yaml";
import { KubeClient } from "../kube/client.js";
import { Resources } from "../kube/resources.js";
import { renderDigestHtml, renderDigestTable, type Digest, type ReportableDecision } from "../scaler/reports.js";
import { reportDigest } from "../server/dashboard/report.js";
import { userAgent } from "../version.js";
import { loadKubeConfig } from "./kubeconfig.js";
import { addApiserverTimeoutFlag, addKubeFlags, waitForApiserverFlag, type KubeFlags } from "./common-flags.js";

export type ReportFormat = "table" | "json" | "yaml" | "html";

interface ReportFlags extends KubeFlags {
  since: string;
  until?: string;
  dryRunOnly?: boolean;
  tenant?: string;
  output: ReportFormat;
  apiserverTimeout: string;
}

export function renderReport(digest: Digest, format: ReportFormat, dryRunOnly = false): string {
  switch (format) {
    case "json":
      return JSON.stringify(digest, null, 2) + "\n";
    case "yaml":
      return stringify(digest);
    case "html":
      return renderDigestHtml(digest, dryRunOnly ? "metapilot dry-run decisions" : "metapilot decisions");
    default:
      return renderDigestTable(digest);
  }
}

/** Reads the decisions with one paginated LIST and builds the digest. */
export async function collectReport(
  client: KubeClient,
  q: { since: string; until?: string; dryRunOnly?: boolean; tenant?: string; namespace?: string },
  now = Date.now(),
): Promise<Digest> {
  const { items } = await client.listAll<ReportableDecision>(Resources.ScalingDecision, {
    namespace: q.namespace,
    labelSelector: q.tenant ? `metapilot.io/tenant=${q.tenant}` : undefined,
    limit: 500,
  });
  return reportDigest(items, q, now);
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
      new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml", "html"]).default("table"),
    )
    .action(async (flags: ReportFlags) => {
      const kc = loadKubeConfig(flags);
      const client = new KubeClient(kc, { userAgent: `${userAgent} report`, maxRetries: 2 });
      await waitForApiserverFlag(client, kc, flags);
      const digest = await collectReport(client, flags);
      process.stdout.write(renderReport(digest, flags.output, flags.dryRunOnly ?? false));
    });
}
