import fc from "fast-check";
import snappy from "snappyjs";
import { describe, expect, it } from "vitest";
import {
  crc32c,
  decodeReadResponse,
  decodeStreamedResponse,
  decodeXorChunk,
  encodeReadRequest,
  readRequestBody,
  readResponseBody,
  RemoteReadDecodeError,
  SampleColumns,
} from "./remote-read.js";
import {
  crc32cSlow,
  field,
  floatBits,
  frame,
  response,
  sample,
  series,
  staleBits,
  str,
  varint,
  xorChunk,
} from "./remote-read-testing.js";

describe("remote read messages", () => {
  it("decodes each query's series, its labels and samples, and tells the stale marker from other NaNs", () => {
    const t = 1_764_547_200_000; // 2025-12-01, a timestamp of more than 32 bits
    const body = response([
      [
        series({ __name__: "up", namespace: "tcp-a", pod: "p-1" }, [
          sample(1.5, t),
          sample(Number.NaN, t + 15_000),
          sample(staleBits, t + 30_000),
        ]),
        series({ __name__: "up", namespace: "tcp-b" }, []),
      ],
      [],
    ]);
    const [first, second] = decodeReadResponse(body);
    expect(second).toEqual([]);
    expect(first).toHaveLength(2);
    const s = first?.[0];
    expect(s?.labels).toEqual({ __name__: "up", namespace: "tcp-a", pod: "p-1" });
    expect([...(s?.timestampsMs ?? [])]).toEqual([t, t + 15_000, t + 30_000]);
    expect(s?.values[0]).toBe(1.5);
    expect(Number.isNaN(s?.values[1])).toBe(true);
    expect([...(s?.stale ?? [])]).toEqual([0, 0, 1]);
    expect(first?.[1]?.timestampsMs).toHaveLength(0);
  });

  it("refuses a truncated answer, samples out of order and native histograms, never guesses", () => {
    const good = response([[series({ a: "b" }, [sample(1, 1000), sample(2, 2000)])]]);
    expect(() => decodeReadResponse(good.subarray(0, good.length - 3))).toThrow(RemoteReadDecodeError);
    const backwards = response([[series({ a: "b" }, [sample(1, 2000), sample(2, 1000)])]]);
    expect(() => decodeReadResponse(backwards)).toThrow(/out of time order/);
    const histogram = response([[[...series({ a: "b" }, []), ...field(4, [8, 1])]]]);
    expect(() => decodeReadResponse(histogram)).toThrow(/histogram/);
  });

  it("encodes a ReadRequest: each query's range and matchers, and streamed chunks asked before samples", () => {
    const bytes = encodeReadRequest([
      {
        startMs: 1_764_547_200_000,
        endMs: 1_764_547_260_000,
        matchers: [
          { type: "=", name: "__name__", value: "up" },
          { type: "=~", name: "namespace", value: "tcp-a|tcp-b" },
          { type: "!=", name: "container", value: "" },
        ],
      },
    ]);
    const query = [
      ...varint(1 << 3),
      ...varint(1_764_547_200_000),
      ...varint(2 << 3),
      ...varint(1_764_547_260_000),
      ...field(3, [...str(2, "__name__"), ...str(3, "up")]),
      ...field(3, [...varint(1 << 3), 2, ...str(2, "namespace"), ...str(3, "tcp-a|tcp-b")]),
      ...field(3, [...varint(1 << 3), 1, ...str(2, "container"), ...str(3, "")]),
    ];
    expect([...bytes]).toEqual([...field(1, query), ...field(2, [1, 0])]);
    expect([...snappy.uncompress(Uint8Array.from(readRequestBody([])))]).toEqual([...field(2, [1, 0])]);
    expect(() => encodeReadRequest([{ startMs: 10, endMs: 5, matchers: [] }])).toThrow(/time range/);
  });

  it("decompresses an answer, and refuses one larger than the limit once decompressed", () => {
    const body = response([[series({ a: "b" }, [sample(7, 1000)])]]);
    const compressed = snappy.compress(body);
    expect(readResponseBody(compressed, 1024)[0]?.[0]?.values[0]).toBe(7);
    expect(() => readResponseBody(compressed, 8)).toThrow(/decompressed/);
    expect(() => readResponseBody(Uint8Array.of(0xff, 0xff, 0xff), 1024)).toThrow(RemoteReadDecodeError);
  });
});

