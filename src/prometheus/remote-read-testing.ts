// ReadResponse messages for tests, written by a protocol buffer writer of their own, independent of the one in
// remote-read.ts: a decoder is not tested against its own encoder.
export const varint = (v: number): number[] => {
  const out: number[] = [];
  let n = v;
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
export const field = (n: number, bytes: number[]): number[] => [
  ...varint(n * 8 + 2),
  ...varint(bytes.length),
  ...bytes,
];
export const str = (n: number, s: string): number[] => field(n, [...Buffer.from(s, "utf8")]);
const double = (bits: [number, number] | number): number[] => {
  const b = Buffer.alloc(8);
  if (typeof bits === "number") b.writeDoubleLE(bits);
  else {
    b.writeUInt32LE(bits[0], 0);
    b.writeUInt32LE(bits[1], 4);
  }
  return [...b];
};
/** A Sample: value as a number or as [low, high] bits, and its timestamp. */
export const sample = (value: number | [number, number], t: number): number[] => [
  ...varint((1 << 3) + 1),
  ...double(value),
  ...varint(2 << 3),
  ...varint(t),
];
export const series = (labels: Record<string, string>, samples: number[][]): number[] => [
  ...Object.entries(labels).flatMap(([k, v]) => field(1, [...str(1, k), ...str(2, v)])),
  ...samples.flatMap((s) => field(2, s)),
];
export const response = (results: number[][][]): Uint8Array =>
  Uint8Array.from(
    results.flatMap((r) =>
      field(
        1,
        r.flatMap((s) => field(1, s)),
      ),
    ),
  );

/** Prometheus' stale marker's bits, [low, high]. */
export const staleBits: [number, number] = [0x00000002, 0x7ff00000];
