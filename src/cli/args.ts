// Argument parsers for commander: a bad value fails at parse time with one line that names the flag (commander
// adds "option '--qps <n>' argument 'abc' is invalid.") and says what form is expected, and the process exits 1
// without a stack. Each returns the text it was given, so defaults and parsed values have the same type.
import { InvalidArgumentError } from "commander";
import { parseDuration, parseQuantity } from "../api/common.js";

/** A number > 0, e.g. --qps 20. */
export function positiveNumber(value: string): string {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("expected a number greater than 0, e.g. 20 or 2.5");
  return value;
}

/** An integer ≥ 1, e.g. --burst 40. */
export function positiveInteger(value: string): string {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError("expected a whole number of at least 1, e.g. 4");
  return value;
}

/** A Go-style duration with a unit, e.g. --lease-duration 15s. */
export function duration(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError("expected a duration with a unit, e.g. 15s, 1m30s or 2h");
  }
  return value;
}

/** A duration, or 0 for "off". */
export function durationOrZero(value: string): string {
  return value.trim() === "0" ? "0" : duration(value);
}

/** A percentage in (0, 100]. */
export function percent(value: string): string {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 100)
    throw new InvalidArgumentError("expected a percentage greater than 0 and at most 100, e.g. 34");
  return value;
}

/** A size in bytes as a Kubernetes quantity, at least 1 KiB, e.g. --prometheus-max-response-size 64Mi. */
export function byteSize(value: string): string {
  let bytes = Number.NaN;
  try {
    bytes = parseQuantity(value.trim());
  } catch {
    // reported below
  }
  if (!Number.isFinite(bytes) || bytes < 1024)
    throw new InvalidArgumentError("expected a size of at least 1Ki, as a quantity, e.g. 32Mi or 100M");
  return value;
}
