import { describe, expect, it } from "vitest";
import { node, pod } from "./fixtures.js";
import {
  availableScaleDownStrategies,
  chooseScaleDownCandidates,
  indexPodsByNode,
  scaleDownStrategy,
  validateScaleDownStrategies,
  type ScaleDownInput,
} from "./scaledown.js";

const now = Date.parse("2025-01-01T01:00:00Z");

function input(
  nodes = [node("a"), node("b"), node("c")],
  pods = [pod("x", { node: "a", cpu: "1" })],
  extra: Partial<ScaleDownInput> = {},
): ScaleDownInput {
  return {
    poolNodes: nodes,
    allNodes: nodes,
    podsByNode: indexPodsByNode(pods),
    strategy: "empty-first",
    utilizationThreshold: 0.5,
    unneededTimeMs: 600_000,
    unneededSince: new Map(),
    maxCandidates: 10,
    now,
    ...extra,
  };
}

describe("scale-down strategies", () => {
  it("are a registry that validates names", () => {
    expect(availableScaleDownStrategies()).toEqual(["empty-first", "label-selector", "oldest-first", "underutilized"]);
    expect(() => scaleDownStrategy("random")).toThrow(/unknown scale-down strategy "random"; available: empty-first/);
    expect(() => validateScaleDownStrategies()).not.toThrow();
  });

  it("empty-first takes empty nodes at once", () => {
    const r = chooseScaleDownCandidates(input());
    expect(r.candidates.map((c) => c.name)).toEqual(["b", "c"]);
  });

  it("keeps a node when its pods would fit nowhere else", () => {
    const nodes = [node("a"), node("b")];
    const pods = [pod("x", { node: "a", cpu: "3" }), pod("y", { node: "b", cpu: "3" })];
    const since = new Map([
      ["a", now - 700_000],
      ["b", now - 700_000],
    ]);
    const r = chooseScaleDownCandidates(
      input(nodes, pods, { strategy: "underutilized", utilizationThreshold: 0.9, unneededSince: since }),
    );
    expect(r.candidates).toEqual([]);
    expect(r.rejected.map((x) => x.name).sort()).toEqual(["a", "b"]);
    expect(r.rejected[0]?.reason).toMatch(/fit on no other node/);
  });

  it("underutilized waits for unneededTime (cluster-autoscaler's 0.5 and 10m)", () => {
    const pods = [
      pod("x", { node: "a", cpu: "1" }),
      pod("y", { node: "b", cpu: "3" }),
      pod("z", { node: "c", cpu: "3" }),
    ];
    const fresh = chooseScaleDownCandidates(
      input(undefined, pods, { strategy: "underutilized", unneededSince: new Map([["a", now - 60_000]]) }),
    );
    expect(fresh.candidates).toEqual([]);
    expect(fresh.underThreshold).toEqual(["a"]);
    const old = chooseScaleDownCandidates(
      input(undefined, pods, { strategy: "underutilized", unneededSince: new Map([["a", now - 600_000]]) }),
    );
    expect(old.candidates.map((c) => c.name)).toEqual(["a"]);
    expect(old.candidates[0]?.pods).toEqual(["default/x"]);
  });

  it("oldest-first orders unneeded nodes by age; label-selector takes what matches", () => {
    const nodes = [
      node("a", { created: "2025-01-01T00:30:00Z" }),
      node("b", { created: "2024-01-01T00:00:00Z" }),
      node("c", { labels: { retire: "yes" } }),
    ];
    expect(
      chooseScaleDownCandidates(input(nodes, [], { strategy: "oldest-first" })).candidates.map((c) => c.name),
    ).toEqual(["b", "c", "a"]);
    const sel = chooseScaleDownCandidates(
      input(nodes, [pod("x", { node: "c", cpu: "3" })], {
        strategy: "label-selector",
        selector: { matchLabels: { retire: "yes" } },
      }),
    );
    expect(sel.candidates.map((c) => c.name)).toEqual(["c"]);
  });

  it.each([
    [
      "node paused",
      [node("b")].map((n) => ({ ...n, metadata: { ...n.metadata, annotations: { "metapilot.io/paused": "true" } } })),
      [],
      /metapilot.io\/paused/,
    ],
    [
      "pod do-not-disrupt",
      [node("b")],
      [pod("x", { node: "b", annotations: { "metapilot.io/do-not-disrupt": "true" } })],
      /do-not-disrupt/,
    ],
    [
      "pod karpenter do-not-disrupt",
      [node("b")],
      [pod("x", { node: "b", annotations: { "karpenter.sh/do-not-disrupt": "true" } })],
      /karpenter/,
    ],
    [
      "pod safe-to-evict false",
      [node("b")],
      [pod("x", { node: "b", annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" } })],
      /safe-to-evict/,
    ],
    ["pod without controller", [node("b")], [pod("x", { node: "b", owner: null })], /no controller/],
    ["pod with emptyDir", [node("b")], [pod("x", { node: "b", emptyDir: true })], /local storage/],
  ])("skips a node: %s", (_name, poolNodes, pods, reason) => {
    const all = [...poolNodes, node("spare")];
    const r = chooseScaleDownCandidates({ ...input(all, pods), poolNodes });
    expect(r.candidates).toEqual([]);
    expect(r.rejected[0]?.reason).toMatch(reason);
  });

  it("ignores DaemonSet pods when deciding emptiness and respects maxCandidates", () => {
    const pods = [pod("x", { node: "a", cpu: "1" }), pod("ds", { node: "b", owner: "DaemonSet" })];
    const r = chooseScaleDownCandidates(input(undefined, pods, { maxCandidates: 1 }));
    expect(r.candidates.map((c) => c.name)).toEqual(["b"]);
  });

  it("does not move two candidates' pods onto each other", () => {
    const nodes = [node("a"), node("b"), node("c")];
    const pods = [
      pod("x", { node: "a", cpu: "1" }),
      pod("y", { node: "b", cpu: "1" }),
      pod("z", { node: "c", cpu: "3500m" }),
    ];
    const since = new Map(nodes.map((n) => [n.metadata?.name ?? "", now - 700_000]));
    const r = chooseScaleDownCandidates(input(nodes, pods, { strategy: "underutilized", unneededSince: since }));
    // a's pod goes to b; b's pod then has nowhere: only a is removed.
    expect(r.candidates.map((c) => c.name)).toEqual(["a"]);
  });
});
