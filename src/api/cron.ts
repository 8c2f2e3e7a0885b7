// Cron schedules of disruption budgets (ClusterScaler spec.disruption.budgets[].schedule): five-field expressions as
// a Kubernetes CronJob's, or the @hourly/@daily/@weekly/@monthly/@yearly macros, always evaluated in UTC. croner
// parses them (mode 5-part, so a six-field expression with seconds is refused rather than read differently).
import { Cron } from "croner";

const parsed = new Map<string, Cron>();
const parsedLimit = 1000;

function cron(expr: string): Cron {
  let c = parsed.get(expr);
  if (!c) {
    c = new Cron(expr, { timezone: "UTC", mode: "5-part", paused: true });
    if (parsed.size >= parsedLimit) parsed.clear();
    parsed.set(expr, c);
  }
  return c;
}

/** Why `expr` is not a valid schedule, or undefined when it is. */
export function cronProblem(expr: string): string | undefined {
  try {
    const c = cron(expr);
    // An expression that never fires (30 February) is no schedule either.
    if (!c.nextRun(new Date(0))) return `cron expression "${expr}" never fires`;
    return undefined;
  } catch (err) {
    return `invalid cron expression "${expr}": ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * Whether a window of `durationMs` from each start of `expr` holds `now`, and when that next changes: the end of
 * the current window (a later start may keep it active), or the next start. Throws on an invalid expression.
 */
export function cronWindow(expr: string, durationMs: number, now: number): { active: boolean; changesAt?: number } {
  const c = cron(expr);
  // previousRuns excludes its reference instant: 1 ms later includes a start exactly at `now`.
  const last = c.previousRuns(1, new Date(now + 1))[0]?.getTime();
  // When windows overlap, the state is looked at again at the end of this one and the later start keeps it active.
  if (last !== undefined && now < last + durationMs) return { active: true, changesAt: last + durationMs };
  const next = c.nextRun(new Date(now))?.getTime();
  return { active: false, ...(next !== undefined ? { changesAt: next } : {}) };
}
