import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import snappy from "snappyjs";
import { PrometheusClient, PrometheusError, rateRuleOf } from "./client.js";
import { encodeReadRequest, streamedContentType } from "./remote-read.js";
import { floatBits, frame, response, sample, series, staleBits, xorChunk } from "./remote-read-testing.js";

const url = "http://prom.test:9090";
beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

// A generous deadline: a short one under load times out the first attempt, and its retry finds the interceptor
// used up. The timeout test sets its own.
const client = (timeoutMs = 10_000) => new PrometheusClient({ url, retries: 1, retryBaseMs: 1, timeoutMs });

describe("PrometheusClient.query (instant)", () => {
  it("returns finite samples with labels and timestamps, and drops NaN (no value at that instant)", async () => {
    nock(url)
      .post("/api/v1/query")
      .reply(200, {
        status: "success",
        data: {
          resultType: "vector",
          result: [
            { metric: { pod: "a" }, value: [1700000000.5, "0.25"] },
            { metric: { pod: "b" }, value: [1700000000.5, "NaN"] },
          ],
        },
      });
    expect(await client().query("x")).toEqual([{ labels: { pod: "a" }, value: 0.25, timestampMs: 1700000000500 }]);
  });

  it.each([
    ["a body that is not JSON", () => nock(url).post("/api/v1/query").reply(200, '{"status":"succ'), "partial"],
    [
      "the wrong result type",
      () =>
        nock(url)
          .post("/api/v1/query")
          .reply(200, { status: "success", data: { resultType: "matrix", result: [] } }),
      "malformed",
    ],
    [
      "a partial-response warning",
      () =>
        nock(url)
          .post("/api/v1/query")
          .reply(200, {
            status: "success",
            data: { resultType: "vector", result: [] },
            warnings: ["partial response: store down"],
          }),
      "partial",
    ],
    [
      "a query error",
      () =>
        nock(url).post("/api/v1/query").reply(400, { status: "error", errorType: "bad_data", error: "parse error" }),
      "query",
    ],
    ["5xx twice", () => nock(url).post("/api/v1/query").times(2).reply(503, "down"), "server"],
  ])("turns %s into an error, never an empty result", async (_what, setup, kind) => {
    setup();
    const err = await client()
      .query("x")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect((err as PrometheusError).kind).toBe(kind);
  });

  it("retries a 5xx once, then succeeds", async () => {
    nock(url)
      .post("/api/v1/query")
      .reply(502, "bad gateway")
      .post("/api/v1/query")
      .reply(200, { status: "success", data: { resultType: "vector", result: [] } });
    expect(await client().query("x")).toEqual([]);
  });

  // A reply function that never settles: nock 15 sends nothing, not even the status line. (Its .delay() holds back
  // only the body, which is the next case.)
  const neverAnswers = () => new Promise<never>(() => {});

  it("times out a server that does not answer", async () => {
    nock(url).post("/api/v1/query").times(2).reply(neverAnswers);
    const err = await client(500)
      .query("x")
      .catch((e: unknown) => e);
    expect((err as PrometheusError).kind).toBe("timeout");
    expect(nock.isDone()).toBe(true);
  });

  it("times out a server that sends the headers and then stalls the body, rather than calling it partial", async () => {
    nock(url).post("/api/v1/query").times(2).delay(2000).reply(200, { status: "success" });
    const err = await client(500)
      .query("x")
      .catch((e: unknown) => e);
    expect((err as PrometheusError).kind).toBe("timeout");
    expect(nock.isDone()).toBe(true);
  });
});

