import { describe, expect, it } from "vitest";
import { cronProblem, cronWindow } from "./cron.js";

const t = (iso: string) => Date.parse(iso);
const h = 3_600_000;

describe("cronProblem", () => {
  it.each(["0 9 * * 1-5", "*/15 * * * *", "@daily", "@hourly", "0 0 1 1 *"])("accepts %s", (expr) =>
    expect(cronProblem(expr)).toBeUndefined(),
  );
  it.each([
    ["61 * * * *", /minute/],
    ["0 0 0 * * *", /5 parts/], // seconds are not part of a budget's schedule
    ["bad", /invalid cron expression/],
    ["0 0 30 2 *", /never fires/],
  ])("refuses %s", (expr, why) => expect(cronProblem(expr)).toMatch(why));
});

describe("cronWindow (UTC)", () => {
  // Weekdays 09:00 UTC for 8 hours. 2026-12-07 is a Monday, 2026-12-05 a Saturday.
  const expr = "0 9 * * 1-5";
  it.each([
    ["2026-12-07T08:59:59Z", false, "2026-12-07T09:00:00Z"],
    ["2026-12-07T09:00:00Z", true, "2026-12-07T17:00:00Z"],
    ["2026-12-07T16:59:59Z", true, "2026-12-07T17:00:00Z"],
    ["2026-12-07T17:00:00Z", false, "2026-12-08T09:00:00Z"],
    ["2026-12-05T12:00:00Z", false, "2026-12-07T09:00:00Z"],
  ])("at %s: active %s, changes at %s", (now, active, changesAt) =>
    expect(cronWindow(expr, 8 * h, t(now))).toEqual({ active, changesAt: t(changesAt) }),
  );
  it("is evaluated in UTC, whatever the process's time zone", () => {
    expect(cronWindow("@daily", h, t("2026-12-07T00:30:00Z")).active).toBe(true);
    expect(cronWindow("@daily", h, t("2026-12-07T01:00:00Z")).active).toBe(false);
  });
  it("stays active while windows overlap: the latest start decides", () => {
    // Every 10 minutes for 15: always active; it is looked at again at the end of the latest window.
    expect(cronWindow("*/10 * * * *", 15 * 60_000, t("2026-12-07T10:12:00Z"))).toEqual({
      active: true,
      changesAt: t("2026-12-07T10:25:00Z"),
    });
  });
});
