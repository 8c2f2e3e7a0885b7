// The checkpoint in a profile's status.checkpoint: the model of every container, so a restarted recommender
// resumes from it and reads only what Prometheus got since `coveredUntil`. It is validated on the way in; a
// checkpoint that does not fit (another workload uid, another half-life, an unknown version, a malformed body)
// is dropped and the history is read again.
import { z } from "zod";
import type { ContainerState } from "./model/container.js";
import type { WorkloadModel } from "./store.js";

export const checkpointVersion = 1;

const buckets = z.record(z.string().regex(/^\d+$/), z.number().min(0));
const dayState = z.object({
  start: z.number(),
  cpuDecayed: buckets,
  cpuPlain: buckets,
  memoryPeak: z.number().min(0).optional(),
  memoryPeakAt: z.number().optional(),
});
const containerState = z.object({
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
});
export const Checkpoint = z.object({
  version: z.literal(checkpointVersion),
  workloadUid: z.string(),
  coveredUntil: z.number(),
  /** When the checkpoint was written (ms); it is rewritten at most once per checkpoint interval. */
  savedAt: z.number(),
  halfLifeMs: z.number().gt(0),
  containers: z.record(z.string(), containerState),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

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
      days: s.days.map((d) => ({ ...d, cpuDecayed: roundWeights(d.cpuDecayed), cpuPlain: roundWeights(d.cpuPlain) })),
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
    containers: out,
  };
}

export type RestoreResult = { ok: true; model: WorkloadModel } | { ok: false; reason: string };

export function fromCheckpoint(
  raw: unknown,
  expect: Omit<WorkloadModel, "containers" | "coveredUntilMs" | "source">,
): RestoreResult {
  if (raw === undefined || raw === null) return { ok: false, reason: "no checkpoint" };
  const parsed = Checkpoint.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `malformed checkpoint: ${parsed.error.issues[0]?.message}` };
  const c = parsed.data;
  if (c.workloadUid !== expect.uid) return { ok: false, reason: "checkpoint of another workload (uid differs)" };
  if (c.halfLifeMs !== expect.halfLifeMs) return { ok: false, reason: "checkpoint made with another half-life" };
  if (c.coveredUntil <= 0) return { ok: false, reason: "checkpoint before any history was read" };
  const containers = new Map<string, ContainerState>();
  for (const [name, s] of Object.entries(c.containers)) containers.set(name, s as ContainerState);
  return { ok: true, model: { ...expect, containers, coveredUntilMs: c.coveredUntil, source: "checkpoint" } };
}
