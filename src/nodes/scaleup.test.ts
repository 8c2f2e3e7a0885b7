import { describe, expect, it } from "vitest";
import type { NodePoolSpec } from "../api/index.js";
import { parseNodePool } from "../api/index.js";
import { node, pod } from "./fixtures.js";
import { planScaleUp, poolTemplate } from "./scaleup.js";
import { nodePoolLabel } from "../api/labels.js";

function spec(extra: Record<string, unknown> = {}): NodePoolSpec {
  const r = parseNodePool({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "NodePool",
    metadata: { name: "p" },
    spec: { provider: "kwok", maxNodes: 40, shape: { cpu: "4", memory: "8Gi" }, labels: { pool: "p" }, ...extra },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value.spec;
}

const pending = (n: number, cpu = "1", memory = "1Gi", sel: Record<string, string> = { pool: "p" }) =>
  Array.from({ length: n }, (_, i) => pod(`p${i}`, { cpu, memory, pending: true, nodeSelector: sel }));

const base = {
  poolName: "p",
  podsByNode: new Map(),
  now: Date.parse("2025-01-01T01:00:00Z"),
  provisioningGraceMs: 60_000,
};

describe("planScaleUp (first-fit decreasing)", () => {
  it.each([
    { pods: 50, cpu: "1", memory: "1Gi", want: 13 }, // 4 per node by CPU
    { pods: 50, cpu: "500m", memory: "3Gi", want: 25 }, // 2 per node by memory
    { pods: 1, cpu: "4", memory: "8Gi", want: 1 },
    { pods: 0, cpu: "1", memory: "1Gi", want: 0 },
  ])("$pods pods of $cpu/$memory need $want nodes", ({ pods, cpu, memory, want }) => {
    const plan = planScaleUp({
      ...base,
      spec: spec(),
      pendingPods: pending(pods, cpu, memory),
      nodes: [],
      targetSize: 0,
    });
    expect(plan.newNodes).toBe(want);
    expect(plan.desired).toBe(want);
  });

  it("mixes sizes with first-fit decreasing", () => {
    const pods = [
      ...pending(3, "3", "1Gi"),
      ...pending(3, "1", "1Gi").map((p, i) => ({ ...p, metadata: { ...p.metadata, name: `s${i}` } })),
    ];
    expect(planScaleUp({ ...base, spec: spec(), pendingPods: pods, nodes: [], targetSize: 0 }).newNodes).toBe(3);
  });

  it("stops at maxNodes and reports the rest as unplaced", () => {
    const plan = planScaleUp({
      ...base,
      spec: spec({ maxNodes: 5 }),
      pendingPods: pending(50),
      nodes: [],
      targetSize: 2,
    });
    expect(plan.desired).toBe(5);
    expect(plan.unplaced).toBe(50 - 5 * 4);
  });

  it("ignores pods the template does not fit: wrong selector, too big, untolerated taint", () => {
    const pods = [...pending(2, "1", "1Gi", { pool: "other" }), ...pending(2, "8", "1Gi")];
    expect(planScaleUp({ ...base, spec: spec(), pendingPods: pods, nodes: [], targetSize: 0 }).matchingPods).toBe(0);
    const tainted = spec({ taints: [{ key: "dedicated", value: "cp", effect: "NoSchedule" }] });
    expect(
      planScaleUp({ ...base, spec: tainted, pendingPods: pending(4), nodes: [], targetSize: 0 }).matchingPods,
    ).toBe(0);
    const tolerating = pending(4).map((p) => ({
      ...p,
      spec: { ...p.spec, tolerations: [{ key: "dedicated", operator: "Equal", value: "cp", effect: "NoSchedule" }] },
    }));
    expect(planScaleUp({ ...base, spec: tainted, pendingPods: tolerating, nodes: [], targetSize: 0 }).newNodes).toBe(1);
  });

  it("never counts a node twice: unregistered and young nodes take pods first", () => {
    // 13 nodes were asked for; none registered yet.
    expect(planScaleUp({ ...base, spec: spec(), pendingPods: pending(50), nodes: [], targetSize: 13 }).newNodes).toBe(
      0,
    );
    // 13 registered, young, empty: the same.
    const t = poolTemplate("p", spec());
    const young = Array.from({ length: 13 }, (_, i) =>
      node(`n${i}`, { labels: t.labels, created: "2025-01-01T00:59:50Z" }),
    );
    expect(
      planScaleUp({ ...base, spec: spec(), pendingPods: pending(50), nodes: young, targetSize: 13 }).newNodes,
    ).toBe(0);
    // An arriving node's not-ready taint does not keep pods off it in the estimate.
    const notReady = young.map((n) => ({
      ...n,
      spec: { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] },
    }));
    expect(
      planScaleUp({ ...base, spec: spec(), pendingPods: pending(50), nodes: notReady, targetSize: 13 }).newNodes,
    ).toBe(0);
    // Old Ready nodes are capacity the scheduler already turned down: they do not absorb anything.
    const old = young.map((n) => node(n.metadata?.name ?? "", { labels: t.labels }));
    expect(planScaleUp({ ...base, spec: spec(), pendingPods: pending(8), nodes: old, targetSize: 13 }).newNodes).toBe(
      2,
    );
  });

  it("puts shape labels and the pool label on the template", () => {
    const t = poolTemplate("p", spec({ shape: { cpu: "4", memory: "8Gi", gpu: 1, architecture: "arm64" } }));
    expect(t.labels).toMatchObject({
      [nodePoolLabel]: "p",
      "metapilot.io/cpu": "4",
      "metapilot.io/memory": "8Gi",
      "metapilot.io/gpu": "1",
      "kubernetes.io/arch": "arm64",
      pool: "p",
    });
    expect(t.shape.gpu).toBe(1);
  });
});
