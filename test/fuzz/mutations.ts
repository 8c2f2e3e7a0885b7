// Bad-input generators for every kind: valid examples (src/api/examples.ts) mutated by fast-check with wrong types,
// negative numbers, huge strings, unknown enum values, missing required fields, unknown fields, nulls and
// conflicting fields. No vitest import, so bench/reliability.ts can generate the full count.
import fc from "fast-check";
import { examples } from "../../src/api/examples.js";
import type { KindName } from "../../src/api/kinds.js";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

export const fuzzKinds: KindName[] = [
  "TenantControlPlane",
  "ClusterScaler",
  "NodeDrain",
  "NodePool",
  "WorkloadProfile",
  "ScalingDecision",
];

/** Every path under `spec` (objects and leaves), so a mutation can hit any field at any depth. */
function paths(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = prefix.length ? [prefix] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function setAt(root: Json, path: Path, fn: (old: Json) => Json | undefined): void {
  let cur = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  const next = fn(cur[last] ?? null);
  if (next === undefined) {
    if (Array.isArray(cur)) cur.splice(Number(last), 1);
    else delete cur[last];
  } else cur[last] = next;
}

export type Mutation =
  | { op: "wrongType"; at: number; value: Json }
  | { op: "negative"; at: number; n: number }
  | { op: "huge"; at: number; size: number }
  | { op: "unknownEnum"; at: number; value: string }
  | { op: "delete"; at: number }
  | { op: "null"; at: number }
  | { op: "unknownField"; at: number; key: string }
  | { op: "conflict"; which: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("wrongType" as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.string({ maxLength: 8 }),
      fc.constant<Json>([1, "x"]),
      fc.constant<Json>({ x: 1 }),
    ) as fc.Arbitrary<Json>,
  }),
  fc.record({ op: fc.constant("negative" as const), at: fc.nat(), n: fc.integer({ min: -1_000_000, max: -1 }) }),
  fc.record({ op: fc.constant("huge" as const), at: fc.nat(), size: fc.constantFrom(300, 4_096, 70_000) }),
  fc.record({
    op: fc.constant("unknownEnum" as const),
    at: fc.nat(),
    value: fc.constantFrom("Bogus", "", "ALWAYS", "v9.99.99", "-1s", "1e309", "🙂", "../../etc/passwd", "$(rm -rf /)"),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("null" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("unknownField" as const),
    at: fc.nat(),
    key: fc.constantFrom("x", "bogusField", "__proto__"),
  }),
  fc.record({ op: fc.constant("conflict" as const), which: fc.nat() }),
);

/** Conflicting fields per kind: each valid alone, contradictory together. */
const conflicts: Record<string, Array<(spec: Record<string, Json>) => void>> = {
  TenantControlPlane: [
    (s) => ((s.etcd as Record<string, Json>).external = { endpoints: ["https://e:2379"], secretRef: { name: "x" } }),
    (s) => ((s.apiServer as Record<string, Json>).replicas = 0),
    (s) => (s.version = "v1.20.0"),
  ],
  ClusterScaler: [
    (s) => {
      const c = (s.components as Array<Record<string, Json>>)[0]!;
      c.minAllowed = { cpu: "8", memory: "64Gi" };
      c.maxAllowed = { cpu: "1", memory: "1Gi" };
    },
    (s) => ((s.components as Array<Record<string, Json>>)[0]!.replicas = { min: 10, max: 2 }),
    (s) => (s.components = [...(s.components as Json[]), structuredClone((s.components as Json[])[0]!)]),
  ],
  NodeDrain: [(s) => (s.nodeSelector = { matchLabels: { type: "kwok" } }), (s) => (s.nodeNames = [])],
  NodePool: [
    (s) => {
      s.minNodes = 9;
      s.maxNodes = 2;
    },
    (s) => (s.provider = "clusterapi"),
  ],
  WorkloadProfile: [
    (s) => ((s.parameters as Record<string, Json>).lowerBoundPercentile = 0.99),
    (s) => (s.targetRef = { apiVersion: "v1", kind: "Pod", name: "x" }),
  ],
  ScalingDecision: [(s) => (s.direction = "Sideways"), (s) => (s.after = structuredClone(s.before ?? null))],
};

function apply(kind: KindName, spec: Record<string, Json>, m: Mutation): void {
  const all = paths(spec);
  if (m.op === "conflict") {
    const list = conflicts[kind] ?? [];
    try {
      list[m.which % list.length]?.(spec);
    } catch {
      // the field a conflict builds on was mutated away already
    }
    return;
  }
  if (!all.length) return;
  const path = all[m.at % all.length]!;
  switch (m.op) {
    case "wrongType":
      // A copy: fc.constant hands every case the same object, and setting it inside itself makes a cycle.
      return setAt(spec, path, () => structuredClone(m.value));
    case "negative":
      return setAt(spec, path, (old) => (typeof old === "string" ? `${m.n}` : m.n));
    case "huge":
      return setAt(spec, path, () => "x".repeat(m.size));
    case "unknownEnum":
      return setAt(spec, path, () => m.value);
    case "delete":
      return setAt(spec, path, () => undefined);
    case "null":
      return setAt(spec, path, () => null);
    case "unknownField":
      return setAt(spec, path, (old) =>
        old && typeof old === "object" && !Array.isArray(old) ? { ...old, [m.key]: 1 } : old,
      );
  }
}

export interface FuzzCase {
  kind: KindName;
  mutations: Mutation[];
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: Json };
}

/** A mutated example of the kind, named `name` (and put into `namespace` when the kind is namespaced). */
export function fuzzCase(kind: KindName, mutations: Mutation[], name: string, namespace: string): FuzzCase {
  const base = examples()[kind] as unknown as {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    spec: Record<string, Json>;
  };
  if (kind === "NodePool") base.spec.minNodes = 0; // keep an accepted pool from adding nodes to the cluster
  if (kind === "NodeDrain") base.spec.nodeNames = ["fuzz-no-such-node"];
  const spec = base.spec;
  for (const m of mutations) apply(kind, spec, m);
  const metadata = { name, ...(base.metadata.namespace ? { namespace } : {}) };
  return { kind, mutations, object: { apiVersion: base.apiVersion, kind: base.kind, metadata, spec } };
}

export const mutationsArb = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** `count` cases spread over the kinds, reproducible from `seed`. */
export function fuzzCases(count: number, seed: number, namespace: string, prefix: string): FuzzCase[] {
  const lists = fc.sample(mutationsArb, { numRuns: count, seed });
  return lists.map((ms, i) => fuzzCase(fuzzKinds[i % fuzzKinds.length]!, ms, `${prefix}-${i}`, namespace));
}
