import {
  pino,
  stdSerializers,
  stdTimeFunctions,
  type DestinationStream,
  type Logger,
  type LevelWithSilent,
} from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

/**
 * Keys whose values never reach a log line, at any depth of a logged object: credentials in kubeconfigs and HTTP
 * headers, Secret data and the files a Secret holds (tls.key, sa.key, kubeconfig), the PEM material of the PKI, and
 * the body of an API error (it may quote what was sent). Matched case-insensitively.
 */
export const sensitiveKeys: ReadonlySet<string> = new Set(
  [
    "token",
    "bearerToken",
    "authorization",
    "password",
    "data",
    "stringData",
    "privateKey",
    "privateKeyPem",
    "certificatePem",
    "cert",
    "tls.key",
    "sa.key",
    "ca.key",
    "etcd.key",
    "kubeconfig",
    "value.kubeconfig",
    "admin.kubeconfig",
    "client-key-data",
    "client-certificate-data",
    "hmacSecret",
    "body",
  ].map((k) => k.toLowerCase()),
);

const censor = "[REDACTED]";
const maxRedactDepth = 10;

/**
 * A copy of `value` with every sensitive key censored at any depth, and PEM blocks and tokens scrubbed out of every
 * string. Errors are copied too (name, message, stack, own fields), so an API error's body is censored as well.
 */
export function redactDeep(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === "string") return scrub(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[Circular]";
  if (depth >= maxRedactDepth) return "[Truncated]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (value instanceof Error) {
    const e = stdSerializers.err(value) as unknown as Record<string, unknown>;
    return redactDeep(e, depth, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = sensitiveKeys.has(k.toLowerCase()) ? censor : redactDeep(v, depth + 1, seen);
  }
  return out;
}

const pemPattern = /-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g;
const bearerPattern = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;
const jwtPattern = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;

/** Scrubs PEM blocks and bearer tokens out of free text (error messages, for example). */
export function scrub(text: string): string {
  return text
    .replace(pemPattern, "[PEM REDACTED]")
    .replace(bearerPattern, "$1[REDACTED]")
    .replace(jwtPattern, "[JWT REDACTED]");
}

/** `json`: one pino JSON object per line (for log collectors); `text`: one readable line per entry (for people). */
export const logFormats = ["json", "text"] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LoggerOptions {
  level?: LevelWithSilent | string;
  destination?: NodeJS.WritableStream;
  name?: string;
  format?: LogFormat;
}

/**
 * The text format: pino-pretty in this process (synchronously, so nothing is lost on exit), one line per entry with
 * the time, level, message and the fields after it on the same line, no colours. Redaction happens before, in pino.
 */
function textStream(destination: NodeJS.WritableStream): DestinationStream {
  return PinoPretty({
    destination,
    sync: true,
    colorize: false,
    singleLine: true,
    // pino already writes the time as ISO 8601 in UTC; shown as it is.
    translateTime: false,
    ignore: "pid,hostname,name",
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.METAPILOT_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "info";
  return pino(
    {
      name: options.name ?? "metapilot",
      level,
      formatters: {
        level: (label) => ({ level: label }),
        // Every logged object, at any depth: pino's own redact paths name fixed depths only.
        log: (obj) => redactDeep(obj) as Record<string, unknown>,
        bindings: (b) => redactDeep(b) as Record<string, unknown>,
      },
      hooks: {
        // Messages are free text: scrub them too, so an error that quotes a token or certificate is still safe.
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === "string" ? scrub(a) : a)) as Parameters<typeof method>;
          return method.apply(this, scrubbed);
        },
      },
      timestamp: stdTimeFunctions.isoTime,
    },
    options.format === "text"
      ? textStream(options.destination ?? process.stdout)
      : ((options.destination ?? process.stdout) as DestinationStream),
  );
}

/**
 * A failure that repeats on every poll (Prometheus down, for one) is logged when it starts, with the full error,
 * and again only when it changes (another error), as a reminder every `reminderMs` with the count, and when it ends.
 * One line per state change instead of a stack every second.
 */
export class RepeatedFailureLog {
  private current?: string;
  private failures = 0;
  private since = 0;
  private lastLoggedAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly opts: { reminderMs?: number; now?: () => number } = {},
  ) {}

  /** Consecutive failures so far (0 once recovered). */
  get count(): number {
    return this.failures;
  }

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    const now = (this.opts.now ?? Date.now)();
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (what === this.current) {
      this.failures++;
      if (now - this.lastLoggedAt < (this.opts.reminderMs ?? 5 * 60_000)) return;
      this.lastLoggedAt = now;
      this.logger.warn(
        { ...fields, error: what, failures: this.failures, failingForSeconds: Math.round((now - this.since) / 1000) },
        `${this.message} (still failing)`,
      );
      return;
    }
    const previous = this.failures;
    if (this.current === undefined) this.since = now;
    this.current = what;
    this.failures = previous + 1;
    this.lastLoggedAt = now;
    this.logger.warn({ ...fields, err, failures: this.failures }, this.message);
  }

  recovered(fields: Record<string, unknown> = {}): void {
    if (this.current === undefined) return;
    const now = (this.opts.now ?? Date.now)();
    this.logger.info(
      { ...fields, failures: this.failures, failedForSeconds: Math.round((now - this.since) / 1000) },
      `${this.message}: recovered`,
    );
    this.current = undefined;
    this.failures = 0;
  }
}
