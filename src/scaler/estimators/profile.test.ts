import { describe, expect, it } from "vitest";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import { profileEstimate, profileFloor } from "./profile.js";

describe("profile", () => {
  const profile = { target: { cpu: 0.5, memory: 300 * MiB }, upperBound: { memory: 400 * MiB } };

  it("sizes by the WorkloadProfile: target as the request, upper bound as the limit where there is one", () => {
    expect(profileEstimate(input({ profile }))?.size).toEqual({
      cpuRequest: 0.5,
      memoryRequest: 300 * MiB,
      memoryLimit: 400 * MiB,
    });
    const noLimit = input({ profile, current: { replicas: 1, cpuRequest: 1, memoryRequest: 512 * MiB } });
    expect(profileEstimate(noLimit)?.size.memoryLimit).toBeUndefined();
  });

  it("floors scale-downs at the target CPU and the upper-bound memory; nothing without a recommendation", () => {
    expect(profileFloor(input({ profile }))).toEqual({ cpu: 0.5, memory: 400 * MiB });
    expect(profileFloor(input({ profile: { target: { cpu: 0.5, memory: 300 * MiB } } }))).toEqual({
      cpu: 0.5,
      memory: 300 * MiB,
    });
    expect(profileEstimate(input())).toBeUndefined();
    expect(profileFloor(input())).toBeUndefined();
  });
});
