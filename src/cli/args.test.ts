import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { duration, durationOrZero, percent, positiveInteger, positiveNumber } from "./args.js";

describe("argument parsers", () => {
  it.each([
    [positiveNumber, ["20", "2.5"], ["abc", "", "0", "-1", "Infinity"]],
    [positiveInteger, ["1", "40"], ["abc", "2.5", "0", " "]],
    [duration, ["15s", "1m30s", "2h"], ["15", "soon", ""]],
    [durationOrZero, ["0", "10s"], ["10", "off"]],
    [percent, ["34", "100", "0.5"], ["0", "101", "x"]],
  ] as const)("%o accepts its forms and refuses others", (parse, good, bad) => {
    for (const v of good) expect(parse(v)).toBe(v);
    for (const v of bad) expect(() => parse(v)).toThrow(InvalidArgumentError);
  });
});
