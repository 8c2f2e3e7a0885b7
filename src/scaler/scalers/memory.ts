// Memory pressure against the limit (or the request when there is no limit), sustained over the window: memory
// for the engine's headroom over the working set, the request and limit keeping their ratio.
import { evidenceOf, fresh } from "../freshness.js";
import type { Size } from "../types.js";
import { sustained } from "./common.js";
import { ratioBound, type Scaler } from "./types.js";

/** What memory pressure is measured against: the limit, or the request of a container without one. */
const memoryBase = (current: Size) => current.memoryLimit ?? current.memoryRequest;

export const memoryScaler: Scaler = {
  name: "memory",
  quietBelow(input) {
    const base = memoryBase(input.current);
    return { below: base ? { memoryWorkingSet: ratioBound(input.policy.scalers.memory.threshold, base) } : {} };
  },
  overThreshold(input, options) {
    const mem = fresh(input.signals.memoryWorkingSet, input.now, options);
    const base = memoryBase(input.current);
    return !!mem && !!base && mem.value / base >= input.policy.scalers.memory.threshold;
  },
  propose(input, options) {
    const { current, policy } = input;
    const mem = fresh(input.signals.memoryWorkingSet, input.now, options);
    const base = memoryBase(current);
    if (!policy.scalers.memory.enabled || !mem || !base || !sustained(input, "memory")) return undefined;
    const wanted = mem.value * options.memoryHeadroom;
    const grow = (v?: number) => (v === undefined ? undefined : Math.max(v, v * (wanted / base)));
    return {
      scaler: "memory",
      category: "MemoryPressure",
      size: { memoryRequest: grow(current.memoryRequest), memoryLimit: grow(current.memoryLimit) },
      note: `memory for ${Math.round((options.memoryHeadroom - 1) * 100)}% headroom over the working set`,
      oomIds: [],
      evidence: [
        evidenceOf(
          "memory_working_set_ratio",
          mem,
          (mem.value / base).toFixed(2),
          String(policy.scalers.memory.threshold),
        ),
      ],
    };
  },
};
