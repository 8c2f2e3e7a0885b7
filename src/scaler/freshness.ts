// Whether a measurement may be acted on, and how one becomes a decision's evidence. A stale or missing signal is
// never read as zero: it is left out, and a scale-down that needs it waits.
import type { Evidence } from "../api/index.js";
import type { Freshness, Measurement } from "./types.js";

export const iso = (ms: number): string => new Date(ms).toISOString();

export function freshness(m: Measurement | undefined, now: number, staleAfterMs: number): Freshness {
  if (!m) return "missing";
  return now - m.observedAt <= staleAfterMs ? "fresh" : "stale";
}

/** The measurement if it is fresh, else undefined. */
export function fresh(m: Measurement | undefined, now: number, o: { staleAfterMs: number }): Measurement | undefined {
  return freshness(m, now, o.staleAfterMs) === "fresh" ? m : undefined;
}

/** A measurement as a decision's evidence. */
export function evidenceOf(signal: string, m: Measurement, value: string, threshold?: string): Evidence {
  return { signal, value, threshold, observedAt: iso(m.observedAt), source: m.source };
}
