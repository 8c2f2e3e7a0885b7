// The registry of scalers, by name, in cluster-autoscaler's plug-in shape: each scaler is a small pure module that
// looks at one kind of signal and proposes a scale-up; the engine asks every enabled one in registry order and
// takes the largest answer. The names are the CRD's (SCALER_NAMES): an unknown name is refused by the schema, and
// scalerByName refuses it too. The scale-down (scale-down.ts) is the engine's slow path, not a trigger.
import { SCALER_NAMES, type ScalerName } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput } from "../types.js";
import { apfScaler } from "./apf.js";
import { clusterSizeScaler } from "./cluster-size.js";
import { cpuScaler } from "./cpu.js";
import { etcdDbSizeScaler } from "./etcd-db-size.js";
import { latencyScaler } from "./latency.js";
import { memoryScaler } from "./memory.js";
import { oomScaler } from "./oom.js";
import { probeScaler } from "./probe.js";
import { throttlingScaler } from "./throttling.js";
import type { MeasuredSignal, QuietBounds, Scaler, ScalerInput, UpCandidate } from "./types.js";

export type { MeasuredSignal, QuietBounds, Scaler, ScalerInput, UpCandidate } from "./types.js";
export { measuredSignals } from "./types.js";

const registry = new Map<ScalerName, Scaler>();
/** The scalers with a sustained window (an overThreshold), in registry order; rebuilt when one is registered. */
let sustainedScalers: Array<Scaler & Required<Pick<Scaler, "overThreshold">>> | undefined;
let sustainedNames: ScalerName[] | undefined;
/** The others (eventScalers), in registry order; rebuilt when one is registered. */
let eventScalerList: Scaler[] | undefined;

export function registerScaler(s: Scaler): void {
  if (registry.has(s.name)) throw new Error(`scaler ${s.name} registered twice`);
  registry.set(s.name, s);
  sustainedScalers = undefined;
  sustainedNames = undefined;
  eventScalerList = undefined;
}

// Registry order is the order scalers are asked in, and so the order of their notes.
for (const s of [
  oomScaler,
  probeScaler,
  throttlingScaler,
  apfScaler,
  latencyScaler,
  cpuScaler,
  memoryScaler,
  etcdDbSizeScaler,
  clusterSizeScaler,
])
  registerScaler(s);

export function availableScalers(): ScalerName[] {
  return [...registry.keys()];
}

export function scalerByName(name: string): Scaler {
  const s = registry.get(name as ScalerName);
  if (!s) throw new Error(`unknown scaler "${name}"; available: ${availableScalers().join(", ")}`);
  return s;
}

/** Every name the CRD accepts has a scaler, and only those (checked at load: a missing one fails at start-up). */
for (const name of SCALER_NAMES) scalerByName(name);

/**
 * The scalers without a threshold (overThreshold; they act on each event at once: oom, cluster-size), in registry
 * order: beside them, a round's scale-ups come only from scalers over their threshold (see quietPlan,
 * src/scaler/round.ts).
 */
export function eventScalers(): readonly Scaler[] {
  return (eventScalerList ??= [...registry.values()].filter((s) => s.overThreshold === undefined));
}

/** Whether any sustained scaler is over its threshold on this round's signals (what forEachOverThreshold feeds). */
export function anyOverThreshold(input: ScalerInput, options: EngineOptions): boolean {
  sustainedScalers ??= sustainedOf();
  for (const s of sustainedScalers) if (s.overThreshold(input, options)) return true;
  return false;
}

/**
 * Under what no sustained scaler is over its threshold (each one's quietBelow): per signal the lowest of their
 * bounds, a bound that is not a number counting as -Infinity (nothing is under it); undefined when a sustained
 * scaler cannot say (it has no quietBelow).
 */
export function quietBounds(input: Omit<ScalerInput, "signals">, options: EngineOptions): QuietBounds | undefined {
  sustainedScalers ??= sustainedOf();
  const below: Partial<Record<MeasuredSignal, number>> = {};
  const latency: Array<(key: string) => number> = [];
  for (const s of sustainedScalers) {
    if (!s.quietBelow) return undefined;
    const b = s.quietBelow(input, options);
    for (const name of Object.keys(b.below) as MeasuredSignal[]) {
      const x = b.below[name] as number;
      const bound = Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x;
      below[name] = Math.min(below[name] ?? Number.POSITIVE_INFINITY, bound);
    }
    if (b.latency) latency.push(b.latency);
  }
  if (latency.length === 0) return { below };
  return {
    below,
    latency: (key) => {
      let bound = Number.POSITIVE_INFINITY;
      for (const f of latency) {
        const x = f(key);
        bound = Math.min(bound, Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x);
      }
      return bound;
    },
  };
}

function sustainedOf(): Array<Scaler & Required<Pick<Scaler, "overThreshold">>> {
  return [...registry.values()].filter(
    (s): s is Scaler & Required<Pick<Scaler, "overThreshold">> => s.overThreshold !== undefined,
  );
}

/** The names of the sustained scalers, in registry order. */
export function sustainedScalerNames(): readonly ScalerName[] {
  return (sustainedNames ??= (sustainedScalers ??= sustainedOf()).map((s) => s.name));
}

/** Calls `each` with each sustained scaler's verdict on this round's signals: over its threshold or not (fed to the history model). */
export function forEachOverThreshold(
  input: ScalerInput,
  options: EngineOptions,
  each: (scaler: ScalerName, over: boolean) => void,
): void {
  sustainedScalers ??= sustainedOf();
  for (const s of sustainedScalers) each(s.name, s.overThreshold(input, options));
}

/** The scale-ups the scalers ask for now, in registry order. */
export function upCandidates(input: DecisionInput, options: EngineOptions, notes: string[]): UpCandidate[] {
  const out: UpCandidate[] = [];
  for (const s of registry.values()) {
    const c = s.propose(input, options, notes);
    if (c) out.push(c);
  }
  return out;
}
