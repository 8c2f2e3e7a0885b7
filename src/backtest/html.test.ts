import { describe, expect, it } from "vitest";
import { renderBacktestHtml } from "./html.js";
import type { BacktestReport, PolicyResult, Summary } from "./run.js";
import { coverageSignals } from "./replay.js";

const summary = (changes: number) => ({ tenants: 1, workloads: 1, changes, restarts: changes }) as unknown as Summary;
const policy = (name: string, changes: number, timeline: PolicyResult["timeline"]): PolicyResult => ({
  name,
  source: `${name}.yaml`,
  summary: { ...summary(changes), coverage: 100 } as Summary,
  timeline,
  oomKills: [],
  notGoverned: 0,
});
const entry = (at: string, text: string) => ({
  at,
  workload: "Deployment/kube-apiserver",
  component: "kube-apiserver",
  action: "change" as const,
  direction: "Down" as const,
  category: "Underutilized",
  scaler: "cpu",
  summary: text,
  before: { replicas: 1 },
  after: { replicas: 1 },
});

const report: BacktestReport = {
  from: "2026-12-01T00:00:00.000Z",
  to: "2026-12-01T02:00:00.000Z",
  stepSeconds: 30,
  steps: 241,
  queries: 11,
  coverage: Object.fromEntries(coverageSignals.map((s) => [s, { percent: 50, gaps: 1 }])) as BacktestReport["coverage"],
  rejectedSteps: 0,
  missing: [
    {
      metric: "memory",
      from: "2026-12-01T01:00:00.000Z",
      to: "2026-12-01T02:00:00.000Z",
      error: "Prometheus server: 503",
    },
  ],
  partial: true,
  notes: ["a note"],
  policies: [
    policy("fast", 2, {
      a: [entry("2026-12-01T00:05:00.000Z", "down </script><b>x</b>"), entry("2026-12-01T00:10:00.000Z", "down")],
    }),
    policy("slow", 1, { a: [entry("2026-12-01T00:30:00.000Z", "down")] }),
  ],
};

describe("renderBacktestHtml", () => {
  const html = renderBacktestHtml(report, { chartJs: "/*chart.js*/", charts: "/*charts.js*/" });

  it("puts the policies side by side and each one's decisions on a timeline chart", () => {
    expect(html).toMatch(/<tr><th><\/th><th>fast<\/th><th>slow<\/th><\/tr>/);
    expect(html).toContain("<td>changes (up / down)</td>");
    expect(html).toContain('<canvas id="timeline-0"');
    expect(html).toContain('<canvas id="timeline-1"');
    const data = JSON.parse(
      /<script id="backtest-data" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? "[]",
    );
    expect(data.map((t: { decisions: unknown[] }) => t.decisions.length)).toEqual([2, 1]);
    expect(data[0].decisions[0]).toMatchObject({
      decidedAt: "2026-12-01T00:05:00.000Z",
      tenant: "a",
      direction: "Down",
    });
  });

  it("says it is partial and what is missing, and no summary text can end a script early", () => {
    expect(html).toContain("(partial)");
    expect(html).toContain("<td>memory</td><td>2026-12-01T01:00:00.000Z</td>");
    expect(html).not.toContain("</script><b>");
  });
});
