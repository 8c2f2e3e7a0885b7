// The model of one container (by name) of a workload's pods: CPU samples of every pod in histograms per UTC day
// (decayed as VPA does, and plain for the percentile algorithms), the memory peak of each pod in each day, sample
// counts and the OOM kills already counted. Memory peaks are kept per pod because VPA keeps them per pod: each pod
// container (model/container.go ContainerState) adds one peak per memory aggregation interval to the workload's
// aggregate histogram, so a workload of 10 replicas adds 10 peaks a day, not the largest of them.
// Two rules for those peaks (MemoryPeakRule, spec.parameters.memoryPeakRule of a WorkloadProfile):
// - "PerDay" (the default): one peak per pod and UTC day, weighted at the time it was seen. Today's peak so far
//   counts as much as any other day's, so a spike earlier in the day keeps its weight.
// - "VPA": VPA's own rule (model/container.go addMemorySample): per pod, 24-hour windows anchored at the pod's first
//   sample, each window's peak weighted at the window's END (so it weighs more than the samples in it, ~1 day of
//   decay ahead), and memory samples older than the pod's last one dropped. After a bootstrap from Prometheus the
//   last sample of every pod opens a window of its own, alone, and weighs about half of that pod's histogram.
//   A window's peak is kept in the UTC day its window starts in.
// Days that fall out of the history window are folded into "older" decayed histograms, so vpa-histogram keeps
// VPA's unbounded decaying memory while percentile and peak-margin see exactly the window. The state is plain
// JSON: it is what the checkpoint in the profile's status holds.
import {
  addToBuckets,
  cpuHistogramOptions,
  decayFactor,
  findBucket,
  maxDecayExponent,
  memoryHistogramOptions,
  mergeBuckets,
  type BucketWeights,
} from "./histogram.js";
import { MEMORY_PEAK_RULES, type MemoryPeakRule } from "../../api/workloadprofile.js";

export const dayMs = 86_400_000;

export { MEMORY_PEAK_RULES, type MemoryPeakRule };
export const defaultMemoryPeakRule: MemoryPeakRule = "PerDay";

/**
 * The peak working set of one pod in one day (bytes) and the time its weight is taken at: under "PerDay" when it
 * was seen, under "VPA" the end of its 24-hour window.
 */
export interface PodPeak {
  pod: string;
  bytes: number;
  at: number;
  /** "VPA" only: the time of the pod's last memory sample; an earlier one is dropped, as VPA drops it. */
  lastAt?: number;
}

/**
 * The pod name of the peak that stands for pods not told apart: the days of a checkpoint written before peaks were
 * kept per pod (it held the maximum across pods), and the pods of a day beyond maxPodPeaksPerDay.
 */
export const unattributedPod = "";

/**
 * Distinct pods a day keeps a peak for. A workload that churns through more pods in one day (a crash-looping
 * rollout) shares one peak for the rest, their maximum: that errs upward, and keeps a checkpoint in a profile's
 * status small.
 */
export const maxPodPeaksPerDay = 256;

export interface DayState {
  /** Start of the UTC day, in ms since the epoch. */
  start: number;
  /** CPU samples weighted by sample minutes × decay factor. */
  cpuDecayed: BucketWeights;
  /** CPU samples weighted by sample minutes only. */
  cpuPlain: BucketWeights;
  /** The day's memory peak of each pod, sorted by pod name. */
  memoryPeaks: PodPeak[];
}

export interface ContainerState {
  /** How memory samples become peaks; a state never mixes rules (a checkpoint of another rule is not restored). */
  memoryPeakRule: MemoryPeakRule;
  /** Reference time of the decay factors (ms); moved forward when factors would overflow. */
  referenceMs: number;
  halfLifeMs: number;
  days: DayState[];
  cpuDecayedOlder: BucketWeights;
  memoryDecayedOlder: BucketWeights;
  firstSampleMs?: number;
  lastSampleMs?: number;
  /** Number of CPU samples (points), and the minutes of usage they stand for (a 5-minute rate counts 5). */
  sampleCount: number;
  sampleMinutes: number;
  memorySampleCount: number;
  /** Ids of OOM kills already counted, newest last (bounded). */
  oomIds: string[];
}

export function newContainerState(
  halfLifeMs: number,
  referenceMs: number,
  memoryPeakRule: MemoryPeakRule = defaultMemoryPeakRule,
): ContainerState {
  return {
    memoryPeakRule,
    referenceMs: Math.floor(referenceMs / dayMs) * dayMs,
    halfLifeMs,
    days: [],
    cpuDecayedOlder: {},
    memoryDecayedOlder: {},
    sampleCount: 0,
    sampleMinutes: 0,
    memorySampleCount: 0,
    oomIds: [],
  };
}

function dayOf(state: ContainerState, timeMs: number): DayState {
  const start = Math.floor(timeMs / dayMs) * dayMs;
  let day = state.days.find((d) => d.start === start);
  if (!day) {
    day = { start, cpuDecayed: {}, cpuPlain: {}, memoryPeaks: [] };
    state.days.push(day);
    state.days.sort((a, b) => a.start - b.start);
  }
  return day;
}

