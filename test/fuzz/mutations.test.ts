// The generators themselves: every case at the bench's full count is plain JSON (no cycles, no parts shared between
// cases), and a seed gives the same cases again whatever was generated before it in the same process.
import { describe, expect, it, vi } from "vitest";
import type * as Mutations from "./mutations.js";

const seeds = [20250131, 20261201]; // test/fuzz's and bench/reliability's
const fresh = async (): Promise<typeof Mutations> => {
  vi.resetModules();
  return import("./mutations.js");
};

describe("fuzz case generation", () => {
  it.each(seeds)("makes 5,000 cases of plain JSON from seed %i in a fresh process", async (seed) => {
    const { fuzzCases, fuzzKinds } = await fresh();
    const cases = fuzzCases(5000, seed, "ns", "p");
    expect(cases).toHaveLength(5000);
    // JSON.stringify throws on a cycle.
    for (const c of cases) expect(JSON.parse(JSON.stringify(c.object))).toEqual(c.object);
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(fuzzKinds));
  });

  it("gives the same cases for a seed after other seeds were generated", async () => {
    const { fuzzCases } = await fresh();
    const first = JSON.stringify(fuzzCases(5000, seeds[1]!, "ns", "p"));
    fuzzCases(5000, seeds[0]!, "ns", "p");
    expect(JSON.stringify(fuzzCases(5000, seeds[1]!, "ns", "p"))).toBe(first);
  });
});
