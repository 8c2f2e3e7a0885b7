import { describe, expect, it } from "vitest";
import { TokenBucket } from "./rate-limiter.js";

describe("TokenBucket", () => {
  it("lets a burst through, then paces at qps", async () => {
    let t = 0;
    const slept: number[] = [];
    const bucket = new TokenBucket(
      10,
      3,
      () => t,
      async (ms) => {
        slept.push(ms);
        t += ms;
      },
    );
    for (let i = 0; i < 3; i++) expect(await bucket.acquire()).toBe(0);
    await bucket.acquire();
    await bucket.acquire();
    expect(slept.map((ms) => Math.round(ms))).toEqual([100, 100]);
    expect(t).toBeCloseTo(200);
  });

  it("refills over time up to burst only", async () => {
    let t = 0;
    const bucket = new TokenBucket(
      1,
      2,
      () => t,
      async (ms) => void (t += ms),
    );
    await bucket.acquire();
    await bucket.acquire();
    t += 60_000; // a long idle period saves up at most `burst` tokens
    const before = t;
    await bucket.acquire();
    await bucket.acquire();
    expect(t).toBe(before);
    await bucket.acquire();
    expect(t - before).toBeCloseTo(1000);
  });

  it("rejects nonsense limits", () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/invalid rate limit/);
  });
});
