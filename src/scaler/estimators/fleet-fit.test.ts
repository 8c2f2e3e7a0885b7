import { describe, expect, it } from "vitest";
import { fitFleet, leastSquares } from "./fleet-fit.js";
import { describeFleetFit, predictFleet } from "./fleet.js";
import { linearFleet, seeded } from "./fleet-testing.js";

describe("leastSquares", () => {
  it("recovers an exact plane and says R² 1", () => {
    const rows = [
      [1, 1, 2],
      [1, 2, 1],
      [1, 3, 5],
      [1, 4, 2],
    ];
    const solved = leastSquares(
      rows,
      rows.map(([, x, z]) => 1 + 2 * (x ?? 0) + 3 * (z ?? 0)),
    );
    expect(solved?.beta.map((b) => Number(b.toFixed(9)))).toEqual([1, 2, 3]);
    expect(solved?.r2).toBeCloseTo(1, 12);
  });
  it("gives nothing for a singular system (a predictor that is a copy of another)", () => {
    const rows = [1, 2, 3, 4].map((x) => [1, x, 2 * x]);
    expect(leastSquares(rows, [1, 2, 3, 4])).toBeUndefined();
  });
});

describe("fitFleet", () => {
  const cpuLine = (nodes: number) => 0.1 + 0.002 * nodes;

  it("on 50 tenants with ±10% noise, predicts a size never seen within 10% of the generating line", () => {
    const fleet = linearFleet(50, cpuLine, 0.1);
    expect(fleet.some((s) => [555, 1500, 2500].includes(s.nodes))).toBe(false);
    const result = fitFleet(fleet);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.fit.samples).toBe(50);
    expect(result.fit.predictors).toEqual(["nodes"]);
    expect(result.fit.r2).toBeGreaterThan(0.9);
    // Unseen sizes inside the fleet's range and beyond it. (Near zero nodes the intercept alone is left, and its
    // share of the noise is larger than 10% of a line that small.)
    for (const nodes of [555, 1500, 2500]) {
      const predicted = predictFleet(result.fit, { nodes }) ?? NaN;
      expect(Math.abs(predicted / cpuLine(nodes) - 1), `at ${nodes} nodes`).toBeLessThan(0.1);
    }
    expect(describeFleetFit(result.fit)).toMatch(/·nodes \(R² 0\.9\d\d, 50 tenants\)$/);
  });

  it("fits against objects as well when every tenant reports them", () => {
    const result = fitFleet(linearFleet(50, cpuLine, 0.05, 11, 40));
    expect(result.ok && result.fit.predictors).toEqual(["nodes", "objects"]);
    // A tenant without an object count cannot be placed on that fit.
    expect(result.ok && predictFleet(result.fit, { nodes: 100 })).toBeUndefined();
    const mixed = linearFleet(50, cpuLine, 0.05, 11, 40).map((s, i) => (i === 0 ? { ...s, objects: undefined } : s));
    const nodesOnly = fitFleet(mixed);
    expect(nodesOnly.ok && nodesOnly.fit.predictors).toEqual(["nodes"]);
  });

  it("gives nothing below the minimum tenant count, and says so", () => {
    const result = fitFleet(linearFleet(9, cpuLine, 0.05), { minTenants: 10, minR2: 0.7 });
    expect(result).toMatchObject({ ok: false, reason: "InsufficientTenants", samples: 9 });
    expect(!result.ok && result.message).toMatch(/9 tenants .* fewer than the 10/);
  });

  it("gives nothing below the minimum R², and says so", () => {
    const random = seeded(3);
    const noise = Array.from({ length: 50 }, (_, i) => ({ tenant: `t${i}`, nodes: 10 + i * 20, usage: random() }));
    const result = fitFleet(noise, { minTenants: 10, minR2: 0.7 });
    expect(result).toMatchObject({ ok: false, reason: "PoorFit", samples: 50 });
    expect(!result.ok && result.r2).toBeLessThan(0.7);
  });

  it("gives nothing when every tenant has the same size", () => {
    const same = Array.from({ length: 20 }, (_, i) => ({ tenant: `t${i}`, nodes: 100, usage: 0.3 + i / 1000 }));
    expect(fitFleet(same)).toMatchObject({ ok: false, reason: "Degenerate" });
  });
});
