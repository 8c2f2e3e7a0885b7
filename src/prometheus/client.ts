// A Prometheus HTTP API client: bearer token and TLS options, a timeout per request, retries with backoff for
// transport errors and 5xx, and zod validation of every response. A malformed or partial answer is an error, never
// an empty result that a caller could mistake for zero.
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { backoffDelay, sleep } from "../kube/backoff.js";
import { userAgent } from "../version.js";

export interface PrometheusOptions {
  url: string;
  bearerToken?: string;
  bearerTokenFile?: string;
  caFile?: string;
  insecureSkipVerify?: boolean;
  timeoutMs?: number;
  retries?: number;
  /** Called once per HTTP request (for query counting in tests and benchmarks). */
  onRequest?: (path: string) => void;
}

const sample = z.tuple([z.number(), z.string()]);
const vectorResult = z.object({ metric: z.record(z.string(), z.string()), value: sample });
const matrixResult = z.object({ metric: z.record(z.string(), z.string()), values: z.array(sample) });

const envelope = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.discriminatedUnion("resultType", [
      z.object({ resultType: z.literal("vector"), result: z.array(vectorResult) }),
      z.object({ resultType: z.literal("matrix"), result: z.array(matrixResult) }),
      z.object({ resultType: z.literal("scalar"), result: sample }),
      z.object({ resultType: z.literal("string"), result: sample }),
    ]),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

export type VectorSample = z.infer<typeof vectorResult>;
export type MatrixSeries = z.infer<typeof matrixResult>;

export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly kind: "unreachable" | "timeout" | "server" | "bad-response" | "query",
  ) {
    super(message);
    this.name = "PrometheusError";
  }
}

/** Parses a sample value; NaN and infinities are rejected so they never become a number downstream. */
export function sampleValue(v: string): number | undefined {
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export class PrometheusClient {
  private readonly base: URL;
  private readonly agent?: HttpsAgent;

  constructor(private readonly options: PrometheusOptions) {
    this.base = new URL(options.url);
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

  private once(path: string, params: URLSearchParams, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    const url = new URL(path.replace(/^\//, ""), this.base.toString().replace(/\/?$/, "/"));
    const body = params.toString();
    const token = this.token();
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    this.options.onRequest?.(path);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": Buffer.byteLength(body),
            "user-agent": userAgent,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(new PrometheusError(`Prometheus did not answer within ${timeoutMs} ms`, "timeout")),
      );
      const onAbort = () => req.destroy(new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.on("error", reject);
      req.end(body);
    });
  }

  private async call(path: string, params: URLSearchParams, signal?: AbortSignal): Promise<z.infer<typeof envelope>> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let error: PrometheusError;
      try {
        const res = await this.once(path, params, signal);
        if (res.status >= 500) {
          error = new PrometheusError(`Prometheus answered ${res.status}: ${res.body.slice(0, 200)}`, "server");
        } else {
          let json: unknown;
          try {
            json = JSON.parse(res.body);
          } catch {
            throw new PrometheusError(
              `Prometheus answered ${res.status} with a body that is not JSON: ${res.body.slice(0, 120)}`,
              "bad-response",
            );
          }
          const parsed = envelope.safeParse(json);
          if (!parsed.success) {
            throw new PrometheusError(
              `malformed Prometheus response: ${parsed.error.issues
                .slice(0, 3)
                .map((i) => `${i.path.join(".")}: ${i.message}`)
                .join("; ")}`,
              "bad-response",
            );
          }
          if (parsed.data.status === "error")
            throw new PrometheusError(`query failed (${parsed.data.errorType}): ${parsed.data.error}`, "query");
          return parsed.data;
        }
      } catch (err) {
        if (err instanceof PrometheusError && (err.kind === "bad-response" || err.kind === "query")) throw err;
        if (signal?.aborted) throw err;
        error =
          err instanceof PrometheusError
            ? err
            : new PrometheusError(
                `Prometheus unreachable at ${this.base.host}: ${(err as Error).message}`,
                "unreachable",
              );
      }
      if (attempt >= retries) throw error;
      await sleep(backoffDelay(attempt, 200, 2000), signal);
    }
  }

  async query(promql: string, time?: Date, signal?: AbortSignal): Promise<VectorSample[]> {
    const params = new URLSearchParams({ query: promql });
    if (time) params.set("time", String(time.getTime() / 1000));
    const r = await this.call("/api/v1/query", params, signal);
    if (r.status !== "success" || r.data.resultType !== "vector") {
      throw new PrometheusError(`expected a vector from ${promql}`, "bad-response");
    }
    return r.data.result;
  }

  async queryRange(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
    signal?: AbortSignal,
  ): Promise<MatrixSeries[]> {
    const params = new URLSearchParams({
      query: promql,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
      step: String(stepSeconds),
    });
    const r = await this.call("/api/v1/query_range", params, signal);
    if (r.status !== "success" || r.data.resultType !== "matrix") {
      throw new PrometheusError(`expected a matrix from ${promql}`, "bad-response");
    }
    return r.data.result;
  }
}
