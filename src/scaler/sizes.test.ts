import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MiB } from "./quantity.js";
import { clamp, covers, describeSize, maxSize, onceForSize, sameResources, sameSize } from "./sizes.js";
import { policy } from "./testing.js";
import type { Size } from "./types.js";

describe("sizes", () => {
  it("clamp bounds requests and limits, keeps a limit at least its request, and rounds replicas", () => {
    const p = {
      policy: policy({ minAllowed: { cpu: 0.5 }, maxAllowed: { memory: 1024 * MiB }, replicas: { max: 3 } }),
    };
    expect(clamp({ replicas: 4.4, cpuRequest: 0.1, cpuLimit: 0.2, memoryRequest: 2048 * MiB }, p)).toEqual({
      replicas: 3,
      cpuRequest: 0.5,
      cpuLimit: 0.5,
      memoryRequest: 1024 * MiB,
      memoryLimit: undefined,
    });
  });

  it("maxSize takes the larger field and adds no limit the size lacks", () => {
    expect(maxSize({ replicas: 2, cpuRequest: 1 }, { replicas: 1, cpuRequest: 2, memoryLimit: 5 })).toEqual({
      replicas: 2,
      cpuRequest: 2,
      cpuLimit: undefined,
      memoryRequest: undefined,
      memoryLimit: undefined,
    });
  });

  it("covers: every field the other sets is at most the size's own, a limit the size lacks aside", () => {
    const size = { replicas: 2, cpuRequest: 1, memoryRequest: 512 * MiB };
    expect(covers(size, { cpuRequest: 1, memoryRequest: 256 * MiB, memoryLimit: 4096 * MiB })).toBe(true);
    expect(covers(size, { replicas: 3 })).toBe(false);
    expect(covers(size, { cpuLimit: 1 })).toBe(true);
    expect(covers({ ...size, cpuLimit: 1 }, { cpuLimit: 2 })).toBe(false);
    expect(covers({ replicas: 2 }, { cpuRequest: 0.1 })).toBe(false);
    expect(covers(size, { cpuRequest: Number.NaN })).toBe(false);
    expect(covers({ ...size, cpuRequest: Number.NaN }, { cpuRequest: 1 })).toBe(false);
  });

  it("a covered size has the values maxSize gives", () => {
    const field = fc.option(fc.oneof(fc.double({ min: 0, max: 8 }), fc.constant(1)), { nil: undefined });
    const size = fc.record({
      replicas: fc.integer({ min: 0, max: 5 }),
      cpuRequest: field,
      cpuLimit: field,
      memoryRequest: field,
      memoryLimit: field,
    });
    const partial = fc.record(
      {
        replicas: fc.integer({ min: 0, max: 5 }),
        cpuRequest: field,
        cpuLimit: field,
        memoryRequest: field,
        memoryLimit: field,
      },
      { requiredKeys: [] },
    );
    // The same value: NaN as NaN, and +0 as -0 (every reader of a size compares them as numbers).
    const same = (x: number | undefined, y: number | undefined) => x === y || (Number.isNaN(x) && Number.isNaN(y));
    fc.assert(
      fc.property(size, partial, (a, b) => {
        if (!covers(a, b)) return;
        const grown = maxSize(a, b);
        for (const k of ["replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const)
          expect(same(grown[k], a[k]), k).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("sameSize ignores float noise but not a missing field; describeSize reads as a person would", () => {
    expect(sameSize({ replicas: 1, cpuRequest: 0.3 }, { replicas: 1, cpuRequest: 0.1 + 0.2 })).toBe(true);
    expect(sameSize({ replicas: 1, cpuRequest: 0.3 }, { replicas: 1 })).toBe(false);
    expect(describeSize({ replicas: 2, cpuRequest: 1.5, memoryRequest: 512 * MiB, memoryLimit: 1024 * MiB })).toBe(
      "replicas 2, cpu 1500m, memory 512Mi, memory limit 1024Mi",
    );
  });

  it("sameResources compares the four resources and not the replicas", () => {
    const size = { replicas: 1, cpuRequest: 0.5, cpuLimit: 1, memoryRequest: 512 * MiB, memoryLimit: 1024 * MiB };
    expect(sameResources(size, { ...size, replicas: 3 })).toBe(true);
    expect(sameResources(size, { ...size, cpuRequest: 0.6 })).toBe(false);
    expect(sameResources(size, { ...size, cpuLimit: undefined })).toBe(false);
    expect(sameResources(size, { ...size, memoryRequest: 513 * MiB })).toBe(false);
    expect(sameResources(size, { ...size, memoryLimit: 2048 * MiB })).toBe(false);
  });

  it("onceForSize answers as the fact itself over any sequence of sizes and bounds, the same objects changed or not", () => {
    // Few values, so that sequences repeat them; NaN, Infinity, -0 and missing fields among them. Each step changes
    // one value at most (or none), so that most steps ask again of what was asked before but for that one.
    const v = fc.constantFrom(undefined, 0, -0, 0.5, 1, 8, Number.NaN, Number.POSITIVE_INFINITY);
    const fields = ["replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const;
    const bounds = [
      ["minAllowed", "cpu"],
      ["minAllowed", "memory"],
      ["maxAllowed", "cpu"],
      ["maxAllowed", "memory"],
      ["replicas", "min"],
      ["replicas", "max"],
    ] as const;
    const step = fc.record({
      change: fc.integer({ min: -1, max: fields.length + bounds.length - 1 }),
      value: v,
      // Change the same objects in place, or copies of them.
      inPlace: fc.boolean(),
      which: fc.constantFrom(0, 1),
    });
    const fact = (size: Size, input: Parameters<typeof clamp>[1]) =>
      JSON.stringify(clamp(size, input), (_k, x: unknown) => (Object.is(x, -0) ? "-0" : x)) +
      String(sameSize(size, clamp(size, input)));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const once = onceForSize(fact);
        const policies = [policy(), policy()];
        let size: Size = { replicas: 1, cpuRequest: 1, memoryRequest: 1 };
        for (const s of steps) {
          let p = policies[s.which] as ReturnType<typeof policy>;
          if (!s.inPlace) {
            p = { ...p, minAllowed: { ...p.minAllowed }, maxAllowed: { ...p.maxAllowed }, replicas: { ...p.replicas } };
            policies[s.which] = p;
            size = { ...size };
          }
          const f = fields[s.change];
          const b = bounds[s.change - fields.length];
          if (f === "replicas") size.replicas = s.value ?? 1;
          else if (f) size[f] = s.value;
          else if (b) (p[b[0]] as Record<string, number | undefined>)[b[1]] = s.value;
          expect(once(size, { policy: p })).toBe(fact(size, { policy: p }));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
