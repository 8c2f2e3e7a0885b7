// budgetHitsOf's one pass in time order against the rule written out as it reads (every counted change looked at
// again for every change, and every cron window evaluated afresh): the same count on random changes, tenants and
// budgets, with and without cron windows, OOM scale-ups and their floor.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cronWindow } from "../api/cron.js";
import { DISRUPTION_REASONS, type ClusterScaler, type DisruptionReason } from "../api/index.js";
import { budgetsOf, limitOf } from "../scaler/fleet-budget.js";
import { budgetHitsOf, parsePolicies, type BudgetedChange } from "./run.js";

/** The rule as it reads: quadratic in the changes. */
function reference(cs: ClusterScaler, changes: readonly BudgetedChange[], tenants: number): number {
  const { budgets, oomFloor } = budgetsOf(cs);
  const sorted = [...changes].sort((x, y) => x.at - y.at);
  const counted: BudgetedChange[] = [];
  let hits = 0;
  for (const c of sorted) {
    const active = budgets.filter(
      (b) =>
        b.reasons.some((r) => c.reasons.includes(r)) &&
        (!b.schedule || cronWindow(b.schedule, b.durationMs ?? 0, c.at).active),
    );
    const spent = active.some((b) => {
      const inInterval = counted.filter(
        (d) => d.at > c.at - b.intervalMs && d.reasons.some((r) => b.reasons.includes(r)),
      ).length;
      return inInterval >= limitOf(b.limitSpec, tenants);
    });
    if (spent && c.oom) {
      const floorMs = Math.max(0, ...active.filter((b) => b.reasons.includes("ScaleUp")).map((b) => b.intervalMs));
      const oomOfTenant = counted.filter((d) => d.oom && d.tenant === c.tenant && d.at > c.at - floorMs).length;
      if (oomOfTenant < oomFloor) {
        counted.push(c);
        continue;
      }
    }
    if (spent) hits++;
    else counted.push(c);
  }
  return hits;
}

const t0 = Date.parse("2026-12-01T00:00:00Z");
const reasons = fc.subarray([...DISRUPTION_REASONS], { minLength: 1 });
const budget = fc
  .tuple(
    fc.record({
      limit: fc.oneof(
        fc.integer({ min: 0, max: 4 }).map(String),
        fc.integer({ min: 0, max: 60 }).map((p) => `${p}%`),
      ),
      interval: fc.constantFrom("1m", "5m", "10m", "1h"),
      reasons,
    }),
    fc.option(
      fc.record({
        schedule: fc.constantFrom("*/20 * * * *", "0 * * * *", "30 0 * * *"),
        duration: fc.constantFrom("1m", "5m", "10m", "30m", "2h"),
      }),
    ),
  )
  .map(([b, window]) => ({ ...b, ...window }));
const change = fc.record({
  // Minutes over an hour and a half, on whole minutes and between them: ties, interval edges and window edges all happen.
  at: fc.oneof(fc.integer({ min: 0, max: 90 }), fc.double({ min: 0, max: 90, noNaN: true })),
  tenant: fc.constantFrom("a", "b", "c"),
  oom: fc.boolean(),
  reasons,
});

describe("budgetHitsOf", () => {
  it("counts as the rule written out does", () => {
    fc.assert(
      fc.property(
        fc.array(budget, { maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(change, { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (budgets, oomFloorPerTenant, changes, tenants) => {
          const [cs] = parsePolicies([
            {
              source: "p.yaml",
              raw: {
                apiVersion: "metapilot.io/v1alpha1",
                kind: "ClusterScaler",
                metadata: { name: "p" },
                spec: {
                  components: [{ name: "kube-apiserver" }],
                  disruption: { ...(budgets.length ? { budgets } : {}), oomFloorPerTenant },
                },
              },
            },
          ]);
          const list = changes.map((c) => ({
            ...c,
            at: t0 + Math.round(c.at * 60_000),
            reasons: c.reasons as DisruptionReason[],
          }));
          expect(budgetHitsOf(cs!.value, list, tenants)).toBe(reference(cs!.value, list, tenants));
        },
      ),
      { numRuns: 400 },
    );
  });
});
