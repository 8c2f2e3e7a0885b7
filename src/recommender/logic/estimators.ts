// VPA's estimator decorators (vertical-pod-autoscaler/pkg/recommender/logic/estimator.go) as plain functions:
// percentile → margin → confidence multiplier → minimum. Each is table-tested against hand-computed values.

/** WithMargin: value × (1 + marginFraction). */
export function withMargin(value: number, marginFraction: number): number {
  return value * (1 + marginFraction);
}

/**
 * WithConfidenceMultiplier: value × (1 + multiplier/confidence)^exponent, confidence in days. With no history
 * (confidence 0) VPA's formula goes to infinity (upper bound) or zero (lower bound); so does this one.
 */
export function withConfidence(value: number, multiplier: number, exponent: number, confidenceDays: number): number {
  if (confidenceDays <= 0) return exponent >= 0 ? Number.POSITIVE_INFINITY : 0;
  return value * (1 + multiplier / confidenceDays) ** exponent;
}

/** WithMinResources: never below the minimum. */
export function withMinimum(value: number, minimum: number): number {
  return Math.max(value, minimum);
}
