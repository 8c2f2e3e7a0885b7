// The answer size limit against a real HTTP server: one that declares a huge Content-Length, one that streams a
// body without a length, and one under the limit.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient, PrometheusError } from "./client.js";

describe("PrometheusClient answer size limit", () => {
  let server: Server;
  let url = "";
  let chunksWritten = 0;
  const vector = JSON.stringify({
    status: "success",
    data: { resultType: "vector", result: [{ metric: { pod: "a" }, value: [1700000000, "1"] }] },
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      const mode = (req.url ?? "/").split("/")[1]; // the client's base path: http://127.0.0.1:port/<mode>/
      if (mode === "declared") {
        res.writeHead(200, { "content-type": "application/json", "content-length": String(1 << 30) });
        res.write('{"status":"success"');
        return; // never finishes: the client must not wait for a gigabyte
      }
      if (mode === "stream") {
        res.writeHead(200, { "content-type": "application/json" }); // chunked, no length
        const chunk = Buffer.alloc(64 * 1024, " ");
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
        const pump = () => {
          while (!res.destroyed && chunksWritten < 10_000) {
            chunksWritten++;
            if (!res.write(chunk)) return res.once("drain", pump);
          }
        };
        res.on("close", () => undefined);
        pump();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(vector);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  const client = (mode: string, maxResponseBytes = 1024 * 1024) =>
    new PrometheusClient({
      url: `${url}/${mode}/`,
      retries: 2,
      retryBaseMs: 1,
      timeoutMs: 20_000,
      maxResponseBytes,
    });

  it("refuses a declared Content-Length over the limit before reading the body, and does not retry", async () => {
    let requests = 0;
    const c = new PrometheusClient({
      url: `${url}/declared/`,
      retries: 2,
      retryBaseMs: 1,
      maxResponseBytes: 1024 * 1024,
      onRequest: () => requests++,
    });
    const err = await c.query("up").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect((err as PrometheusError).kind).toBe("too-large");
    expect((err as Error).message).toMatch(
      /1073741824 bytes is over the limit of 1048576 bytes.*--prometheus-max-response-size/,
    );
    expect(requests).toBe(1);
  });

  it("stops reading a streamed answer as soon as it passes the limit", async () => {
    const err = await client("stream")
      .query("up")
      .catch((e: unknown) => e);
    expect((err as PrometheusError).kind).toBe("too-large");
    // 1 MiB limit, 64 KiB chunks: the server could write all 10,000 (625 MiB) if the client kept reading.
    expect(chunksWritten).toBeLessThan(1000);
  });

  it("reads an answer under the limit", async () => {
    expect(await client("small").query("up")).toEqual([{ labels: { pod: "a" }, value: 1, timestampMs: 1700000000000 }]);
  });
});
