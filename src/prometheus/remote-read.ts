// Prometheus' remote read API (POST /api/v1/read): a ReadRequest, snappy-compressed, and its answer, either a
// ReadResponse of samples (snappy-compressed) or framed chunks (STREAMED_XOR_CHUNKS, asked first; below), as in
// prompb's remote.proto and types.proto. It hands out a selector's raw samples
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

/** A ReadRequest of `queries`, streamed chunks or else samples, as protocol buffer bytes (not compressed). */
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
  // accepted_response_types, packed, in the order of preference: STREAMED_XOR_CHUNKS (1), which the server
  // streams without decoding or buffering it whole, then SAMPLES (0) for a server without it (before 2.13).
  request.bytesField(2, Uint8Array.of(1, 0));
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

/** One Label message (name 1, value 2) at buf[start, end), into `labels`. */
function readLabel(buf: Uint8Array, start: number, end: number, labels: Record<string, string>): void {
  const l = new Reader(buf, start, end);
  let name = "";
  let value = "";
  while (l.more) {
    const k = l.varint();
    if (k === (1 << 3) + 2) name = utf8.decode(buf.subarray(...l.span()));
    else if (k === (2 << 3) + 2) value = utf8.decode(buf.subarray(...l.span()));
    else l.skip(k % 8);
  }
  labels[name] = value;
}

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
    if (field === 1 && wire === 2) readLabel(buf, ...r.span(), labels);
    else if (field === 2 && wire === 2) {
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

// The STREAMED_XOR_CHUNKS response type: the series' TSDB chunks as stored, framed, which the server neither
// decodes nor buffers whole (it streams a frame of at most --storage.remote.read-max-bytes-in-frame at a time, and
// keeps no sample limit); the chunks are decoded here. Each frame is a uvarint length, the CRC-32C (Castagnoli) of
// the frame's bytes, big-endian, and a ChunkedReadResponse: some series of one query (its index), each with its
// labels and chunks. A series longer than a frame goes on in the next ones, with its labels again. A chunk is
// whole, so it may hold samples outside the query's range: they are left out, as the SAMPLES answer leaves them.

/** The answer's content type when the server streams chunks (else the SAMPLES answer, snappy-compressed). */
export const streamedContentType = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf[start, end)`, as Go's crc32.Checksum with crc32.MakeTable(crc32.Castagnoli). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (crcTable[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A reader of a chunk's bits, most significant first (tsdb/chunkenc/bstream.go). */
class BitReader {
  constructor(
    private readonly buf: Uint8Array,
    /** The bit read next. */
    private pos: number,
    private readonly end: number,
  ) {}

  /** `n` bits (at most 32) as an unsigned number. */
  bits(n: number): number {
    const pos = this.pos;
    if (pos + n > this.end) throw new RemoteReadDecodeError("chunk ends within a sample");
    const shift = pos & 7;
    if (n > 0 && shift + n <= 32) {
      // All within the four bytes from the first one: one 32-bit word, its first `shift` bits dropped. A byte past
      // the buffer reads as 0 (none of its bits is taken: pos + n is within the chunk).
      const b = this.buf;
      const i = pos >>> 3;
      const word =
        ((b[i] as number) << 24) |
        (((b[i + 1] as number | undefined) ?? 0) << 16) |
        (((b[i + 2] as number | undefined) ?? 0) << 8) |
        ((b[i + 3] as number | undefined) ?? 0);
      this.pos = pos + n;
      return (word << shift) >>> (32 - n);
    }
    let v = 0;
    let left = n;
    while (left > 0) {
      const byte = this.buf[this.pos >>> 3] as number;
      const avail = 8 - (this.pos & 7);
      const take = avail < left ? avail : left;
      v = v * (1 << take) + ((byte >>> (avail - take)) & ((1 << take) - 1));
      this.pos += take;
      left -= take;
    }
    return v;
  }

  bit(): number {
    const pos = this.pos;
    if (pos >= this.end) throw new RemoteReadDecodeError("chunk ends within a sample");
    this.pos = pos + 1;
    return ((this.buf[pos >>> 3] as number) >>> (7 - (pos & 7))) & 1;
  }

  /** encoding/binary's uvarint, a byte at a time from the bits. */
  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.bits(8);
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    throw new RemoteReadDecodeError("varint too long in a chunk");
  }

  /** encoding/binary's (zig-zag) varint. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
}

/** Scratch space to turn a float's two 32-bit halves into the float. */
const scratch = new DataView(new ArrayBuffer(8));

/**
 * The samples of one XOR chunk (tsdb/chunkenc/xor.go: the first timestamp as a varint and value as 64 bits, the
 * second timestamp's delta as a uvarint, then deltas of deltas in 1, 14, 17, 20 or 64 bits; each value XOR the one
 * before, with its leading and trailing zero bits), those within [startMs, endMs] appended to the columns.
 */
export function decodeXorChunk(
  data: Uint8Array,
  startMs: number,
  endMs: number,
  out: { times: number[]; values: number[]; stale: number[] },
): void {
  if (data.length < 2) throw new RemoteReadDecodeError("chunk without its sample count");
  const count = ((data[0] as number) << 8) | (data[1] as number);
  const r = new BitReader(data, 16, data.length * 8);
  let t = 0;
  let delta = 0;
  // The value's bits, high and low halves, and the leading and trailing zeros of the last XOR written in full.
  let hi = 0;
  let lo = 0;
  let leading = 0xff;
  let trailing = 0;
  for (let n = 0; n < count; n++) {
    if (n === 0) {
      t = r.varint();
      hi = r.bits(32);
      lo = r.bits(32);
    } else {
      if (n === 1) delta = r.uvarint();
      else {
        let d = 0;
        for (let i = 0; i < 4; i++) {
          d <<= 1;
          if (r.bit() === 0) break;
          d |= 1;
        }
        let dod = 0;
        const size = d === 0b10 ? 14 : d === 0b110 ? 17 : d === 0b1110 ? 20 : 0;
        if (size > 0) {
          const bits = r.bits(size);
          // Negative numbers come back as large unsigned ones (docs/bstream.md).
          dod = bits > 2 ** (size - 1) ? bits - 2 ** size : bits;
        } else if (d === 0b1111) {
          const high = r.bits(32);
          dod = (high | 0) * 2 ** 32 + r.bits(32);
        }
        delta += dod;
      }
      t += delta;
      // The value: unchanged ('0'), or XOR'd with significant bits placed by the last or by new zero counts.
      if (r.bit() === 1) {
        if (r.bit() === 1) {
          leading = r.bits(5);
          let significant = r.bits(6);
          if (significant === 0) significant = 64;
          trailing = 64 - leading - significant;
        } else if (leading === 0xff) throw new RemoteReadDecodeError("chunk reuses zero counts it never set");
        const top = 63 - leading;
        // The bits at positions top..trailing: those at 32 and above into the high half, the others into the low.
        const highCount = top >= 32 ? top - Math.max(trailing, 32) + 1 : 0;
        const lowCount = top - trailing + 1 - highCount;
        if (highCount > 0) hi = (hi ^ (r.bits(highCount) * 2 ** (Math.max(trailing, 32) - 32))) >>> 0;
        if (lowCount > 0) lo = (lo ^ (r.bits(lowCount) * 2 ** trailing)) >>> 0;
      }
    }
    if (t < startMs || t > endMs) continue;
    scratch.setUint32(0, hi);
    scratch.setUint32(4, lo);
    const isStale = hi === staleHigh && lo === staleLow;
    out.times.push(t);
    out.values.push(isStale ? Number.NaN : scratch.getFloat64(0));
    out.stale.push(isStale ? 1 : 0);
  }
}

/**
 * A streamed answer's series, one list per query in `queries`' order, each series' samples within its query's
 * range. Refuses a frame whose checksum does not match, a chunk that is not a float (XOR) chunk, and samples out of
 * time order.
 */
export function decodeStreamedResponse(buf: Uint8Array, queries: readonly RemoteQuery[]): RawSeries[][] {
  type Building = { labels: Record<string, string>; times: number[]; values: number[]; stale: number[] };
  const byQuery = queries.map(() => new Map<string, Building>());
  const frames = new Reader(buf, 0, buf.length);
  while (frames.more) {
    const size = frames.varint();
    const start = frames.pos + 4;
    if (start + size > buf.length) throw new RemoteReadDecodeError("frame runs past the answer");
    const crc =
      (((buf[frames.pos] as number) << 24) |
        ((buf[frames.pos + 1] as number) << 16) |
        ((buf[frames.pos + 2] as number) << 8) |
        (buf[frames.pos + 3] as number)) >>>
      0;
    if (crc32c(buf, start, start + size) !== crc) throw new RemoteReadDecodeError("frame checksum does not match");
    frames.pos = start + size;
    // The frame's query first: its fields may come in any order.
    const f = new Reader(buf, start, start + size);
    let index = 0;
    const seriesSpans: Array<[number, number]> = [];
    while (f.more) {
      const key = f.varint();
      if (key === (1 << 3) + 2) seriesSpans.push(f.span());
      else if (key === (2 << 3) + 0) index = f.varint();
      else f.skip(key % 8);
    }
    const query = queries[index];
    const series = byQuery[index];
    if (!query || !series) throw new RemoteReadDecodeError(`frame of query ${index}, of ${queries.length} asked`);
    for (const [s, e] of seriesSpans) {
      const labels: Record<string, string> = {};
      const chunks: Array<[number, number]> = [];
      const r = new Reader(buf, s, e);
      while (r.more) {
        const key = r.varint();
        if (key === (1 << 3) + 2) readLabel(buf, ...r.span(), labels);
        else if (key === (2 << 3) + 2) chunks.push(r.span());
        else r.skip(key % 8);
      }
      const id = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      let b = series.get(id);
      if (!b) series.set(id, (b = { labels, times: [], values: [], stale: [] }));
      for (const [cs, ce] of chunks) {
        const c = new Reader(buf, cs, ce);
        let type = 0;
        let data: Uint8Array | undefined;
        while (c.more) {
          const k = c.varint();
          if (k === (3 << 3) + 0) type = c.varint();
          else if (k === (4 << 3) + 2) data = buf.subarray(...c.span());
          else c.skip(k % 8);
        }
        if (type !== 1) throw new RemoteReadDecodeError(`chunk encoding ${type} is not read here (only XOR, 1)`);
        decodeXorChunk(data ?? new Uint8Array(0), query.startMs, query.endMs, b);
      }
    }
  }
  return byQuery.map((series) =>
    [...series.values()].map((b) => {
      for (let i = 1; i < b.times.length; i++)
        if ((b.times[i] as number) < (b.times[i - 1] as number))
          throw new RemoteReadDecodeError("samples out of time order");
      return {
        labels: b.labels,
        timestampsMs: Float64Array.from(b.times),
        values: Float64Array.from(b.values),
        stale: Uint8Array.from(b.stale),
      };
    }),
  );
}
