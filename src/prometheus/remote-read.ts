// Prometheus' remote read API (POST /api/v1/read, the SAMPLES response type): a ReadRequest and a ReadResponse
// (prompb's remote.proto and types.proto), snappy-compressed protocol buffers. It hands out a selector's raw samples
// as the TSDB holds them, stale markers included, which the query API drops from a range selector's answer: a
// reader can then pick a series' value at a step exactly as PromQL's instant vector selector does (selectAtSteps in
// src/backtest/signals.ts), with the lookback and with a series ending at its marker.
//
// The few messages are encoded and decoded here rather than with a protobuf library: the samples go straight into
// Float64Arrays (no object per sample), and a stale marker is told from any other NaN by its bits, which a decoder
// that hands out numbers would not keep.
import snappy from "snappyjs";

/** A label matcher, as PromQL writes it. */
export interface LabelMatcher {
  type: "=" | "!=" | "=~" | "!~";
  name: string;
  value: string;
}

export interface RemoteQuery {
  /** Samples at or after it, ms since epoch. */
  startMs: number;
  /** Samples at or before it. */
  endMs: number;
  /** The series' matchers, the metric name as `__name__`. */
  matchers: readonly LabelMatcher[];
}

/** One series' raw samples, in time order. */
export interface RawSeries {
  labels: Record<string, string>;
  timestampsMs: Float64Array;
  /** The sample values; a stale marker's value is NaN here, and 1 in `stale`. */
  values: Float64Array;
  /** 1 where the sample is a stale marker (the series ended there, or its scrape failed), else 0. */
  stale: Uint8Array;
}

const matcherTypes: Record<LabelMatcher["type"], number> = { "=": 0, "!=": 1, "=~": 2, "!~": 3 };

/** Protocol buffer writer: just what ReadRequest needs (varints, length-delimited fields). */
class Writer {
  private readonly bytes: number[] = [];

  varint(v: number): this {
    // Timestamps fit in 53 bits; a varint takes 7 bits a byte, the low ones first.
    let n = v;
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
    return this;
  }

  key(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  bytesField(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, Buffer.from(s, "utf8"));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** A ReadRequest of `queries`, accepting the SAMPLES response type, as protocol buffer bytes (not compressed). */
export function encodeReadRequest(queries: readonly RemoteQuery[]): Uint8Array {
  const request = new Writer();
  for (const q of queries) {
    if (!Number.isSafeInteger(q.startMs) || !Number.isSafeInteger(q.endMs) || q.startMs < 0 || q.endMs < q.startMs)
      throw new Error(`remote read: bad time range ${q.startMs}..${q.endMs}`);
    const query = new Writer().key(1, 0).varint(q.startMs).key(2, 0).varint(q.endMs);
    for (const m of q.matchers) {
      const matcher = new Writer();
      // Type EQ is the default (0) and so is left out, as protobuf encoders do.
      const type = matcherTypes[m.type];
      if (type !== 0) matcher.key(1, 0).varint(type);
      matcher.stringField(2, m.name).stringField(3, m.value);
      query.bytesField(3, matcher.finish());
    }
    request.bytesField(1, query.finish());
  }
  // accepted_response_types: SAMPLES (0), packed.
  request.bytesField(2, Uint8Array.of(0));
  return request.finish();
}

/** The request body: the ReadRequest, snappy-compressed (block format), as the API reads it. */
export function readRequestBody(queries: readonly RemoteQuery[]): Buffer {
  return Buffer.from(snappy.compress(encodeReadRequest(queries)));
}

/** Why a ReadResponse could not be read. */
export class RemoteReadDecodeError extends Error {
  constructor(message: string) {
    super(`remote read answer: ${message}`);
    this.name = "RemoteReadDecodeError";
  }
}

/** A protocol buffer reader over one message's bytes. */
class Reader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RemoteReadDecodeError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    throw new RemoteReadDecodeError("varint too long");
  }

