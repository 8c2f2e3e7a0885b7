// Polling helper shared by tests and benchmarks (no vitest import, so benchmarks can load it).
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` until it returns a value that is not undefined, or fails after `timeoutMs`. `what` may be a function,
 * so that the failure can say what was last seen.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}
