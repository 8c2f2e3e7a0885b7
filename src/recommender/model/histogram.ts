// VPA's exponential histogram (vertical-pod-autoscaler/pkg/recommender/util/histogram.go), kept sparse: a
// container's usage covers a few dozen of the ~300 buckets, so a map costs a fraction of a dense array and
// serializes into a small checkpoint.

export interface HistogramOptions {
  /** Values at or above this go into the last bucket. */
  maxValue: number;
  firstBucketSize: number;
  /** Bucket growth: each bucket is this much larger than the one before (1.05 = 5%). */
  ratio: number;
  /** Weights below this count as empty, as VPA's epsilon. */
  epsilon: number;
}

/** VPA's CPU histogram: 0.01 core first bucket, 5% growth, up to 1000 cores. */
export const cpuHistogramOptions: HistogramOptions = {
  maxValue: 1000,
  firstBucketSize: 0.01,
  ratio: 1.05,
  epsilon: 1e-4,
};
/** VPA's memory histogram: 10 MB (1e7 bytes) first bucket, 5% growth, up to 1 TB. */
export const memoryHistogramOptions: HistogramOptions = {
  maxValue: 1e12,
  firstBucketSize: 1e7,
  ratio: 1.05,
  epsilon: 1e-4,
};

export function numBuckets(o: HistogramOptions): number {
  return Math.ceil(Math.log((o.maxValue * (o.ratio - 1)) / o.firstBucketSize + 1) / Math.log(o.ratio)) + 1;
}

/** The bucket a value falls into: floor(log_ratio(value·(ratio−1)/firstBucketSize + 1)), clamped. */
export function findBucket(o: HistogramOptions, value: number): number {
  if (value < o.firstBucketSize) return 0;
  const bucket = Math.floor(Math.log((value * (o.ratio - 1)) / o.firstBucketSize + 1) / Math.log(o.ratio));
  return Math.min(bucket, numBuckets(o) - 1);
}

/** Start of bucket b: firstBucketSize·(ratio^b − 1)/(ratio − 1). */
export function bucketStart(o: HistogramOptions, bucket: number): number {
  if (bucket === 0) return 0;
  return (o.firstBucketSize * (o.ratio ** bucket - 1)) / (o.ratio - 1);
}

/** bucket → weight; a plain object so that it serializes as is. */
export type BucketWeights = Record<number, number>;

export function addToBuckets(target: BucketWeights, bucket: number, weight: number): void {
  target[bucket] = (target[bucket] ?? 0) + weight;
}

export function mergeBuckets(into: BucketWeights, from: BucketWeights, scale = 1): void {
  for (const [b, w] of Object.entries(from)) addToBuckets(into, Number(b), w * scale);
}

export function totalWeight(h: BucketWeights): number {
  let t = 0;
  for (const w of Object.values(h)) t += w;
  return t;
}

/**
 * VPA's percentile: walk buckets from the smallest until the running sum reaches percentile × total, and return
 * the END of that bucket (the start of the next), or the start of the last bucket, which has no end. An empty
 * histogram (total below epsilon) has no percentile.
 */
export function percentile(o: HistogramOptions, h: BucketWeights, p: number): number | undefined {
  const entries = Object.entries(h)
    .map(([b, w]) => [Number(b), w] as const)
    .filter(([, w]) => w > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (entries.length === 0 || total < o.epsilon) return undefined;
  const threshold = p * total;
  let partial = 0;
  let bucket = entries[entries.length - 1]![0];
  for (const [b, w] of entries) {
    partial += w;
    if (partial >= threshold) {
      bucket = b;
      break;
    }
  }
  return bucket < numBuckets(o) - 1 ? bucketStart(o, bucket + 1) : bucketStart(o, bucket);
}

/** The largest value in the histogram, as the end of its highest non-empty bucket. */
export function maxValue(o: HistogramOptions, h: BucketWeights): number | undefined {
  return percentile(o, h, 1);
}

/** A sample's decay weight relative to `referenceMs`: 2^((t − ref)/halfLife), so newer samples weigh more. */
export function decayFactor(timeMs: number, referenceMs: number, halfLifeMs: number): number {
  return 2 ** ((timeMs - referenceMs) / halfLifeMs);
}

/** VPA renormalizes when a decay factor would exceed 2^100, by moving the reference forward. */
export const maxDecayExponent = 100;
