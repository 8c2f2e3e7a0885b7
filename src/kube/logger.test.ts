import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, scrub } from "./logger.js";

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
