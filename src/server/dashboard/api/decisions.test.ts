// Decisions from the cache: filters by period, tenant, category and dry-run, and one decision's evidence chart
// with and without Prometheus.
import { describe, expect, it } from "vitest";
import type { SeriesSource } from "../evidence.js";
import { decisionDetail, listDecisions } from "./decisions.js";
import { largeFleet, largeFleetTenant, smallFleet, smallFleetNow as now } from "./testing.js";

describe("decisions", () => {
  it("filters by since, tenant, category and dry-run, newest first", () => {
    const deps = smallFleet();
    expect(listDecisions(deps, {}).decisions.map((d) => d.name)).toEqual(["oom-1", "cpu-1", "cpu-2"]);
    expect(listDecisions(deps, { since: "7d" }).total).toBe(4);
    expect(listDecisions(deps, { since: "90m" }).decisions.map((d) => d.name)).toEqual(["oom-1", "cpu-1"]);
    expect(listDecisions(deps, { tenant: "beta" }).decisions.map((d) => d.name)).toEqual(["cpu-2"]);
    expect(listDecisions(deps, { category: "CPUSaturation" }).total).toBe(2);
    expect(listDecisions(deps, { dryRun: true }).decisions.map((d) => d.name)).toEqual(["cpu-1", "cpu-2"]);
    expect(listDecisions(deps, { dryRun: false }).decisions.map((d) => d.name)).toEqual(["oom-1"]);
    expect(listDecisions(deps, { limit: 1 }).decisions).toHaveLength(1);
    expect(listDecisions(deps, { since: new Date(now - 7_000_000).toISOString() }).total).toBe(2);
    expect(listDecisions(deps, {}).decisions[0]?.scaler).toBe("oom");
    expect(() => listDecisions(deps, { since: "yesterday" })).toThrow(/since/);
  });

  it("draws the evidence from the decision itself without Prometheus, and says so", async () => {
    const detail = await decisionDetail(smallFleet(), "tcp-alpha", "oom-1");
    expect(detail?.decision.metadata?.name).toBe("oom-1");
    expect(detail?.chart.source).toBe("decision-evidence");
    expect(detail?.chart.note).toMatch(/no Prometheus/);
    expect(detail?.chart.series[0]?.points).toEqual([{ t: now - 60_500, v: 2 ** 30 }]);
    expect(detail?.chart.threshold?.value).toBe(2 ** 30);
    expect(await decisionDetail(smallFleet(), "tcp-alpha", "nope")).toBeUndefined();
  });

  it("asks Prometheus for the signal around the decision, with the threshold", async () => {
    const calls: Array<{ promql: string; start: Date; end: Date; step: number }> = [];
    const series: SeriesSource = {
      queryRange: (promql, start, end, step) => {
        calls.push({ promql, start, end, step });
        const startSeconds = start.getTime() / 1000;
        return Promise.resolve([
          {
            labels: { pod: "kube-apiserver-0" },
            points: [0, 1, 2].map((i): [number, number] => [(startSeconds + i * step) * 1000, 900 * 2 ** 20 + i]),
          },
        ]);
      },
    };
    const detail = await decisionDetail(smallFleet({ series, rateWindow: "2m" }), "tcp-alpha", "oom-1");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.promql).toBe(
      'max by (pod) (container_memory_working_set_bytes{namespace="tcp-alpha",container="kube-apiserver"})',
    );
    expect(calls[0]!.start.getTime()).toBe(now - 60_000 - 15 * 60_000);
    expect(calls[0]!.end.getTime()).toBe(now); // decision + 5 min is in the future: cut at now
    expect(detail?.chart).toMatchObject({ source: "prometheus", unit: "bytes", threshold: { value: 2 ** 30 } });
    expect(detail?.chart.series[0]?.points).toHaveLength(3);
    expect(detail?.chart.note).toBeUndefined();
  });

  it("falls back to the recorded evidence when Prometheus fails or has nothing", async () => {
    const failing: SeriesSource = { queryRange: () => Promise.reject(new Error("connection refused")) };
    const failed = await decisionDetail(smallFleet({ series: failing }), "tcp-alpha", "cpu-1");
    expect(failed?.chart).toMatchObject({ source: "decision-evidence", unit: "ratio", threshold: { value: 0.8 } });
    expect(failed?.chart.note).toMatch(/failed \(connection refused\)/);
    expect(failed?.chart.series[0]?.points[0]?.v).toBe(0.93);
    const empty: SeriesSource = { queryRange: () => Promise.resolve([]) };
    const nothing = await decisionDetail(smallFleet({ series: empty }), "tcp-alpha", "cpu-1");
    expect(nothing?.chart.note).toMatch(/no samples/);
  });

  it("says whether an ops center is configured, so no delivery state is shown without one", async () => {
    const tenant = largeFleetTenant(0);
    const without = await decisionDetail(largeFleet(1), `tcp-${tenant}`, `d-${tenant}`);
    expect(without?.opsCenter).toBe(false);
    expect(without?.row?.baseline).toBe("workload");
    const withOne = await decisionDetail(largeFleet(1, true), `tcp-${tenant}`, `d-${tenant}`);
    expect(withOne?.opsCenter).toBe(true);
  });
});
