import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { byteSize, duration, durationOrZero, percent, positiveInteger, positiveNumber } from "./args.js";
import { prometheusOptions } from "./common-flags.js";

describe("argument parsers", () => {
  it.each([
    [positiveNumber, ["20", "2.5"], ["abc", "", "0", "-1", "Infinity"]],
    [positiveInteger, ["1", "40"], ["abc", "2.5", "0", " "]],
    [duration, ["15s", "1m30s", "2h"], ["15", "soon", ""]],
    [durationOrZero, ["0", "10s"], ["10", "off"]],
    [percent, ["34", "100", "0.5"], ["0", "101", "x"]],
    [byteSize, ["32Mi", "100M", "1Ki", "2048"], ["32MB", "1", "-1Mi", "lots", ""]],
  ] as const)("%o accepts its forms and refuses others", (parse, good, bad) => {
    for (const v of good) expect(parse(v)).toBe(v);
    for (const v of bad) expect(() => parse(v)).toThrow(InvalidArgumentError);
  });
});

describe("--prometheus-max-response-size", () => {
  it("reaches the Prometheus client in bytes", () => {
    expect(prometheusOptions({ prometheusUrl: "http://p:9090", prometheusMaxResponseSize: "64Mi" })).toMatchObject({
      maxResponseBytes: 64 * 1024 * 1024,
    });
  });
});
