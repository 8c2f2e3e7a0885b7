import { describe, expect, it } from "vitest";
import { labelsMatch, selectorSelects } from "./selectors.js";

describe("labelsMatch", () => {
  it.each([
    [{ matchLabels: { a: "1" } }, { a: "1", b: "2" }, true],
    [{ matchLabels: { a: "1" } }, { a: "2" }, false],
    [{ matchExpressions: [{ key: "t", operator: "In" as const, values: ["x", "y"] }] }, { t: "y" }, true],
    [{ matchExpressions: [{ key: "t", operator: "In" as const, values: ["x"] }] }, {}, false],
    [{ matchExpressions: [{ key: "t", operator: "NotIn" as const, values: ["x"] }] }, {}, true],
    [{ matchExpressions: [{ key: "t", operator: "Exists" as const }] }, { t: "" }, true],
    [{ matchExpressions: [{ key: "t", operator: "DoesNotExist" as const }] }, { t: "" }, false],
    // Keys are the labels' own, never inherited object properties.
    [{ matchExpressions: [{ key: "constructor", operator: "Exists" as const }] }, {}, false],
    [{}, { any: "thing" }, true],
  ])("%j against %j → %s", (selector, labels, expected) => expect(labelsMatch(selector, labels)).toBe(expected));
});

describe("selectorSelects", () => {
  it("says what a missing selector means where the caller says it, and matches labels otherwise", () => {
    expect(selectorSelects(undefined, { a: "1" }, "nothing")).toBe(false);
    expect(selectorSelects(undefined, { a: "1" }, "everything")).toBe(true);
    for (const whenMissing of ["nothing", "everything"] as const) {
      expect(selectorSelects({}, undefined, whenMissing)).toBe(true);
      expect(selectorSelects({ matchLabels: { a: "1" } }, { a: "1" }, whenMissing)).toBe(true);
      expect(selectorSelects({ matchLabels: { a: "1" } }, { a: "2" }, whenMissing)).toBe(false);
    }
  });
});
