import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { input, policy } from "../testing.js";
import { apfScaler } from "./apf.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const m = (value: number, ageMs = 0) => ({ value, observedAt: now - ageMs, source: "test" });
const sustained = { ...input().history, overThresholdSince: { apf: now - 5 * 60_000 } };

describe("apf scaler", () => {
  it.each<[string, Parameters<typeof input>[1], Parameters<typeof input>[0], unknown]>([
    ["seats at 80%: one more replica", { apfSeatsRatio: m(0.8) }, {}, { replicas: 3 }],
    ["rejections at the throttling threshold: one more replica", { apfRejectedRate: m(1) }, {}, { replicas: 3 }],
    [
      "seats full at replicas.max: 50% more CPU",
      { apfSeatsRatio: m(1) },
      { policy: policy({ replicas: { max: 2 } }) },
      { cpuRequest: 1.5 },
    ],
    ["seats at 79%: nothing", { apfSeatsRatio: m(0.79) }, {}, undefined],
    ["stale seats: nothing", { apfSeatsRatio: m(1, 10 * 60_000) }, {}, undefined],
    ["no signal at all: nothing", {}, {}, undefined],
  ])("%s", (_name, signals, over, size) => {
    expect(apfScaler.propose(input({ history: sustained, ...over }, signals), defaultEngineOptions, [])?.size).toEqual(
      size,
    );
  });

  it("names the metric and its value in the evidence", () => {
    const c = apfScaler.propose(
      input({ history: sustained }, { apfSeatsRatio: m(0.93), apfRejectedRate: m(4) }),
      defaultEngineOptions,
      [],
    );
    expect(c?.category).toBe("APFSaturation");
    expect(c?.evidence).toMatchObject([
      { signal: "apiserver_flowcontrol_seats_in_use_ratio", value: "0.93", threshold: "0.8" },
      { signal: "apiserver_flowcontrol_rejected_requests_rate", value: "4.00", threshold: "1" },
    ]);
  });

  it("waits for its window, and no rejection is over a threshold of 0", () => {
    expect(apfScaler.propose(input({}, { apfSeatsRatio: m(1) }), defaultEngineOptions, [])).toBeUndefined();
    const zero = policy();
    zero.scalers.throttling.threshold = 0;
    expect(apfScaler.overThreshold?.(input({ policy: zero }, { apfRejectedRate: m(0) }), defaultEngineOptions)).toBe(
      false,
    );
  });
});
