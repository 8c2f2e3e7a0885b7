// A range query's answer read without an object per sample: the backtest reads millions of points, and JSON.parse
// plus the zod schema made two arrays, a string and a validation per point (most of the CLI's heap and GC). This
// scanner reads the matrix answer in the one form Prometheus writes it (no whitespace, keys in its order, sample
// values as plain strings) straight into Float64Arrays per series. Anything else, however valid, and anything
// broken, is not read here: scanMatrix gives undefined and the caller parses the body the general way (JSON.parse
// and the schema), so both ways give the same series or the same error.

/** One series of a range answer: its labels, and its points as two columns. */
export interface RangeColumns {
  labels: Record<string, string>;
  /** ms since epoch, rounded as queryRange rounds them */
  timestampsMs: Float64Array;
  values: Float64Array;
}

export interface ScannedMatrix {
  result: RangeColumns[];
  warnings?: string[];
}

const prefix = '{"status":"success","data":{"resultType":"matrix","result":[';
const metricKey = '{"metric":';
const valuesKey = ',"values":[';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const isDigit = (c: number) => c >= ZERO && c <= NINE;

/** The end (exclusive) of the JSON number at `i` (RFC 8259's grammar), or -1 if there is none there. */
function numberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++;
  const c = s.charCodeAt(i);
  if (c === ZERO) i++;
  else if (c > ZERO && c <= NINE) while (isDigit(s.charCodeAt(i))) i++;
  else return -1;
  if (s.charCodeAt(i) === DOT) {
    i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  return i;
}

/** The end (exclusive, after the closing quote) of a JSON string at `i` without escapes or control characters, or -1. */
function plainStringEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== QUOTE) return -1;
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** The end (exclusive) of the flat JSON object of strings at `i` (label names and values, escapes allowed), or -1. */
function labelsEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== OPEN_BRACE) return -1;
  let inString = false;
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === CLOSE_BRACE) return i + 1;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) return -1;
  }
  return -1;
}

/** The labels at [start, end): a JSON object whose every value is a string, or undefined. */
function labelsOf(s: string, start: number, end: number): Record<string, string> | undefined {
  let labels: unknown;
  try {
    labels = JSON.parse(s.slice(start, end));
  } catch {
    return undefined;
  }
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) return undefined;
  if (Object.getPrototypeOf(labels) !== Object.prototype || Object.hasOwn(labels, "__proto__")) return undefined;
  for (const v of Object.values(labels)) if (typeof v !== "string") return undefined;
  return labels as Record<string, string>;
}

/** A growable pair of columns. */
class Columns {
  t = new Float64Array(64);
  v = new Float64Array(64);
  n = 0;
  push(t: number, v: number): void {
    if (this.n === this.t.length) {
      const t2 = new Float64Array(this.n * 2);
      t2.set(this.t);
      this.t = t2;
      const v2 = new Float64Array(this.n * 2);
      v2.set(this.v);
      this.v = v2;
    }
    this.t[this.n] = t;
    this.v[this.n] = v;
    this.n++;
  }
}

/**
 * The matrix answer `body` as Prometheus writes it, with finite sample values only; undefined when the body is in
 * any other form (including every error, partial or malformed answer, and any non-finite value), for the caller to
 * parse the general way.
 */
export function scanMatrix(body: string): ScannedMatrix | undefined {
  if (!body.startsWith(prefix)) return undefined;
  const s = body;
  let i = prefix.length;
  const result: RangeColumns[] = [];
  const cols = new Columns();
  if (s.charCodeAt(i) !== CLOSE_BRACKET) {
    for (;;) {
      if (!s.startsWith(metricKey, i)) return undefined;
      i += metricKey.length;
      const end = labelsEnd(s, i);
      if (end < 0) return undefined;
      const labels = labelsOf(s, i, end);
      if (!labels) return undefined;
      i = end;
      if (!s.startsWith(valuesKey, i)) return undefined;
      i += valuesKey.length;
      cols.n = 0;
      for (;;) {
        if (s.charCodeAt(i) !== OPEN_BRACKET) return undefined;
        i++;
        const tEnd = numberEnd(s, i);
        if (tEnd < 0 || s.charCodeAt(tEnd) !== COMMA) return undefined;
        const t = Number(s.slice(i, tEnd));
        i = tEnd + 1;
        const vEnd = plainStringEnd(s, i);
        if (vEnd < 0 || s.charCodeAt(vEnd) !== CLOSE_BRACKET) return undefined;
        const v = Number(s.slice(i + 1, vEnd - 1));
        if (!Number.isFinite(v)) return undefined;
        cols.push(Math.round(t * 1000), v);
        i = vEnd + 1;
        const c = s.charCodeAt(i++);
        if (c === CLOSE_BRACKET) break;
        if (c !== COMMA) return undefined;
      }
      if (cols.n === 0 || s.charCodeAt(i++) !== CLOSE_BRACE) return undefined;
      result.push({ labels, timestampsMs: cols.t.slice(0, cols.n), values: cols.v.slice(0, cols.n) });
      const c = s.charCodeAt(i++);
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA) return undefined;
    }
  } else i++;
  if (s.charCodeAt(i++) !== CLOSE_BRACE) return undefined;
  // The rest of the envelope: the end, or more keys (warnings, infos) read as JSON.
  const rest = s.slice(i);
  if (/^\}[ \t\n\r]*$/.test(rest)) return { result };
  if (rest.charCodeAt(0) !== COMMA) return undefined;
  let extra: unknown;
  try {
    extra = JSON.parse(`{${rest.slice(1)}`);
  } catch {
    return undefined;
  }
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) return undefined;
  // A second status or data would override the first one (JSON.parse keeps the last): the general way decides.
  if (Object.hasOwn(extra, "status") || Object.hasOwn(extra, "data") || Object.hasOwn(extra, "__proto__"))
    return undefined;
  const warnings = (extra as { warnings?: unknown }).warnings;
  if (warnings === undefined) return { result };
  if (!Array.isArray(warnings) || !warnings.every((w) => typeof w === "string")) return undefined;
  return { result, warnings };
}
