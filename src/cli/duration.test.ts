import { describe, expect, it } from "vitest";
import { formatDuration } from "./duration.js";

describe("formatDuration", () => {
  it.each([
    [3_600_000, "1h"],
    [5_400_000, "90m"],
    [90_000, "90s"],
    [1500, "1500ms"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
