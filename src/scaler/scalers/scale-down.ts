// Scale-down, the slow path: only after a full stabilization window of observation and none since the last change,
// only when every signal it needs is fresh, to the highest recommendation of the window (HPA's rule), by at most
// maxStepPercent. It runs when no scaler asks for more.
import type { Evidence } from "../../api/index.js";
import { defaultEngineOptions, type EngineOptions } from "../engine-options.js";
import { estimatorsOf } from "../estimators/index.js";
import { evidenceOf, fresh, freshness, iso } from "../freshness.js";
import { formatCpu, formatMemory } from "../quantity.js";
import { clamp, describeSize, onceForSize, sameSize } from "../sizes.js";
import type { DecisionInput, Plan, Recommendation, Size } from "../types.js";

/** The reason of a round's plan when the policy's scale-down is disabled and no scaler asks for more. */
export const scaleDownDisabledReason = "scale-down disabled";

/** How the reason of a scale-down held for missing or stale data begins. */
export const heldForDataReason = "no scale-down without fresh data";

/**
 * What the workload would need now, for the scale-down stabilization window; undefined if a needed signal is not
 * fresh. Every listed estimator with a floor (profile, cluster-size, fleet-regression) raises it to that floor.
 * `knownFloor`: that floor, where the caller found it already for the round's tenant size (recommendationFloor).
 */
export function recommendation(
  input: DecisionInput,
  options: EngineOptions = defaultEngineOptions,
  knownFloor?: RecommendationFloor | "unknown",
): Recommendation | undefined {
  const cpu = fresh(input.signals.cpuUsage, input.now, options);
  const mem = fresh(input.signals.memoryWorkingSet, input.now, options);
  if (!cpu || !mem) return undefined;
  const floor = knownFloor ?? recommendationFloor(input, options);
  return floor === "unknown" ? undefined : recommendationOver(floor, input.now, cpu.value, mem.value, options);
}

/** The least a recommendation may be: the highest floor of the listed estimators (see recommendation). */
export interface RecommendationFloor {
  cpu: number;
  memory: number;
}

/**
 * The highest floor of the policy's estimators, each without a floor counting as 0 (-Infinity for an empty list),
 * or "unknown" when one needs a signal that is not fresh. It reads the round's tenant size only (the fresh node,
 * object and watcher counts), its profile and fleet fits, the policy and the options; not the usage, the size or
 * the history.
 */
export function recommendationFloor(input: DecisionInput, options: EngineOptions): RecommendationFloor | "unknown" {
  let cpu = -Infinity;
  let memory = -Infinity;
  for (const e of estimatorsOf(input.policy.estimators)) {
    const floor = e.floor?.(input, options);
    if (floor === "unknown") return "unknown";
    cpu = Math.max(cpu, floor?.cpu ?? 0);
    memory = Math.max(memory, floor?.memory ?? 0);
  }
  return { cpu, memory };
}

/**
 * The recommendation at `now` for fresh CPU and memory usage over `floor` (Math.max is associative: the floors'
 * maximum first gives what raising it floor by floor gives).
 */
export function recommendationOver(
  floor: RecommendationFloor,
  now: number,
  cpu: number,
  memory: number,
  options: EngineOptions,
): Recommendation {
  return { at: now, cpu: recommendedCpu(floor, cpu, options), memory: recommendedMemory(floor, memory, options) };
}

/** recommendationOver's CPU, without the object. */
export function recommendedCpu(floor: RecommendationFloor, cpu: number, options: EngineOptions): number {
  return Math.max(cpu / options.cpuTargetUtilization, floor.cpu);
}

/** recommendationOver's memory, without the object. */
export function recommendedMemory(floor: RecommendationFloor, memory: number, options: EngineOptions): number {
  return Math.max(memory * options.memoryHeadroom, floor.memory);
}

/**
 * A round's recommendation computed before the plan (decideRound keeps it for the stabilization window after the
 * plan): the scale-down reads it instead of computing it a second time. Nothing recommendation() reads (signals,
 * clock, policy, current size, profile, fleet) changes in between, and it does not read the history.
 */
export interface KnownRecommendation {
  rec: Recommendation | undefined;
}

