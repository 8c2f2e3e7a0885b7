// The checkpoint in a profile's status.checkpoint: the model of every container, so a restarted recommender
// resumes from it and reads only what Prometheus got since `coveredUntil`. It is validated on the way in; a
// checkpoint that does not fit (another workload uid, another half-life, an unknown version, a malformed body)
// is dropped and the history is read again. A checkpoint of an older version that can be carried over is
// migrated on the way in, and the next status write saves it in the current shape.
//
// Versions: 1 kept one memory peak per day, the maximum across the workload's pods; 2 keeps one per pod and day
// (model/container.ts). A version 1 day becomes a day with one peak of unattributedPod: what it counted stays
// counted, and the pods' own peaks take over from the next sample on. For the day that was open when the version 1
// checkpoint was written, this adds the pods' peaks of the rest of that day beside the old maximum, which the
// histogram forgets when the day leaves the window.
//
// memoryPeakRule (both versions; absent means "PerDay", the only rule before it was recorded): a checkpoint made
// under one rule is not restored under the other. The peaks of one cannot be turned into the other's (a UTC day's
// peak does not say which of a pod's 24-hour windows it fell in, nor the reverse), so the checkpoint is dropped
// with its reason and the history is read again under the profile's rule; mixing them would weigh some days twice.
import { z } from "zod";
import {
  defaultMemoryPeakRule,
  maxPodPeaksPerDay,
  MEMORY_PEAK_RULES,
  unattributedPod,
  type ContainerState,
} from "./model/container.js";
import type { WorkloadModel } from "./store.js";

export const checkpointVersion = 2;