describe("PrometheusClient.lookback and queryMatrixColumns", () => {
  const status = (flags: unknown, version: unknown) => {
    nock(url).get("/api/v1/status/flags").reply(200, { status: "success", data: flags });
    nock(url).get("/api/v1/status/buildinfo").reply(200, { status: "success", data: { version } });
  };

  it("reads the lookback delta from the flags and its window's kind from the version, by GET", async () => {
    status({ "query.lookback-delta": "11m", "web.enable-lifecycle": "false" }, "2.42.0+ds");
    expect(await client().lookback()).toEqual({ deltaMs: 660_000, leftOpen: false, rateRule: "v2.40" });
    status({ "query.lookback-delta": "5m" }, "3.5.0");
    expect(await client().lookback()).toEqual({ deltaMs: 300_000, leftOpen: true, rateRule: "v2.52" });
    // A release whose rate() this client has not read: its rates stay with Prometheus.
    status({ "query.lookback-delta": "5m" }, "3.12.0");
    expect(await client().lookback()).toEqual({ deltaMs: 300_000, leftOpen: true });
  });

  it.each([
    ["2.39.0", undefined],
    ["2.40.0", "v2.40"],
    ["v2.51.2", "v2.40"],
    ["2.52.0", "v2.52"],
    ["2.55.1", "v2.52"],
    ["3.0.0", "v2.52"],
    ["3.11.3", "v2.52"],
    ["3.12.0", undefined],
    ["4.0.0", undefined],
    ["main", undefined],
  ])("takes Prometheus %s's rate() arithmetic to be %s", (version, rule) => {
    expect(rateRuleOf(version)).toBe(rule);
  });

  it.each([
    ["no lookback flag (not Prometheus' own status API)", { other: "1" }, "2.42.0"],
    ["a lookback this client does not read", { "query.lookback-delta": "1d" }, "2.42.0"],
    ["a version without a major number", { "query.lookback-delta": "5m" }, "main"],
  ])("refuses %s, so that the caller evaluates at Prometheus", async (_what, flags, version) => {
    status(flags, version);
    await expect(client().lookback()).rejects.toBeInstanceOf(PrometheusError);
  });

  it("refuses when the status endpoints are not there", async () => {
    nock(url).get("/api/v1/status/flags").reply(404, "404 page not found");
    nock(url).get("/api/v1/status/buildinfo").reply(404, "404 page not found");
    await expect(client().lookback()).rejects.toBeInstanceOf(PrometheusError);
  });

  it("reads a range selector's raw samples as columns, at the time asked", async () => {
    nock(url)
      .post("/api/v1/query", { query: "x[20m]", time: "1700000700.000" })
      .reply(200, {
        status: "success",
        data: {
          resultType: "matrix",
          result: [
            {
              metric: { pod: "a" },
              values: [
                [1700000000, "1"],
                [1700000600.5, "2"],
              ],
            },
          ],
        },
      });
    const got = await client().queryMatrixColumns("x[20m]", new Date(1700000700_000));
    expect(got).toEqual([
      {
        labels: { pod: "a" },
        timestampsMs: Float64Array.from([1700000000_000, 1700000600_500]),
        values: Float64Array.from([1, 2]),
      },
    ]);
  });

  it("gives a vector answer to a range selector read as an error, not as no samples", async () => {
    nock(url)
      .post("/api/v1/query")
      .reply(200, { status: "success", data: { resultType: "vector", result: [] } });
    await expect(client().queryMatrixColumns("x[1m]", new Date(0))).rejects.toMatchObject({ kind: "malformed" });
  });
});

