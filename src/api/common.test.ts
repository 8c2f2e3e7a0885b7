import { describe, expect, it } from "vitest";
import { DURATION_PATTERN, Duration, parseDuration } from "./common.js";

// Values checked against Go's time.ParseDuration (go1.22): the same text gives the same length, in milliseconds.
describe("parseDuration", () => {
  it.each([
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["90s", 90_000],
    ["500ms", 500],
    ["2h45m30s", 9_930_000],
    ["0", 0],
    ["0s", 0],
    ["1m", 60_000],
    [".5s", 500],
    ["1.s", 1000],
    ["1.1s", 1100],
    ["250us", 0.25],
    ["250µs", 0.25],
    ["250μs", 0.25],
    ["1500000ns", 1.5],
    ["1h1h", 7_200_000],
    ["1ms500us", 1.5],
    ["2562047h", 2_562_047 * 3_600_000],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([
    "",
    "10",
    "1.5",
    "5x",
    "1d",
    "m5",
    "-1s",
    "+1s",
    "1 s",
    " 1s",
    "1s ",
    "1h30",
    ".s",
    "1..5s",
    "1S",
    "2562048h",
  ])("rejects %j", (text) => expect(() => parseDuration(text)).toThrow(/invalid duration/));

  it("parses every string the CRD pattern accepts, and only those (within Go's range)", () => {
    const samples = ["1h30m", "1.5h", ".5h", "1.h", "0", "00", "0.0s", "1d", "1", "-1s", "1e3s", "3mm", "h", "1hh"];
    for (const s of samples) {
      let parses = true;
      try {
        parseDuration(s);
      } catch {
        parses = false;
      }
      expect({ s, parses }).toEqual({ s, parses: new RegExp(DURATION_PATTERN).test(s) });
      expect({ s, valid: Duration.safeParse(s).success }).toEqual({ s, valid: parses });
    }
  });
});