function scaleBuckets(h: BucketWeights, factor: number): void {
  for (const k of Object.keys(h)) h[Number(k)] = (h[Number(k)] ?? 0) * factor;
}

/** Moves the decay reference so that `timeMs` stays within 2^maxDecayExponent, rescaling stored weights. */
function ensureReference(state: ContainerState, timeMs: number): void {
  if ((timeMs - state.referenceMs) / state.halfLifeMs <= maxDecayExponent) return;
  const newReference = Math.floor(timeMs / dayMs) * dayMs;
  const factor = decayFactor(state.referenceMs, newReference, state.halfLifeMs);
  for (const d of state.days) scaleBuckets(d.cpuDecayed, factor);
  scaleBuckets(state.cpuDecayedOlder, factor);
  scaleBuckets(state.memoryDecayedOlder, factor);
  state.referenceMs = newReference;
}

function noteSample(state: ContainerState, timeMs: number): void {
  state.firstSampleMs = state.firstSampleMs === undefined ? timeMs : Math.min(state.firstSampleMs, timeMs);
  state.lastSampleMs = state.lastSampleMs === undefined ? timeMs : Math.max(state.lastSampleMs, timeMs);
}

/** The peak of `pod` in `day`, if it has one. */
export function podPeak(day: DayState, pod: string): PodPeak | undefined {
  return day.memoryPeaks.find((p) => p.pod === pod);
}

/**
 * Keeps the larger of the pod's peak of the day and a new value. On a tie the earlier time wins, which is what
 * samples in time order give, so the model does not depend on the order samples arrive in: the peak's time sets
 * its decay weight, and a few minutes' difference in that weight can move a percentile across a bucket edge.
 */
function notePeak(day: DayState, pod: string, timeMs: number, bytes: number): void {
  let peak = podPeak(day, pod);
  if (!peak && day.memoryPeaks.length >= maxPodPeaksPerDay) {
    pod = unattributedPod;
    peak = podPeak(day, pod);
  }
  if (!peak) {
    const at = day.memoryPeaks.findIndex((p) => p.pod > pod);
    day.memoryPeaks.splice(at < 0 ? day.memoryPeaks.length : at, 0, { pod, bytes, at: timeMs });
    return;
  }
  const higher = bytes > peak.bytes;
  const sameEarlier = bytes === peak.bytes && timeMs < peak.at;
  if (!higher && !sameEarlier) return;
  peak.bytes = bytes;
  peak.at = timeMs;
}

/** Adds a CPU usage sample (cores) that stands for `minutes` of usage. */
export function addCpuSample(state: ContainerState, timeMs: number, cores: number, minutes: number): void {
  if (!Number.isFinite(cores) || cores < 0) return;
  ensureReference(state, timeMs);
  const day = dayOf(state, timeMs);
  const bucket = findBucket(cpuHistogramOptions, cores);
  addToBuckets(day.cpuDecayed, bucket, minutes * decayFactor(timeMs, state.referenceMs, state.halfLifeMs));
  addToBuckets(day.cpuPlain, bucket, minutes);
  state.sampleCount++;
  state.sampleMinutes += minutes;
  noteSample(state, timeMs);
}

/** "VPA": the pod's latest window (the peak with the latest window end), if it has one. */
function latestWindow(state: ContainerState, pod: string): PodPeak | undefined {
  for (let i = state.days.length - 1; i >= 0; i--) {
    const p = podPeak(state.days[i]!, pod);
    if (p) return p;
  }
  return undefined;
}

/**
 * "VPA": VPA's ContainerState.addMemorySample. A sample before the pod's last one is dropped (an OOM is not); one
 * inside the current window raises its peak; one at or after the window's end opens the next window on the grid
 * anchored at the pod's first sample (the first sample opens [t, t + 24 h)). Returns whether the sample was taken.
 */
function addWindowSample(state: ContainerState, pod: string, timeMs: number, bytes: number, oom: boolean): boolean {
  const current = latestWindow(state, pod);
  if (current && !oom && current.lastAt !== undefined && timeMs < current.lastAt) return false;
  if (current && timeMs < current.at) {
    // VPA's RecordOOM drops an OOM older than the current window.
    if (oom && timeMs < current.at - dayMs) return false;
    current.bytes = Math.max(current.bytes, bytes);
    current.lastAt = timeMs;
    return true;
  }
  const previousEnd = current?.at ?? timeMs;
  const end = previousEnd + (Math.floor((timeMs - previousEnd) / dayMs) + 1) * dayMs;
  const day = dayOf(state, end - dayMs);
  if (day.memoryPeaks.length >= maxPodPeaksPerDay && !podPeak(day, pod)) {
    // Beyond maxPodPeaksPerDay pods, the rest share one peak (their maximum), as under "PerDay".
    notePeak(day, unattributedPod, end, bytes);
    return true;
  }
  const at = day.memoryPeaks.findIndex((p) => p.pod > pod);
  day.memoryPeaks.splice(at < 0 ? day.memoryPeaks.length : at, 0, { pod, bytes, at: end, lastAt: timeMs });
  return true;
}

