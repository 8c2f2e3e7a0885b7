import { describe, expect, it } from "vitest";
import { BoundedSet } from "./bounded-set.js";

describe("BoundedSet", () => {
  it("forgets the oldest entries beyond its limit", () => {
    const set = new BoundedSet(2);
    for (const v of ["a", "b", "c"]) set.add(v);
    expect(["a", "b", "c"].map((v) => set.has(v))).toEqual([false, true, true]);
  });
});
