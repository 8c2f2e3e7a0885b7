// What every scaler shares: the scale-up it proposes and the Scaler interface of the registry (index.ts).
import type { Evidence, RootCauseCategory, ScalerName } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import type { DecisionInput, Size } from "../types.js";

/** A scale-up one scaler asks for; the engine takes the largest of them all, named after the strongest cause. */
export interface UpCandidate {
  scaler: ScalerName;
  category: RootCauseCategory;
  size: Partial<Size>;
  evidence: Evidence[];
  note: string;
  oomIds: string[];
  estimator?: string;
}

/** A round's input without the history: what the history model is fed with. */
export type ScalerInput = Omit<DecisionInput, "history">;

export interface Scaler {
  name: ScalerName;
  /**
   * Whether the scaler's signal is over its threshold now, for its sustained window (the history model tracks since
   * when). Absent for a scaler that acts on each event at once.
   */
  overThreshold?(input: ScalerInput, options: EngineOptions): boolean;
  /** The scale-up it asks for now, if any; `notes` collects what it saw and did not act on. Pure. */
  propose(input: DecisionInput, options: EngineOptions, notes: string[]): UpCandidate | undefined;
}
