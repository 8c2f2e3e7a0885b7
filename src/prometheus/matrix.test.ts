import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusClient, PrometheusError, rangeColumnsOf } from "./client.js";
import { scanMatrix, type RangeColumns } from "./matrix.js";

/** What the general way (JSON.parse, then queryRange's conversion) makes of a Prometheus-form body. */
function reference(body: string): RangeColumns[] {
  const json = JSON.parse(body) as {
    data: { result: Array<{ metric: Record<string, string>; values: [number, string][] }> };
  };
  return rangeColumnsOf(
    json.data.result.map((s) => ({
      labels: s.metric,
      points: s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]),
    })),
  );
}

/** A body as Prometheus writes it (Go's encoder: no whitespace, its key order). */
const promBody = (series: Array<{ metric: Record<string, string>; values: Array<[string, string]> }>, tail = "") =>
  '{"status":"success","data":{"resultType":"matrix","result":[' +
  series
    .map(
      (s) => `{"metric":${JSON.stringify(s.metric)},"values":[${s.values.map(([t, v]) => `[${t},"${v}"]`).join(",")}]}`,
    )
    .join(",") +
  `]}${tail}}`;

const sample = promBody([
  {
    metric: { container: "etcd", namespace: "tcp-t0000", pod: "etcd-0" },
    values: [
      ["1796559127.500", "243242093"],
      ["1796559157.5", "0.11639999999994567"],
      ["1796559187", "-1.5e-7"],
      ["1.796559217E9", "1e+06"],
    ],
  },
  {
    // Escapes and braces inside label values: the labels end at the object's own closing brace.
    metric: { __name__: "x", le: '}{"]\\,', path: "a\u00e9\u{1f600}\n" },
    values: [["1796559127.001", "0"]],
  },
  { metric: {}, values: [["0", "-0"]] },
]);

