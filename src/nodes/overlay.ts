// Our own last status write, until the cache catches up with it. A reconcile that runs right after a write would
// otherwise read the older status from the cache and act twice (start a second drain, cordon one node too many).
import type { KubeObject } from "../kube/resources.js";

export class WriteOverlay<T extends KubeObject> {
  private readonly written = new Map<string, { baseRv?: string; uid?: string; obj: T }>();

  /** The newer of the cached object and our last write based on the cached version. */
  current(name: string, cached: T | undefined): T | undefined {
    const w = this.written.get(name);
    if (!cached) {
      this.written.delete(name);
      return undefined;
    }
    if (w && w.uid === cached.metadata?.uid && w.baseRv === cached.metadata?.resourceVersion) return w.obj;
    this.written.delete(name);
    return cached;
  }

  /** Records `obj` as written on top of the cached version `baseRv`. */
  remember(name: string, baseRv: string | undefined, obj: T): void {
    this.written.set(name, { baseRv, uid: obj.metadata?.uid, obj });
  }
}
