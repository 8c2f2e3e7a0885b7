import snappy from "snappyjs";
import { describe, expect, it } from "vitest";
import {
  decodeReadResponse,
  encodeReadRequest,
  readRequestBody,
  readResponseBody,
  RemoteReadDecodeError,
} from "./remote-read.js";
import { field, response, sample, series, staleBits, str, varint } from "./remote-read-testing.js";

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

  it("encodes a ReadRequest: each query's range and matchers, and the SAMPLES response type", () => {
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
    expect([...bytes]).toEqual([...field(1, query), ...field(2, [0])]);
    expect([...snappy.uncompress(Uint8Array.from(readRequestBody([])))]).toEqual([...field(2, [0])]);
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
