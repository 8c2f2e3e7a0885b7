// The output formats of `metapilot report` and `metapilot recommend` that are data (JSON with structured sizes,
// CSV) or a page (HTML with the dashboard's charts; recommendations with limits).
import { describe, expect, it } from "vitest";
import type { RecommendationRow } from "../recommender/oneshot.js";
import { buildDigest, type ReportableDecision } from "../scaler/reports.js";
import { formatRecommendations } from "./recommend.js";
import { renderReport } from "./report.js";

const t0 = Date.parse("2026-12-05T12:00:00Z");
const decisions: ReportableDecision[] = [
  {
    metadata: { name: "oom-1", namespace: "tcp-a", annotations: {} },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-a", tenant: "a" },
      component: "kube-apiserver",
      direction: "Up",
      dryRun: false,
      decidedAt: new Date(t0).toISOString(),
      rootCause: {
        category: "OOMKilled",
        summary: 'OOM kill of "kube-apiserver-1", limit 1Gi',
        evidence: [
          {
            signal: "container_oom_killed",
            value: "kube-apiserver-1",
            threshold: "limit 1Gi",
            observedAt: new Date(t0 - 5000).toISOString(),
          },
          { signal: "memory_working_set_bytes", value: "1000Mi", observedAt: new Date(t0 - 20_000).toISOString() },
        ],
      },
      before: { replicas: 2, resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
      after: { replicas: 2, resources: { requests: { cpu: "500m", memory: "615Mi" }, limits: { memory: "1229Mi" } } },
    },
    status: { phase: "Applied" },
  },
];
const digest = buildDigest(decisions, new Date(t0 - 3_600_000), new Date(t0 + 60_000));

describe("metapilot report formats", () => {
  it("-o json carries before and after as structured fields", () => {
    const rows = (JSON.parse(renderReport(digest, "json")) as typeof digest).rows;
    expect(rows[0]?.before).toEqual({
      replicas: 2,
      requests: { cpu: "500m", memory: "512Mi" },
      limits: { memory: "1Gi" },
    });
    expect(rows[0]?.after.limits.memory).toBe("1229Mi");
  });

  it("-o csv writes a header and one quoted row per decision", () => {
    const [header, row, end] = renderReport(digest, "csv").split("\r\n");
    expect(header).toMatch(
      /^decided_at,namespace,name,tenant,component,direction,root_cause,phase,dry_run,baseline,before_replicas,/,
    );
    expect(row).toContain(',"OOM kill of ""kube-apiserver-1"", limit 1Gi"');
    expect(row).toMatch(
      /^2026-12-05T12:00:00.000Z,tcp-a,oom-1,a,kube-apiserver,Up,OOMKilled,Applied,false,workload,2,500m,512Mi,,1Gi,2,500m,615Mi,,1229Mi,/,
    );
    expect(end).toBe("");
  });

  it("-o html is one page with chart.js, the dashboard's charts and their data", () => {
    const html = renderReport(digest, "html", false, decisions);
    expect(html).toContain("window.metapilotDraw");
    // The CRD's root-cause categories, inlined before the charts that read them (src/server/dashboard/contract.ts).
    expect(html.indexOf("window.metapilotContract = ")).toBeGreaterThan(-1);
    expect(html.indexOf("window.metapilotContract = ")).toBeLessThan(html.indexOf("window.metapilotDraw"));
    expect(html).toMatch(/Chart\.js v4/);
    expect(html).toContain('<canvas id="timeline"');
    expect(html).toContain('<canvas id="evidence-0"');
    const data = JSON.parse(/<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as {
      evidence: Array<{ chart: { series: Array<{ label: string }>; threshold?: { value: number } } }>;
    };
    expect(data.evidence[0]?.chart.series.map((s) => s.label)).toContain("memory_working_set_bytes");
    expect(data.evidence[0]?.chart.threshold?.value).toBe(2 ** 30);
    // Nothing in the data can close the script element early: chart.js, the contract, the charts, the data, the start.
    expect(html.match(/<\/script>/g)?.length).toBe(5);
  });
});

describe("metapilot recommend formats", () => {
  const rows: RecommendationRow[] = [
    {
      namespace: "tcp-a",
      kind: "Deployment",
      workload: "kube-apiserver",
      container: "kube-apiserver",
      reason: "Recommended",
      cpuRequest: "1",
      cpuTarget: "588m",
      cpuLower: "400m",
      cpuUpper: "900m",
      memoryRequest: "1Gi",
      memoryTarget: "2839Mi",
      memoryLower: "2000Mi",
      memoryUpper: "3500Mi",
      cpuLimit: "2",
      memoryLimit: "1Gi",
      cpuLimitTarget: null,
      memoryLimitTarget: "3500Mi",
      confidenceDays: 2.5,
      oomKills: 3,
      memoryTargetWithoutOomKills: "933Mi",
    },
  ];

  it("adds limit recommendations to the table: no CPU limit, memory at the upper bound", () => {
    const table = formatRecommendations(rows, "table");
    expect(table).toMatch(/CPU LIMIT\s+MEMORY LIMIT/);
    expect(table).toContain("2 → none");
    expect(table).toContain("1Gi → 3500Mi (+242%)");
  });

  it("-o csv has one column per request, bound and limit", () => {
    const [header, row] = formatRecommendations(rows, "csv").split("\r\n");
    const h = header!.split(",");
    const r = row!.split(",");
    const col = (n: string) => r[h.indexOf(n)];
    expect(col("memory_request_target")).toBe("2839Mi");
    expect(col("memory_limit")).toBe("1Gi");
    expect(col("memory_limit_target")).toBe("3500Mi");
    expect(col("cpu_limit_target")).toBe("none");
    expect(col("oom_kills")).toBe("3");
  });

  it("-o html is a page with requests and limits per container", () => {
    const html = formatRecommendations(rows, "html", new Date(t0));
    expect(html).toContain('data-workload="tcp-a/kube-apiserver/kube-apiserver"');
    expect(html).toContain("1Gi → 2839Mi (+177%)");
    expect(html).toContain("1Gi → 3500Mi (+242%)");
    expect(html).toContain("memory raised by 3 OOM kills (history alone: 933Mi)");
    expect(html).toContain("2026-12-05T12:00:00.000Z");
  });
});
