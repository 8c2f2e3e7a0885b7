import { describe, expect, it } from "vitest";
import { parseClusterScaler, type ClusterScaler } from "../api/index.js";
import { FleetBudget } from "./reconciler.js";

function clusterScaler(interval: string): ClusterScaler {
  const r = parseClusterScaler({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "fleet" },
    spec: {
      components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }],
      fleetBudget: { maxChangesPerInterval: 1, interval },
    },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

describe("FleetBudget", () => {
  // The scaler had its own parser that read anything but <integer><unit> as 60 s.
  it.each([
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["2h45m30s", 9_930_000],
    ["90s", 90_000],
    ["1m", 60_000],
  ])("holds a change for the whole interval %s (%d ms)", (interval, ms) => {
    const cs = clusterScaler(interval);
    const budget = new FleetBudget();
    const t0 = Date.parse("2026-12-01T00:00:00Z");
    expect(budget.remaining(cs, t0)).toBe(1);
    budget.consume(cs, t0);
    expect(budget.remaining(cs, t0 + ms - 1)).toBe(0);
    expect(budget.remaining(cs, t0 + ms)).toBe(1);
  });
});
