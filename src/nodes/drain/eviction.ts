// Eviction strategies, a registry by name. `eviction` asks the Eviction API, which refuses (429) when a
// PodDisruptionBudget allows no disruption; the drain retries it later with backoff. `delete` deletes the pod
// with a grace period and ignores PDBs; it runs only when a NodeDrain names it explicitly.
import type { KubeClient } from "../../kube/client.js";
import { ApiError } from "../../kube/errors.js";
import { objectPath, Resources } from "../../kube/resources.js";
import type { Pod } from "../model.js";

export type EvictionOutcome =
  { result: "accepted" } | { result: "gone" } | { result: "blocked"; message: string; retryAfterSeconds?: number };

export interface EvictOptions {
  /** Upper bound on the pod's termination grace period. */
  maxGracePeriodSeconds?: number;
  signal?: AbortSignal;
}

export interface EvictionStrategy {
  readonly name: string;
  readonly honoursPDBs: boolean;
  evict(client: KubeClient, pod: Pod, opts: EvictOptions): Promise<EvictionOutcome>;
}

function gracePeriod(pod: Pod, max: number | undefined): number | undefined {
  if (max === undefined) return undefined;
  return Math.min(pod.spec?.terminationGracePeriodSeconds ?? 30, max);
}

interface StatusCause {
  reason?: string;
  message?: string;
}

/** The PDB name from a 429's causes ("The disruption budget X needs ..."), when the apiserver says. */
export function blockingMessage(err: ApiError): string {
  const body = err.body as { message?: string; details?: { causes?: StatusCause[] } } | undefined;
  const causes = body?.details?.causes?.filter((c) => c.reason === "DisruptionBudget").map((c) => c.message);
  return causes?.length ? causes.join("; ") : (body?.message ?? err.message);
}

const registry = new Map<string, EvictionStrategy>();

export function registerEvictionStrategy(s: EvictionStrategy): void {
  if (registry.has(s.name)) throw new Error(`eviction strategy ${s.name} registered twice`);
  registry.set(s.name, s);
}

export function availableEvictionStrategies(): string[] {
  return [...registry.keys()].sort();
}

export function evictionStrategy(name: string): EvictionStrategy {
  const s = registry.get(name);
  if (!s)
    throw new Error(`unknown eviction strategy "${name}"; available: ${availableEvictionStrategies().join(", ")}`);
  return s;
}

registerEvictionStrategy({
  name: "eviction",
  honoursPDBs: true,
  async evict(client, pod, opts) {
    const name = pod.metadata?.name ?? "";
    const namespace = pod.metadata?.namespace ?? "";
    const grace = gracePeriod(pod, opts.maxGracePeriodSeconds);
    try {
      await client.request({
        verb: "create",
        method: "POST",
        path: objectPath(Resources.Pod, name, namespace, "eviction"),
        resource: "pods/eviction",
        body: {
          apiVersion: "policy/v1",
          kind: "Eviction",
          metadata: { name, namespace },
          deleteOptions: {
            ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
            ...(pod.metadata?.uid ? { preconditions: { uid: pod.metadata.uid } } : {}),
          },
        },
        // A 429 here is a PDB saying no, not apiserver overload: the drain decides when to ask again, so the
        // client must not sit in its own retry loop. 5xx fail the reconcile, which backs off.
        maxRetries: 0,
        signal: opts.signal,
      });
      return { result: "accepted" };
    } catch (err) {
      if (err instanceof ApiError && err.isTooManyRequests) {
        return { result: "blocked", message: blockingMessage(err), retryAfterSeconds: err.retryAfterSeconds };
      }
      // 404: already gone; 409: the uid precondition failed, so this pod is gone and a namesake replaced it.
      if (err instanceof ApiError && (err.isNotFound || err.isConflict)) return { result: "gone" };
      throw err;
    }
  },
});

registerEvictionStrategy({
  name: "delete",
  honoursPDBs: false,
  async evict(client, pod, opts) {
    const grace = gracePeriod(pod, opts.maxGracePeriodSeconds);
    try {
      await client.request({
        verb: "delete",
        method: "DELETE",
        path: objectPath(Resources.Pod, pod.metadata?.name ?? "", pod.metadata?.namespace),
        resource: "pods",
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
          ...(pod.metadata?.uid ? { preconditions: { uid: pod.metadata.uid } } : {}),
        },
        signal: opts.signal,
      });
      return { result: "accepted" };
    } catch (err) {
      if (err instanceof ApiError && (err.isNotFound || err.isConflict)) return { result: "gone" };
      throw err;
    }
  },
});

/** Fails at start-up when the API offers a strategy that has no implementation. */
export function validateEvictionStrategies(names: readonly string[] = ["eviction", "delete"]): void {
  for (const n of names) evictionStrategy(n);
}
