// A history's series on SharedArrayBuffers, so that the replay's threads (./workers.ts) read the one copy the main
// thread holds instead of a copy each: a SharedArrayBuffer is shared, not copied, when posted.

/** A series of `steps` values, all NaN (no value yet), on a SharedArrayBuffer. */
export function newSeries(steps: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(steps * Float64Array.BYTES_PER_ELEMENT)).fill(Number.NaN);
}

/**
 * The series of the histories a backtest reads batch by batch, used again: a batch's series, given back once
 * nothing reads them any more (its replay has ended), are the next batches' (NaN again). A new SharedArrayBuffer
 * is memory the kernel maps and zeroes page by page on first touch, each batch again once the last one's is freed
 * (about 2.4 of the main thread's 20 CPU-s in a 100-tenant, 14-day run); one used again is only filled.
 */
export class SeriesPool {
  private readonly free: Float64Array[] = [];

  constructor(readonly steps: number) {}

  /** A series of `steps` NaN values, on a SharedArrayBuffer. */
  take(): Float64Array {
    const reused = this.free.pop();
    return reused ? reused.fill(Number.NaN) : newSeries(this.steps);
  }

  /**
   * Gives back every series of `history` (a SignalHistory) of this pool's length on a SharedArrayBuffer of its own (as take gives
   * them): the caller says nothing reads them any more, here or in a replay thread.
   */
  release(history: { series: Record<string, ReadonlyMap<string, Float64Array>> }): void {
    const bytes = this.steps * Float64Array.BYTES_PER_ELEMENT;
    for (const byKey of Object.values(history.series))
      for (const values of byKey.values())
        if (values.buffer instanceof SharedArrayBuffer && values.byteOffset === 0 && values.buffer.byteLength === bytes)
          this.free.push(values);
  }

  /** Series held for use again. */
  get held(): number {
    return this.free.length;
  }
}
