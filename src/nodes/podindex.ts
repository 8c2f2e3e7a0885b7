// Pods by node, kept current from the pod informer's events, so "what runs on node X" costs a map lookup instead
// of a scan of every pod in the cluster.
import type { Informer } from "../kube/informer.js";
import { podKey, type Pod } from "./model.js";

export class PodIndex {
  private readonly byNode = new Map<string, Map<string, Pod>>();
  private readonly nodeOf = new Map<string, string>();
  private readonly pending = new Map<string, Pod>();

  constructor(informer: Informer<Pod>) {
    informer.on({ add: (p) => this.put(p), update: (p) => this.put(p), delete: (p) => this.remove(p) });
  }

  private put(pod: Pod): void {
    const key = podKey(pod);
    this.remove(pod);
    const node = pod.spec?.nodeName;
    if (!node) {
      this.pending.set(key, pod);
      return;
    }
    let m = this.byNode.get(node);
    if (!m) this.byNode.set(node, (m = new Map()));
    m.set(key, pod);
    this.nodeOf.set(key, node);
  }

  private remove(pod: Pod): void {
    const key = podKey(pod);
    this.pending.delete(key);
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const m = this.byNode.get(node);
    m?.delete(key);
    if (m && m.size === 0) this.byNode.delete(node);
  }

  onNode(node: string): Pod[] {
    return [...(this.byNode.get(node)?.values() ?? [])];
  }

  /** Pods not bound to a node yet. */
  unbound(): Pod[] {
    return [...this.pending.values()];
  }

  /** A read-only view for the pure planners. */
  snapshot(nodes: Iterable<string>): Map<string, Pod[]> {
    const out = new Map<string, Pod[]>();
    for (const n of nodes) out.set(n, this.onNode(n));
    return out;
  }
}
