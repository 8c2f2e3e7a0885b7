import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input, policy } from "../testing.js";
import { oomScaler } from "./oom.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const kill = { id: "p/c/1", pod: "p", container: "c", finishedAt: now, limitBytes: 2048 * MiB };
const propose = (i: ReturnType<typeof input>, notes: string[] = []) =>
  oomScaler.propose(i, defaultEngineOptions, notes);

describe("oom scaler", () => {
  it("asks the oom-memory estimator for a new kill, with the kill as evidence", () => {
    const c = propose(input({}, { oom: [kill] }));
    expect(c).toMatchObject({ category: "OOMKilled", estimator: "oom-memory", oomIds: ["p/c/1"] });
    expect(c?.size.memoryLimit).toBeCloseTo(2048 * MiB * 1.2);
    expect(c?.evidence[0]).toMatchObject({ signal: "container_oom_killed", value: "p/c", threshold: "limit 2048Mi" });
  });

  it.each<[string, Parameters<typeof input>[0]]>([
    ["handled before", { history: { ...input().history, handledOomIds: new Set(["p/c/1"]) } }],
    ["without oom-memory in the list", { policy: policy({ estimators: ["profile"] }) }],
    [
      "disabled",
      { policy: policy({ scalers: { ...policy().scalers, oom: { enabled: false, threshold: 1, windowMs: 0 } } }) },
    ],
  ])("asks for nothing when the kill is %s", (_why, over) => {
    expect(propose(input(over, { oom: [kill] }))).toBeUndefined();
  });

  it("notes a kill its rollout answers instead of raising again", () => {
    const notes: string[] = [];
    const old = { ...kill, limitBytes: 1024 * MiB, replaceable: true };
    expect(propose(input({}, { oom: [old] }), notes)).toBeUndefined();
    expect(notes).toEqual(["OOM kill(s) of p at a smaller limit than the workload now has: answered by its rollout"]);
  });
});
