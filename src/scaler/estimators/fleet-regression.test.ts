// The fleet-regression estimator alone, on fits given outright (the fitting itself is tested in fleet.test.ts, the
// whole path through the engine and the reconciler in src/scaler/fleet-regression.test.ts).
import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import type { DecisionInput } from "../types.js";
import type { FleetFitResult } from "./fleet.js";
import {
  fleetRegressionEstimate,
  fleetRegressionEstimator,
  fleetRegressionFloor,
  whyNoFleetFit,
} from "./fleet-regression.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const measured = (value: number, ageMs = 1000) => ({ value, observedAt: now - ageMs, source: "prometheus" });

// CPU: 0.1 + 0.002·nodes cores; memory: 256Mi + 3Mi·nodes + 0.01Mi·objects.
const cpuFit: FleetFitResult = {
  ok: true,
  fit: { predictors: ["nodes"], coefficients: [0.1, 0.002], r2: 0.95, samples: 50 },
};
const memoryFit: FleetFitResult = {
  ok: true,
  fit: { predictors: ["nodes", "objects"], coefficients: [256 * MiB, 3 * MiB, 0.01 * MiB], r2: 0.9, samples: 40 },
};
const poorFit: FleetFitResult = {
  ok: false,
  reason: "PoorFit",
  message: "R² 0.20 over 30 tenants is below the 0.7 a fit needs",
  samples: 30,
  r2: 0.2,
};

function tenant(fleet: DecisionInput["fleet"], nodes?: number, objects?: number, nodesAgeMs?: number): DecisionInput {
  return input(
    { fleet },
    {
      ...(nodes !== undefined ? { clusterNodes: measured(nodes, nodesAgeMs) } : {}),
      ...(objects !== undefined ? { storedObjects: measured(objects) } : {}),
    },
  );
}

describe("fleet-regression", () => {
  it("sizes by the fits at the tenant's nodes and objects, with the headroom, and names the fits as evidence", () => {
    const result = fleetRegressionEstimate(tenant({ cpu: cpuFit, memory: memoryFit }, 1000, 5000));
    // 2.1 cores expected at 60% target utilisation; (256 + 3000 + 50)Mi expected with 30% headroom.
    expect(result?.size.cpuRequest).toBeCloseTo(2.1 / 0.6, 9);
    expect(result?.size.memoryRequest).toBeCloseTo(3306 * MiB * 1.3, 0);
    expect(result?.note).toMatch(/^fleet regression at 1000 nodes and 5000 objects: CPU .* → request .*, memory /);
    expect(result?.evidence?.map((e) => [e.signal, e.source])).toEqual([
      ["fleet_fit_cpu_cores", "fleet-regression"],
      ["fleet_fit_memory_bytes", "fleet-regression"],
    ]);
    expect(result?.evidence?.[0]?.value).toBe("0.100 + 0.00200·nodes (R² 0.950, 50 tenants)");
    expect(result?.evidence?.[1]?.value).toBe("256.0Mi + 3.000Mi·nodes + 0.01000Mi·objects (R² 0.900, 40 tenants)");
  });

  it("takes the headroom it is given", () => {
    const result = fleetRegressionEstimate(tenant({ cpu: cpuFit }, 1000), {
      cpuTargetUtilization: 0.5,
      memoryHeadroom: 2,
    });
    expect(result?.size.cpuRequest).toBeCloseTo(4.2, 9);
  });

  it("sizes only the resource with a usable fit: not one below the minimum R², not one that needs an unknown object count", () => {
    const poorMemory = fleetRegressionEstimate(tenant({ cpu: cpuFit, memory: poorFit }, 1000, 5000));
    expect(poorMemory?.size.cpuRequest).toBeCloseTo(3.5, 9);
    expect(poorMemory?.size.memoryRequest).toBeUndefined();
    expect(poorMemory?.evidence?.map((e) => e.signal)).toEqual(["fleet_fit_cpu_cores"]);

    const noObjects = fleetRegressionEstimate(tenant({ cpu: cpuFit, memory: memoryFit }, 1000));
    expect(noObjects?.size.memoryRequest).toBeUndefined();
    expect(noObjects?.note).toMatch(/^fleet regression at 1000 nodes: CPU /);
  });

  it.each<[string, DecisionInput]>([
    ["no node count", tenant({ cpu: cpuFit, memory: memoryFit })],
    ["no fleet model", tenant(undefined, 1000)],
    ["no usable fit", tenant({ cpu: poorFit, memory: poorFit }, 1000)],
  ])("gives nothing with %s", (_name, i) => {
    expect(fleetRegressionEstimate(i)).toBeUndefined();
  });

  it("says why it gave nothing, per resource", () => {
    expect(whyNoFleetFit(tenant(undefined, 1000))).toBe("no fit (cpu: no fit; memory: no fit)");
    expect(whyNoFleetFit(tenant({ cpu: poorFit, memory: memoryFit }, 1000))).toBe(
      "no fit (cpu: R² 0.20 over 30 tenants is below the 0.7 a fit needs; memory: no prediction)",
    );
  });

  it("floors scale-downs at what the fit says for a fresh node count, and at nothing for a stale one", () => {
    const floor = fleetRegressionFloor(tenant({ cpu: cpuFit }, 1000), defaultEngineOptions);
    expect(floor?.cpu).toBeCloseTo(3.5, 9);
    expect(floor?.memory).toBeUndefined();
    const stale = tenant({ cpu: cpuFit }, 1000, undefined, defaultEngineOptions.staleAfterMs + 1);
    expect(fleetRegressionFloor(stale, defaultEngineOptions)).toEqual({ cpu: undefined, memory: undefined });
  });

  it("is registered as an estimator that sizes by tenant size and floors scale-downs", () => {
    expect(fleetRegressionEstimator.name).toBe("fleet-regression");
    expect(fleetRegressionEstimator.bySize).toBeDefined();
    expect(fleetRegressionEstimator.floor).toBeDefined();
    expect(fleetRegressionEstimator.estimate(tenant({ cpu: cpuFit }, 10))?.size.cpuRequest).toBeCloseTo(0.12 / 0.6, 9);
  });
});