describe("streamed chunks", () => {
  const staleMarker = 0x7ff0000000000002n;
  /**
   * Each sample's bits, to compare with what was written (-0 told from +0, the stale marker from other NaNs; any
   * other NaN is "NaN": a JavaScript number need not keep a NaN's payload, as the SAMPLES answer's do not either).
   */
  const isNaNBits = (v: bigint) =>
    v !== staleMarker && ((v >> 52n) & 0x7ffn) === 0x7ffn && (v & ((1n << 52n) - 1n)) !== 0n;
  const asRead = (v: bigint) => (isNaNBits(v) ? "NaN" : v);
  const decoded = (data: Uint8Array, startMs = -Infinity, endMs = Infinity) => {
    const out = new SampleColumns();
    decodeXorChunk(data, startMs, endMs, out);
    return [...out.times.subarray(0, out.length)].map((t, i) => [
      t,
      asRead(out.stale[i] ? staleMarker : floatBits(out.values[i] as number)),
    ]);
  };

  it("decodes an XOR chunk as xor.go writes it, to the bit: any times, any values", () => {
    const value = fc.oneof(
      fc.double().map(floatBits),
      fc.integer({ min: 0, max: 50 }).map((n) => floatBits(n)),
      fc.constantFrom(staleMarker, floatBits(-0), floatBits(Infinity), floatBits(Number.NaN), 0x7ff8000000000001n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    );
    // Steady scrapes, and jumps from them to each bucket's edges of the delta of deltas (2^13, 2^16, 2^19 and one
    // past them, negative and positive).
    const edges = [8192, -8191, 8193, -8192, 65536, -65535, 524288, -524287, 524289, -524288];
    const gap = fc.oneof(
      fc.constantFrom(15_000, 30_000),
      fc.constantFrom(...edges.map((e) => 600_000 + e)),
      fc.integer({ min: 1, max: 40_000 }),
      fc.integer({ min: 1, max: 2 ** 40 }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.array(fc.tuple(gap, value), { minLength: 1, maxLength: 120 }),
        (start, points) => {
          let t = start;
          const samples = points.map(([g, v]): [number, bigint] => [(t += g), v]);
          // NaNs come back as the NaN they were, and the stale marker as such.
          expect(decoded(xorChunk(samples))).toEqual(samples.map(([ts, v]) => [ts, asRead(v)]));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses a chunk cut short anywhere, and appends chunk after chunk to one series' columns", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 2 ** 33 }), fc.double().map(floatBits)), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.nat(),
        (points, cutAt) => {
          let t = 1_764_547_200_000;
          const samples = points.map(([g, v]): [number, bigint] => [(t += g), v]);
          const data = xorChunk(samples);
          // Every byte of a chunk holds a bit of a sample: one cut anywhere loses part of one.
          const cut = cutAt % data.length;
          expect(() => decodeXorChunk(data.subarray(0, cut), -Infinity, Infinity, new SampleColumns())).toThrow(
            RemoteReadDecodeError,
          );
          const out = new SampleColumns();
          for (let k = 0; k < 3; k++) decodeXorChunk(data, -Infinity, Infinity, out);
          expect(out.length).toBe(3 * samples.length);
          expect([...out.times.subarray(0, out.length)]).toEqual([1, 2, 3].flatMap(() => samples.map(([ts]) => ts)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads a delta of deltas on each edge of each bucket", () => {
    for (const e of [8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288]) {
      const samples: Array<[number, bigint]> = [0, 30_000, 60_000 + e, 120_000 + e].map((t, i) => [
        10_000_000 + t,
        floatBits(i),
      ]);
      expect(decoded(xorChunk(samples)), String(e)).toEqual(samples.map(([ts, v]) => [ts, asRead(v)]));
    }
  });

  it("keeps a chunk's samples within the query's range only", () => {
    const samples: Array<[number, bigint]> = [1000, 2000, 3000, 4000].map((t, i) => [t, floatBits(i)]);
    expect(decoded(xorChunk(samples), 2000, 3000).map(([t]) => t)).toEqual([2000, 3000]);
  });

  it("checksums frames with CRC-32C", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    const random = Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff);
    expect(crc32c(random)).toBe(crc32cSlow(random));
    // Eight bytes a step, and the bytes before and after: any start and end.
    for (const start of [0, 1, 3, 7, 8, 9])
      for (const end of [start, start + 1, start + 7, start + 8, 291, 299, 300])
        expect(crc32c(random, start, end), `${start}..${end}`).toBe(crc32cSlow(random.subarray(start, end)));
  });

  it("reads each query's series from frames, one series going on in the next frame, its labels again", () => {
    const a = { __name__: "up", job: "a" };
    const b = { __name__: "up", job: "b" };
    const chunk = (from: number, n: number) =>
      xorChunk(Array.from({ length: n }, (_, i): [number, bigint] => [from + i * 1000, floatBits(i)]));
    const body = Uint8Array.from([
      ...frame(0, [{ labels: a, chunks: [{ data: chunk(0, 3) }] }]),
      ...frame(0, [{ labels: a, chunks: [{ data: chunk(3000, 2) }] }]),
      ...frame(1, [{ labels: b, chunks: [{ data: chunk(0, 4) }] }]),
    ]);
    const queries = [
      { startMs: 1000, endMs: 4000, matchers: [] },
      { startMs: 0, endMs: 1000, matchers: [] },
    ];
    const [first = [], second = []] = decodeStreamedResponse(body, queries);
    expect(first.map((s) => [s.labels, [...s.timestampsMs]])).toEqual([[a, [1000, 2000, 3000, 4000]]]);
    expect(second.map((s) => [s.labels, [...s.timestampsMs], [...s.values]])).toEqual([[b, [0, 1000], [0, 1]]]);
  });

  it("refuses a frame with a wrong checksum, a chunk that is not XOR, an unknown query and a truncated chunk", () => {
    const labels = { __name__: "up" };
    const data = xorChunk([
      [1000, floatBits(1)],
      [2000, floatBits(2)],
    ]);
    const q = [{ startMs: 0, endMs: 5000, matchers: [] }];
    const read = (bytes: number[]) => () => decodeStreamedResponse(Uint8Array.from(bytes), q);
    expect(read(frame(0, [{ labels, chunks: [{ data }] }], (m) => crc32cSlow(m) ^ 1))).toThrow(/checksum/);
    expect(read(frame(0, [{ labels, chunks: [{ type: 2, data }] }]))).toThrow(/encoding 2/);
    expect(read(frame(3, [{ labels, chunks: [{ data }] }]))).toThrow(/query 3/);
    expect(read(frame(0, [{ labels, chunks: [{ data: data.subarray(0, data.length - 2) }] }]))).toThrow(
      RemoteReadDecodeError,
    );
  });
});
