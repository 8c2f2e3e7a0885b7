import { createServer, type Server } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeClient } from "../kube/client.js";
import type { Informer } from "../kube/informer.js";
import { createLogger } from "../kube/logger.js";
import { hmacKeyOf, Reporter, type ReportableDecision } from "./reports.js";

describe("ops-center HMAC key", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hmac-"));
  const file = (name: string, content: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    return f;
  };
  let server: Server;
  let url = "";
  const received: Array<Record<string, string | string[] | undefined>> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on("end", () => res.writeHead(202).end());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/reports`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("is read from its file, and a missing, unreadable or empty one is an error that names the flag", () => {
    expect(hmacKeyOf({ url, hmacSecretFile: file("ok", "s3cret\n") })).toBe("s3cret");
    expect(hmacKeyOf({ url })).toBeUndefined();
    expect(() => hmacKeyOf({ url, hmacSecretFile: file("empty", " \n") })).toThrow(
      /--ops-center-hmac-secret-file .*empty: put the HMAC-SHA256 key in it/,
    );
    expect(() => hmacKeyOf({ url, hmacSecretFile: path.join(dir, "absent") })).toThrow(/cannot be read: ENOENT/);
    expect(() => hmacKeyOf({ url, hmacSecret: "" })).toThrow(/HMAC key .* is empty/);
  });

  it("refuses to start with an empty key file, and sends nothing unsigned when the file is emptied later", async () => {
    const options = (hmacSecretFile: string) => ({
      client: {
        applyStatus: async (_t: unknown, o: unknown) => {
          applied.push(o as ReportableDecision);
          return o;
        },
      } as unknown as KubeClient,
      decisions: { list: () => [] } as unknown as Informer<ReportableDecision>,
      endpoints: [{ url, hmacSecretFile }],
      source: "test",
      logger: createLogger({ level: "silent" }),
    });
    const applied: ReportableDecision[] = [];
    expect(() => new Reporter(options(file("empty2", "")))).toThrow(/is empty/);

    const keyFile = file("rotating", "k1");
    const reporter = new Reporter(options(keyFile));
    const decision: ReportableDecision = {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ScalingDecision",
      metadata: { name: "d1", namespace: "ns", uid: "u1" },
      spec: { decidedAt: new Date().toISOString() },
      status: { phase: "Applied" },
    };
    expect(await reporter.deliver(decision)).toBe(true);
    expect(received).toHaveLength(1);
    expect(received[0]!["x-metapilot-signature"]).toBeTruthy();

    writeFileSync(keyFile, "");
    expect(await reporter.deliver(decision)).toBe(false);
    expect(received).toHaveLength(1); // nothing sent without its signature
    expect(applied.at(-1)?.status?.delivery).toMatchObject({ state: "Pending" });
    expect(applied.at(-1)?.status?.delivery?.lastError).toMatch(/is empty/);
  });
});
