import { describe, expect, it } from "vitest";
import { SCALER_NAMES } from "../../api/index.js";
import { defaultEngineOptions } from "../engine-options.js";
import { input } from "../testing.js";
import { availableScalers, forEachOverThreshold, scalerByName, upCandidates } from "./index.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number) => ({ value, observedAt: now, source: "test" });

describe("scaler registry", () => {
  it("has a scaler for every name the CRD accepts, and only those", () => {
    expect([...availableScalers()].sort()).toEqual([...SCALER_NAMES].sort());
  });

  it("refuses an unknown name and lists the available ones", () => {
    expect(() => scalerByName("gpu")).toThrow(
      /unknown scaler "gpu"; available: oom, probe, throttling, apf, latency, cpu/,
    );
  });

  it("gives the sustained scalers' verdicts only (oom and cluster-size act at once)", () => {
    const verdicts: Array<[string, boolean]> = [];
    forEachOverThreshold(input({}, { cpuUsage: m(0.9), probeFailures: m(5) }), defaultEngineOptions, (name, over) =>
      verdicts.push([name, over]),
    );
    // In registry order.
    expect(verdicts).toEqual([
      ["probe", true],
      ["throttling", false],
      ["apf", false],
      ["latency", false],
      ["cpu", true],
      ["memory", false],
      ["etcd-db-size", false],
    ]);
  });

  it("asks every scaler in registry order", () => {
    const kill = { id: "k", pod: "p", container: "c", finishedAt: now, limitBytes: 2048 * 2 ** 20 };
    const ups = upCandidates(input({}, { oom: [kill], probeFailures: m(5) }), defaultEngineOptions, []);
    expect(ups.map((u) => u.scaler)).toEqual(["oom", "probe"]);
  });
});
