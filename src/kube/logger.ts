import {
  pino,
  stdSerializers,
  stdTimeFunctions,
  type DestinationStream,
  type Logger,
  type LevelWithSilent,
} from "pino";

export type { Logger };

/**
 * Paths that must never reach a log line: credentials in kubeconfigs and HTTP headers, Secret data, and the PEM
 * material of the PKI. Redaction is by key, so any object logged under these names is censored.
 */
export const redactPaths = [
  "token",
  "*.token",
  "bearerToken",
  "*.bearerToken",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "data",
  "*.data",
  "stringData",
  "*.stringData",
  "privateKey",
  "*.privateKey",
  "privateKeyPem",
  "*.privateKeyPem",
  "certificatePem",
  "*.certificatePem",
  "cert",
  "*.cert",
  "client-key-data",
  "*.client-key-data",
  "client-certificate-data",
  "*.client-certificate-data",
  "hmacSecret",
  "*.hmacSecret",
];

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

export interface LoggerOptions {
  level?: LevelWithSilent | string;
  destination?: NodeJS.WritableStream;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.METAPILOT_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "info";
  return pino(
    {
      name: options.name ?? "metapilot",
      level,
      redact: { paths: redactPaths, censor: "[REDACTED]" },
      formatters: { level: (label) => ({ level: label }) },
      serializers: {
        err: (err: unknown) => {
          if (!(err instanceof Error)) return { message: scrub(String(err)) };
          const e = stdSerializers.err(err);
          return { ...e, message: scrub(e.message ?? ""), stack: e.stack ? scrub(e.stack) : undefined };
        },
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
    (options.destination ?? process.stdout) as DestinationStream,
  );
}
