import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.js";
import { createLogger, redactDeep, RepeatedFailureLog, scrub } from "./logger.js";

function capture(): { stream: Writable; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join("") };
}

describe("logger redaction", () => {
  const pem =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----";
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlc2lnbmF0dXJl";

  it("censors Secret data, tokens and keys by field name", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream });
    log.info(
      { secret: { data: { "tls.key": "c2VjcmV0" } }, token: "abc", headers: { authorization: "Bearer xyz" } },
      "x",
    );
    const text = out.lines();
    expect(text).not.toContain("c2VjcmV0");
    expect(text).not.toContain("Bearer xyz");
    expect(text).not.toContain('"abc"');
    expect(text).toContain("[REDACTED]");
  });

  it("censors sensitive keys at any depth, in errors' bodies, and survives cycles", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream });
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    log.info(
      {
        tenant: { pki: { files: { "tls.key": "TLSKEY1", "sa.key": "SAKEY1", "ca.crt": "public-ca" } } },
        rendered: [{ spec: { volumes: [{ kubeconfig: "KUBECONFIG1" }] } }],
        deep: { a: { b: { c: { d: { Data: { x: "DATA1" } } } } } },
        cyclic,
      },
      "nested",
    );
    log.warn(
      { err: new ApiError("GET /api/v1/secrets/x: 500", 500, "InternalError", undefined, { echo: "BODY1" }) },
      "e",
    );
    const text = out.lines();
    for (const secret of ["TLSKEY1", "SAKEY1", "KUBECONFIG1", "DATA1", "BODY1"]) expect(text).not.toContain(secret);
    expect(text).toContain("public-ca");
    expect(text).toContain("[Circular]");
    // The error is still useful: its message, status and stack survive.
    const err = JSON.parse(text.trim().split("\n").at(-1)!).err as Record<string, unknown>;
    expect(err.message).toBe("GET /api/v1/secrets/x: 500");
    expect(err.statusCode).toBe(500);
    expect(String(err.stack)).toContain("ApiError");
  });

  it("leaves ordinary fields alone", () => {
    expect(redactDeep({ key: "ns/name", count: 3, ok: true, list: ["a"] })).toEqual({
      key: "ns/name",
      count: 3,
      ok: true,
      list: ["a"],
    });
  });

  it("scrubs PEM blocks and JWTs out of messages and errors", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream });
    log.info(`loaded ${pem}`);
    log.error({ err: new Error(`bad token Bearer ${jwt}`) }, "failed");
    const text = out.lines();
    expect(text).not.toContain("MIGHAgEA");
    expect(text).not.toContain(jwt);
    expect(scrub(`x ${jwt} y`)).toBe("x [JWT REDACTED] y");
  });

  it("honours the level", () => {
    const out = capture();
    const log = createLogger({ level: "warn", destination: out.stream });
    log.info("hidden");
    log.warn("shown");
    expect(out.lines()).not.toContain("hidden");
    expect(out.lines()).toContain("shown");
  });
});

describe("--log-format text", () => {
  it("writes one readable line per entry: ISO time, level, message, fields; redacted like JSON", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream, format: "text" });
    log.info({ tenant: "tcp-a", token: "s3cr3t-token-value" }, "reconciled");
    log.debug("hidden");
    const lines = out.lines().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: reconciled \{.*"tenant":"tcp-a".*\}$/);
    expect(lines[0]).toContain('"token":"[REDACTED]"');
    expect(out.lines()).not.toContain("s3cr3t");
    // Not JSON: a person's format, not a collector's.
    expect(() => JSON.parse(lines[0]!) as unknown).toThrow();
  });

  it("is JSON by default", () => {
    const out = capture();
    createLogger({ level: "info", destination: out.stream }).info({ tenant: "tcp-a" }, "reconciled");
    expect(JSON.parse(out.lines())).toMatchObject({ level: "info", msg: "reconciled", tenant: "tcp-a" });
  });
});

describe("RepeatedFailureLog", () => {
  it("logs a failure when it starts, changes and ends, with a count, not on every repetition", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream });
    let now = 0;
    const failures = new RepeatedFailureLog(log, "poll failed", { reminderMs: 60_000, now: () => now });
    for (let i = 0; i < 30; i++, now += 1000) failures.failed(new Error("connect ECONNREFUSED"));
    expect(failures.count).toBe(30);
    now += 40_000; // 70 s after the first failure: one reminder with the count
    failures.failed(new Error("connect ECONNREFUSED"));
    failures.failed(new Error("answered 502")); // another error: logged at once
    failures.recovered();
    failures.recovered(); // nothing more to say
    const lines = out
      .lines()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual([
      "poll failed",
      "poll failed (still failing)",
      "poll failed",
      "poll failed: recovered",
    ]);
    expect(lines[0]!.err).toBeDefined(); // the full error once
    expect(lines[1]).toMatchObject({ failures: 31, failingForSeconds: 70, error: "Error: connect ECONNREFUSED" });
    expect(lines[2]).toMatchObject({ failures: 32 });
    expect(lines[3]).toMatchObject({ failures: 32, failedForSeconds: 70 });
    expect(failures.count).toBe(0);
  });
});
