// The "what if" page's API: a backtest of one ClusterScaler over a range of Prometheus history (the engine that
// runs live, src/backtest), beside what really happened (the ScalingDecisions recorded in the same range). It
// writes nothing; the tenants, their sizes and the policy come from the dashboard's informer caches, the history
// from its Prometheus (by remote read where it has that API, as `metapilot backtest` reads it). Bounded, so that a
// click can overload neither Prometheus nor the process: a longest range, a most steps, the history held a batch
// of tenants at a time, at most two requests in flight, and one backtest at a time (a second is answered 429 while
// one runs).
import type { ServerResponse } from "node:http";
import { parseDuration } from "../../../api/common.js";
import { parseClusterScaler } from "../../../api/index.js";
import { renderBacktestHtml } from "../../../backtest/html.js";
import { inventoryOf, type BacktestWorkload } from "../../../backtest/inventory.js";
import { Backtest, type BacktestReport, type PolicyResult } from "../../../backtest/run.js";
import { fetchHistory, lookbackOf, stepsOf } from "../../../backtest/signals.js";
import type { KubeObject } from "../../../kube/resources.js";
import { resolvePolicy, selectClusterScaler } from "../../../scaler/policy.js";
import type { DigestRow } from "../../../scaler/reports.js";
import { reportDigest, reportWindow } from "../report.js";
import { nowOf, type ApiDeps, type DecisionObject } from "./deps.js";
import { BadRequest, oneOfParam, send, sendJson, textParam, type ApiRoute } from "./http.js";

export const whatIfLimits = {
  /** The longest range one backtest reads. */
  maxRangeMs: 7 * 24 * 3_600_000,
  /** The most steps (range ÷ step) one backtest replays. */
  maxSteps: 20_160,
  /** The shortest step; the default is the controller's --poll-interval default. */
  minStepMs: 5_000,
  defaultStep: "15s",
  /** Values of history held at once (about 64 per tenant and step, 8 bytes each): 128 MiB. */
  historyValues: 16 * 1024 * 1024,
  /** Range queries in flight at once. */
  concurrency: 2,
};

/** Values held per tenant namespace and step (as `metapilot backtest` counts them). */
const valuesPerNamespace = 64;

/** What really happened in the range: the decisions recorded for the tenants the ClusterScaler governs. */
export interface RealDecisions {
  decisions: DigestRow[];
  summary: {
    changes: number;
    scaleUps: number;
    scaleDowns: number;
    oomAnswers: number;
    blocked: number;
    dryRun: number;
  };
}

export interface WhatIf {
  clusterScaler: string;
  from: string;
  to: string;
  stepSeconds: number;
  /** The tenant namespaces replayed. */
  namespaces: string[];
  backtest: BacktestReport;
  policy: PolicyResult;
  real: RealDecisions;
  /** Side by side: [what, backtest, recorded]. */
  comparison: Array<[string, number, number]>;
}

export interface WhatIfQuery {
  since?: string;
  until?: string;
  step?: string;
}

/** One backtest at a time per dashboard (per set of caches). */
const running = new WeakSet<object>();

/** A failure of the request that is not the caller's mistake: its status and message. */
export class WhatIfError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const withKind = (kind: string, objects: readonly KubeObject[]) => objects.map((o) => ({ ...o, kind }));

/** The workloads the ClusterScaler governs, as the live scaler chooses them among every ClusterScaler. */
function governed(deps: ApiDeps, cs: KubeObject): { workloads: BacktestWorkload[]; skipped: string[] } {
  const { caches } = deps;
  const inventory = inventoryOf([
    ...withKind("TenantControlPlane", caches.tenants.list()),
    ...withKind("Deployment", caches.deployments.list()),
    ...withKind("StatefulSet", caches.statefulSets.list()),
  ]);
  const all = (caches.clusterScalers?.list() ?? []).flatMap((o) => {
    const r = parseClusterScaler(o);
    return r.ok ? [r.value] : [];
  });
  const name = cs.metadata?.name;
  const workloads = inventory.workloads.filter((w) => {
    const chosen = selectClusterScaler(all, w.tenantLabels);
    return !!chosen && chosen.metadata?.name === name && !!resolvePolicy(chosen, w.ref.component, w.tenantLabels);
  });
  return { workloads, skipped: inventory.skipped };
}

/** The recorded decisions of the ClusterScaler (or, for older ones that name none, of the tenants it governs). */
function realDecisions(
  deps: ApiDeps,
  name: string,
  namespaces: ReadonlySet<string>,
  query: WhatIfQuery,
  now: number,
): RealDecisions {
  const decisions = deps.caches.decisions.list(
    (d: DecisionObject) =>
      d.spec?.clusterScaler === name ||
      (d.spec?.clusterScaler === undefined && namespaces.has(d.metadata?.namespace ?? "")),
  );
  const rows = reportDigest(decisions, { since: query.since ?? "24h", until: query.until }, now).rows;
  // Changes made or being made: not dry-run, not held back (a decision's phase is written after it is recorded).
  const applied = rows.filter((r) => !r.dryRun && r.phase !== "Blocked" && r.phase !== "Failed");
  return {
    decisions: rows,
    summary: {
      changes: applied.length,
      scaleUps: applied.filter((r) => r.direction === "Up").length,
      scaleDowns: applied.filter((r) => r.direction === "Down").length,
      oomAnswers: applied.filter((r) => r.category === "OOMKilled").length,
      blocked: rows.filter((r) => r.phase === "Blocked").length,
      dryRun: rows.filter((r) => r.dryRun).length,
    },
  };
}

