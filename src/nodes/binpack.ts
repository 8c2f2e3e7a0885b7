// Bin-packing, as cluster-autoscaler's binpacking estimator does it: first-fit decreasing over the pods' requests.
// Used two ways: how many new nodes of a shape Pending pods need (scale-up), and whether the pods of nodes to be
// removed fit on the nodes that stay (scale-down simulation).
import { fitsIn, sub, type Pod, type Resources, type Taint, schedulableOn } from "./model.js";

export interface Bin {
  name: string;
  free: Resources;
  labels: Record<string, string>;
  taints: readonly Taint[];
}

export interface PackItem {
  pod: Pod;
  requests: Resources;
}

/** Largest first, by the pod's share of `scale` in its dominant dimension; ties broken by name for determinism. */
export function decreasing(items: readonly PackItem[], scale: Resources): PackItem[] {
  const weight = (r: Resources) =>
    Math.max(
      r.cpu / (scale.cpu || 1),
      r.memory / (scale.memory || 1),
      r.gpu / (scale.gpu || 1),
      r.pods / (scale.pods || 1),
    );
  return [...items]
    .map((i) => ({ i, w: weight(i.requests) }))
    .sort((a, b) => b.w - a.w || (a.i.pod.metadata?.name ?? "").localeCompare(b.i.pod.metadata?.name ?? ""))
    .map((x) => x.i);
}

export interface EstimateResult {
  /** New nodes needed, after filling `existing` bins. */
  newNodes: number;
  /** Pods placed on existing (in-flight) bins. */
  placedOnExisting: number;
  /** Pods placed on new nodes. */
  placedOnNew: number;
  /** Pods that do not fit even an empty node of the shape, or are beyond the new-node limit. */
  unplaced: Pod[];
}

/**
 * First-fit decreasing: each pod goes into the first bin with room, in-flight bins first, then new nodes of
 * `shape`; at most `maxNewNodes` new nodes are opened.
 */
export function estimateNewNodes(
  items: readonly PackItem[],
  shape: Resources,
  template: { labels: Record<string, string>; taints: readonly Taint[] },
  existing: readonly Bin[],
  maxNewNodes: number,
): EstimateResult {
  const bins = existing.map((b) => ({ ...b, free: { ...b.free } }));
  const existingCount = bins.length;
  let newNodes = 0;
  let placedOnExisting = 0;
  let placedOnNew = 0;
  const unplaced: Pod[] = [];
  for (const item of decreasing(items, shape)) {
    const index = bins.findIndex((b) => schedulableOn(item.pod, b.labels, b.taints) && fitsIn(item.requests, b.free));
    const bin = bins[index];
    if (bin) {
      bin.free = sub(bin.free, item.requests);
      if (index < existingCount) placedOnExisting++;
      else placedOnNew++;
      continue;
    }
    if (
      newNodes < maxNewNodes &&
      schedulableOn(item.pod, template.labels, template.taints) &&
      fitsIn(item.requests, shape)
    ) {
      newNodes++;
      bins.push({ name: `new-${newNodes}`, free: sub(shape, item.requests), ...template });
      placedOnNew++;
      continue;
    }
    unplaced.push(item.pod);
  }
  return { newNodes, placedOnExisting, placedOnNew, unplaced };
}

/**
 * Places every item on `bins` (first fit, largest first), mutating their free capacity. Returns the pods that
 * did not fit; an empty list means the move is possible. On failure the bins are left unchanged.
 */
export function placeAll(items: readonly PackItem[], bins: Bin[], scale: Resources): Pod[] {
  const taken: Array<{ bin: Bin; req: Resources }> = [];
  const failed: Pod[] = [];
  for (const item of decreasing(items, scale)) {
    const bin = bins.find((b) => fitsIn(item.requests, b.free) && schedulableOn(item.pod, b.labels, b.taints));
    if (!bin) {
      failed.push(item.pod);
      continue;
    }
    bin.free = sub(bin.free, item.requests);
    taken.push({ bin, req: item.requests });
  }
  if (failed.length) {
    for (const t of taken) {
      t.bin.free = {
        cpu: t.bin.free.cpu + t.req.cpu,
        memory: t.bin.free.memory + t.req.memory,
        pods: t.bin.free.pods + t.req.pods,
        gpu: t.bin.free.gpu + t.req.gpu,
      };
    }
  }
  return failed;
}
