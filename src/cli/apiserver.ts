// The one-shot commands' first contact with the apiserver: a bounded wait that says what it waits for. Without it
// the client's retries (meant for a controller that runs for days) keep a command silent for most of a minute
// when the apiserver is down or the kubeconfig points elsewhere.
import type { KubeConfig } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import { sleep } from "../kube/backoff.js";
import { formatDuration } from "./duration.js";

export interface WaitOptions {
  timeoutMs: number;
  /** Between attempts; default 2 s. */
  intervalMs?: number;
  /** A line for a person, once per failed attempt (stderr). */
  progress?: (line: string) => void;
  now?: () => number;
}

/**
 * Waits until the apiserver answers GET /version (any HTTP answer counts: a 401 or 403 is the next request's to
 * report). Throws after timeoutMs with the last error, the server and the flags that choose it.
 */
export async function waitForApiserver(client: KubeClient, kc: KubeConfig, o: WaitOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  const deadline = now() + o.timeoutMs;
  for (;;) {
    const remaining = deadline - now();
    let reason: string;
    try {
      await client.request({
        verb: "get",
        method: "GET",
        path: "/version",
        resource: "version",
        maxRetries: 0,
        timeoutMs: Math.max(1000, Math.min(10_000, remaining)),
      });
      return;
    } catch (err) {
      if (err instanceof ApiError && err.statusCode > 0) return;
      reason = (err as Error).message.replace(/^GET \/version: /, "");
    }
    const left = deadline - now();
    if (left <= 0)
      throw new Error(
        `the apiserver at ${server} did not answer within ${formatDuration(o.timeoutMs)} (${reason}); ` +
          "check --kubeconfig and --context, or wait longer with --apiserver-timeout",
      );
    o.progress?.(`waiting for the apiserver at ${server} (${reason}); giving up in ${Math.ceil(left / 1000)}s`);
    await sleep(Math.min(o.intervalMs ?? 2000, left));
  }
}
