// `--fail-if` thresholds: policy as code. Each is `<metric><comparison><number>` (spaces allowed), e.g. restarts>10,
// oomPrevented<3 or underProvisionedHours>=1.5; the metrics are the summary's figures. A threshold that holds for
// any policy fails the run, so a change to a ClusterScaler can be checked in CI before it is applied.
import type { Summary } from "./run.js";

export const failIfMetrics = [
  "tenants",
  "workloads",
  "oomKills",
  "oomPrevented",
  "oomAnswered",
  "oomLost",
  "oomLeadMinutes",
  "slackCpuHoursBefore",
  "slackCpuHoursAfter",
  "slackGiBHoursBefore",
  "slackGiBHoursAfter",
  "changes",
  "scaleUps",
  "scaleDowns",
  "restarts",
  "restartsInPlace",
  "restartsRolling",
  "underProvisionedHoursBefore",
  "underProvisionedHours",
  "boundHits",
  "budgetHits",
  "heldForData",
  "coverage",
] as const satisfies ReadonlyArray<keyof Summary>;

const comparisons = {
  ">=": (a: number, b: number) => a >= b,
  "<=": (a: number, b: number) => a <= b,
  "==": (a: number, b: number) => a === b,
  "!=": (a: number, b: number) => a !== b,
  ">": (a: number, b: number) => a > b,
  "<": (a: number, b: number) => a < b,
} as const;
type Comparison = keyof typeof comparisons;

export interface FailIf {
  text: string;
  metric: keyof Summary;
  comparison: Comparison;
  value: number;
}

const grammar = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(>=|<=|==|!=|>|<)\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*$/;

/** Parses one threshold; a malformed one or an unknown metric is an error that says what is accepted. */
export function parseFailIf(text: string): FailIf {
  const m = grammar.exec(text);
  if (!m)
    throw new Error(
      `--fail-if ${JSON.stringify(text)}: expected <metric><comparison><number>, e.g. restarts>10 or ` +
        `oomPrevented<3; comparisons: ${Object.keys(comparisons).join(" ")}`,
    );
  const [, metric = "", comparison = "", value = ""] = m;
  if (!(failIfMetrics as readonly string[]).includes(metric))
    throw new Error(`--fail-if ${JSON.stringify(text)}: unknown metric ${metric}; known: ${failIfMetrics.join(", ")}`);
  return {
    text: text.trim(),
    metric: metric as keyof Summary,
    comparison: comparison as Comparison,
    value: Number(value),
  };
}

/** The thresholds that hold, per policy, each with the reason to print. */
export function evaluateFailIf(
  thresholds: readonly FailIf[],
  policies: ReadonlyArray<{ name: string; summary: Summary }>,
): string[] {
  const reasons: string[] = [];
  for (const p of policies) {
    for (const f of thresholds) {
      const actual = p.summary[f.metric];
      if (comparisons[f.comparison](actual, f.value))
        reasons.push(`--fail-if ${f.text} holds for ${p.name}: ${f.metric} is ${actual}`);
    }
  }
  return reasons;
}
