// An ops-center receiver for metapilot's decision reports: copy it, or port its checks to your language.
//
// metapilot POSTs each ScalingDecision as a CloudEvent in structured mode (content-type
// application/cloudevents+json, type io.metapilot.scalingdecision.v1) with two headers:
//   X-Metapilot-Timestamp  seconds since the epoch when this attempt was sent
//   X-Metapilot-Signature  "sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" under the shared key
// and retries with the same event id until it gets a 2xx answer (the decision's status is its outbox).
//
// The receiver checks, in this order, before it trusts one byte of the body:
//   1. the body is at most maxBodyBytes (read no further);
//   2. the timestamp is within windowSeconds of its own clock (an old capture cannot be replayed later);
//   3. the signature matches, compared in constant time (no timing oracle on the expected value);
//   4. the event id was not accepted before within the window: a repeat is answered 200 and not handed on again,
//      because it is metapilot's own retry after a lost answer or a replay of a captured request; either way the
//      event was already processed once. Ids are remembered for the window, and the window bounds the memory.
// Then it parses the CloudEvent and hands it on. Run it: `npx tsx examples/ops-center-receiver.ts` with
// OPS_CENTER_HMAC_KEY set (the same key as the chart's opsCenter.hmacSecret), PORT optional; it prints each
// decision as one JSON line.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { pathToFileURL } from "node:url";
import { HTTP, type CloudEvent } from "cloudevents";

export const decisionEventType = "io.metapilot.scalingdecision.v1";

export interface ReceiverOptions {
  /** The shared HMAC key (metapilot's --ops-center-hmac-secret-file). */
  key: string;
  /** Accepted clock difference in either direction, and how long event ids are remembered. Default 300. */
  windowSeconds?: number;
  /** Largest body read. Default 1 MiB (a decision with its evidence is a few KiB). */
  maxBodyBytes?: number;
  /** Called once per accepted event; a throw answers 500, so metapilot retries. */
  onDecision: (event: CloudEvent<unknown>) => void | Promise<void>;
  now?: () => number;
}

export type Verdict =
  | { status: 200; accepted: true; id: string }
  | { status: 200; accepted: false; id: string; reason: "duplicate" }
  | { status: 400 | 401 | 413; accepted: false; reason: string };

/** The signature metapilot sends for `body` at `timestamp` (src/scaler/reports.ts signBody). */
export function expectedSignature(key: string, timestamp: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", key).update(`${timestamp}.`).update(body).digest("hex")}`;
}

/** Constant-time comparison of two header values (different lengths are unequal without comparing). */
function sameSignature(got: string, want: string): boolean {
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks one delivery and remembers its id; pure apart from the id memory. Exposed for tests and ports. */
export class ReportVerifier {
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;

  constructor(private readonly o: Omit<ReceiverOptions, "onDecision">) {
    if (!o.key) throw new Error("the HMAC key is empty: set the same key as metapilot's --ops-center-hmac-secret-file");
    this.windowMs = (o.windowSeconds ?? 300) * 1000;
  }

  verify(headers: Record<string, string | undefined>, body: Buffer): { verdict: Verdict; event?: CloudEvent<unknown> } {
    const now = (this.o.now ?? Date.now)();
    const timestamp = headers["x-metapilot-timestamp"] ?? "";
    const signature = headers["x-metapilot-signature"] ?? "";
    if (!/^\d{1,12}$/.test(timestamp)) return { verdict: { status: 401, accepted: false, reason: "no timestamp" } };
    if (Math.abs(now - Number(timestamp) * 1000) > this.windowMs)
      return { verdict: { status: 401, accepted: false, reason: "timestamp outside the window" } };
    if (!sameSignature(signature, expectedSignature(this.o.key, timestamp, body)))
      return { verdict: { status: 401, accepted: false, reason: "bad signature" } };
    let event: CloudEvent<unknown>;
    try {
      const parsed = HTTP.toEvent({ headers, body: body.toString("utf8") });
      if (Array.isArray(parsed)) throw new Error("a batch");
      event = parsed as CloudEvent<unknown>;
    } catch (err) {
      return { verdict: { status: 400, accepted: false, reason: `not a CloudEvent: ${(err as Error).message}` } };
    }
    if (event.type !== decisionEventType)
      return { verdict: { status: 400, accepted: false, reason: `unexpected type ${event.type}` } };
    for (const [id, at] of this.seen) if (now - at > this.windowMs) this.seen.delete(id);
    if (this.seen.has(event.id))
      return { verdict: { status: 200, accepted: false, id: event.id, reason: "duplicate" }, event };
    this.seen.set(event.id, now);
    return { verdict: { status: 200, accepted: true, id: event.id }, event };
  }

  /** An id whose processing failed is forgotten, so metapilot's retry is processed. */
  forget(id: string): void {
    this.seen.delete(id);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** An HTTP server that accepts POSTs of signed decision reports on any path. */
export function createReceiver(o: ReceiverOptions): Server {
  const verifier = new ReportVerifier(o);
  return createServer((req, res) => {
    const answer = (status: number, text: string) => {
      res.writeHead(status, { "content-type": "text/plain" }).end(`${text}\n`);
    };
    if (req.method !== "POST") return answer(405, "POST only");
    void (async () => {
      const body = await readBody(req, o.maxBodyBytes ?? 2 ** 20);
      if (!body) return answer(413, "body too large");
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(",") : v;
      const { verdict, event } = verifier.verify(headers, body);
      if (!verdict.accepted) return answer(verdict.status, verdict.reason);
      if (!event) return answer(400, "not a CloudEvent");
      try {
        await o.onDecision(event);
        answer(200, "accepted");
      } catch (err) {
        verifier.forget(verdict.id);
        answer(500, `processing failed: ${(err as Error).message}`);
      }
    })().catch(() => answer(400, "unreadable request"));
  });
}

// Run as a program: one JSON line per accepted decision on stdout.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const key = process.env.OPS_CENTER_HMAC_KEY ?? "";
  const server = createReceiver({
    key,
    onDecision: (event) => {
      process.stdout.write(`${JSON.stringify({ id: event.id, subject: event.subject, data: event.data })}\n`);
    },
  });
  server.listen(Number(process.env.PORT ?? 8090), () => {
    process.stderr.write(`ops-center receiver on :${process.env.PORT ?? 8090}\n`);
  });
}
