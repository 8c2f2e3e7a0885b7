// The one Prometheus HTTP API client (recommender, ClusterScaler, dashboard): bearer token (inline or a file re-read
// on every request, so rotated tokens work), TLS with a CA file or verification off, a deadline per request,
// retries with backoff on transport errors, timeouts and 5xx. Every answer is validated with zod; a malformed or
// partial answer is an error, never an empty result that could pass for zero usage.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { z } from "zod";
import { parseDuration } from "../api/common.js";
import { backoffDelay, sleep } from "../kube/backoff.js";
import { userAgent } from "../version.js";
import { scanMatrix, type RangeColumns } from "./matrix.js";
import {
  readRequestBody,
  decodeStreamedResponse,
  forEachStreamedSeries,
  readResponseBody,
  RemoteReadDecodeError,
  type RawSeries,
  type RemoteQuery,
  type SeriesVisitor,
} from "./remote-read.js";

export type { RangeColumns } from "./matrix.js";

export interface PrometheusOptions {
  url: string;
  bearerToken?: string;
  bearerTokenFile?: string;
  caFile?: string;
  insecureSkipVerify?: boolean;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt; default 2. */
  retries?: number;
  /**
   * The largest answer read, in bytes; default 32 MiB. A larger one (by Content-Length, or counted as it arrives) is
   * refused before it is parsed, so a runaway query or a hostile server cannot make the process hold it.
   */
  maxResponseBytes?: number;
  retryBaseMs?: number;
  /** Called before every HTTP request, with the API path (query counting in tests and benchmarks). */
  onRequest?: (path: string, params: URLSearchParams) => void;
}

export type PrometheusErrorKind =
  "unreachable" | "timeout" | "server" | "malformed" | "partial" | "query" | "too-large" | "unsupported";

/** A request body of bytes, with its own headers (the remote read API's protocol buffers). */
interface BinaryRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export const defaultMaxResponseBytes = 32 * 1024 * 1024;

export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly kind: PrometheusErrorKind,
  ) {
    super(message);
    this.name = "PrometheusError";
  }

  /** Transport problems and 5xx may pass; a bad query or a broken answer will not. */
  get retryable(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "server";
  }
}

const samplePair = z.tuple([z.number(), z.string()]);
const matrixSeries = z.object({ metric: z.record(z.string(), z.string()), values: z.array(samplePair).min(1) });
const rangeResponse = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.object({ resultType: z.literal("matrix"), result: z.array(matrixSeries) }),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

const vectorSample = z.object({ metric: z.record(z.string(), z.string()), value: samplePair });
const instantResponse = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.object({ resultType: z.literal("vector"), result: z.array(vectorSample) }),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

export interface InstantSample {
  labels: Record<string, string>;
  value: number;
  /** ms since epoch */
  timestampMs: number;
}

/**
 * An instant vector selector's sample at step t is the newest one at or before t, within `deltaMs`: in
 * [t − deltaMs, t] for Prometheus 2, in (t − deltaMs, t] from Prometheus 3 on (`leftOpen`). A range selector's
 * window over w is the same kind: [t − w, t], or (t − w, t].
 */
export interface Lookback {
  deltaMs: number;
  leftOpen: boolean;
  /**
   * Which arithmetic this Prometheus' rate() uses (promql/functions.go extrapolatedRate, read for each release):
   * "v2.40" from 2.40 to 2.51 (a counter's zero point is taken before the extrapolation threshold), "v2.52" from
   * 2.52 to 3.11 (after it). Unset for any other version: rates are then evaluated by Prometheus, never here.
   */
  rateRule?: RateRule;
}

export type RateRule = "v2.40" | "v2.52";

/**
 * The rate() arithmetic of a Prometheus version (Lookback.rateRule), where it is one whose source was read: 2.40
 * brought the form of today's (one `factor`, resets added in order), 2.52 moved the counter's zero-point check
 * after the threshold, 3.12 added start timestamps. Undefined for any other version, or one not understood.
 */
export function rateRuleOf(version: string): RateRule | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  if (!m) return undefined;
  const v = Number(m[1]) * 1000 + Number(m[2]);
  if (v >= 2040 && v < 2052) return "v2.40";
  if (v >= 2052 && v < 3012) return "v2.52";
  return undefined;
}

export interface RangeSeries {
  labels: Record<string, string>;
  /** [ms since epoch, value] */
  points: Array<[number, number]>;
}

/**
 * What a reader of range series needs of Prometheus: PrometheusClient is one, and so is anything else that answers
 * range queries (the dashboard's series source, a test's canned answers).
 */