/**
 * The highest CPU and memory recommendation at or after `windowStart`, and the round's own `rec`, as Math.max over
 * them would give (a missing value counts as Infinity, any NaN makes NaN; -0 below +0), and how many there are;
 * without the arrays a filter, map and spread would allocate every round. Once the highest so far already allows
 * no step down to either `cpuBelow` or `memBelow` (blocks: the highest of all would not either), the rest is not
 * read: the maxima it gives then are those of the part read, which the caller does not use.
 */
export function windowMax(
  recommendations: readonly Recommendation[],
  windowStart: number,
  rec: Recommendation | undefined,
  cpuBelow: number | undefined,
  memBelow: number | undefined,
): { cpuMax: number; memMax: number; count: number } {
  const out = { cpuMax: -Infinity, memMax: -Infinity, count: 0 };
  if (rec) addTo(out, rec);
  for (const r of recommendations) {
    if (r.at < windowStart) continue;
    addTo(out, r);
    if (blocks(out.cpuMax, cpuBelow) && blocks(out.memMax, memBelow)) break;
  }
  return out;
}

/** Counts `r` into windowMax's maxima (a module function: a closure over them would be allocated every round). */
function addTo(out: { cpuMax: number; memMax: number; count: number }, r: Recommendation): void {
  out.count++;
  out.cpuMax = maxOf(out.cpuMax, r.cpu ?? Infinity);
  out.memMax = maxOf(out.memMax, r.memory ?? Infinity);
}

/** Math.max(a, b). */
function maxOf(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === b) return a === 0 && Object.is(a, -0) ? b : a;
  return a > b ? a : b;
}

/** The fields a scale-down may lower (a module constant: an array literal in the loop is built every round). */
const resources = ["cpuRequest", "memoryRequest", "memoryLimit", "cpuLimit"] as const;

/** Whether a recommendation `x` allows no step down to `below` (none without a size to go below). */
function blocks(x: number | undefined, below: number | undefined): boolean {
  return below === undefined || !((x ?? Infinity) < below);
}

const none = (reason: string, notes: string[]): Plan => ({ action: "none", reason, notes });
const held = (why: string, notes: string[]): Plan => ({
  action: "none",
  reason: `${heldForDataReason}: ${why}`,
  heldForData: why,
  notes,
});

/** `target` bounded by the policy, never above `current` in any resource: clamping never turns a step down into an increase. */
function boundedDown(target: Size, current: Size, input: Parameters<typeof clamp>[1]): Size {
  const after = clamp(target, input);
  for (const k of resources) {
    const c = current[k];
    const a = after[k];
    if (c !== undefined && a !== undefined && a > c) after[k] = c;
  }
  return after;
}

/** Whether a scale-down that lowers nothing leaves the size as it is (not when it is outside its bounds). */
const keepsCurrent = onceForSize((current, input) => sameSize(boundedDown(current, current, input), current));

/** The reason of a scale-down plan that the recommendations of the window hold back. */
export const windowHoldsReason = "recommendations within the window do not allow a scale-down";

/**
 * Why the scale-down waits for the clock: a full stabilization window of observation first, and the window and the
 * cooldown after each change; undefined when it does not wait.
 */
export function scaleDownWait(input: Pick<DecisionInput, "policy" | "history" | "now">): string | undefined {
  const { history, now } = input;
  const sd = input.policy.scaleDown;
  if (now - history.observingSince < sd.stabilizationWindowMs)
    return "no scale-down before a full stabilization window of observation";
  if (
    history.lastChangeAt !== undefined &&
    now - history.lastChangeAt < Math.max(sd.cooldownMs, sd.stabilizationWindowMs)
  )
    return "no scale-down within the stabilization window after a change";
  return undefined;
}

/** What a recommendation must be below to lower a request of `base` (none without a request). */
function below(base: number | undefined, options: EngineOptions): number | undefined {
  return base === undefined ? undefined : base * (1 - options.minDownChange);
}

/**
 * What the scale-down of a size holds to while the size and the policy stay: what a recommendation must be below
 * to lower each request (none without one), and whether bounding keeps the size as it is.
 */
export interface ScaleDownFacts {
  cpuBelow: number | undefined;
  memBelow: number | undefined;
  keeps: boolean;
  /**
   * Whether no recommendation can lower the size: bounding keeps it, and the lowest step down of both requests
   * (maxStepPercent below them) bounds back to it. Every field steppedDown gives grows with the recommendation
   * (Math.max, clamp's bounds and the cap at the current size all do) and none passes the current size, so the
   * lowest giving the current size squeezes every other step down to it too.
   */
  cannotLower: boolean;
}

