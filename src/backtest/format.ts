// The backtest report as a table (the policies side by side, one column each, then coverage and what is missing)
// or as JSON (everything, with each policy's timeline of decisions per tenant).
import { renderBacktestHtml } from "./html.js";
import { coverageSignals } from "./replay.js";
import type { BacktestReport } from "./run.js";
import { summaryRows } from "./summary-rows.js";

export const backtestFormats = ["table", "json", "html"] as const;
export type BacktestFormat = (typeof backtestFormats)[number];

function table(lines: string[][]): string {
  const widths: number[] = [];
  for (const line of lines) line.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    lines
      .map((line) =>
        line
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

export function renderBacktestTable(r: BacktestReport): string {
  const out: string[] = [];
  out.push(
    `Backtest ${r.from} → ${r.to}, ${r.steps} steps of ${r.stepSeconds}s, ${r.queries} Prometheus queries` +
      (r.partial ? " (PARTIAL: see missing below)" : "") +
      "\n\n",
  );
  out.push(
    table([
      ["", ...r.policies.map((p) => p.name)],
      ...summaryRows.map(([label, f]) => [label, ...r.policies.map((p) => f(p.summary))]),
    ]),
  );
  out.push("\nCoverage (steps with data, per signal):\n");
  out.push(
    table([
      ["SIGNAL", "COVERAGE", "GAPS"],
      ...coverageSignals.map((s) => [s, `${r.coverage[s].percent}%`, String(r.coverage[s].gaps)]),
    ]),
  );
  if (r.rejectedSteps > 0)
    out.push(`${r.rejectedSteps} steps rejected whole: Prometheus answered a negative usage value (as live).\n`);
  if (r.missing.length > 0) {
    out.push("\nMissing (failed queries; their metric is missing over the range, no scale-down was made on it):\n");
    for (const m of r.missing) out.push(`  ${m.metric} ${m.from} → ${m.to}: ${m.error}\n`);
  }
  for (const p of r.policies) {
    const changes = Object.values(p.timeline).flat();
    out.push(`\n${p.name} (${p.source}): ${changes.length} decisions`);
    out.push(p.notGoverned ? `; ${p.notGoverned} workloads it does not govern\n` : "\n");
    const shown = changes.sort((a, b) => a.at.localeCompare(b.at)).slice(0, 20);
    for (const e of shown) out.push(`  ${e.at}  ${e.action === "blocked" ? "BLOCKED " : ""}${e.summary}\n`);
    if (changes.length > shown.length) out.push(`  … ${changes.length - shown.length} more in -o json\n`);
  }
  out.push("\nNotes:\n" + r.notes.map((n) => `  - ${n}\n`).join(""));
  return out.join("");
}

export function renderBacktest(r: BacktestReport, format: BacktestFormat): string {
  if (format === "json") return JSON.stringify(r, null, 2) + "\n";
  if (format === "html") return renderBacktestHtml(r);
  return renderBacktestTable(r);
}
