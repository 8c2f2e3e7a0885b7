// The fleet model: for each ClusterScaler and each of its components that lists the fleet-regression estimator,
// the fit of usage (CPU cores, memory bytes) against tenant size across every tenant the ClusterScaler governs.
// Samples are the same fresh signals the engine reads: a tenant's size from its apiserver's
// apiserver_storage_objects (nodes, and all objects), its usage as the worst pod of the component. A tenant
// without fresh usage or size (a new one, or one whose apiserver is not scraped) is not a sample; it is what the fit
// is for.
import type { ComponentName } from "./types.js";
import {
  describeFleetFit,
  fitFleet,
  type FleetFitOptions,
  type FleetFitResult,
  type FleetSample,
} from "./estimators/fleet.js";
import { MiB } from "./quantity.js";
import type { Measurement } from "./types.js";

/** One governed workload of a component, as the fleet model samples it. */
export interface FleetMember {
  clusterScaler: string;
  component: ComponentName;
  tenant: string;
  nodes?: Measurement;
  objects?: Measurement;
  cpu?: Measurement;
  memory?: Measurement;
}

export interface ComponentFleetModel {
  cpu: FleetFitResult;
  memory: FleetFitResult;
}

/** ClusterScaler → component → fits. */
export type FleetModel = Map<string, Map<ComponentName, ComponentFleetModel>>;

/**
 * Fits every (ClusterScaler, component) that `wanted` names over its members' fresh samples. `optionsOf` gives a
 * ClusterScaler's minimum tenant count and R².
 */
export function buildFleetModel(
  members: readonly FleetMember[],
  wanted: ReadonlyArray<{ clusterScaler: string; component: ComponentName }>,
  optionsOf: (clusterScaler: string) => FleetFitOptions,
  now: number,
  staleAfterMs: number,
): FleetModel {
  const fresh = (m: Measurement | undefined) => (m && now - m.observedAt <= staleAfterMs ? m.value : undefined);
  const model: FleetModel = new Map();
  for (const { clusterScaler, component } of wanted) {
    const cpu: FleetSample[] = [];
    const memory: FleetSample[] = [];
    for (const m of members) {
      if (m.clusterScaler !== clusterScaler || m.component !== component) continue;
      const nodes = fresh(m.nodes);
      if (nodes === undefined) continue;
      const objects = fresh(m.objects);
      const c = fresh(m.cpu);
      const mem = fresh(m.memory);
      if (c !== undefined) cpu.push({ tenant: m.tenant, nodes, objects, usage: c });
      if (mem !== undefined) memory.push({ tenant: m.tenant, nodes, objects, usage: mem });
    }
    const options = optionsOf(clusterScaler);
    const byComponent = model.get(clusterScaler) ?? new Map<ComponentName, ComponentFleetModel>();
    byComponent.set(component, { cpu: fitFleet(cpu, options), memory: fitFleet(memory, options) });
    model.set(clusterScaler, byComponent);
  }
  return model;
}

/** status.fleetRegression of one ClusterScaler. */
export function fleetRegressionStatus(
  byComponent: Map<ComponentName, ComponentFleetModel> | undefined,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [component, fits] of byComponent ?? []) {
    for (const resource of ["cpu", "memory"] as const) {
      const r = fits[resource];
      const unit =
        resource === "cpu" ? (v: number) => v.toPrecision(3) : (v: number) => `${(v / MiB).toPrecision(4)}Mi`;
      out.push(
        r.ok
          ? {
              component,
              resource,
              fitted: true,
              samples: r.fit.samples,
              r2: round(r.fit.r2),
              predictors: r.fit.predictors,
              coefficients: r.fit.coefficients.map(round),
              reason: "Fitted",
              message: `${resource} = ${describeFleetFit(r.fit, unit)}`,
            }
          : {
              component,
              resource,
              fitted: false,
              samples: r.samples,
              ...(r.r2 !== undefined && Number.isFinite(r.r2) ? { r2: round(r.r2) } : {}),
              reason: r.reason,
              message: r.message,
            },
      );
    }
  }
  return out;
}

/** The FleetRegressionReady condition: every fit good enough, or which are not and why. */
export function fleetRegressionCondition(byComponent: Map<ComponentName, ComponentFleetModel> | undefined): {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
} {
  const missing: string[] = [];
  const fitted: string[] = [];
  let reason = "Fitted";
  for (const [component, fits] of byComponent ?? []) {
    for (const resource of ["cpu", "memory"] as const) {
      const r = fits[resource];
      if (r.ok) fitted.push(`${component} ${resource}: R² ${r.fit.r2.toFixed(3)} over ${r.fit.samples} tenants`);
      else {
        missing.push(`${component} ${resource}: ${r.message}`);
        if (reason === "Fitted") reason = r.reason;
      }
    }
  }
  if (missing.length === 0)
    return {
      type: "FleetRegressionReady",
      status: "True",
      reason: "Fitted",
      message: fitted.join("; ") || "no component lists fleet-regression",
    };
  return {
    type: "FleetRegressionReady",
    status: "False",
    reason,
    message: `fleet-regression gives no size for ${missing.join("; ")}; the next listed estimator is used`.slice(
      0,
      32768,
    ),
  };
}

/** Six significant digits: enough for a status, and stable across polls of the same data. */
function round(v: number): number {
  return Number(v.toPrecision(6));
}