describe("PrometheusClient.remoteRead", () => {
  const query = { startMs: 1_000, endMs: 61_000, matchers: [{ type: "=" as const, name: "__name__", value: "up" }] };
  const answer = (results: number[][][]) => Buffer.from(snappy.compress(response(results)));

  it("posts one snappy-compressed ReadRequest and reads each query's raw samples, stale markers included", async () => {
    let sent: unknown;
    nock(url, {
      reqheaders: {
        "content-encoding": "snappy",
        "content-type": "application/x-protobuf",
        "x-prometheus-remote-read-version": "0.1.0",
        "user-agent": /metapilot/,
      },
    })
      .post("/api/v1/read", (body: unknown) => {
        sent = body;
        return true;
      })
      .reply(200, answer([[series({ __name__: "up" }, [sample(1, 1_000), sample(staleBits, 31_000)])]]));
    const [result] = await client().remoteRead([query]);
    const bytes = Buffer.from(String(sent), "hex");
    expect([...snappy.uncompress(Uint8Array.from(bytes))]).toEqual([...encodeReadRequest([query])]);
    expect([...(result?.[0]?.stale ?? [])]).toEqual([0, 1]);
  });

  it("reads a streamed answer (chunks) by its content type, and a bad one as malformed", async () => {
    const chunk = xorChunk([
      [1_000, floatBits(1)],
      [31_000, 0x7ff0000000000002n],
      [91_000, floatBits(2)],
    ]);
    const body = Buffer.from(frame(0, [{ labels: { __name__: "up" }, chunks: [{ data: chunk }] }]));
    nock(url)
      .post("/api/v1/read")
      .reply(200, body, { "content-type": streamedContentType })
      .post("/api/v1/read")
      .reply(200, body.subarray(0, body.length - 1), { "content-type": streamedContentType });
    const [result] = await client().remoteRead([query]);
    // The sample after the query's end is left out; the stale marker is one.
    expect(result?.map((s) => [s.labels, [...s.timestampsMs], [...s.stale]])).toEqual([
      [{ __name__: "up" }, [1_000, 31_000], [0, 1]],
    ]);
    await expect(client().remoteRead([query])).rejects.toMatchObject({ kind: "malformed" });
  });

  it.each([404, 405, 501])("says a Prometheus answering %i has no remote read API (unsupported)", async (status) => {
    nock(url).post("/api/v1/read").reply(status, "not found");
    await expect(client().remoteRead([query])).rejects.toMatchObject({ kind: "unsupported" });
  });

  it("retries a 5xx, and refuses an answer too large once decompressed or with the wrong number of results", async () => {
    nock(url)
      .post("/api/v1/read")
      .reply(503, "busy")
      .post("/api/v1/read")
      .reply(200, answer([[]]));
    expect(await client().remoteRead([query])).toEqual([[]]);
    nock(url)
      .post("/api/v1/read")
      .reply(200, answer([[], []]));
    await expect(client().remoteRead([query])).rejects.toMatchObject({ kind: "malformed" });
    const big = answer([[series({ __name__: "up", pad: "x".repeat(5000) }, [])]]);
    nock(url).post("/api/v1/read").reply(200, big);
    const small = new PrometheusClient({ url, retries: 0, maxResponseBytes: 1024 });
    await expect(small.remoteRead([query])).rejects.toMatchObject({ kind: "too-large" });
    nock(url).post("/api/v1/read").reply(400, "exceeded sample limit (50000000)");
    await expect(client().remoteRead([query])).rejects.toMatchObject({ kind: "too-large" });
    // A proxy that passes the query API only, or refuses this path: the query API is asked instead.
    nock(url).post("/api/v1/read").reply(403, "forbidden");
    await expect(client().remoteRead([query])).rejects.toMatchObject({ kind: "unsupported" });
  });

  it("lends each series to remoteReadEach's visitor, as remoteRead reads them, in either answer's form", async () => {
    const a = { __name__: "up", job: "a" };
    const b = { __name__: "up", job: "b" };
    const chunk = (from: number, n: number) =>
      xorChunk(Array.from({ length: n }, (_, i): [number, bigint] => [from + i * 10_000, floatBits(from + i)]));
    const streamed = Buffer.from([
      ...frame(0, [{ labels: a, chunks: [{ data: chunk(1_000, 3) }] }]),
      ...frame(0, [{ labels: b, chunks: [{ data: chunk(1_000, 2) }] }]),
      ...frame(0, [{ labels: a, chunks: [{ data: chunk(31_000, 4) }] }]),
    ]);
    const samples = answer([
      [series(a, [sample(1, 1_000), sample(2, 11_000)]), series(b, [sample(staleBits, 21_000)])],
    ]);
    for (const [body, headers] of [
      [streamed, { "content-type": streamedContentType }],
      [samples, {}],
    ] as const) {
      nock(url).post("/api/v1/read").reply(200, body, headers).post("/api/v1/read").reply(200, body, headers);
      const visited: unknown[] = [];
      // Read at once: the columns are lent for the call only.
      await client().remoteReadEach([query], (q, s) =>
        visited.push([q, s.labels, [...s.timestampsMs], [...s.values], [...s.stale]]),
      );
      const [whole = []] = await client().remoteRead([query]);
      expect(visited).toEqual(whole.map((s) => [0, s.labels, [...s.timestampsMs], [...s.values], [...s.stale]]));
      expect(visited).toHaveLength(2);
    }
  });

  it("passes a visitor's error on as it is, without asking again", async () => {
    const body = Buffer.from(
      frame(0, [{ labels: { __name__: "up" }, chunks: [{ data: xorChunk([[1_000, floatBits(1)]]) }] }]),
    );
    const scope = nock(url).post("/api/v1/read").reply(200, body, { "content-type": streamedContentType });
    let calls = 0;
    const visit = () => {
      calls++;
      throw new Error("the visitor's own");
    };
    await expect(client().remoteReadEach([query], visit)).rejects.toThrow("the visitor's own");
    expect(calls).toBe(1);
    expect(scope.isDone()).toBe(true);
  });
});
