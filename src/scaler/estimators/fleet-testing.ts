// Fleets for the fleet-regression tests: seeded, so the noise is the same on every run.
import type { FleetSample } from "./fleet.js";

/** A seeded generator (mulberry32), so the noise is the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` tenants of 10 to 1000 nodes whose usage is `line(nodes)` times (1 ± noise). */
export function linearFleet(
  count: number,
  line: (nodes: number) => number,
  noise: number,
  seed = 7,
  objectsPerNode?: number,
): FleetSample[] {
  const random = seeded(seed);
  return Array.from({ length: count }, (_, i) => {
    const nodes = Math.round(10 + random() * 990);
    return {
      tenant: `t${i}`,
      nodes,
      ...(objectsPerNode ? { objects: Math.round(nodes * objectsPerNode * (0.5 + random())) } : {}),
      usage: line(nodes) * (1 + (random() * 2 - 1) * noise),
    };
  });
}
