// A canned Prometheus for the backtest's tests (nock): each history query answered from functions of time, as a
// real Prometheus evaluates a range query (one point per step, none where the function gives none).
import nock from "nock";
import { historyQueries, type HistoryMetric } from "./signals.js";

export const promUrl = "http://prom.backtest.test:9090";

export interface CannedSeries {
  labels: Record<string, string>;
  /** The value at a step (ms), or undefined for no point. */
  at: (t: number) => number | undefined;
}

export interface CannedPrometheus {
  /** Range queries answered, by metric. */
  asked: HistoryMetric[];
  done: () => void;
}

/**
 * Answers POST /api/v1/query_range for the queries of `namespaces` (the live rate window), from `series`; a metric
 * not given answers no series. `fail(metric, startMs)` returning a status makes that answer an error instead.
 * Several lists of namespaces (batches of tenants) answer the queries of each, with the series of its namespaces.
 */
export function cannedPrometheus(
  namespaces: readonly string[] | ReadonlyArray<readonly string[]>,
  series: Partial<Record<HistoryMetric, CannedSeries[]>>,
  fail?: (metric: HistoryMetric, startMs: number) => number | undefined,
): CannedPrometheus {
  const sets = namespaces.every((n) => typeof n === "string")
    ? [namespaces as readonly string[]]
    : (namespaces as ReadonlyArray<readonly string[]>);
  // The queries as fetchHistory sends them at the request's step.
  const byStep = new Map<number, Map<string, { metric: HistoryMetric; set: readonly string[] }>>();
  const byQuery = (stepMs: number) => {
    let m = byStep.get(stepMs);
    if (!m)
      byStep.set(
        stepMs,
        (m = new Map(
          sets.flatMap((set) =>
            Object.entries(historyQueries(set, "1m", {}, stepMs)).map(
              ([metric, q]) => [q, { metric: metric as HistoryMetric, set }] as const,
            ),
          ),
        )),
      );
    return m;
  };
  const asked: HistoryMetric[] = [];
  const scope = nock(promUrl)
    .persist()
    .post("/api/v1/query_range")
    .reply(async (req: Request) => {
      const params = new URLSearchParams(await req.text());
      const known = byQuery(Number(params.get("step")) * 1000).get(params.get("query") ?? "");
      if (!known)
        return [400, { status: "error", errorType: "bad_data", error: `unexpected query ${params.get("query")}` }];
      const { metric, set } = known;
      asked.push(metric);
      const start = Number(params.get("start")) * 1000;
      const end = Number(params.get("end")) * 1000;
      const step = Number(params.get("step")) * 1000;
      const status = fail?.(metric, start);
      if (status)
        return [status, status >= 500 ? "unavailable" : { status: "error", errorType: "bad_data", error: "x" }];
      const inSet = (s: CannedSeries) => sets.length === 1 || set.includes(s.labels.namespace ?? "");
      const result = (series[metric] ?? []).filter(inSet).flatMap((s) => {
        const values: Array<[number, string]> = [];
        for (let t = start; t <= end; t += step) {
          const v = s.at(t);
          if (v !== undefined) values.push([t / 1000, String(v)]);
        }
        return values.length ? [{ metric: s.labels, values }] : [];
      });
      return [200, { status: "success", data: { resultType: "matrix", result } }];
    });
  return { asked, done: () => scope.persist(false) && nock.cleanAll() };
}
