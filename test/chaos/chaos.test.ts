// Chaos scenarios at small size on a meta-cluster of our own (.cache/chaos-metacluster): its apiserver and etcd are
// killed, Prometheus stopped or made to answer garbage, the ops-center receiver stopped, leaders SIGKILLed. Each
// scenario states its invariants (see the scenario modules) and checks them afterwards; bench/reliability.ts runs
// the same scenarios at full size.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { down } from "../../hack/lib/metacluster.js";
import { leaderKillDrain } from "./drain-scenario.js";
import { chaosDir, chaosUp, failedChecks, type ChaosEnv, type ScenarioResult } from "./lib.js";
import {
  garbageModes,
  leaderKillScaleUp,
  opsCenterDown,
  prometheusDown,
  prometheusGarbage,
  ScalerRig,
} from "./scaler-scenarios.js";
import { controlPlaneKill, restartMidUpgrade } from "./tcp-scenarios.js";

describe("chaos (small size, own meta-cluster)", () => {
  let env: ChaosEnv;
  let rig: ScalerRig | undefined;
  const results: ScenarioResult[] = [];
  const log = (l: string) => process.stderr.write(`[chaos] ${l}\n`);

  beforeAll(async () => {
    env = await chaosUp(10, log);
  }, 300_000);

  afterAll(async () => {
    await rig?.cleanup();
    writeFileSync(path.join(chaosDir, "results.small.json"), JSON.stringify(results, null, 2));
    if (process.env.CHAOS_KEEP !== "1") await down(chaosDir);
  }, 120_000);

  const expectClean = (r: ScenarioResult) => {
    results.push(r);
    expect(failedChecks(r), JSON.stringify(failedChecks(r))).toEqual([]);
    expect(r.objectsLost).toBe(0);
    expect(r.invariantChecksRun).toBeGreaterThan(0);
  };

  it("kube-apiserver SIGKILLed during TCP reconciles: every TCP converges", async () => {
    expectClean(
      await controlPlaneKill(env, {
        component: "kube-apiserver",
        tcps: 3,
        kills: 1,
        downMs: 3000,
        convergeMs: 300_000,
      }),
    );
  }, 540_000); // start-up (up to 180 s under load) + convergence (up to 300 s)

  it("etcd SIGKILLed and restarted: every TCP converges", async () => {
    expectClean(
      await controlPlaneKill(env, { component: "etcd", tcps: 3, kills: 1, downMs: 3000, convergeMs: 300_000 }),
    );
  }, 540_000); // start-up (up to 180 s under load) + convergence (up to 300 s)

  it("controller SIGKILLed in the middle of a TCP upgrade: the upgrade completes in order", async () => {
    expectClean(await restartMidUpgrade(env, { tcps: 2, convergeMs: 180_000 }));
  }, 400_000);

  it("Prometheus down: no scale-down, SignalsAvailable=False says why", async () => {
    rig = new ScalerRig(env);
    await rig.start();
    expectClean(await prometheusDown(env, rig, { outageMs: 15_000 }));
  }, 180_000);

  it("Prometheus answering garbage through a proxy: no scale-down, a condition explains", async () => {
    const modes = garbageModes.filter((m) => m !== "negative");
    expectClean(await prometheusGarbage(env, rig!, { perModeMs: 5000, rounds: 1, modes }));
  }, 600_000); // each mode waits up to 60 s for the condition that explains the hold

  // Negative usage is garbage too: the scaler rejects the whole poll (src/scaler/signals/prometheus.ts), so the
  // hold is explained and nothing is scaled down.
  it("Prometheus answering negative usage: a condition explains the hold", async () => {
    expectClean(await prometheusGarbage(env, rig!, { perModeMs: 5000, rounds: 1, modes: ["negative"] }));
  }, 180_000);

  it("ops-center receiver down: no report lost", async () => {
    expectClean(await opsCenterDown(env, rig!, { ooms: 3, outageMs: 10_000 }));
  }, 480_000); // redelivery waits out the backoff, capped at 5 min

  it("leader SIGKILLed right after an OOM kill: exactly one decision and one write per OOM", async () => {
    expectClean(await leaderKillScaleUp(env, { trials: 2 }));
  }, 900_000); // four replica start-ups, each up to 180 s under load (527 s in all at load 17)

  it("leader SIGKILLed mid-drain: no PDB violated, drain completes, no node left cordoned", async () => {
    expectClean(await leaderKillDrain(env, { tenants: 5, sourceNodes: 2, kills: 1 }));
  }, 600_000); // each replica's start-up may take up to 180 s under load
});