describe("scanMatrix", () => {
  it("reads Prometheus' own form into the columns the general way gives", () => {
    const scanned = scanMatrix(sample);
    expect(scanned?.warnings).toBeUndefined();
    expect(scanned?.result).toEqual(reference(sample));
    expect(scanned?.result.map((s) => [...s.timestampsMs])[0]).toEqual([
      1796559127500, 1796559157500, 1796559187000, 1796559217000,
    ]);
    expect(Object.is(scanned?.result[2]?.values[0], -0)).toBe(true);
  });

  it("reads a long series (its columns grow) and an empty result", () => {
    const values = Array.from({ length: 1000 }, (_, i) => [String(1.7e9 + i * 30), String(i / 7)] as [string, string]);
    const body = promBody([{ metric: { a: "b" }, values }]);
    expect(scanMatrix(body)?.result).toEqual(reference(body));
    expect(scanMatrix(promBody([]))).toEqual({ result: [] });
    expect(scanMatrix(`${promBody([])}\n`)).toEqual({ result: [] });
  });

  it("keeps the warnings and ignores other keys after data", () => {
    const body = promBody(
      [{ metric: { a: "b" }, values: [["1", "2"]] }],
      ',"warnings":["w1","partial x"],"infos":["i"]',
    );
    const scanned = scanMatrix(body);
    expect(scanned?.warnings).toEqual(["w1", "partial x"]);
    expect(scanned?.result).toEqual(reference(body));
  });

  it.each([
    ["whitespace (another encoder)", JSON.stringify(JSON.parse(sample), null, 1)],
    ["keys in another order", '{"data":{"resultType":"matrix","result":[]},"status":"success"}'],
    [
      "values before metric",
      '{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"2"]],"metric":{}}]}}',
    ],
    [
      "a histogram series",
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}}',
    ],
    [
      "both values and histograms",
      promBody([{ metric: {}, values: [["1", "2"]] }]).replace("]}]}}", '],"histograms":[]}]}}'),
    ],
    ["no values", '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}}'],
    ["NaN", promBody([{ metric: {}, values: [["1", "NaN"]] }])],
    ["+Inf", promBody([{ metric: {}, values: [["1", "+Inf"]] }])],
    ["a value with an escape", promBody([{ metric: {}, values: [["1", "1\\u0030"]] }])],
    [
      "a value that is a number",
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}',
    ],
    ["a timestamp that is a string", promBody([{ metric: {}, values: [['"1"', "2"]] }])],
    ["a timestamp JSON does not allow", promBody([{ metric: {}, values: [["01", "2"]] }])],
    ["a timestamp with a bare dot", promBody([{ metric: {}, values: [["1.", "2"]] }])],
    ["a hex timestamp", promBody([{ metric: {}, values: [["0x10", "2"]] }])],
    [
      "a label value that is not a string",
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1},"values":[[1,"2"]]}]}}',
    ],
    [
      "nested labels",
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":{}},"values":[[1,"2"]]}]}}',
    ],
    [
      "a __proto__ label",
      promBody([{ metric: JSON.parse('{"__proto__":"x"}') as Record<string, string>, values: [["1", "2"]] }]),
    ],
    ["a vector", '{"status":"success","data":{"resultType":"vector","result":[]}}'],
    ["an error", '{"status":"error","errorType":"bad_data","error":"x"}'],
    ["more in data", '{"status":"success","data":{"resultType":"matrix","result":[],"stats":{}}}'],
    ["a second status after data", '{"status":"success","data":{"resultType":"matrix","result":[]},"status":"error"}'],
    ["warnings that are not strings", '{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":[1]}'],
    ["null warnings", '{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":null}'],
    ["something after the end", `${promBody([])}x`],
    ["non-JSON whitespace after the end", `${promBody([])}\u00a0`],
  ])("leaves %s to the general way", (_, body) => {
    expect(scanMatrix(body)).toBeUndefined();
  });

  it("reads no body broken off anywhere", () => {
    const body = promBody(
      [
        {
          metric: { a: "b" },
          values: [
            ["1", "2"],
            ["31", "3.5"],
          ],
        },
      ],
      ',"warnings":["w"]',
    );
    for (let i = 0; i < body.length; i++) expect(scanMatrix(body.slice(0, i)), body.slice(0, i)).toBeUndefined();
    expect(scanMatrix(body)).toBeDefined();
  });
});

describe("PrometheusClient range answers, scanned or parsed", () => {
  const url = "http://prom.test:9090";
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  const client = () => new PrometheusClient({ url, retries: 0, retryBaseMs: 1, timeoutMs: 10_000 });
  const answer = (body: string) => nock(url).post("/api/v1/query_range").reply(200, body);
  const range = (c: PrometheusClient, columns: boolean) =>
    columns
      ? c.queryRangeColumns("x", new Date(0), new Date(60_000), 30)
      : c.queryRange("x", new Date(0), new Date(60_000), 30).then(rangeColumnsOf);

  it.each([false, true])("gives the same series either way (columns %s)", async (columns) => {
    answer(sample);
    const fast = await range(client(), columns);
    // The same answer in a form the scanner leaves to the general way.
    answer(JSON.stringify(JSON.parse(sample), null, 2));
    const general = await range(client(), columns);
    expect(fast).toEqual(reference(sample));
    expect(general).toEqual(fast);
  });

  it.each([
    ["partial warnings", promBody([], ',"warnings":["partial response: store down"]'), "partial"],
    ["a NaN sample", promBody([{ metric: { a: "b" }, values: [["1", "NaN"]] }]), "malformed"],
    [
      "a histogram series",
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}}',
      "malformed",
    ],
    ["a broken body", promBody([{ metric: { a: "b" }, values: [["1", "2"]] }]).slice(0, -5), "partial"],
  ])("refuses %s either way", async (_, body, kind) => {
    for (const columns of [false, true]) {
      answer(body);
      const err = await range(client(), columns).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PrometheusError);
      expect((err as PrometheusError).kind).toBe(kind);
    }
  });
});
