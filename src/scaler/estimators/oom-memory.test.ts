import { describe, expect, it } from "vitest";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import type { OomEvent } from "../types.js";
import { defaultOomBump, inOomLoop, oomMemory, unansweredOoms } from "./oom-memory.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const kill = (id: string, limitBytes?: number, o: Partial<OomEvent> = {}): OomEvent => ({
  id,
  pod: "kube-apiserver-0",
  container: "kube-apiserver",
  finishedAt: now - 5_000,
  ...(limitBytes !== undefined ? { limitBytes } : {}),
  ...o,
});
const sized = { replicas: 1, cpuRequest: 1, memoryRequest: 512 * MiB, memoryLimit: 1024 * MiB };

describe("oom-memory", () => {
  it("bumps by VPA's rule: max(base + 100Mi, base × 1.2), the request keeping its share of the limit", () => {
    const est = oomMemory(input({ current: sized }, { oom: [kill("k1", 1024 * MiB)] }));
    expect(est?.size.memoryLimit).toBeCloseTo(1024 * MiB * 1.2);
    expect(est?.size.memoryRequest).toBeCloseTo(1024 * MiB * 1.2 * 0.5);
    expect(est?.note).toMatch(/^OOM bump: max\(1024Mi \+ 100Mi, 1024Mi × 1.2\)/);
    // A small container: the 100Mi floor of the bump wins.
    const small = { replicas: 1, memoryRequest: 128 * MiB, memoryLimit: 128 * MiB };
    expect(oomMemory(input({ current: small }, { oom: [kill("k1", 128 * MiB)] }))?.size.memoryLimit).toBe(228 * MiB);
  });

  it("needs no usage sample: a container killed as it starts is bumped from the limit it was killed at", () => {
    const est = oomMemory(input({ current: sized }, { oom: [kill("start", 1024 * MiB)], memoryWorkingSet: undefined }));
    expect(est?.size.memoryLimit).toBeGreaterThan(1024 * MiB);
  });

  it("answers a kill once, and not a kill of a pod its rollout replaces at a smaller limit", () => {
    const handled = input({ current: sized }, { oom: [kill("k1", 1024 * MiB)] });
    handled.history = { ...handled.history, handledOomIds: new Set(["k1"]) };
    expect(oomMemory(handled)).toBeUndefined();
    const rolling = input({ current: sized }, { oom: [kill("old", 512 * MiB, { replaceable: true })] });
    expect(unansweredOoms(rolling)).toEqual([]);
  });

  it("doubles in an OOM loop: a kill at the size the last bump set, within the loop window", () => {
    const looping = input({ current: sized }, { oom: [kill("k2", 1024 * MiB)] });
    looping.history = { ...looping.history, lastOomBump: { at: now - 60_000, memoryLimit: 1024 * MiB } };
    expect(inOomLoop(looping, looping.signals.oom)).toBe(true);
    expect(oomMemory(looping)?.size.memoryLimit).toBe(2048 * MiB);
    // Outside the window it is a first kill again.
    const later = {
      ...looping,
      history: { ...looping.history, lastOomBump: { at: now - 11 * 60_000, memoryLimit: 1024 * MiB } },
    };
    expect(inOomLoop(later, later.signals.oom, defaultOomBump)).toBe(false);
    expect(oomMemory(later)?.size.memoryLimit).toBeCloseTo(1024 * MiB * 1.2);
  });
});
