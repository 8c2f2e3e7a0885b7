import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["15s", 15_000],
    ["1m30s", 90_000],
    ["3h", 10_800_000],
    ["2d", 172_800_000],
    ["1.5s", 1500],
  ])("%s → %i ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "10", "5x", "m5", "-1s"])("rejects %j", (text) => expect(() => parseDuration(text)).toThrow());

  it("formats round values", () => {
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(90_000)).toBe("90s");
  });
});