/** Runs the backtest of ClusterScaler `name` over the query's range; throws WhatIfError or BadRequest. */
export async function runWhatIf(
  deps: ApiDeps,
  name: string,
  query: WhatIfQuery,
  signal?: AbortSignal,
): Promise<WhatIf> {
  const now = nowOf(deps);
  const { from, to } = reportWindow({ since: query.since ?? "24h", until: query.until }, now);
  const fromMs = from.getTime();
  const toMs = to.getTime();
  let stepMs: number;
  try {
    stepMs = parseDuration(query.step ?? whatIfLimits.defaultStep);
  } catch (err) {
    throw new BadRequest(`step: ${(err as Error).message}`);
  }
  if (stepMs < whatIfLimits.minStepMs) throw new BadRequest(`step: at least ${whatIfLimits.minStepMs / 1000}s`);
  if (toMs - fromMs > whatIfLimits.maxRangeMs)
    throw new BadRequest(`the range is longer than ${whatIfLimits.maxRangeMs / 3_600_000}h: choose a shorter one`);
  const steps = stepsOf(fromMs, toMs, stepMs).length;
  if (steps > whatIfLimits.maxSteps)
    throw new BadRequest(
      `${steps} steps is more than ${whatIfLimits.maxSteps}: choose a longer step or a shorter range`,
    );
  const cs = deps.caches.clusterScalers?.get(name);
  if (!cs) throw new WhatIfError(404, `no ClusterScaler ${name}`);
  const client = deps.series;
  if (!client)
    throw new WhatIfError(503, "no Prometheus configured (--prometheus-url): the backtest reads its history");
  const key = deps.caches;
  if (running.has(key)) throw new WhatIfError(429, "a what-if backtest is already running; try again when it ends");
  running.add(key);
  try {
    const { workloads } = governed(deps, cs);
    const b = new Backtest([{ source: `clusterscaler/${name}`, raw: cs }]);
    const byNamespace = new Map<string, BacktestWorkload[]>();
    for (const w of workloads) byNamespace.set(w.ref.namespace, [...(byNamespace.get(w.ref.namespace) ?? []), w]);
    const namespaces = [...byNamespace.keys()].sort();
    const perBatch = Math.max(1, Math.floor(whatIfLimits.historyValues / (Math.max(1, steps) * valuesPerNamespace)));
    // As `metapilot backtest`: where the Prometheus tells how it evaluates, the gauges and CPU usage are read as raw
    // samples by remote read and evaluated here (fetchHistory), which costs it far less than range queries.
    const lookback = await lookbackOf(client, signal);
    for (let i = 0; i < namespaces.length; i += perBatch) {
      const batch = namespaces.slice(i, i + perBatch);
      const history = await fetchHistory({
        client,
        from: fromMs,
        to: toMs,
        stepMs,
        rateWindow: deps.rateWindow ?? "1m",
        namespaces: batch,
        seriesHint: batch.length * 10,
        concurrency: whatIfLimits.concurrency,
        ...(lookback ? { lookback } : {}),
        signal,
      });
      b.add(
        history,
        batch.flatMap((ns) => byNamespace.get(ns) ?? []),
      );
    }
    const backtest = b.report(fromMs, toMs);
    const policy = backtest.policies[0] as PolicyResult;
    const real = realDecisions(deps, name, new Set(namespaces), query, now);
    const s = policy.summary;
    return {
      clusterScaler: name,
      from: backtest.from,
      to: backtest.to,
      stepSeconds: stepMs / 1000,
      namespaces,
      backtest,
      policy,
      real,
      comparison: [
        ["changes", s.changes, real.summary.changes],
        ["scale-ups", s.scaleUps, real.summary.scaleUps],
        ["scale-downs", s.scaleDowns, real.summary.scaleDowns],
        ["OOM kills answered", s.oomAnswered, real.summary.oomAnswers],
      ],
    };
  } finally {
    running.delete(key);
  }
}

/** The ClusterScalers one can run a what-if for, and the bounds. */
export const whatIfListRoute: ApiRoute = {
  path: "/api/whatif",
  handle: (deps, _req, res) =>
    sendJson(res, 200, {
      clusterScalers: (deps.caches.clusterScalers?.list() ?? [])
        .map((cs) => cs.metadata?.name ?? "")
        .filter(Boolean)
        .sort(),
      prometheus: deps.series !== undefined,
      running: running.has(deps.caches),
      limits: {
        maxRangeHours: whatIfLimits.maxRangeMs / 3_600_000,
        maxSteps: whatIfLimits.maxSteps,
        minStepSeconds: whatIfLimits.minStepMs / 1000,
        defaultStep: whatIfLimits.defaultStep,
      },
    }),
};

export const whatIfRoute: ApiRoute = {
  path: "/api/whatif/{name}",
  query: "?since=24h&until=&step=15s&format=json|html",
  handle: async (deps, { params, query }, res: ServerResponse) => {
    const format = oneOfParam(query, "format", ["json", "html"] as const) ?? "json";
    // The backtest stops when the client goes away: no Prometheus queries for nobody.
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.once("close", onClose);
    try {
      const whatIf = await runWhatIf(
        deps,
        params.name ?? "",
        { since: textParam(query, "since"), until: textParam(query, "until"), step: textParam(query, "step") },
        abort.signal,
      );
      if (format === "html") return send(res, 200, renderBacktestHtml(whatIf.backtest), "text/html; charset=utf-8");
      return sendJson(res, 200, whatIf);
    } catch (err) {
      if (err instanceof WhatIfError) {
        if (err.status === 429) res.setHeader("retry-after", "10");
        return sendJson(res, err.status, { error: err.message });
      }
      if (abort.signal.aborted) return;
      throw err;
    } finally {
      res.off("close", onClose);
    }
  },
};
