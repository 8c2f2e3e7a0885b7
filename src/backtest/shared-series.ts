// A history's series on SharedArrayBuffers, so that the replay's threads (./workers.ts) read the one copy the main
// thread holds instead of a copy each: a SharedArrayBuffer is shared, not copied, when posted.

/** A series of `steps` values, all NaN (no value yet), on a SharedArrayBuffer. */
export function newSeries(steps: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(steps * Float64Array.BYTES_PER_ELEMENT)).fill(Number.NaN);
}
