// The rows of a backtest summary, shared by the table and the HTML page.
import type { Summary } from "./run.js";

/** The summary's rows, as the table and the HTML page show them. */
export const summaryRows: Array<[string, (s: Summary) => string]> = [
  ["tenants / workloads", (s) => `${s.tenants} / ${s.workloads}`],
  ["OOM kills in history", (s) => String(s.oomKills)],
  ["  prevented (limit raised before)", (s) => String(s.oomPrevented)],
  ["  median lead, minutes", (s) => String(s.oomLeadMinutes)],
  ["  answered after the kill", (s) => String(s.oomAnswered)],
  ["  lost (neither)", (s) => String(s.oomLost)],
  ["slack CPU-hours before → after", (s) => `${s.slackCpuHoursBefore} → ${s.slackCpuHoursAfter}`],
  ["slack GiB-hours before → after", (s) => `${s.slackGiBHoursBefore} → ${s.slackGiBHoursAfter}`],
  ["under-provisioned hours before → after", (s) => `${s.underProvisionedHoursBefore} → ${s.underProvisionedHours}`],
  ["changes (up / down)", (s) => `${s.changes} (${s.scaleUps} / ${s.scaleDowns})`],
  ["rolling updates (restarts) / in-place resizes", (s) => `${s.restartsRolling} / ${s.restartsInPlace}`],
  ["bound hits", (s) => String(s.boundHits)],
  ["budget hits", (s) => String(s.budgetHits)],
  ["scale-downs held for data", (s) => String(s.heldForData)],
  ["usage coverage %", (s) => String(s.coverage)],
];
