import { describe, expect, it } from "vitest";
import {
  deriveSettings,
  describeSettings,
  goMemLimitFor,
  inflightFor,
  ownedKeys,
  sameSettings,
  settingsInTemplate,
} from "./derived.js";

describe("GOMEMLIMIT from the memory limit", () => {
  it.each([
    ["1Gi", "921MiB"],
    ["2Gi", "1843MiB"],
    ["512Mi", "460MiB"],
    ["1000M", "858MiB"],
    ["8Gi", "7372MiB"],
    ["1Mi", "1MiB"], // never 0, which the Go runtime would read as no memory at all
    ["0", undefined],
  ])("%s gives %s", (limit, want) => {
    expect(goMemLimitFor(limit)).toBe(want);
  });
});

describe("kube-apiserver's in-flight limits from its CPU", () => {
  it.each([
    ["100m", 400, 200], // kube-apiserver's own defaults at one core and below
    ["250m", 400, 200],
    ["1", 400, 200],
    ["1500m", 600, 300],
    ["2", 800, 400],
    ["2250m", 900, 450],
    ["4", 1600, 800],
    ["5", 2000, 1000], // mutating reaches HyperShift's 1000
    ["7500m", 3000, 1000], // and the total its 3000
    ["32", 3000, 1000],
  ])("%s cores give %i and %i", (cpu, requests, mutating) => {
    expect(inflightFor(cpu)).toEqual({ requests, mutating });
  });
});

describe("deriveSettings", () => {
  const r = { requests: { cpu: "2", memory: "1Gi" }, limits: { memory: "2Gi" } };

  it("gives every component GOMEMLIMIT and only kube-apiserver the in-flight limits", () => {
    expect(deriveSettings("kube-apiserver", r, {})).toEqual({
      GOMEMLIMIT: "1843MiB",
      "max-requests-inflight": "800",
      "max-mutating-requests-inflight": "400",
    });
    for (const c of ["kube-controller-manager", "kube-scheduler", "etcd"] as const)
      expect(deriveSettings(c, r, {})).toEqual({ GOMEMLIMIT: "1843MiB" });
  });

  it("reads the CPU limit before the request, and derives no GOMEMLIMIT without a memory limit", () => {
    expect(deriveSettings("kube-apiserver", { requests: { cpu: "1" }, limits: { cpu: "4" } }, {})).toEqual({
      "max-requests-inflight": "1600",
      "max-mutating-requests-inflight": "800",
    });
    expect(deriveSettings("etcd", { requests: { memory: "1Gi" } }, {})).toEqual({});
  });

  it("leaves a setting the user set to the user", () => {
    const user = { extraArgs: { "max-requests-inflight": "5000" }, extraEnv: { GOMEMLIMIT: "off" } };
    expect(ownedKeys("kube-apiserver", user)).toEqual(["max-mutating-requests-inflight"]);
    expect(deriveSettings("kube-apiserver", r, user)).toEqual({ "max-mutating-requests-inflight": "400" });
    expect(ownedKeys("etcd", { extraEnv: { GOGC: "50" } })).toEqual(["GOMEMLIMIT"]);
  });
});

describe("the settings a template carries", () => {
  it("reads the owned keys from env and args (the last flag wins, as in the binary)", () => {
    const container = {
      args: ["--v=2", "--max-requests-inflight=400", "--max-requests-inflight=600"],
      env: [
        { name: "POD_NAME", value: "x" },
        { name: "GOMEMLIMIT", value: "921MiB" },
      ],
    };
    const owned = ["GOMEMLIMIT", "max-requests-inflight", "max-mutating-requests-inflight"] as const;
    const s = settingsInTemplate(container, owned);
    expect(s).toEqual({ GOMEMLIMIT: "921MiB", "max-requests-inflight": "600" });
    expect(settingsInTemplate(container, ["max-mutating-requests-inflight"])).toEqual({});
    expect(describeSettings(s)).toBe("GOMEMLIMIT=921MiB, --max-requests-inflight=600");
    expect(describeSettings({})).toBe("none");
    expect(sameSettings(s, { ...s })).toBe(true);
    expect(sameSettings(s, { GOMEMLIMIT: "921MiB" })).toBe(false);
  });
});
