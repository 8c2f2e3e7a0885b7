// Our own last status write, until the cache catches up with it. A reconcile that runs right after a write would
// otherwise read the older status from the cache and act twice (start a second drain, cordon one node too many).
// The drain also remembers here the NodeDrains that the catch-up of a leadership term listed (observeListed).
//
// The overlay holds the apiserver's answer to the write, the whole object: its spec is as new as the write, so a
// spec change that landed while the reconcile ran is in it too. It stands only while the cache is older than that
// answer (resourceVersions are ordered, KEP-5504). It once held the object the reconcile had read with only the
// status replaced, keyed to the cache's version after the write: when the cache had by then received both a spec
// change and the write itself, the overlay handed every later reconcile the old spec, until the next change of
// the object, and a NodePool kept a template label that had been removed.
import { compareResourceVersions, type KubeObject } from "../kube/resources.js";

export class WriteOverlay<T extends KubeObject> {
  private readonly written = new Map<string, T>();

  /** The newer of the cached object and our last write. */
  current(name: string, cached: T | undefined): T | undefined {
    const ours = this.written.get(name);
    if (!ours) return cached;
    const order = compareResourceVersions(cached?.metadata?.resourceVersion, ours.metadata?.resourceVersion);
    // A cache that is gone, holds another object of the name, has caught up or cannot be ordered is trusted.
    if (cached && cached.metadata?.uid === ours.metadata?.uid && order !== undefined && order < 0) return ours;
    this.written.delete(name);
    return cached;
  }

  /** Records the apiserver's answer to our write. */
  remember(name: string, written: T): void {
    this.written.set(name, written);
  }
}