export interface RangeQueryClient {
  queryRange(promql: string, start: Date, end: Date, stepSeconds: number, signal?: AbortSignal): Promise<RangeSeries[]>;
  /** The same answer as queryRange, its points as columns (a reader of many points prefers it where there is one). */
  queryRangeColumns?(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
    signal?: AbortSignal,
  ): Promise<RangeColumns[]>;
  /** An instant query of a range selector: its raw samples, as columns (PrometheusClient.queryMatrixColumns). */
  queryMatrixColumns?(promql: string, time: Date, signal?: AbortSignal): Promise<RangeColumns[]>;
  /** Raw samples with their stale markers, by the remote read API (PrometheusClient.remoteRead). */
  remoteRead?(queries: readonly RemoteQuery[], signal?: AbortSignal): Promise<RawSeries[][]>;
  /** remoteRead's series lent to `visit` one at a time (PrometheusClient.remoteReadEach), where the client can. */
  remoteReadEach?(queries: readonly RemoteQuery[], visit: SeriesVisitor, signal?: AbortSignal): Promise<void>;
  /** How the Prometheus evaluates selectors and rate() (PrometheusClient.lookback); throws where it cannot tell. */
  lookback?(signal?: AbortSignal): Promise<Lookback>;
}

/** Range series as columns. */
export function rangeColumnsOf(series: readonly RangeSeries[]): RangeColumns[] {
  return series.map((s) => ({
    labels: s.labels,
    timestampsMs: Float64Array.from(s.points, (p) => p[0]),
    values: Float64Array.from(s.points, (p) => p[1]),
  }));
}

/**
 * `decode` of a remote read answer, its errors as PrometheusErrors: "too-large" past the limit once decompressed,
 * else "malformed".
 */
function decodeRemote<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (!(err instanceof RemoteReadDecodeError)) throw err;
    throw new PrometheusError(err.message, /decompressed/.test(err.message) ? "too-large" : "malformed");
  }
}

export class PrometheusClient implements RangeQueryClient {
  private readonly base: URL;
  private readonly agent?: HttpsAgent;

  constructor(readonly options: PrometheusOptions) {
    this.base = new URL(options.url.replace(/\/?$/, "/"));
    if (this.base.protocol === "https:") {
      this.agent = new HttpsAgent({
        keepAlive: true,
        ca: options.caFile ? readFileSync(options.caFile) : undefined,
        rejectUnauthorized: !options.insecureSkipVerify,
      });
    }
  }

  get url(): string {
    return this.base.toString();
  }

  private token(): string | undefined {
    if (this.options.bearerTokenFile) return readFileSync(this.options.bearerTokenFile, "utf8").trim();
    return this.options.bearerToken;
  }

