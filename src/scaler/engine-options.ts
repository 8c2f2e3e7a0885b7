// The engine's tunables, shared by the scalers, the estimators and the history model that the engine composes.

export interface EngineOptions {
  /** A signal older than this is stale. */
  staleAfterMs: number;
  /** CPU utilisation of the request a scale-up aims for. */
  cpuTargetUtilization: number;
  /** Memory headroom over the working set a scale-up aims for. */
  memoryHeadroom: number;
  /** Relative change below which a scale-down is not worth a rollout. */
  minDownChange: number;
}

export const defaultEngineOptions: EngineOptions = {
  staleAfterMs: 90_000,
  cpuTargetUtilization: 0.6,
  memoryHeadroom: 1.3,
  minDownChange: 0.05,
};
