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

type Bounds = Pick<ResolvedPolicy, "minAllowed" | "maxAllowed" | "replicas">;

/** The values a fact of a bounded size depends on: the size's and its bounds' (undefined where one is not set). */
const boundedKey = (s: Size, b: Bounds): Array<number | undefined> => [
  s.replicas,
  s.cpuRequest,
  s.cpuLimit,
  s.memoryRequest,
  s.memoryLimit,
  b.minAllowed.cpu,
  b.minAllowed.memory,
  b.maxAllowed.cpu,
  b.maxAllowed.memory,
  b.replicas.min,
  b.replicas.max,
];

/** Whether a size and its bounds have a key's values (Object.is: NaN is NaN, -0 is not +0). */
function sameKey(key: ReadonlyArray<number | undefined>, s: Size, b: Bounds): boolean {
  return (
    Object.is(key[0], s.replicas) &&
    Object.is(key[1], s.cpuRequest) &&
    Object.is(key[2], s.cpuLimit) &&
    Object.is(key[3], s.memoryRequest) &&
    Object.is(key[4], s.memoryLimit) &&
    Object.is(key[5], b.minAllowed.cpu) &&
    Object.is(key[6], b.minAllowed.memory) &&
    Object.is(key[7], b.maxAllowed.cpu) &&
    Object.is(key[8], b.maxAllowed.memory) &&
    Object.is(key[9], b.replicas.min) &&
    Object.is(key[10], b.replicas.max)
  );
}

/**
 * A fact of a size under its bounds (a pure function of their values only, such as one computed from clamp),
 * computed again only when the values change: remembered per bounds object (one per resolved policy) for the last
 * values it was asked for. A workload keeps its size for many rounds, and the engine asks the same of it every round.
 */
export function onceForSize<T>(fact: (size: Size, input: { policy: Bounds }) => T) {
  const last = new WeakMap<Bounds, { key: Array<number | undefined>; value: T }>();
  return (size: Size, input: { policy: Bounds }): T => {
    const b = input.policy;
    const seen = last.get(b);
    if (seen && sameKey(seen.key, size, b)) return seen.value;
    const value = fact(size, input);
    last.set(b, { key: boundedKey(size, b), value });
    return value;
  };
}
