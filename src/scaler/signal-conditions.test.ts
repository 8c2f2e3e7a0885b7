// SignalsAvailable and ScaleDownHeld come from one verdict, so they never contradict each other: a fresh
// Prometheus next to a workload whose cpu usage is missing is not "usage signals are fresh".
import { describe, expect, it } from "vitest";
import { signalConditions, type SignalState } from "./signal-conditions.js";

const now = Date.parse("2026-01-31T12:00:00Z");
const state = (over: Partial<SignalState>): SignalState => ({
  prometheus: { lastSuccessAt: now - 5_000 },
  held: new Map(),
  now,
  staleAfterMs: 90_000,
  ...over,
});

describe("signalConditions", () => {
  it.each<[string, Partial<SignalState>, string, string, RegExp]>([
    ["fresh source, nothing held", {}, "True", "Fresh", /fresh for every governed workload/],
    [
      "fresh source, one workload's cpu usage missing (the contradiction once shown)",
      { held: new Map([["tcp-a/kube-apiserver", "cpu usage missing"]]) },
      "False",
      "SignalsMissing",
      /^tcp-a\/kube-apiserver: cpu usage missing$/,
    ],
    [
      "several workloads held: the first by name, and how many more",
      {
        held: new Map([
          ["tcp-b/etcd", "memory working set stale"],
          ["tcp-a/kube-apiserver", "cpu usage missing"],
        ]),
      },
      "False",
      "SignalsMissing",
      /^tcp-a\/kube-apiserver: cpu usage missing \(and 1 more workloads\)$/,
    ],
    ["no Prometheus", { prometheus: undefined }, "False", "NoPrometheus", /nothing is scaled down/],
    [
      "Prometheus failing",
      { prometheus: { lastSuccessAt: now - 5_000, lastError: "Prometheus query: ECONNREFUSED" } },
      "False",
      "PrometheusUnavailable",
      /ECONNREFUSED; scale-downs are held/,
    ],
    ["not polled yet", { prometheus: {} }, "Unknown", "NotPolledYet", /first poll/],
    [
      "last poll older than staleAfterMs",
      { prometheus: { lastSuccessAt: now - 91_000 } },
      "False",
      "Stale",
      /2026-01-31T11:58:29.000Z, more than 90s ago/,
    ],
  ])("%s", (_name, over, signalsStatus, reason, message) => {
    const [signals, held] = signalConditions(state(over));
    expect(signals).toMatchObject({ type: "SignalsAvailable", status: signalsStatus, reason });
    expect(signals.message).toMatch(message);
    expect(held.type).toBe("ScaleDownHeld");
    // Never both "signals are there" and "held for missing data", nor "not there" and "not held".
    expect(held.status).toBe(signalsStatus === "True" ? "False" : "True");
    if (signalsStatus !== "True") expect(held).toMatchObject({ reason, message: signals.message });
  });
});
