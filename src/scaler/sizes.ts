// Sizes as plain numbers: bounding one by the policy, combining, comparing and describing them. Pure.
import { formatCpu, formatMemory } from "./quantity.js";
import type { ResolvedPolicy, Size } from "./types.js";

/** v within [min, max] (0 and Infinity where not given); undefined stays undefined. */
function bound(v: number | undefined, min?: number, max?: number): number | undefined {
  return v === undefined ? undefined : Math.min(max ?? Infinity, Math.max(min ?? 0, v));
}

/** Bounds a size by the policy: minAllowed/maxAllowed on requests and limits, replicas min/max. */
export function clamp(
  size: Size,
  input: { policy: Pick<ResolvedPolicy, "minAllowed" | "maxAllowed" | "replicas"> },
): Size {
  const { minAllowed, maxAllowed, replicas } = input.policy;
  const out: Size = {
    replicas: Math.round(bound(size.replicas, replicas.min, replicas.max) ?? size.replicas),
    cpuRequest: bound(size.cpuRequest, minAllowed.cpu, maxAllowed.cpu),
    cpuLimit: size.cpuLimit,
    memoryRequest: bound(size.memoryRequest, minAllowed.memory, maxAllowed.memory),
    memoryLimit: bound(size.memoryLimit, minAllowed.memory, maxAllowed.memory),
  };
  if (out.cpuLimit !== undefined && out.cpuRequest !== undefined && out.cpuLimit < out.cpuRequest)
    out.cpuLimit = out.cpuRequest;
  // A request above its limit is invalid; raise the limit (a bigger request is what was asked for).
  if (out.memoryLimit !== undefined && out.memoryRequest !== undefined && out.memoryRequest > out.memoryLimit) {
    out.memoryLimit = out.memoryRequest;
  }
  return out;
}

/** The larger of each field; a limit the size does not have is not added. */
export function maxSize(a: Size, b: Partial<Size>): Size {
  const m = (x: number | undefined, y: number | undefined) =>
    y === undefined ? x : x === undefined ? y : Math.max(x, y);
  return {
    replicas: m(a.replicas, b.replicas) ?? a.replicas,
    cpuRequest: m(a.cpuRequest, b.cpuRequest),
    cpuLimit: a.cpuLimit !== undefined ? m(a.cpuLimit, b.cpuLimit) : undefined,
    memoryRequest: m(a.memoryRequest, b.memoryRequest),
    memoryLimit: a.memoryLimit !== undefined ? m(a.memoryLimit, b.memoryLimit) : undefined,
  };
}

/**
 * Whether maxSize(a, b) has `a`'s values: every field `b` sets is at most `a`'s, and `a` has it (a limit `a` lacks is
 * not added, so it does not count); a NaN in a field `b` sets is never covered. Lets a caller skip building the
 * grown size when nothing grows.
 */
export function covers(a: Size, b: Partial<Size>): boolean {
  const atMost = (x: number | undefined, y: number | undefined) => y === undefined || (x !== undefined && y <= x);
  return (
    atMost(a.replicas, b.replicas) &&
    atMost(a.cpuRequest, b.cpuRequest) &&
    (a.cpuLimit === undefined || atMost(a.cpuLimit, b.cpuLimit)) &&
    atMost(a.memoryRequest, b.memoryRequest) &&
    (a.memoryLimit === undefined || atMost(a.memoryLimit, b.memoryLimit))
  );
}

export function sameSize(a: Size, b: Size): boolean {
  const eq = (x?: number, y?: number) =>
    (x === undefined && y === undefined) || (x !== undefined && y !== undefined && Math.abs(x - y) < 1e-9);
  return (
    a.replicas === b.replicas &&
    eq(a.cpuRequest, b.cpuRequest) &&
    eq(a.cpuLimit, b.cpuLimit) &&
    eq(a.memoryRequest, b.memoryRequest) &&
    eq(a.memoryLimit, b.memoryLimit)
  );
}

/**
 * The same container resources (replicas not compared): whether the pods themselves must change. Exact equality,
 * without sameSize's tolerance (the apply path and the restart cause have always compared exactly).
 */
export function sameResources(a: Size, b: Size): boolean {
  return (
    a.cpuRequest === b.cpuRequest &&
    a.cpuLimit === b.cpuLimit &&
    a.memoryRequest === b.memoryRequest &&
    a.memoryLimit === b.memoryLimit
  );
}

export function describeSize(s: Size): string {
  const parts = [`replicas ${s.replicas}`];
  if (s.cpuRequest !== undefined) parts.push(`cpu ${formatCpu(s.cpuRequest)}`);
  if (s.memoryRequest !== undefined) parts.push(`memory ${formatMemory(s.memoryRequest)}`);
  if (s.memoryLimit !== undefined) parts.push(`memory limit ${formatMemory(s.memoryLimit)}`);
  return parts.join(", ");
}