const buckets = z.record(z.string().regex(/^\d+$/), z.number().min(0));
const podPeak = z.object({ pod: z.string(), bytes: z.number().min(0), at: z.number(), lastAt: z.number().optional() });
const memoryPeakRule = z.enum(MEMORY_PEAK_RULES).default(defaultMemoryPeakRule);
const dayState = z.object({
  start: z.number(),
  cpuDecayed: buckets,
  cpuPlain: buckets,
  // One more than the model keeps: unattributedPod beside maxPodPeaksPerDay pods.
  memoryPeaks: z.array(podPeak).max(maxPodPeaksPerDay + 1),
});
const containerFields = {
  memoryPeakRule,
  referenceMs: z.number(),
  halfLifeMs: z.number().gt(0),
  days: z.array(dayState).max(400),
  cpuDecayedOlder: buckets,
  memoryDecayedOlder: buckets,
  firstSampleMs: z.number().optional(),
  lastSampleMs: z.number().optional(),
  sampleCount: z.int().min(0),
  sampleMinutes: z.number().min(0),
  memorySampleCount: z.int().min(0),
  oomIds: z.array(z.string()).max(64),
};
const containerState = z.object(containerFields);
const checkpointFields = {
  workloadUid: z.string(),
  coveredUntil: z.number(),
  /** When the checkpoint was written (ms); it is rewritten at most once per checkpoint interval. */
  savedAt: z.number(),
  halfLifeMs: z.number().gt(0),
  memoryPeakRule,
};
export const Checkpoint = z.object({
  version: z.literal(checkpointVersion),
  ...checkpointFields,
  containers: z.record(z.string(), containerState),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** Version 1: one memory peak per day, the maximum across pods. */
const dayStateV1 = z.object({
  start: z.number(),
  cpuDecayed: buckets,
  cpuPlain: buckets,
  memoryPeak: z.number().min(0).optional(),
  memoryPeakAt: z.number().optional(),
});
const CheckpointV1 = z.object({
  version: z.literal(1),
  ...checkpointFields,
  containers: z.record(z.string(), z.object({ ...containerFields, days: z.array(dayStateV1).max(400) })),
});

/** A version 1 checkpoint in the current shape: each day's peak becomes the peak of unattributedPod. */
export function migrateV1(c: z.infer<typeof CheckpointV1>): Checkpoint {
  const containers: Checkpoint["containers"] = {};
  for (const [name, s] of Object.entries(c.containers)) {
    containers[name] = {
      ...s,
      days: s.days.map(({ memoryPeak, memoryPeakAt, ...d }) => ({
        ...d,
        memoryPeaks:
          memoryPeak === undefined ? [] : [{ pod: unattributedPod, bytes: memoryPeak, at: memoryPeakAt ?? d.start }],
      })),
    };
  }
  return { ...c, version: checkpointVersion, containers };
}

/** Any checkpoint this version can read, in the current shape; the error of the current schema otherwise. */
export function parseCheckpoint(raw: unknown): { success: true; data: Checkpoint } | { success: false; error: string } {
  const current = Checkpoint.safeParse(raw);
  if (current.success) return { success: true, data: current.data };
  const v1 = CheckpointV1.safeParse(raw);
  if (v1.success) return { success: true, data: migrateV1(v1.data) };
  return { success: false, error: current.error.issues[0]?.message ?? "invalid" };
}

/** Six significant digits are plenty for bucket weights, and keep the status object small. */
function roundWeights(h: Record<number, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [b, w] of Object.entries(h)) if (w > 0) out[b] = Number(w.toPrecision(6));
  return out;
}

export function toCheckpoint(model: WorkloadModel, savedAt: Date, containers?: readonly string[]): Checkpoint {
  const out: Checkpoint["containers"] = {};
  for (const [name, s] of model.containers) {
    if (containers && !containers.includes(name)) continue;
    out[name] = {
      ...s,
      days: s.days.map((d) => ({
        ...d,
        cpuDecayed: roundWeights(d.cpuDecayed),
        cpuPlain: roundWeights(d.cpuPlain),
        memoryPeaks: d.memoryPeaks.map((p) => ({ ...p })),
      })),
      cpuDecayedOlder: roundWeights(s.cpuDecayedOlder),
      memoryDecayedOlder: roundWeights(s.memoryDecayedOlder),
      oomIds: [...s.oomIds],
    };
  }
  return {
    version: checkpointVersion,
    workloadUid: model.uid,
    coveredUntil: model.coveredUntilMs ?? 0,
    savedAt: savedAt.getTime(),
    halfLifeMs: model.halfLifeMs,
    memoryPeakRule: model.memoryPeakRule ?? defaultMemoryPeakRule,
    containers: out,
  };
}

export type RestoreResult = { ok: true; model: WorkloadModel } | { ok: false; reason: string };

export function fromCheckpoint(
  raw: unknown,
  expect: Omit<WorkloadModel, "containers" | "coveredUntilMs" | "source">,
): RestoreResult {
  if (raw === undefined || raw === null) return { ok: false, reason: "no checkpoint" };
  const parsed = parseCheckpoint(raw);
  if (!parsed.success) return { ok: false, reason: `malformed checkpoint: ${parsed.error}` };
  const c = parsed.data;
  if (c.workloadUid !== expect.uid) return { ok: false, reason: "checkpoint of another workload (uid differs)" };
  if (c.halfLifeMs !== expect.halfLifeMs) return { ok: false, reason: "checkpoint made with another half-life" };
  const rule = expect.memoryPeakRule ?? defaultMemoryPeakRule;
  if (c.memoryPeakRule !== rule || Object.values(c.containers).some((s) => s.memoryPeakRule !== c.memoryPeakRule))
    return {
      ok: false,
      reason: `checkpoint made with memory peak rule ${c.memoryPeakRule}, the profile asks for ${rule}`,
    };
  if (c.coveredUntil <= 0) return { ok: false, reason: "checkpoint before any history was read" };
  const containers = new Map<string, ContainerState>();
  for (const [name, s] of Object.entries(c.containers)) containers.set(name, s as ContainerState);
  return { ok: true, model: { ...expect, containers, coveredUntilMs: c.coveredUntil, source: "checkpoint" } };
}
