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

/**
 * An XOR chunk of `samples` ([time ms, value bits as a BigInt]) as tsdb/chunkenc/xor.go's Append writes it, with
 * 64-bit arithmetic in BigInt: written independently of remote-read.ts' decoder.
 */
export function xorChunk(samples: ReadonlyArray<[number, bigint]>): Uint8Array {
  const bits: number[] = [];
  const write = (v: bigint, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push(Number((v >> BigInt(i)) & 1n));
  };
  const byte = (b: number) => write(BigInt(b), 8);
  const mask64 = (1n << 64n) - 1n;
  let t = 0;
  let tDelta = 0;
  let v = 0n;
  let leading = 0xff;
  let trailing = 0;
  const clz = (x: bigint) => 64 - x.toString(2).length;
  const ctz = (x: bigint) => {
    let n = 0;
    while (((x >> BigInt(n)) & 1n) === 0n) n++;
    return n;
  };
  const writeValue = (nv: bigint) => {
    const delta = nv ^ v;
    if (delta === 0n) return write(0n, 1);
    write(1n, 1);
    let newLeading = clz(delta);
    const newTrailing = ctz(delta);
    if (newLeading >= 32) newLeading = 31;
    if (leading !== 0xff && newLeading >= leading && newTrailing >= trailing) {
      write(0n, 1);
      write(delta >> BigInt(trailing), 64 - leading - trailing);
      return;
    }
    leading = newLeading;
    trailing = newTrailing;
    write(1n, 1);
    write(BigInt(newLeading), 5);
    const sig = 64 - newLeading - newTrailing;
    write(BigInt(sig & 63), 6);
    write(delta >> BigInt(newTrailing), sig);
  };
  samples.forEach(([ts, value], n) => {
    if (n === 0) {
      // binary.PutVarint: zig-zag.
      for (const b of varint(ts >= 0 ? 2 * ts : -2 * ts - 1)) byte(b);
      write(value & mask64, 64);
    } else if (n === 1) {
      tDelta = ts - t;
      for (const b of varint(tDelta)) byte(b);
      writeValue(value);
    } else {
      const d = ts - t - tDelta;
      tDelta = ts - t;
      const within = (nbits: number) => d >= -(2 ** (nbits - 1)) + 1 && d <= 2 ** (nbits - 1);
      const two = (x: number, nbits: number) => (BigInt(x) + (1n << BigInt(nbits))) % (1n << BigInt(nbits));
      if (d === 0) write(0n, 1);
      else if (within(14)) {
        write(0b10n, 2);
        write(two(d, 14), 14);
      } else if (within(17)) {
        write(0b110n, 3);
        write(two(d, 17), 17);
      } else if (within(20)) {
        write(0b1110n, 4);
        write(two(d, 20), 20);
      } else {
        write(0b1111n, 4);
        write(two(d, 64), 64);
      }
      writeValue(value);
    }
    t = ts;
    v = value & mask64;
  });
  while (bits.length % 8) bits.push(0);
  const out = [samples.length >> 8, samples.length & 0xff];
  for (let i = 0; i < bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8).join(""), 2));
  return Uint8Array.from(out);
}

/** A float's bits as a BigInt. */
export const floatBits = (x: number): bigint => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.readBigUInt64BE();
};

/** CRC-32C written the slow way, bit by bit, to check the table-driven one. */
export function crc32cSlow(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A streamed answer's frame: uvarint length, CRC-32C big-endian, a ChunkedReadResponse of `series` of `query`. */
export function frame(
  query: number,
  series: Array<{ labels: Record<string, string>; chunks: Array<{ type?: number; data: Uint8Array }> }>,
  crc: (data: Uint8Array) => number = crc32cSlow,
): number[] {
  const message = Uint8Array.from([
    ...series.flatMap((s) =>
      field(1, [
        ...Object.entries(s.labels).flatMap(([k, v]) => field(1, [...str(1, k), ...str(2, v)])),
        ...s.chunks.flatMap((c) => field(2, [...varint(3 << 3), ...varint(c.type ?? 1), ...field(4, [...c.data])])),
      ]),
    ),
    ...(query ? [...varint(2 << 3), ...varint(query)] : []),
  ]);
  const sum = crc(message);
  return [...varint(message.length), sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff, ...message];
}
