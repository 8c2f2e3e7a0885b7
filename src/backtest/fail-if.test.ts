import { describe, expect, it } from "vitest";
import { evaluateFailIf, failIfMetrics, parseFailIf } from "./fail-if.js";
import type { Summary } from "./run.js";

describe("parseFailIf", () => {
  it.each([
    ["restarts>10", { metric: "restarts", comparison: ">", value: 10 }],
    [" oomPrevented < 3 ", { metric: "oomPrevented", comparison: "<", value: 3 }],
    ["underProvisionedHours>=1.5", { metric: "underProvisionedHours", comparison: ">=", value: 1.5 }],
    ["coverage<=.5", { metric: "coverage", comparison: "<=", value: 0.5 }],
    ["oomLost!=0", { metric: "oomLost", comparison: "!=", value: 0 }],
    ["budgetHits==0", { metric: "budgetHits", comparison: "==", value: 0 }],
  ])("reads %s", (text, want) => {
    expect(parseFailIf(text)).toMatchObject(want);
  });

  it.each([
    "restarts",
    "restarts>",
    ">10",
    "restarts=>10",
    "restarts>ten",
    "restarts>10 or oomLost>0",
    "restarts >> 1",
  ])("refuses %s, saying the form", (text) => {
    expect(() => parseFailIf(text)).toThrow(/expected <metric><comparison><number>, e\.g\. restarts>10/);
  });

  it("refuses an unknown metric, listing the known ones", () => {
    expect(() => parseFailIf("reboots>1")).toThrow(`unknown metric reboots; known: ${failIfMetrics.join(", ")}`);
  });
});

describe("evaluateFailIf", () => {
  const summary = (s: Partial<Summary>) => ({ restarts: 0, oomPrevented: 0, ...s }) as Summary;
  it("gives a reason per threshold that holds, per policy", () => {
    const thresholds = ["restarts>10", "oomPrevented<3"].map(parseFailIf);
    expect(
      evaluateFailIf(thresholds, [
        { name: "calm", summary: summary({ restarts: 2, oomPrevented: 5 }) },
        { name: "busy", summary: summary({ restarts: 14, oomPrevented: 1 }) },
      ]),
    ).toEqual([
      "--fail-if restarts>10 holds for busy: restarts is 14",
      "--fail-if oomPrevented<3 holds for busy: oomPrevented is 1",
    ]);
  });
});
