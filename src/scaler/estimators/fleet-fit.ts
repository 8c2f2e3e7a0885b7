// The least-squares fit of the fleet model (fleet.ts), with mathjs: loaded only where fits are made (the controller's
// fleet model), not by the engine that reads them, nor by the backtest.
import { det, lusolve, matrix, multiply, transpose, type Matrix } from "mathjs";
import {
  defaultFleetFitOptions,
  type FleetFitOptions,
  type FleetFitResult,
  type FleetPredictor,
  type FleetSample,
} from "./fleet.js";

/**
 * Whether the predictors (the columns after the first of each row) carry independent information: none constant,
 * none a linear copy of the others. Judged on their correlation matrix, whose determinant is 1 for unrelated
 * predictors and 0 for dependent ones; floating point would otherwise solve a singular system into garbage.
 */
function independent(rows: number[][]): boolean {
  const k = (rows[0]?.length ?? 1) - 1;
  if (k === 0) return true;
  const n = rows.length;
  const means = Array.from({ length: k }, (_, j) => rows.reduce((sum, r) => sum + (r[j + 1] ?? 0), 0) / n);
  const centered = rows.map((r) => means.map((m, j) => (r[j + 1] ?? 0) - m));
  const cov = means.map((_, a) =>
    means.map((__, b) => centered.reduce((sum, r) => sum + (r[a] ?? 0) * (r[b] ?? 0), 0)),
  );
  const scale = cov.map((row, j) => Math.sqrt(row[j] ?? 0));
  if (scale.some((v) => !(v > 0))) return false;
  const corr = cov.map((row, a) => row.map((v, b) => v / ((scale[a] ?? 1) * (scale[b] ?? 1))));
  return k === 1 || (det(corr) as number) > 1e-9;
}

/** Least squares y = X·β over rows of X (each starting with 1), with R²; undefined when X'X is singular. */
export function leastSquares(rows: number[][], y: number[]): { beta: number[]; r2: number } | undefined {
  if (rows.length === 0 || rows.length !== y.length || !independent(rows)) return undefined;
  const X = matrix(rows);
  const Y = matrix(y.map((v) => [v]));
  const Xt = transpose(X);
  let beta: number[];
  try {
    const solution = lusolve(multiply(Xt, X) as Matrix, multiply(Xt, Y) as Matrix) as Matrix;
    beta = (solution.toArray() as number[][]).map((r) => r[0] ?? NaN);
  } catch {
    return undefined; // singular: a predictor is constant or a copy of another
  }
  if (!beta.every(Number.isFinite)) return undefined;
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  let ssRes = 0;
  let ssTot = 0;
  rows.forEach((row, i) => {
    const predicted = row.reduce((sum, x, j) => sum + x * (beta[j] ?? 0), 0);
    ssRes += ((y[i] ?? 0) - predicted) ** 2;
    ssTot += ((y[i] ?? 0) - mean) ** 2;
  });
  return { beta, r2: ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : 0 };
}

/** The fit of usage against size over the fleet's samples, or why there is none. */
export function fitFleet(
  samples: readonly FleetSample[],
  options: FleetFitOptions = defaultFleetFitOptions,
): FleetFitResult {
  const usable = samples.filter((s) => Number.isFinite(s.usage) && s.usage >= 0 && Number.isFinite(s.nodes));
  if (usable.length < options.minTenants)
    return {
      ok: false,
      reason: "InsufficientTenants",
      message: `${usable.length} tenants with fresh usage and size, fewer than the ${options.minTenants} a fit needs`,
      samples: usable.length,
    };
  // Object counts join the fit only when every tenant has one: a fit over a subset would describe other tenants.
  const withObjects = usable.every((s) => s.objects !== undefined && Number.isFinite(s.objects));
  const attempts: FleetPredictor[][] = withObjects ? [["nodes", "objects"], ["nodes"]] : [["nodes"]];
  for (const predictors of attempts) {
    const rows = usable.map((s) => [1, ...predictors.map((p) => (p === "nodes" ? s.nodes : (s.objects ?? 0)))]);
    const solved = leastSquares(
      rows,
      usable.map((s) => s.usage),
    );
    if (!solved) continue;
    if (solved.r2 < options.minR2)
      return {
        ok: false,
        reason: "PoorFit",
        message: `R² ${solved.r2.toFixed(2)} over ${usable.length} tenants is below the ${options.minR2} a fit needs: usage does not follow size closely enough`,
        samples: usable.length,
        r2: solved.r2,
      };
    return { ok: true, fit: { predictors, coefficients: solved.beta, r2: solved.r2, samples: usable.length } };
  }
  return {
    ok: false,
    reason: "Degenerate",
    message: `every one of the ${usable.length} tenants has the same size: nothing to fit usage against`,
    samples: usable.length,
  };
}
