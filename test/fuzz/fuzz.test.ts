// Bad input on the real apiserver (./scenario.ts): mutated objects of every kind, created one by one while every
// controller runs in-process. Each is rejected by the schema or accepted and given a status; the controllers never
// crash, keep reconciling a valid sentinel of each kind, and write nothing outside what the fuzzing made (audit log).
// Runs on our own meta-cluster (accepted NodeDrains may cordon); bench/reliability.ts runs it at full count.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { down } from "../../hack/lib/metacluster.js";
import { chaosDir, chaosUp, failedChecks, type ChaosEnv } from "../chaos/lib.js";
import { badInput } from "./scenario.js";

const count = Number(process.env.FUZZ_COUNT ?? 1000);
const seed = Number(process.env.FUZZ_SEED ?? 20250131);
const log = (l: string) => process.stderr.write(`[fuzz] ${l}\n`);

describe(`bad input: ${count} mutated objects of every kind`, () => {
  let env: ChaosEnv;

  beforeAll(async () => {
    env = await chaosUp(10, log);
  }, 300_000);

  afterAll(async () => {
    if (process.env.CHAOS_KEEP !== "1") await down(chaosDir);
  }, 180_000);

  it("rejects or accepts-and-reports every object, blocks no valid object, writes nothing unrelated", async () => {
    const r = await badInput(env, { count, seed }, log);
    console.log(`fuzz: ${JSON.stringify(r.figures)}`);
    expect(failedChecks(r)).toEqual([]);
    expect(r.invariantChecksRun).toBe(5);
    expect(r.objectsLost).toBe(0);
    // The mutations must exercise both paths, or the scenario proves nothing.
    expect(r.figures.accepted).toBeGreaterThan(0);
    expect(r.figures.rejectedBySchema).toBeGreaterThan(0);
  }, 1_500_000);
});
