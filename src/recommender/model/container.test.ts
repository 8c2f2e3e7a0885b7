import { describe, expect, it } from "vitest";
import { addMemorySample, memoryDecayedHistogram, newContainerState, recordOom } from "./container.js";

const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;
const GiB = 2 ** 30;

describe("memory peaks of a day", () => {
  it("keep the earlier time of two equal peaks, whatever order they arrive in", () => {
    const inOrder = newContainerState(86_400_000, t0);
    addMemorySample(inOrder, t0, 3 * GiB);
    addMemorySample(inOrder, t0 + 4 * minute, 3 * GiB);
    const reversed = newContainerState(86_400_000, t0);
    addMemorySample(reversed, t0 + 4 * minute, 3 * GiB);
    addMemorySample(reversed, t0, 3 * GiB);

    expect(reversed.days).toEqual(inOrder.days);
    expect(inOrder.days[0]!.memoryPeakAt).toBe(t0);
    expect(memoryDecayedHistogram(reversed)).toEqual(memoryDecayedHistogram(inOrder));
  });

  it("keep the later time when the later value is higher", () => {
    const s = newContainerState(86_400_000, t0);
    addMemorySample(s, t0 + 4 * minute, 3 * GiB);
    addMemorySample(s, t0, 2 * GiB);
    expect(s.days[0]).toMatchObject({ memoryPeak: 3 * GiB, memoryPeakAt: t0 + 4 * minute });
  });

  it("treat an OOM kill's bumped value like any sample, tie included", () => {
    const bump = { bumpBytes: 0, bumpRatio: 1 };
    const a = newContainerState(86_400_000, t0);
    addMemorySample(a, t0 + 4 * minute, GiB);
    recordOom(a, "kill-1", t0, GiB, bump);
    expect(a.days[0]).toMatchObject({ memoryPeak: GiB, memoryPeakAt: t0 });
  });
});
