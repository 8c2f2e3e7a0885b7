import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import type { Node } from "../nodes/model.js";
import { allowsNode, PlacementIndex, placementOf } from "./placement.js";
import { MiB } from "./quantity.js";

const GiB = 1024 * MiB;

describe("allowsNode", () => {
  const real = { key: "metapilot.io/node-kind", value: "real", effect: "NoSchedule" };
  const labels = { "metapilot.io/node-kind": "real", zone: "a", cores: "16" };
  it.each([
    ["no scheduling at all, an untainted node", undefined, {}, [], true],
    ["a taint not tolerated", undefined, labels, [real], false],
    ["a PreferNoSchedule taint", undefined, labels, [{ ...real, effect: "PreferNoSchedule" }], true],
    [
      "the taint tolerated",
      { tolerations: [{ key: "metapilot.io/node-kind", operator: "Exists" }] },
      labels,
      [real],
      true,
    ],
    ["nodeSelector matched", { nodeSelector: { zone: "a" } }, labels, [], true],
    ["nodeSelector not matched", { nodeSelector: { zone: "b" } }, labels, [], false],
    ["affinity In", aff([{ key: "zone", operator: "In", values: ["a", "b"] }]), labels, [], true],
    ["affinity NotIn", aff([{ key: "zone", operator: "NotIn", values: ["a"] }]), labels, [], false],
    ["affinity DoesNotExist", aff([{ key: "gpu", operator: "DoesNotExist" }]), labels, [], true],
    ["affinity Gt", aff([{ key: "cores", operator: "Gt", values: ["8"] }]), labels, [], true],
    ["affinity Lt", aff([{ key: "cores", operator: "Lt", values: ["8"] }]), labels, [], false],
    [
      "one of two terms",
      aff([{ key: "zone", operator: "In", values: ["z"] }], [{ key: "zone", operator: "Exists" }]),
      labels,
      [],
      true,
    ],
  ] as const)("%s: %s", (_name, scheduling, nodeLabels, taints, allowed) => {
    expect(allowsNode(scheduling as never, nodeLabels, taints as never)).toBe(allowed);
  });
});

function aff(...terms: Array<Array<{ key: string; operator: string; values?: string[] }>>) {
  return {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((t) => ({ matchExpressions: t })),
        },
      },
    },
  };
}

/** The part of an informer the index reads, with its handlers kept so a test can send events. */
class FakeInformer<T extends KubeObject> {
  handlers: Array<{ add?: (o: T) => void; update?: (o: T, old: T) => void; delete?: (o: T) => void }> = [];
  constructor(public items: T[]) {}
  list() {
    return [...this.items];
  }
  on(h: FakeInformer<T>["handlers"][number]) {
    this.handlers.push(h);
    return this as never;
  }
  update(i: number, next: T) {
    const old = this.items[i] as T;
    this.items[i] = next;
    for (const h of this.handlers) h.update?.(next, old);
  }
}

const node = (name: string, cpu: string, memory: string, over: Partial<Node> = {}): Node => ({
  metadata: { name, labels: { pool: "a" } },
  status: { allocatable: { cpu, memory, pods: "110" } },
  ...over,
});

const pool = (name: string, cpu: string, memory: string, taints?: unknown[]): KubeObject =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "NodePool",
    metadata: { name, generation: 1 },
    spec: { provider: "kwok", maxNodes: 3, shape: { cpu, memory }, ...(taints ? { taints } : {}) },
  }) as KubeObject;

describe("PlacementIndex", () => {
  it("gives the allocatable of the nodes a pod may use and the pools it may use, leaving out cordoned nodes", () => {
    const nodes = new FakeInformer<Node>([
      node("n1", "4", "16Gi"),
      node("n2", "8", "32Gi", { spec: { unschedulable: true } }),
      node("n3", "8", "32Gi", { spec: { taints: [{ key: "dedicated", value: "etcd", effect: "NoSchedule" }] } }),
    ]);
    const pools = new FakeInformer<KubeObject>([
      pool("big", "16", "64Gi"),
      pool("etcd", "32", "128Gi", [{ key: "dedicated", value: "etcd", effect: "NoSchedule" }]),
    ]);
    const index = new PlacementIndex(nodes, pools);
    expect(index.for(undefined)).toEqual({
      nodes: [{ name: "n1", cpu: 4, memory: 16 * GiB }],
      pools: [{ name: "big", cpu: 16, memory: 64 * GiB, maxNodes: 3 }],
    });
    const etcd = { tolerations: [{ key: "dedicated", operator: "Equal", value: "etcd", effect: "NoSchedule" }] };
    expect(index.for(etcd)?.nodes.map((n) => n.name)).toEqual(["n1", "n3"]);
    expect(index.for(etcd)?.pools.map((p) => p.name)).toEqual(["big", "etcd"]);
  });

  it("keeps its answer until a node changes what it offers, and gives none while no node is known", () => {
    const nodes = new FakeInformer<Node>([node("n1", "4", "16Gi")]);
    const index = new PlacementIndex(nodes);
    const first = index.for(undefined);
    // A heartbeat (conditions only) keeps the answer; a new allocatable replaces it.
    nodes.update(0, { ...node("n1", "4", "16Gi"), status: { ...node("n1", "4", "16Gi").status, conditions: [] } });
    expect(index.for(undefined)).toBe(first);
    nodes.update(0, node("n1", "8", "64Gi"));
    expect(index.for(undefined)?.nodes).toEqual([{ name: "n1", cpu: 8, memory: 64 * GiB }]);
    expect(new PlacementIndex(new FakeInformer<Node>([])).for(undefined)).toBeUndefined();
  });
});

describe("placementOf", () => {
  it("adds what the template's other containers request, and nothing for a single container", () => {
    const index = new PlacementIndex(new FakeInformer<Node>([node("n1", "4", "16Gi")]));
    const container = (name: string, cpu: string, memory: string) => ({
      name,
      resources: { requests: { cpu, memory } },
    });
    const workload = (...containers: ReturnType<typeof container>[]) => ({
      spec: { template: { spec: { containers } } },
    });
    expect(placementOf(index, workload(container("main", "1", "1Gi")), "main")?.otherContainers).toBeUndefined();
    const both = placementOf(
      index,
      workload(container("main", "1", "1Gi"), container("proxy", "250m", "256Mi"), container("log", "250m", "256Mi")),
      "main",
    );
    expect(both?.otherContainers).toEqual({ cpu: 0.5, memory: 512 * MiB });
    expect(both?.nodes).toEqual([{ name: "n1", cpu: 4, memory: 16 * GiB }]);
  });
});
