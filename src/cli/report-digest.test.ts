import { describe, expect, it } from "vitest";
import type { KubeClient } from "../kube/client.js";
import type { ReportableDecision } from "../scaler/reports.js";
import { reportDigest } from "../server/dashboard/report.js";
import { collectReport, renderReport } from "./report.js";

const now = Date.parse("2030-01-02T12:00:00Z");

function decision(name: string, tenant: string, minutesAgo: number, dryRun: boolean): ReportableDecision {
  const namespace = `tcp-${tenant}`;
  return {
    metadata: {
      name,
      namespace,
      labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver" },
    },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace, tenant },
      component: "kube-apiserver",
      direction: "Up",
      dryRun,
      scaler: "cpu",
      decidedAt: new Date(now - minutesAgo * 60_000).toISOString(),
      rootCause: { category: "CPUSaturation", summary: `CPUSaturation on ${tenant}`, evidence: [] },
      before: { replicas: 2, resources: { requests: { cpu: "500m" } } },
      after: { replicas: 2, resources: { requests: { cpu: "750m" } } },
    },
    status: { phase: dryRun ? "DryRun" : "Applied" },
  };
}

describe("metapilot report", () => {
  const items = [
    decision("cpu-1", "alpha", 60, true),
    decision("cpu-2", "beta", 120, true),
    decision("applied", "alpha", 30, false),
    decision("old", "alpha", 3 * 24 * 60, true),
  ];

  it("builds the digest the dashboard's /api/report serves, from one paginated LIST", async () => {
    const calls: unknown[] = [];
    const client = {
      listAll: (...args: unknown[]) => {
        calls.push(args[1]);
        return Promise.resolve({ items, resourceVersion: "1" });
      },
    } as unknown as KubeClient;
    const digest = await collectReport(client, { since: "24h", dryRunOnly: true }, now);
    expect(digest).toEqual(reportDigest(items, { since: "24h", dryRunOnly: true }, now));
    expect(digest.rows.map((r) => r.name)).toEqual(["cpu-2", "cpu-1"]);
    expect(calls).toEqual([{ namespace: undefined, labelSelector: undefined, limit: 500 }]);
    expect(JSON.parse(renderReport(digest, "json"))).toEqual(digest);
    expect(renderReport(digest, "table")).toMatch(/2 decisions \(CPUSaturation=2\)/);
    expect(renderReport(digest, "yaml")).toMatch(/^from: /);
  });

  it("asks the apiserver for one tenant's decisions by label", async () => {
    const calls: unknown[] = [];
    const client = {
      listAll: (...args: unknown[]) => {
        calls.push(args[1]);
        return Promise.resolve({ items: [], resourceVersion: "1" });
      },
    } as unknown as KubeClient;
    await collectReport(client, { since: "24h", tenant: "alpha" }, now);
    expect(calls).toEqual([{ namespace: undefined, labelSelector: "metapilot.io/tenant=alpha", limit: 500 }]);
  });
});
