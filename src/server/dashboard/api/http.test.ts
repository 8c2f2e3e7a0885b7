// The query parameter parsers: absent and empty are "not given", anything else is checked and a bad value is the
// caller's mistake (BadRequest, answered 400).
import { describe, expect, it } from "vitest";
import { BadRequest, boolParam, oneOfParam, textParam, wholeNumberParam } from "./http.js";

const query = (text: string) => new URLSearchParams(text);

describe("query parameters", () => {
  it.each([
    ["", undefined],
    ["flag=", undefined],
    ["flag=true", true],
    ["flag=1", true],
    ["flag=false", false],
    ["flag=0", false],
  ])("boolParam(%j) is %j", (text, expected) => {
    expect(boolParam(query(text), "flag")).toBe(expected);
  });

  it.each([
    ["", undefined],
    ["n=", undefined],
    ["n=0", 0],
    ["n=42", 42],
  ])("wholeNumberParam(%j) is %j", (text, expected) => {
    expect(wholeNumberParam(query(text), "n")).toBe(expected);
  });

  it("refuses what is not true or false, not a whole number, or not one of the allowed values", () => {
    expect(() => boolParam(query("flag=maybe"), "flag")).toThrow(new BadRequest("flag must be true or false"));
    for (const bad of ["-1", "1.5", "ten"])
      expect(() => wholeNumberParam(query(`n=${bad}`), "n")).toThrow(new BadRequest("n must be a whole number"));
    expect(() => oneOfParam(query("sort=size"), "sort", ["tenant", "health"])).toThrow(
      new BadRequest("sort must be one of tenant, health"),
    );
  });

  it("gives text and allowed values as they are, and empty as not given", () => {
    expect(textParam(query("q=alp"), "q")).toBe("alp");
    expect(textParam(query("q="), "q")).toBeUndefined();
    expect(oneOfParam(query("sort=health"), "sort", ["tenant", "health"])).toBe("health");
    expect(oneOfParam(query("sort="), "sort", ["tenant", "health"])).toBeUndefined();
  });
});
