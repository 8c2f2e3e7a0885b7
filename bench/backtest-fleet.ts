// The synthetic fleet of the backtest benchmark lives in src/backtest/synthetic-fleet.ts, beside the tests that also
// replay it (a test under src/ may import only src/: the image's build compiles src/ alone). This path stays for
// bench/backtest.ts, which imports the compiled fleet of a baseline commit from here.
export * from "../src/backtest/synthetic-fleet.js";
