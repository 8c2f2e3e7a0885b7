// fleet-regression: a tenant sized by what the fleet uses at its size (the fit in ./fleet.ts, gathered by
// src/scaler/fleet-model.ts), with the engine's headroom. It sizes by tenant size and puts a floor under scale-downs.
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import { fresh } from "../freshness.js";
import type { DecisionInput } from "../types.js";
import { formatCpu, formatMemory, MiB } from "../quantity.js";
import { describeFleetFit, predictFleet, type FleetFitResult } from "./fleet.js";
import { defaultHeadroom, type Estimator, type EstimatorResult, type Floor, type Headroom } from "./types.js";

/**
 * Sizes a tenant by what the fleet uses at its size: the fit of each resource's usage against size across the
 * ClusterScaler's tenants (DecisionInput.fleet), at the tenant's node (and object) count, with the engine's
 * headroom: CPU for its target utilisation, memory with its margin. Gives nothing for a resource without a fit
 * (too few tenants, too low an R²), and nothing at all when neither resource has one.
 */
export function fleetRegressionEstimate(
  input: DecisionInput,
  headroom: Headroom = defaultHeadroom,
): EstimatorResult | undefined {
  const nodes = input.signals.clusterNodes?.value;
  if (nodes === undefined || !input.fleet) return undefined;
  const size = { nodes, objects: input.signals.storedObjects?.value };
  const at = (r: FleetFitResult | undefined) => (r?.ok ? predictFleet(r.fit, size) : undefined);
  const cpu = at(input.fleet.cpu);
  const memory = at(input.fleet.memory);
  const cpuRequest = cpu !== undefined && cpu > 0 ? cpu / headroom.cpuTargetUtilization : undefined;
  const memoryRequest = memory !== undefined && memory > 0 ? memory * headroom.memoryHeadroom : undefined;
  if (cpuRequest === undefined && memoryRequest === undefined) return undefined;
  const evidence: Evidence[] = [];
  const parts: string[] = [];
  if (cpuRequest !== undefined && input.fleet.cpu?.ok) {
    const fit = describeFleetFit(input.fleet.cpu.fit, (v) => v.toPrecision(3));
    evidence.push({
      signal: "fleet_fit_cpu_cores",
      value: fit,
      threshold: formatCpu(cpu ?? 0),
      source: "fleet-regression",
    });
    parts.push(`CPU ${formatCpu(cpu ?? 0)} expected → request ${formatCpu(cpuRequest)}`);
  }
  if (memoryRequest !== undefined && input.fleet.memory?.ok) {
    const fit = describeFleetFit(input.fleet.memory.fit, (v) => `${(v / MiB).toPrecision(4)}Mi`);
    evidence.push({
      signal: "fleet_fit_memory_bytes",
      value: fit,
      threshold: formatMemory(memory ?? 0),
      source: "fleet-regression",
    });
    parts.push(`memory ${formatMemory(memory ?? 0)} expected → request ${formatMemory(memoryRequest)}`);
  }
  const objects = size.objects !== undefined ? ` and ${size.objects} objects` : "";
  return {
    size: { cpuRequest, memoryRequest },
    note: `fleet regression at ${nodes} nodes${objects}: ${parts.join(", ")}`,
    evidence,
  };
}

export function whyNoFleetFit(input: DecisionInput): string {
  const f = input.fleet;
  const why = (r: FleetFitResult | undefined) => (r === undefined ? "no fit" : r.ok ? "no prediction" : r.message);
  return `no fit (cpu: ${why(f?.cpu)}; memory: ${why(f?.memory)})`;
}

/** What the fleet's fit says the tenant needs at its fresh node count. */
export function fleetRegressionFloor(input: DecisionInput, options: EngineOptions): Floor | undefined {
  const nodes = fresh(input.signals.clusterNodes, input.now, options);
  const fleet = nodes
    ? fleetRegressionEstimate({ ...input, signals: { ...input.signals, clusterNodes: nodes } }, options)
    : undefined;
  return { cpu: fleet?.size.cpuRequest, memory: fleet?.size.memoryRequest };
}

export const fleetRegressionEstimator: Estimator = {
  name: "fleet-regression",
  estimate: (input, headroom) => fleetRegressionEstimate(input, headroom),
  bySize: { whyNone: whyNoFleetFit },
  floor: fleetRegressionFloor,
};