export function scaleDownFacts(input: DecisionInput, options: EngineOptions): ScaleDownFacts {
  const { current } = input;
  const keeps = keepsCurrent(current, input);
  return {
    cpuBelow: below(current.cpuRequest, options),
    memBelow: below(current.memoryRequest, options),
    keeps,
    cannotLower: keeps && sameSize(steppedDown(input, -Infinity, -Infinity), current),
  };
}

/**
 * scaleDownPlan's reason for a round it changes nothing in, where the round's own recommendation `rec` is enough to
 * tell: enabled, no failed query, a recommendation (so fresh usage), and then the clock (scaleDownWait), or a
 * recommendation that allows no step down of either resource while bounding keeps the size (`facts`, of the round's
 * size: the window's highest is at least it, or NaN), or a size no recommendation can lower (cannotLower: with a
 * recommendation the window has one, so what scaleDownPlan steps down to is the size). Undefined for any other round:
 * scaleDownPlan decides it.
 */
export function quietScaleDownReason(
  input: DecisionInput,
  rec: Recommendation | undefined,
  facts: ScaleDownFacts,
): string | undefined {
  if (!input.policy.scaleDown.enabled || input.signals.unavailableReason || !rec) return undefined;
  const wait = scaleDownWait(input);
  if (wait) return wait;
  return ownRecommendationHolds(facts, rec.cpu, rec.memory) ? windowHoldsReason : undefined;
}

/**
 * Whether a round's own recommendation (`cpu`, `memory`) tells that the window holds the scale-down back, at the
 * size `facts` are of: no recommendation can lower the size, or this one allows no step down of either resource
 * while bounding keeps the size (the window's highest is at least it, or NaN).
 */
export function ownRecommendationHolds(
  facts: ScaleDownFacts,
  cpu: number | undefined,
  memory: number | undefined,
): boolean {
  return facts.cannotLower || (facts.keeps && blocks(cpu, facts.cpuBelow) && blocks(memory, facts.memBelow));
}

/**
 * The size a scale-down steps to: each request it lowers (cpuMax, memMax given) to the window's highest
 * recommendation, by at most maxStepPercent, a memory limit keeping its ratio to the request the bounds settle on,
 * all bounded by the policy and never above the current size (boundedDown).
 */
function steppedDown(input: DecisionInput, cpuMax: number | undefined, memMax: number | undefined): Size {
  const { current } = input;
  const step = input.policy.scaleDown.maxStepPercent / 100;
  const cpuBase = current.cpuRequest;
  const memBase = current.memoryRequest;
  const lowerCpu = cpuMax !== undefined && cpuBase !== undefined;
  const lowerMemory = memMax !== undefined && memBase !== undefined;
  const target: Size = lowerCpu || lowerMemory ? { ...current } : current;
  if (lowerCpu) target.cpuRequest = Math.max(cpuMax, cpuBase * (1 - step));
  if (lowerMemory) {
    const newRequest = Math.max(memMax, memBase * (1 - step));
    target.memoryRequest = newRequest;
    if (current.memoryLimit !== undefined) {
      // The limit keeps its ratio to the request the bounds settle on: scaled by the request before minAllowed
      // raised it, the limit shrank on every scale-down while the request stayed at minAllowed (214 → 172 → 140Mi).
      const request = clamp({ ...current, memoryRequest: newRequest }, input).memoryRequest ?? newRequest;
      target.memoryLimit = Math.max(request, current.memoryLimit * (request / memBase));
    }
  }
  return boundedDown(target, current, input);
}

/**
 * What the window lets the scale-down do with the round's recommendation `rec`, once it is enabled, has fresh usage
 * and does not wait (scaleDownPlan): "empty" without any recommendation in the window; "holds" when it lowers
 * nothing (windowHoldsReason); else the size it steps down to, and the window's highest recommendations. `cpuBelow`
 * and `memBelow`: what a recommendation must be below to lower each request (below()).
 */