  private send(
    path: string,
    params: URLSearchParams,
    signal?: AbortSignal,
    method: "GET" | "POST" = "POST",
    binary?: BinaryRequest,
  ): Promise<{ status: number; body: Buffer; contentType: string }> {
    const url = new URL(path, this.base);
    // The status endpoints answer GET only; queries go as POST, so that a long selector never meets a URL limit.
    if (method === "GET") url.search = params.toString();
    const body = binary ? binary.body : method === "POST" ? params.toString() : "";
    const token = this.token();
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const maxBytes = this.options.maxResponseBytes ?? defaultMaxResponseBytes;
    this.options.onRequest?.(path, params);
    return new Promise((resolve, reject) => {
      // Set when the deadline fires. Destroying the request then breaks the response off too, and whether the
      // response or the request reports it first depends on the socket (a real one or nock's), so the deadline
      // is what every handler reports once it has passed.
      let deadlinePassed: PrometheusError | undefined;
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            ...(binary
              ? { ...binary.headers, "content-length": body.length }
              : method === "POST"
                ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) }
                : {}),
            ...(binary ? {} : { accept: "application/json" }),
            "user-agent": userAgent,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          // Settled before the socket is torn down, so the refusal, not the broken-off response, is the error.
          const tooLarge = (bytes: string) => {
            const err = new PrometheusError(
              `Prometheus answer of ${bytes} bytes is over the limit of ${maxBytes} bytes ` +
                "(--prometheus-max-response-size); narrow the query or raise the limit",
              "too-large",
            );
            reject(err);
            req.destroy(err);
          };
          const declared = Number(res.headers["content-length"]);
          if (Number.isFinite(declared) && declared > maxBytes) {
            tooLarge(String(declared));
            return;
          }
          const chunks: Buffer[] = [];
          let received = 0;
          res.on("data", (c: Buffer) => {
            received += c.length;
            if (received > maxBytes) {
              chunks.length = 0;
              tooLarge(`over ${received}`);
              return;
            }
            chunks.push(c);
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              contentType: res.headers["content-type"] ?? "",
            }),
          );
          res.on("error", (err) =>
            reject(deadlinePassed ?? new PrometheusError(`response broken off: ${err.message}`, "partial")),
          );
          res.on("aborted", () => reject(deadlinePassed ?? new PrometheusError("response broken off", "partial")));
        },
      );
      // A deadline for the whole exchange, not an idle timeout: a server that trickles bytes still times out.
      const timer = setTimeout(() => {
        deadlinePassed = new PrometheusError(`Prometheus did not answer within ${timeoutMs} ms`, "timeout");
        req.destroy(deadlinePassed);
      }, timeoutMs);
      req.on("close", () => clearTimeout(timer));
      const onAbort = () => req.destroy(new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.on("error", (err) =>
        reject(
          err instanceof PrometheusError
            ? err
            : new PrometheusError(`Prometheus unreachable at ${this.base.host}: ${err.message}`, "unreachable"),
        ),
      );
      req.end(body);
    });
  }

  private parse<S extends typeof rangeResponse | typeof instantResponse>(
    status: number,
    body: string,
    schema: S,
  ): z.infer<S> {
    if (status >= 500) throw new PrometheusError(`Prometheus answered ${status}: ${body.slice(0, 200)}`, "server");
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new PrometheusError(
        `Prometheus answered ${status} with a body that is not complete JSON (${body.length} bytes): ${body.slice(0, 80)}`,
        "partial",
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
        .join("; ");
      throw new PrometheusError(`malformed Prometheus response (HTTP ${status}): ${issues}`, "malformed");
    }
    if (parsed.data.status === "error") {
      throw new PrometheusError(`query failed (${parsed.data.errorType}): ${parsed.data.error}`, "query");
    }
    return parsed.data as z.infer<S>;
  }

  /** The answer's data if it is a success, validated against `schema`; a partial answer is an error. */
  private success<S extends typeof rangeResponse | typeof instantResponse>(
    status: number,
    body: string,
    schema: S,
  ): Extract<z.infer<S>, { status: "success" }> {
    const data = this.parse(status, body, schema);
    if (data.status !== "success") throw new PrometheusError("unexpected error envelope", "malformed");
    refusePartial(data.warnings);
    return data as Extract<z.infer<S>, { status: "success" }>;
  }

  /** Sends with retries on retryable failures; `read` turns the answer into the result or throws. */
  private call<T>(
    path: string,
    params: URLSearchParams,
    read: (status: number, body: string) => T,
    signal?: AbortSignal,
    method: "GET" | "POST" = "POST",
  ): Promise<T> {
    return this.callRaw(path, params, (status, body) => read(status, body.toString("utf8")), signal, method);
  }

  /**
   * As call, with the answer's bytes as they came and its content type; `binary`, a request body of bytes instead
   * of the params.
   */
  private async callRaw<T>(
    path: string,
    params: URLSearchParams,
    read: (status: number, body: Buffer, contentType: string) => T,
    signal?: AbortSignal,
    method: "GET" | "POST" = "POST",
    binary?: BinaryRequest,
  ): Promise<T> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.send(path, params, signal, method, binary);
        return read(res.status, res.body, res.contentType);
      } catch (err) {
        if (signal?.aborted) throw err;
        const e =
          err instanceof PrometheusError
            ? err
            : new PrometheusError((err as Error).message ?? String(err), "unreachable");
        if (!e.retryable || attempt >= retries) throw e;
        await sleep(backoffDelay(attempt, this.options.retryBaseMs ?? 250, 5_000), signal);
      }
    }
  }

  /**
   * One instant query. Samples whose value is not a finite number (NaN from 0/0, say) are dropped: at one instant
   * they mean "no value for this series", and the caller sees the series as missing, never as zero.
   */
  async query(promql: string, time?: Date, signal?: AbortSignal): Promise<InstantSample[]> {
    const params = new URLSearchParams({ query: promql });
    if (time) params.set("time", (time.getTime() / 1000).toFixed(3));
    const data = await this.call("api/v1/query", params, (st, b) => this.success(st, b, instantResponse), signal);
    const out: InstantSample[] = [];
    for (const s of data.data.result) {
      const value = Number(s.value[1]);
      if (Number.isFinite(value)) out.push({ labels: s.metric, value, timestampMs: Math.round(s.value[0] * 1000) });
    }
    return out;
  }

  /** One range query, retried on retryable failures. Series come back with numeric, finite points only. */
  async queryRange(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
    signal?: AbortSignal,
  ): Promise<RangeSeries[]> {
    const columns = await this.queryRangeColumns(promql, start, end, stepSeconds, signal);
    return columns.map((s) => ({
      labels: s.labels,
      points: Array.from(s.timestampsMs, (t, i) => [t, s.values[i] as number] as [number, number]),
    }));
  }

  /**
   * queryRange's answer with its points as columns, read without an object per sample where the answer is in
   * Prometheus' own form (scanMatrix), the general way otherwise: the same series, or the same error.
   */
  async queryRangeColumns(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
    signal?: AbortSignal,
  ): Promise<RangeColumns[]> {
    return this.call(
      "api/v1/query_range",
      rangeParams(promql, start, end, stepSeconds),
      (status, body) => this.matrixColumns(status, body),
      signal,
    );
  }

  /**
   * An instant query whose answer is a matrix: a range selector (`metric{...}[10m]`) at `time`, its raw samples as
   * columns (stale markers are not in such an answer), read as queryRangeColumns reads a range answer.
   */
  async queryMatrixColumns(promql: string, time: Date, signal?: AbortSignal): Promise<RangeColumns[]> {
    const params = new URLSearchParams({ query: promql, time: (time.getTime() / 1000).toFixed(3) });
    return this.call("api/v1/query", params, (status, body) => this.matrixColumns(status, body), signal);
  }

  /**
   * How this Prometheus picks an instant vector selector's sample at a step: its --query.lookback-delta (from
   * /api/v1/status/flags) and whether that window is left-open (Prometheus 3 and later) or closed (2.x, from
   * /api/v1/status/buildinfo). Throws when either is not there or not understood (Thanos, Mimir and others answer
   * these differently or not at all); a caller then evaluates at Prometheus, not locally.
   */
  async lookback(signal?: AbortSignal): Promise<Lookback> {
    const status = <T>(path: string, schema: z.ZodType<T>) =>
      this.call(
        path,
        new URLSearchParams(),
        (st, body) => {
          if (st >= 500) throw new PrometheusError(`Prometheus answered ${st}: ${body.slice(0, 200)}`, "server");
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            throw new PrometheusError(`${path} answered ${st} with a body that is not JSON`, "malformed");
          }
          const parsed = schema.safeParse(json);
          if (!parsed.success) throw new PrometheusError(`${path}: no such field in the answer`, "malformed");
          return parsed.data;
        },
        signal,
        "GET",
      );
    const [flags, build] = await Promise.all([
      status("api/v1/status/flags", z.object({ data: z.object({ "query.lookback-delta": z.string() }) })),
      status("api/v1/status/buildinfo", z.object({ data: z.object({ version: z.string() }) })),
    ]);
    const delta = flags.data["query.lookback-delta"];
    let deltaMs: number;
    try {
      deltaMs = parseDuration(delta);
    } catch {
      throw new PrometheusError(`query.lookback-delta ${delta} is not a duration this client reads`, "malformed");
    }
    const major = /^v?(\d+)\./.exec(build.data.version)?.[1];
    if (!major || deltaMs <= 0)
      throw new PrometheusError(`version ${build.data.version}, lookback ${delta}: not understood`, "malformed");
    const rateRule = rateRuleOf(build.data.version);
    return { deltaMs, leftOpen: Number(major) >= 3, ...(rateRule ? { rateRule } : {}) };
  }

  /**
   * The raw samples of each query's series, stale markers included, by the remote read API (POST /api/v1/read):
   * one request for all `queries`, its answer one list of series per query in their order. Its errors: a
   * Prometheus without the API, or a proxy that does not pass it (any 4xx but the sample limit's 400, and 501), is
   * "unsupported", which a caller answers by asking the query API instead; an answer over the server's sample
   * limit or over --prometheus-max-response-size (compressed, or four times it decompressed) is "too-large"; a
   * 5xx is "server" (retried).
   */
  async remoteRead(queries: readonly RemoteQuery[], signal?: AbortSignal): Promise<RawSeries[][]> {
    const answer = await this.remoteReadAnswer(queries, signal);
    return answer.streamed
      ? decodeRemote(() => decodeStreamedResponse(answer.body, queries))
      : this.remoteSamples(answer.body, queries);
  }

  /**
   * remoteRead's series, each lent to `visit` as it is decoded (SeriesVisitor: its columns are reused for the next
   * one), so that a reader that folds them into its own columns keeps no copy of the answer's samples. The answer
   * is read whole first, so a visitor is never called for an answer that is retried; an error thrown by it is
   * passed on as it is.
   */
  async remoteReadEach(queries: readonly RemoteQuery[], visit: SeriesVisitor, signal?: AbortSignal): Promise<void> {
    const answer = await this.remoteReadAnswer(queries, signal);
    if (answer.streamed) decodeRemote(() => forEachStreamedSeries(answer.body, queries, visit));
    else this.remoteSamples(answer.body, queries).forEach((series, q) => series.forEach((s) => visit(q, s)));
  }

  /** A SAMPLES answer's series, one list per query. */
  private remoteSamples(body: Buffer, queries: readonly RemoteQuery[]): RawSeries[][] {
    const results = decodeRemote(() =>
      readResponseBody(body, 4 * (this.options.maxResponseBytes ?? defaultMaxResponseBytes)),
    );
    if (results.length !== queries.length)
      throw new PrometheusError(
        `remote read answer: ${results.length} results for ${queries.length} queries`,
        "malformed",
      );
    return results;
  }

  /**
   * The remote read API's answer to `queries`, its status checked: streamed chunks where the server has them
   * (asked first), else the SAMPLES answer, snappy-compressed.
   */
  private async remoteReadAnswer(
    queries: readonly RemoteQuery[],
    signal?: AbortSignal,
  ): Promise<{ body: Buffer; streamed: boolean }> {
    const params = new URLSearchParams({ queries: String(queries.length) });
    return this.callRaw(
      "api/v1/read",
      params,
      (status, body, contentType) => {
        const text = () => body.subarray(0, 200).toString("utf8");
        if (status >= 500 && status !== 501)
          throw new PrometheusError(`Prometheus answered ${status}: ${text()}`, "server");
        if (status === 400 && /sample limit/i.test(text()))
          throw new PrometheusError(`remote read over the server's sample limit: ${text()}`, "too-large");
        // Not there (404, 405, 501), not understood, or not allowed: a proxy in front of Prometheus may pass the
        // query API only. The query API is asked instead, and answers for itself (a token refused there too is a
        // failure of the query, reported as such).
        if (status !== 200)
          throw new PrometheusError(`no remote read API here (HTTP ${status}): ${text()}`, "unsupported");
        return { body, streamed: contentType.startsWith("application/x-streamed-protobuf") };
      },
      signal,
      "POST",
      {
        body: readRequestBody(queries),
        headers: {
          "content-type": "application/x-protobuf",
          "content-encoding": "snappy",
          "x-prometheus-remote-read-version": "0.1.0",
          accept: "application/x-protobuf, application/x-streamed-protobuf",
        },
      },
    );
  }

  /** A matrix answer as columns: by scanMatrix where it is in Prometheus' own form, else the general way. */
  private matrixColumns(status: number, body: string): RangeColumns[] {
    const scanned = status < 500 ? scanMatrix(body) : undefined;
    if (!scanned) return rangeColumnsOf(this.rangeSeries(status, body));
    refusePartial(scanned.warnings);
    return scanned.result;
  }

  /** A range answer read the general way: JSON.parse and the schema. */
  private rangeSeries(status: number, body: string): RangeSeries[] {
    const data = this.success(status, body, rangeResponse);
    return data.data.result.map((s) => ({
      labels: s.metric,
      points: s.values.map(([t, v]) => {
        const value = Number(v);
        if (!Number.isFinite(value)) {
          throw new PrometheusError(`non-finite sample ${v} in ${JSON.stringify(s.metric)}`, "malformed");
        }
        return [Math.round(t * 1000), value] as [number, number];
      }),
    }));
  }
}

function rangeParams(promql: string, start: Date, end: Date, stepSeconds: number): URLSearchParams {
  return new URLSearchParams({
    query: promql,
    start: (start.getTime() / 1000).toFixed(3),
    end: (end.getTime() / 1000).toFixed(3),
    step: String(stepSeconds),
  });
}

/** Thanos and Cortex flag answers missing some stores as warnings; a partial answer is not an answer. */
function refusePartial(warnings: readonly string[] | undefined): void {
  const partial = warnings?.find((w) => /partial/i.test(w));
  if (partial) throw new PrometheusError(`partial response: ${partial}`, "partial");
}
