// Where a control-plane component's pods may run: the allocatable of every meta-cluster node its pod template allows
// (nodeSelector, required node affinity, tolerations of NoSchedule and NoExecute taints), and the NodePools whose
// labels and taints allow it, with their node shape. The decision engine checks a new size against it
// (capacity.ts). Read from the shared Node and NodePool informers (a paginated LIST, then a watch), never listed
// per round; the answer per distinct scheduling spec is kept until a node or pool changes what it offers.
import { parseNodePool, parseQuantity } from "../api/index.js";
import type { Informer } from "../kube/informer.js";
import type { KubeObject } from "../kube/resources.js";
import {
  nodeAllocatable,
  podRequests,
  tolerates,
  type Container,
  type Node,
  type Taint,
  type Toleration,
} from "../nodes/model.js";
import type { NodeShape, Placement } from "./types.js";
import { nodePoolLabel } from "../api/labels.js";

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

/** The scheduling part of a pod template. */
export interface PodScheduling {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms?: Array<{ matchExpressions?: NodeSelectorRequirement[] }>;
      };
    };
  };
}

function matches(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return v !== undefined && values.includes(v);
    case "NotIn":
      return v === undefined || !values.includes(v);
    case "Exists":
      return v !== undefined;
    case "DoesNotExist":
      return v === undefined;
    case "Gt":
      return v !== undefined && Number(v) > Number(values[0]);
    case "Lt":
      return v !== undefined && Number(v) < Number(values[0]);
    default:
      return false;
  }
}

/** Whether a pod with this scheduling may be placed on a node with these labels and taints. */
export function allowsNode(
  s: PodScheduling | undefined,
  labels: Record<string, string>,
  taints: readonly Taint[],
): boolean {
  for (const [k, v] of Object.entries(s?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = s?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  // Terms are ORed, the expressions of one term ANDed; a term without expressions matches nothing (as the scheduler).
  if (
    terms?.length &&
    !terms.some((t) => !!t.matchExpressions?.length && t.matchExpressions.every((r) => matches(r, labels)))
  )
    return false;
  return taints.every((t) => t.effect === "PreferNoSchedule" || tolerates(s?.tolerations, t));
}

interface PoolShape extends NodeShape {
  maxNodes: number;
  labels: Record<string, string>;
  taints: Taint[];
}

function poolShape(raw: KubeObject): PoolShape | undefined {
  const parsed = parseNodePool(raw);
  if (!parsed.ok) return undefined;
  const { spec, metadata } = parsed.value;
  const name = metadata?.name ?? "";
  try {
    return {
      name,
      cpu: parseQuantity(spec.shape.cpu),
      memory: parseQuantity(spec.shape.memory),
      maxNodes: spec.maxNodes,
      labels: { ...spec.labels, [nodePoolLabel]: name },
      taints: spec.taints ?? [],
    };
  } catch {
    return undefined;
  }
}

/** What of a node the placement depends on: an update that changes none of it keeps the cached answers. */
const nodeFacts = (n: Node) =>
  JSON.stringify([
    n.metadata?.labels,
    n.spec?.taints,
    n.spec?.unschedulable,
    n.status?.allocatable ?? n.status?.capacity,
    !!n.metadata?.deletionTimestamp,
  ]);

export class PlacementIndex {
  private readonly cache = new Map<string, Placement>();

  constructor(
    private readonly nodes: Pick<Informer<Node>, "list" | "on">,
    private readonly pools?: Pick<Informer<KubeObject>, "list" | "on">,
  ) {
    const clear = () => this.cache.clear();
    nodes.on({
      add: clear,
      delete: clear,
      update: (n, old) => {
        if (nodeFacts(n) !== nodeFacts(old)) clear();
      },
    });
    pools?.on({
      add: clear,
      delete: clear,
      update: (p, old) => {
        if (p.metadata?.generation !== old.metadata?.generation) clear();
      },
    });
  }

  /** The nodes and pools a pod with this scheduling may use; undefined while no node is known (nothing to check). */
  for(scheduling: PodScheduling | undefined): Placement | undefined {
    const key = JSON.stringify([scheduling?.nodeSelector, scheduling?.tolerations, scheduling?.affinity?.nodeAffinity]);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const nodes: NodeShape[] = [];
    let known = 0;
    for (const n of this.nodes.list()) {
      known++;
      if (n.spec?.unschedulable || n.metadata?.deletionTimestamp) continue;
      if (!allowsNode(scheduling, n.metadata?.labels ?? {}, n.spec?.taints ?? [])) continue;
      const a = nodeAllocatable(n);
      nodes.push({ name: n.metadata?.name ?? "", cpu: a.cpu, memory: a.memory });
    }
    const pools = (this.pools?.list() ?? []).flatMap((raw) => {
      const p = poolShape(raw);
      return p && allowsNode(scheduling, p.labels, p.taints)
        ? [{ name: p.name, cpu: p.cpu, memory: p.memory, maxNodes: p.maxNodes }]
        : [];
    });
    const placement = { nodes, pools };
    if (known > 0) this.cache.set(key, placement);
    return known > 0 ? placement : undefined;
  }
}

/** The placement of a workload's pods: where its template may run, and what its containers but `main` request. */
export function placementOf(
  index: PlacementIndex,
  workload: { spec?: { template?: { spec?: PodScheduling & { containers?: Container[] } } } },
  main: string,
): Placement | undefined {
  const spec = workload.spec?.template?.spec;
  const placement = index.for(spec);
  if (!placement) return undefined;
  const others = (spec?.containers ?? []).filter((c) => c.name !== main);
  if (others.length === 0) return placement;
  const r = podRequests({ spec: { containers: others } });
  return { ...placement, otherContainers: { cpu: r.cpu, memory: r.memory } };
}