  /** A length-delimited field's [start, end). */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new RemoteReadDecodeError("field runs past its message");
    this.pos = start + len;
    return [start, start + len];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new RemoteReadDecodeError(`wire type ${wire} not supported`);
    if (this.pos > this.end) throw new RemoteReadDecodeError("field runs past its message");
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Prometheus' stale marker: the NaN with bits 0x7ff0000000000002. */
const staleHigh = 0x7ff00000;
const staleLow = 0x00000002;

/** One TimeSeries message: its labels and float samples (histogram samples are refused: no reader here takes them). */
function decodeSeries(buf: Uint8Array, view: DataView, start: number, end: number): RawSeries {
  const labels: Record<string, string> = {};
  // Samples: first their spans (start and end, flat), then their fields straight into columns.
  const samples: number[] = [];
  const r = new Reader(buf, start, end);
  while (r.more) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1 && wire === 2) {
      const [s, e] = r.span();
      const l = new Reader(buf, s, e);
      let name = "";
      let value = "";
      while (l.more) {
        const k = l.varint();
        if (k === (1 << 3) + 2) name = utf8.decode(buf.subarray(...l.span()));
        else if (k === (2 << 3) + 2) value = utf8.decode(buf.subarray(...l.span()));
        else l.skip(k % 8);
      }
      labels[name] = value;
    } else if (field === 2 && wire === 2) {
      const [s, e] = r.span();
      samples.push(s, e);
    } else if (field === 4 && wire === 2) throw new RemoteReadDecodeError("native histogram samples are not read here");
    else r.skip(wire);
  }
  const n = samples.length / 2;
  const timestampsMs = new Float64Array(n);
  const values = new Float64Array(n);
  const stale = new Uint8Array(n);
  // One reader for every sample, moved to each one's span.
  const sr = new Reader(buf, 0, 0);
  for (let i = 0; i < n; i++) {
    const e = samples[2 * i + 1] as number;
    sr.pos = samples[2 * i] as number;
    sr.end = e;
    let t = 0;
    let v = 0;
    let isStale = 0;
    while (sr.more) {
      const k = sr.varint();
      if (k === (1 << 3) + 1) {
        // double value, little-endian; its bits say whether it is the stale marker.
        if (sr.pos + 8 > e) throw new RemoteReadDecodeError("truncated sample value");
        const low = view.getUint32(sr.pos, true);
        const high = view.getUint32(sr.pos + 4, true);
        isStale = high === staleHigh && low === staleLow ? 1 : 0;
        v = view.getFloat64(sr.pos, true);
        sr.pos += 8;
      } else if (k === (2 << 3) + 0) {
        // int64 timestamp as a varint; a negative one (before 1970) is ten bytes, out of any range read here.
        t = sr.varint();
        if (t > Number.MAX_SAFE_INTEGER) throw new RemoteReadDecodeError("timestamp out of range");
      } else sr.skip(k % 8);
    }
    timestampsMs[i] = t;
    values[i] = isStale ? Number.NaN : v;
    stale[i] = isStale;
    if (i > 0 && t < (timestampsMs[i - 1] as number)) throw new RemoteReadDecodeError("samples out of time order");
  }
  return { labels, timestampsMs, values, stale };
}

/** A ReadResponse's results, one per query in the request's order: each query's series. */
export function decodeReadResponse(buf: Uint8Array): RawSeries[][] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const results: RawSeries[][] = [];
  const r = new Reader(buf, 0, buf.length);
  while (r.more) {
    const key = r.varint();
    if (key !== (1 << 3) + 2) {
      r.skip(key % 8);
      continue;
    }
    const [s, e] = r.span();
    const series: RawSeries[] = [];
    const q = new Reader(buf, s, e);
    while (q.more) {
      const k = q.varint();
      if (k === (1 << 3) + 2) series.push(decodeSeries(buf, view, ...q.span()));
      else q.skip(k % 8);
    }
    results.push(series);
  }
  return results;
}

/** The answer's body decompressed (at most `maxBytes` once decompressed) and decoded. */
export function readResponseBody(body: Uint8Array, maxBytes: number): RawSeries[][] {
  let raw: Uint8Array;
  try {
    raw = snappy.uncompress(body, maxBytes);
  } catch (err) {
    throw new RemoteReadDecodeError(
      `not snappy, or over ${maxBytes} bytes once decompressed: ${(err as Error).message}`,
    );
  }
  return decodeReadResponse(raw);
}
