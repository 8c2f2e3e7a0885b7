// The fleet model behind the fleet-regression estimator: across every tenant one ClusterScaler governs, the usage
// of one component (CPU cores, memory bytes) against the tenant's size, fitted by least squares (fleet-fit.ts). Size
// is the tenant's node count, and also its stored object count when every tenant of the fit reports one. A fit is
// used only with enough tenants and a good enough R²; otherwise it says why, and the estimator gives nothing. This
// module is what the engine reads (a fit's prediction and description); the fit itself, and mathjs, which takes
// about 1.5 s to load, are only where fits are made (the fleet model of the controller).

export const FLEET_PREDICTORS = ["nodes", "objects"] as const;
export type FleetPredictor = (typeof FLEET_PREDICTORS)[number];

/** One tenant's size and the usage of one of its components. */
export interface FleetSample {
  tenant: string;
  nodes: number;
  /** Objects stored in the tenant's apiserver (apiserver_storage_objects, all resources); unknown when absent. */
  objects?: number;
  usage: number;
}

export interface FleetFit {
  predictors: FleetPredictor[];
  /** Intercept first, then one coefficient per predictor. */
  coefficients: number[];
  r2: number;
  samples: number;
}

export type FleetFitResult =
  | { ok: true; fit: FleetFit }
  | {
      ok: false;
      reason: "InsufficientTenants" | "PoorFit" | "Degenerate";
      message: string;
      samples: number;
      r2?: number;
    };

export interface FleetFitOptions {
  minTenants: number;
  minR2: number;
}

export const defaultFleetFitOptions: FleetFitOptions = { minTenants: 10, minR2: 0.7 };

/** The usage the fit expects of a tenant of this size; undefined when the tenant lacks a predictor. */
export function predictFleet(fit: FleetFit, size: { nodes: number; objects?: number }): number | undefined {
  let value = fit.coefficients[0] ?? 0;
  for (const [i, p] of fit.predictors.entries()) {
    const x = p === "nodes" ? size.nodes : size.objects;
    if (x === undefined) return undefined;
    value += (fit.coefficients[i + 1] ?? 0) * x;
  }
  return value;
}

/** The fit as one line for people, e.g. "0.100 + 0.00200·nodes (R² 0.98, 50 tenants)". */
export function describeFleetFit(fit: FleetFit, unit: (v: number) => string = (v) => v.toPrecision(3)): string {
  const terms = fit.predictors.map((p, i) => `${unit(fit.coefficients[i + 1] ?? 0)}·${p}`);
  return `${[unit(fit.coefficients[0] ?? 0), ...terms].join(" + ")} (R² ${fit.r2.toFixed(3)}, ${fit.samples} tenants)`;
}
