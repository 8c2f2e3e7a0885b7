// NodePools: each pool's size against its bounds, what it wants to grow to, its pending pods and its scale-down
// candidates.
import type { ApiDeps, Condition } from "./deps.js";
import { sendJson, type ApiRoute } from "./http.js";

export interface NodePoolView {
  name: string;
  provider?: string;
  minNodes?: number;
  maxNodes?: number;
  nodes: number;
  readyNodes: number;
  desiredNodes: number;
  pendingPods: number;
  scaleDownCandidates: string[];
  activeDrain?: string;
  dryRun: boolean;
  lastScaleTime?: string;
  conditions: Condition[];
}

export function listNodePools(deps: ApiDeps): NodePoolView[] {
  return deps.caches.nodePools
    .list()
    .map((pool) => ({
      name: pool.metadata?.name ?? "",
      provider: pool.spec?.provider,
      minNodes: pool.spec?.minNodes,
      maxNodes: pool.spec?.maxNodes,
      nodes: pool.status?.nodes ?? 0,
      readyNodes: pool.status?.readyNodes ?? 0,
      desiredNodes: pool.status?.desiredNodes ?? pool.status?.nodes ?? 0,
      pendingPods: pool.status?.pendingPods ?? 0,
      scaleDownCandidates: pool.status?.scaleDownCandidates ?? [],
      activeDrain: pool.status?.activeDrain,
      dryRun: pool.spec?.dryRun === true,
      lastScaleTime: pool.status?.lastScaleTime,
      conditions: pool.status?.conditions ?? [],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const nodePoolsRoute: ApiRoute = {
  path: "/api/nodepools",
  handle: (deps, _request, res) => sendJson(res, 200, { nodePools: listNodePools(deps) }),
};
