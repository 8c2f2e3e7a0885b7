import { describe, expect, it } from "vitest";
import { MiB } from "./quantity.js";
import { clamp, describeSize, maxSize, sameResources, sameSize } from "./sizes.js";
import { policy } from "./testing.js";

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
});
