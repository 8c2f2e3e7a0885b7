import { describe, expect, it } from "vitest";
import { historyMetrics, type SignalHistory } from "./signals.js";
import { SeriesPool } from "./shared-series.js";

function historyWith(entries: Array<[string, Float64Array]>): SignalHistory {
  const series = Object.fromEntries(historyMetrics.map((m) => [m, new Map<string, Float64Array>()]));
  for (const [key, values] of entries) series.cpu?.set(key, values);
  return { series } as unknown as SignalHistory;
}

describe("SeriesPool", () => {
  it("gives series of its length, all NaN, on SharedArrayBuffers; given back, they are used again, NaN again", () => {
    const pool = new SeriesPool(5);
    const a = pool.take();
    const b = pool.take();
    expect(a.length).toBe(5);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...a].every(Number.isNaN)).toBe(true);
    expect(a.buffer).not.toBe(b.buffer);
    a.fill(1);
    b[2] = 7;
    pool.release(
      historyWith([
        ["ns/p/c", a],
        ["ns/q/c", b],
      ]),
    );
    expect(pool.held).toBe(2);
    const again = [pool.take(), pool.take()];
    expect(again.map((x) => x.buffer).sort()).toEqual([a.buffer, b.buffer].sort());
    for (const x of again) expect([...x].every(Number.isNaN)).toBe(true);
    expect(pool.held).toBe(0);
    expect(pool.take().buffer).not.toBe(a.buffer);
  });

  it("keeps no series that is not one of its own kind: another length, a plain buffer, or a view into a larger one", () => {
    const pool = new SeriesPool(4);
    const shared = new Float64Array(new SharedArrayBuffer(64));
    pool.release(
      historyWith([
        ["a", new Float64Array(new SharedArrayBuffer(3 * 8))],
        ["b", new Float64Array(4)],
        ["c", shared.subarray(0, 4)],
        ["d", shared.subarray(4, 8)],
      ]),
    );
    expect(pool.held).toBe(0);
  });
});
