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

/**
 * CRC-32C's tables for eight bytes a step ("slicing-by-8", as Go's crc32 does without the CPU's instruction): table
 * k gives the CRC of a byte followed by k zero bytes. Table 0 is the classic byte-at-a-time one.
 */
const crcTables = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++)
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n] as number;
      t[k * 256 + n] = ((t[prev & 0xff] as number) ^ (prev >>> 8)) >>> 0;
    }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf[start, end)`, as Go's crc32.Checksum with crc32.MakeTable(crc32.Castagnoli). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const t = crcTables;
  let c = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a =
      c ^
      ((buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24));
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The four bytes from byte `i` of the chunk of `len` bytes at `b[off]`, big-endian, as a 32-bit word; a byte past
 * the chunk reads as 0.
 */
function wordAt(b: Uint8Array, off: number, len: number, i: number): number {
  const j = off + i;
  if (i + 3 < len)
    return ((b[j] as number) << 24) | ((b[j + 1] as number) << 16) | ((b[j + 2] as number) << 8) | (b[j + 3] as number);
  let w = 0;
  for (let k = 0; k < 4; k++) w = (w << 8) | (i + k < len ? (b[j + k] as number) : 0);
  return w;
}

/**
 * `n` bits (1 to 32) of a chunk from bit `pos`, most significant first (tsdb/chunkenc/bstream.go), as an unsigned
 * number; bits past the chunk's `len` bytes read as 0 (the caller checks where the sample ended).
 */
function bitsAt(b: Uint8Array, off: number, len: number, pos: number, n: number): number {
  const s = pos & 7;
  return s + n <= 32 ? (wordAt(b, off, len, pos >>> 3) << s) >>> (32 - n) : wideBitsAt(b, off, len, pos, n);
}

/** bitsAt of more bits than one word holds from `pos`: the first n - 8, then the last 8. */
function wideBitsAt(b: Uint8Array, off: number, len: number, pos: number, n: number): number {
  const head = (wordAt(b, off, len, pos >>> 3) << (pos & 7)) >>> (40 - n);
  return head * 256 + ((wordAt(b, off, len, (pos + n - 8) >>> 3) << ((pos + n - 8) & 7)) >>> 24);
}

/** encoding/binary's uvarint read a byte (8 bits) at a time from bit `at.pos` of a chunk, which it moves on. */
function chunkUvarint(b: Uint8Array, off: number, len: number, at: { pos: number }): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = bitsAt(b, off, len, at.pos, 8);
    at.pos += 8;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result;
    scale *= 0x80;
  }
  throw new RemoteReadDecodeError("varint too long in a chunk");
}

/**
 * A series' samples as its chunks are decoded: columns with room for `capacity` samples (grown by doubling past it),
 * the first `length` in use.
 */
export class SampleColumns {
  times: Float64Array;
  values: Float64Array;
  stale: Uint8Array;
  length = 0;

  constructor(capacity = 0) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.stale = new Uint8Array(capacity);
  }

  /** Room for `n` more samples. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.times.length) return;
    const size = Math.max(need, 2 * this.times.length, 64);
    const grow = <T extends Float64Array | Uint8Array>(old: T, next: T): T => {
      next.set(old.subarray(0, this.length));
      return next;
    };
    this.times = grow(this.times, new Float64Array(size));
    this.values = grow(this.values, new Float64Array(size));
    this.stale = grow(this.stale, new Uint8Array(size));
  }
}

/** A float's two 32-bit halves, high and low, as the float (a stale marker's bits as NaN). */
const halves = new DataView(new ArrayBuffer(8));

/**
 * The samples of one XOR chunk (tsdb/chunkenc/xor.go: the first timestamp as a varint and value as 64 bits, the
 * second timestamp's delta as a uvarint, then deltas of deltas in 1, 14, 17, 20 or 64 bits; each value XOR the one
 * before, with its leading and trailing zero bits), those within [startMs, endMs] appended to `out`.
 */
export function decodeXorChunk(data: Uint8Array, startMs: number, endMs: number, out: SampleColumns): void {
  decodeXorChunkAt(data, 0, data.length, startMs, endMs, out);
}

/** decodeXorChunk of the chunk of `len` bytes at `buf[off]`, without a view of it. */
function decodeXorChunkAt(
  buf: Uint8Array,
  off: number,
  len: number,
  startMs: number,
  endMs: number,
  out: SampleColumns,
): void {
  if (len < 2) throw new RemoteReadDecodeError("chunk without its sample count");
  const count = ((buf[off] as number) << 8) | (buf[off + 1] as number);
  const endBit = len * 8;
  const at = { pos: 16 };
  out.reserve(count);
  const { times, values, stale } = out;
  let k = out.length;
  let pos = 16;
  let t = 0;
  let delta = 0;
  // The value's bits, high and low halves, and the leading and trailing zeros of the last XOR written in full.
  let hi = 0;
  let lo = 0;
  let v = 0;
  let isStale = 0;
  let leading = 0xff;
  let trailing = 0;
  for (let n = 0; n < count; n++) {
    // The value's control bits: 0b0x the one before, 0b10 and 0b11 another one (its bits read below); -1 the first.
    let control: number;
    if (n === 0) {
      at.pos = pos;
      const u = chunkUvarint(buf, off, len, at);
      t = u % 2 === 0 ? u / 2 : -(u + 1) / 2;
      hi = bitsAt(buf, off, len, at.pos, 32);
      lo = bitsAt(buf, off, len, at.pos + 32, 32);
      pos = at.pos + 64;
      control = -1;
    } else {
      if (n === 1) {
        at.pos = pos;
        delta = chunkUvarint(buf, off, len, at);
        pos = at.pos;
        control = bitsAt(buf, off, len, pos, 2);
      } else {
        // The next 25 bits at least: the delta of deltas' bucket, from its prefix 0, 10, 110, 1110 or 1111, and
        // for the usual bucket 0 (a steady scrape) the value's control bits after it, without a second read.
        const word = wordAt(buf, off, len, pos >>> 3) << (pos & 7);
        if (word >= 0) {
          pos += 1;
          control = (word << 1) >>> 30;
        } else {
          const prefix = word >>> 28;
          let size: number;
          if (prefix < 0b1100) {
            size = 14;
            pos += 2;
          } else if (prefix < 0b1110) {
            size = 17;
            pos += 3;
          } else {
            size = prefix === 0b1110 ? 20 : 64;
            pos += 4;
          }
          let dod: number;
          if (size === 64) dod = (bitsAt(buf, off, len, pos, 32) | 0) * 2 ** 32 + bitsAt(buf, off, len, pos + 32, 32);
          else {
            const bits = bitsAt(buf, off, len, pos, size);
            // Negative numbers come back as large unsigned ones (docs/bstream.md).
            dod = bits > 1 << (size - 1) ? bits - (1 << size) : bits;
          }
          pos += size;
          delta += dod;
          control = bitsAt(buf, off, len, pos, 2);
        }
      }
      t += delta;
      // The value: unchanged ('0'), or XOR'd with significant bits placed by the last ('10') or by new zero counts ('11').
      if (control < 0b10) pos += 1;
      else {
        pos += 2;
        if (control === 0b11) {
          const counts = bitsAt(buf, off, len, pos, 11);
          pos += 11;
          leading = counts >>> 6;
          // 0 significant bits stands for 64.
          trailing = 64 - leading - (counts & 0x3f || 64);
        } else if (leading === 0xff) throw new RemoteReadDecodeError("chunk reuses zero counts it never set");
        const top = 63 - leading;
        // The bits at positions top..trailing: those at 32 and above into the high half, the others into the low.
        const highFrom = trailing > 32 ? trailing : 32;
        const highCount = top >= 32 ? top - highFrom + 1 : 0;
        const lowCount = top - trailing + 1 - highCount;
        if (highCount > 0) {
          hi = (hi ^ (bitsAt(buf, off, len, pos, highCount) << (highFrom - 32))) >>> 0;
          pos += highCount;
        }
        if (lowCount > 0) {
          lo = (lo ^ (bitsAt(buf, off, len, pos, lowCount) << trailing)) >>> 0;
          pos += lowCount;
        }
      }
    }
    // Bits past the chunk read as 0: a sample that took any is a chunk cut short.
    if (pos > endBit) throw new RemoteReadDecodeError("chunk ends within a sample");
    if (control !== 0 && control !== 1) {
      isStale = hi === staleHigh && lo === staleLow ? 1 : 0;
      halves.setUint32(0, hi);
      halves.setUint32(4, lo);
      v = isStale ? Number.NaN : halves.getFloat64(0);
    }
    if (t < startMs || t > endMs) continue;
    times[k] = t;
    values[k] = v;
    stale[k++] = isStale;
  }
  out.length = k;
}

/**
 * Called with each series of an answer and the index of its query. Its columns are only lent for the call (the
 * next series is decoded into the same ones): a visitor keeps what it needs of them (ownSeries copies them).
 */
export type SeriesVisitor = (query: number, series: RawSeries) => void;

/** A series with columns of its own: a copy of one a SeriesVisitor was lent. */
export function ownSeries(s: RawSeries): RawSeries {
  return { labels: s.labels, timestampsMs: s.timestampsMs.slice(), values: s.values.slice(), stale: s.stale.slice() };
}

/**
 * A streamed answer's series, one list per query in `queries`' order, each series' samples within its query's
 * range. Refuses a frame whose checksum does not match, a chunk that is not a float (XOR) chunk, and samples out of
 * time order.
 */
export function decodeStreamedResponse(buf: Uint8Array, queries: readonly RemoteQuery[]): RawSeries[][] {
  const out = queries.map((): RawSeries[] => []);
  forEachStreamedSeries(buf, queries, (q, s) => out[q]?.push(ownSeries(s)));
  return out;
}

/**
 * decodeStreamedResponse's series, each lent to `visit` in turn (query by query, in the order first seen), all
 * decoded into one set of columns: no columns per series are allocated, kept or collected. The whole answer is
 * checked (checksums, query indexes, chunk encodings) before the first series is visited; a chunk cut short or
 * samples out of time order are found as the series is decoded, after the series before it were visited.
 */
export function forEachStreamedSeries(buf: Uint8Array, queries: readonly RemoteQuery[], visit: SeriesVisitor): void {
  // First the frames, for each series its chunks and their sample counts; then each series' chunks decoded, in
  // turn, into one set of columns with room for the longest (a chunk's samples outside the range are left out).
  // A series' chunks as their [start, end) in `buf`, flat: no object per chunk lives until the second pass.
  type Building = { labels: Record<string, string>; chunks: number[]; count: number };
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
    const series = byQuery[index];
    if (!series) throw new RemoteReadDecodeError(`frame of query ${index}, of ${queries.length} asked`);
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
      if (!b) series.set(id, (b = { labels, chunks: [], count: 0 }));
      for (const [cs, ce] of chunks) {
        const c = new Reader(buf, cs, ce);
        let type = 0;
        let data = 0;
        let dataEnd = 0;
        while (c.more) {
          const k = c.varint();
          if (k === (3 << 3) + 0) type = c.varint();
          else if (k === (4 << 3) + 2) [data, dataEnd] = c.span();
          else c.skip(k % 8);
        }
        if (type !== 1) throw new RemoteReadDecodeError(`chunk encoding ${type} is not read here (only XOR, 1)`);
        b.chunks.push(data, dataEnd);
        if (dataEnd - data >= 2) b.count += ((buf[data] as number) << 8) | (buf[data + 1] as number);
      }
    }
  }
  let most = 0;
  for (const series of byQuery) for (const b of series.values()) most = Math.max(most, b.count);
  const samples = new SampleColumns(most);
  byQuery.forEach((series, q) => {
    const { startMs, endMs } = queries[q] as RemoteQuery;
    for (const { labels, chunks } of series.values()) {
      samples.length = 0;
      for (let c = 0; c < chunks.length; c += 2) {
        const data = chunks[c] as number;
        decodeXorChunkAt(buf, data, (chunks[c + 1] as number) - data, startMs, endMs, samples);
      }
      const n = samples.length;
      const times = samples.times;
      for (let i = 1; i < n; i++)
        if ((times[i] as number) < (times[i - 1] as number))
          throw new RemoteReadDecodeError("samples out of time order");
      visit(q, {
        labels,
        timestampsMs: times.subarray(0, n),
        values: samples.values.subarray(0, n),
        stale: samples.stale.subarray(0, n),
      });
    }
  });
}