/**
 * Adds a memory working-set sample (bytes) of one pod, by the state's rule: under "PerDay" only the pod's peak of
 * the UTC day is kept; under "VPA" the pod's peak of its 24-hour window (VPA's memory aggregation interval).
 */
export function addMemorySample(state: ContainerState, pod: string, timeMs: number, bytes: number): void {
  if (!Number.isFinite(bytes) || bytes < 0) return;
  if (state.memoryPeakRule === "VPA") {
    if (!addWindowSample(state, pod, timeMs, bytes, false)) return;
  } else notePeak(dayOf(state, timeMs), pod, timeMs, bytes);
  state.memorySampleCount++;
  noteSample(state, timeMs);
}

export interface OomBump {
  bumpBytes: number;
  bumpRatio: number;
}

/** VPA's OOM rule: the memory the container was killed at, bumped to max(+bumpBytes, ×bumpRatio). */
export function oomBumped(memoryAtOom: number, bump: OomBump): number {
  return Math.max(memoryAtOom + bump.bumpBytes, memoryAtOom * bump.bumpRatio);
}

/**
 * Counts an OOM kill of `pod` once (by id): the bumped memory becomes a memory peak sample of that pod and day, as
 * VPA records an OOM in the pod container's state. Returns whether it was new.
 */
export function recordOom(
  state: ContainerState,
  id: string,
  pod: string,
  timeMs: number,
  memoryAtOom: number,
  bump: OomBump,
): boolean {
  if (state.oomIds.includes(id)) return false;
  state.oomIds.push(id);
  if (state.oomIds.length > 32) state.oomIds.splice(0, state.oomIds.length - 32);
  const bytes = oomBumped(memoryAtOom, bump);
  if (state.memoryPeakRule === "VPA") addWindowSample(state, pod, timeMs, bytes, true);
  else notePeak(dayOf(state, timeMs), pod, timeMs, bytes);
  return true;
}

/**
 * Folds days older than `historyDays` before `nowMs` into the older decayed histograms: the peaks of pods long gone
 * live on only as weights there, so a model holds no more pods than its window saw.
 */
export function expireDays(state: ContainerState, nowMs: number, historyDays: number): void {
  const cutoff = nowMs - historyDays * dayMs;
  const keep: DayState[] = [];
  for (const d of state.days) {
    if (d.start + dayMs > cutoff) {
      keep.push(d);
      continue;
    }
    mergeBuckets(state.cpuDecayedOlder, d.cpuDecayed);
    addPeaks(state, state.memoryDecayedOlder, d);
  }
  state.days = keep;
}

/** The decaying CPU histogram (VPA's): every sample ever, weighted by age. */
export function cpuDecayedHistogram(state: ContainerState): BucketWeights {
  const h: BucketWeights = {};
  mergeBuckets(h, state.cpuDecayedOlder);
  for (const d of state.days) mergeBuckets(h, d.cpuDecayed);
  return h;
}

/** Adds the day's pod peaks to `h`, each a sample of weight 1 decayed by its age. */
function addPeaks(state: ContainerState, h: BucketWeights, day: DayState): void {
  for (const p of day.memoryPeaks) {
    addToBuckets(
      h,
      findBucket(memoryHistogramOptions, p.bytes),
      decayFactor(p.at, state.referenceMs, state.halfLifeMs),
    );
  }
}

/**
 * The decaying histogram of memory peaks (VPA's): one sample of weight 1 per pod and day (or window), decayed by
 * age, so its percentiles are over pods as well as days.
 */
export function memoryDecayedHistogram(state: ContainerState): BucketWeights {
  const h: BucketWeights = {};
  mergeBuckets(h, state.memoryDecayedOlder);
  for (const d of state.days) addPeaks(state, h, d);
  return h;
}

/** Plain CPU histogram of the window (no decay). */
export function cpuWindowHistogram(state: ContainerState): BucketWeights {
  const h: BucketWeights = {};
  for (const d of state.days) mergeBuckets(h, d.cpuPlain);
  return h;
}

/** The memory peaks of the window: one per pod and day. */
export function memoryWindowPeaks(state: ContainerState): number[] {
  return state.days.flatMap((d) => d.memoryPeaks.map((p) => p.bytes));
}

/** VPA's confidence, in days: min(days between first and last sample, sample minutes / 1440). */
export function confidenceDays(state: ContainerState): number {
  if (state.firstSampleMs === undefined || state.lastSampleMs === undefined) return 0;
  const lifespanDays = (state.lastSampleMs - state.firstSampleMs) / dayMs;
  return Math.min(lifespanDays, state.sampleMinutes / (60 * 24));
}
