// The fleet model: for each ClusterScaler and each of its components that lists the fleet-regression estimator,
// the fit of usage (CPU cores, memory bytes) against tenant size across every tenant the ClusterScaler governs.
// Samples are the same fresh signals the engine reads: a tenant's size from its apiserver's
// apiserver_storage_objects (nodes, and all objects), its usage as the worst pod of the component. A tenant
// without fresh usage or size (a new one, or one whose apiserver is not scraped) is not a sample; it is what the fit
// is for.
import type { ClusterScaler } from "../api/index.js";
import type { ComponentName } from "./types.js";
import { describeFleetFit, type FleetFitOptions, type FleetFitResult, type FleetSample } from "./estimators/fleet.js";
import { fitFleet } from "./estimators/fleet-fit.js";
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

/** A workload the fleet model may sample: one the ClusterScaler `clusterScaler` governs. */
export interface FleetCandidate {
  clusterScaler: string;
  component: ComponentName;
  tenant: string;
  namespace: string;
  /** The component's usage in a per-container series (ns/pod/container): its worst pod. */
  worst(series: ReadonlyMap<string, Measurement>): Measurement | undefined;
}

/** The parts of one Prometheus poll (src/scaler/signals/prometheus.ts UsageSnapshot) the fleet model reads. */
export interface FleetSnapshot {
  nodes: ReadonlyMap<string, Measurement>;
  objects: ReadonlyMap<string, Measurement>;
  cpu: ReadonlyMap<string, Measurement>;
  memory: ReadonlyMap<string, Measurement>;
}

/** The (ClusterScaler, component) pairs whose estimators list fleet-regression: the fits worth making. */
export function wantedFleetFits(
  scalers: readonly ClusterScaler[],
): Array<{ clusterScaler: string; component: ComponentName }> {
  return scalers.flatMap((cs) =>
    cs.spec.components
      .filter((c) => c.estimators?.includes("fleet-regression"))
      .map((c) => ({ clusterScaler: cs.metadata?.name ?? "", component: c.name as ComponentName })),
  );
}

/**
 * The fleet model of `scalers` from one poll: every wanted fit over the candidates of its ClusterScaler and
 * component. `candidates` is asked for only when some fit is wanted and a poll exists, so a fleet without
 * fleet-regression costs nothing; it is told which (ClusterScaler, component) pairs are wanted, to skip the others
 * before it does any work for them.
 */
export function fleetModelOf(
  scalers: readonly ClusterScaler[],
  candidates: (wanted: (clusterScaler: string, component: ComponentName) => boolean) => Iterable<FleetCandidate>,
  snapshot: FleetSnapshot | undefined,
  now: number,
  staleAfterMs: number,
): FleetModel {
  const wanted = wantedFleetFits(scalers);
  const members: FleetMember[] = [];
  if (snapshot && wanted.length) {
    const want = new Set(wanted.map((w) => `${w.clusterScaler}/${w.component}`));
    const isWanted = (clusterScaler: string, component: ComponentName) => want.has(`${clusterScaler}/${component}`);
    for (const c of candidates(isWanted)) {
      if (!isWanted(c.clusterScaler, c.component)) continue;
      members.push({
        clusterScaler: c.clusterScaler,
        component: c.component,
        tenant: c.tenant,
        nodes: snapshot.nodes.get(c.namespace),
        objects: snapshot.objects.get(c.namespace),
        cpu: c.worst(snapshot.cpu),
        memory: c.worst(snapshot.memory),
      });
    }
  }
  const options = new Map(scalers.map((cs) => [cs.metadata?.name ?? "", cs.spec.fleetRegression]));
  return buildFleetModel(members, wanted, (cs) => options.get(cs) ?? { minTenants: 10, minR2: 0.7 }, now, staleAfterMs);
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