export function windowStepDown(
  input: DecisionInput,
  rec: Recommendation | undefined,
  cpuBelow: number | undefined,
  memBelow: number | undefined,
): "empty" | "holds" | { cpuMax: number; memMax: number; lowerCpu: boolean; lowerMemory: boolean; after: Size } {
  const { current, history } = input;
  // HPA's rule: the highest recommendation over the window is the most we may go down to. The round's own
  // recommendation is in the window: when it alone already allows no step down of either resource, neither does
  // the window's highest (at least it, or NaN), and the window is not read (windowMax).
  const { cpuMax, memMax, count } =
    rec && blocks(rec.cpu, cpuBelow) && blocks(rec.memory, memBelow)
      ? { cpuMax: Number.NaN, memMax: Number.NaN, count: 1 }
      : windowMax(
          history.recommendations,
          input.now - input.policy.scaleDown.stabilizationWindowMs,
          rec,
          cpuBelow,
          memBelow,
        );
  if (count === 0) return "empty";
  const lowerCpu = current.cpuRequest !== undefined && cpuMax < (cpuBelow as number);
  const lowerMemory = current.memoryRequest !== undefined && memMax < (memBelow as number);
  // Most rounds lower nothing: then the plan is what bounding the current size gives, the same every round while
  // the size and the bounds stay (keepsCurrent).
  if (!lowerCpu && !lowerMemory && keepsCurrent(current, input)) return "holds";
  const after = steppedDown(input, lowerCpu ? cpuMax : undefined, lowerMemory ? memMax : undefined);
  if (sameSize(after, current)) return "holds";
  return { cpuMax, memMax, lowerCpu, lowerMemory, after };
}

/** The scale-down plan, or why there is none. */
export function scaleDownPlan(
  input: DecisionInput,
  options: EngineOptions,
  notes: string[],
  known?: KnownRecommendation,
): Plan {
  const { policy, current, now, signals } = input;
  const sd = policy.scaleDown;
  if (!sd.enabled) return none(scaleDownDisabledReason, notes);
  // The moment the source fails, scale-downs stop: values that have not aged out yet are not trusted either.
  if (signals.unavailableReason) return held(signals.unavailableReason, notes);
  const cpuFreshness = freshness(signals.cpuUsage, now, options.staleAfterMs);
  const memFreshness = freshness(signals.memoryWorkingSet, now, options.staleAfterMs);
  if (cpuFreshness !== "fresh" || memFreshness !== "fresh") {
    const missing: string[] = [];
    for (const [name, m, f] of [
      ["cpu usage", signals.cpuUsage, cpuFreshness],
      ["memory working set", signals.memoryWorkingSet, memFreshness],
    ] as const) {
      if (f !== "fresh") missing.push(`${name} ${f}${m ? ` (last seen ${iso(m.observedAt)})` : ""}`);
    }
    return held(missing.join(", "), notes);
  }
  const wait = scaleDownWait(input);
  if (wait) return none(wait, notes);
  const rec = known ? known.rec : recommendation(input, options);
  const cpuBase = current.cpuRequest;
  const memBase = current.memoryRequest;
  const step = windowStepDown(input, rec, below(cpuBase, options), below(memBase, options));
  if (step === "empty") return none("no recommendations in the stabilization window", notes);
  if (step === "holds") return none(windowHoldsReason, notes);
  const { cpuMax, memMax, lowerCpu, lowerMemory, after } = step;
  const changes: Evidence[] = [];
  if (lowerCpu)
    changes.push({
      signal: "cpu_recommendation_max_in_window",
      value: formatCpu(cpuMax),
      // lowerCpu only with a request (windowStepDown).
      threshold: `request ${formatCpu(cpuBase as number)}`,
      source: "engine",
    });
  if (lowerMemory)
    changes.push({
      signal: "memory_recommendation_max_in_window",
      value: formatMemory(memMax),
      threshold: `request ${formatMemory(memBase as number)}`,
      source: "engine",
    });
  const cpu = signals.cpuUsage;
  const mem = signals.memoryWorkingSet;
  const evidence: Evidence[] = [...changes];
  if (cpu) evidence.push(evidenceOf("cpu_usage", cpu, formatCpu(cpu.value)));
  if (mem) evidence.push(evidenceOf("memory_working_set", mem, formatMemory(mem.value)));
  return {
    action: "change",
    direction: "Down",
    scaler: "cpu",
    category: "Underutilized",
    summary: `${input.workload.component} of ${input.workload.tenant} used less than its size for the whole ${Math.round(sd.stabilizationWindowMs / 60_000)}m window: ${describeSize(current)} → ${describeSize(after)} (at most ${sd.maxStepPercent}% per step)`,
    evidence,
    before: current,
    after,
    oomIds: [],
    notes,
  };
}
