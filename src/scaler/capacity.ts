// Whether a size fits any node the component may run on (Gardener #9934: an apiserver recommendation of 55 GB that
// no node can hold). Pure: the placement (types.ts) is what the reconciler read from the node and NodePool caches.
// Only requests count, as for the scheduler: the main container's CPU and memory request, plus the requests of the
// pod's other containers, against a node's allocatable. A size that no node holds is Blocked with reason ExceedsNodeCapacity; a NodePool whose node shape
// would hold it is named as a proposal.
import { formatCpu, formatMemory } from "./quantity.js";
import type { CapacityShortfall, NodeShape, Placement, Size } from "./types.js";

const fits = (need: CapacityShortfall["need"], n: { cpu: number; memory: number }, others = { cpu: 0, memory: 0 }) =>
  (need.cpu ?? 0) + others.cpu <= n.cpu + 1e-9 && (need.memory ?? 0) + others.memory <= n.memory + 1e-9;

/**
 * What keeps `size` off every node it may run on, or undefined when one holds it, or when nothing is known of the
 * nodes (no placement, or no node it may run on at all: then its pods wait for a NodePool to grow).
 */
export function capacityShortfall(size: Size, placement: Placement | undefined): CapacityShortfall | undefined {
  if (!placement || placement.nodes.length === 0) return undefined;
  const need = { cpu: size.cpuRequest, memory: size.memoryRequest };
  const others = placement.otherContainers;
  if (placement.nodes.some((n) => fits(need, n, others))) return undefined;
  // The largest node by the resource that does not fit (memory first: it is the one that kills).
  const maxCpu = Math.max(...placement.nodes.map((n) => n.cpu));
  const byMemory =
    (need.cpu ?? 0) + (others?.cpu ?? 0) <= maxCpu + 1e-9 ||
    (need.memory ?? 0) + (others?.memory ?? 0) > Math.max(...placement.nodes.map((n) => n.memory));
  const largestNode = placement.nodes.reduce((a, b) => larger(a, b, byMemory));
  const proposedNodePool = placement.pools
    .filter((p) => p.maxNodes > 0 && fits(need, p, others))
    .sort((a, b) => a.memory - b.memory || a.cpu - b.cpu || a.name.localeCompare(b.name))[0];
  return {
    need,
    ...(others && (others.cpu > 0 || others.memory > 0) ? { otherContainers: others } : {}),
    largestNode,
    ...(proposedNodePool
      ? {
          proposedNodePool: { name: proposedNodePool.name, cpu: proposedNodePool.cpu, memory: proposedNodePool.memory },
        }
      : {}),
  };
}

function larger(a: NodeShape, b: NodeShape, byMemory: boolean): NodeShape {
  const [ka, kb] = byMemory ? [a.memory, b.memory] : [a.cpu, b.cpu];
  if (kb !== ka) return kb > ka ? b : a;
  const [sa, sb] = byMemory ? [a.cpu, b.cpu] : [a.memory, b.memory];
  if (sb !== sa) return sb > sa ? b : a;
  return b.name < a.name ? b : a;
}

const describeShape = (n: { cpu: number; memory: number }) =>
  `cpu ${formatCpu(n.cpu)}, memory ${formatMemory(n.memory)}`;

/** The shortfall for humans: the need, the largest node, and the NodePool proposal or that there is none. */
export function describeShortfall(s: CapacityShortfall): string {
  const o = s.otherContainers;
  const sidecars = o && (o.cpu > 0 || o.memory > 0) ? `, and ${describeShape(o)} of its other containers` : "";
  const need = [
    s.need.cpu !== undefined ? `cpu ${formatCpu(s.need.cpu)}` : undefined,
    s.need.memory !== undefined ? `memory ${formatMemory(s.need.memory)}` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  const largest = s.largestNode
    ? `the largest node it may run on, ${s.largestNode.name}, has ${describeShape(s.largestNode)} allocatable`
    : "no node it may run on";
  const pool = s.proposedNodePool
    ? `proposal: scale up NodePool ${s.proposedNodePool.name}, whose nodes (${describeShape(s.proposedNodePool)}) would hold it`
    : "no NodePool it may run on has nodes that large";
  return `the requests (${need} per pod${sidecars}) exceed every node: ${largest}; ${pool}`;
}

/** How every shortfallKey begins: what tells an ExceedsNodeCapacity blocked-key from a MaxAllowed one. */
export const shortfallKeyPrefix = "capacity";

/** The condition a shortfall is: the same largest node and proposal from the same size is reported once. */
export function shortfallKey(from: Size, s: CapacityShortfall): string {
  const n = s.largestNode;
  return [
    shortfallKeyPrefix,
    from.cpuRequest ?? "-",
    from.memoryRequest ?? "-",
    n ? `${n.name}:${n.cpu}:${n.memory}` : "-",
    s.proposedNodePool?.name ?? "-",
  ].join("/");
}
