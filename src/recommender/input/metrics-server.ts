// metrics.k8s.io (metrics-server) as a fallback for live samples: one current sample per container, no
// history. When the API is not served (metrics-server not installed: 404, or its APIService unavailable: 503)
// the source says so with MetricsServerUnavailable instead of returning nothing.
import { z } from "zod";
import { parseQuantity } from "../../api/index.js";
import type { KubeClient } from "../../kube/client.js";
import { ApiError } from "../../kube/errors.js";
import type { ContainerSeries, UsageBatch, UsageSource } from "./usage.js";

const podMetricsList = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string(), namespace: z.string().optional() }),
      timestamp: z.string(),
      window: z.string(),
      containers: z.array(z.object({ name: z.string(), usage: z.object({ cpu: z.string(), memory: z.string() }) })),
    }),
  ),
});

export class MetricsServerUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsServerUnavailable";
  }
}

function windowSeconds(w: string): number {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(w);
  if (m) return Number(m[1]);
  const mm = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(w);
  if (mm && (mm[1] || mm[2])) return Number(mm[1] ?? 0) * 60 + Number(mm[2] ?? 0);
  throw new Error(`metrics-server window "${w}" is not a duration`);
}

export class MetricsServerSource implements UsageSource {
  readonly name = "metrics-server";
  readonly history = false;

  constructor(private readonly client: KubeClient) {}

  async fetch(namespace: string, _startMs: number, endMs: number, stepSeconds: number, signal?: AbortSignal) {
    let body: unknown;
    try {
      body = await this.client.request<unknown>({
        verb: "list",
        method: "GET",
        path: `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`,
        resource: "pods.metrics.k8s.io",
        signal,
        maxRetries: 1,
      });
    } catch (err) {
      if (err instanceof ApiError && (err.isNotFound || err.statusCode === 503)) {
        throw new MetricsServerUnavailable(
          `metrics.k8s.io is not served (${err.statusCode}): is metrics-server installed?`,
        );
      }
      throw err;
    }
    const parsed = podMetricsList.safeParse(body);
    if (!parsed.success) {
      throw new Error(`malformed metrics.k8s.io answer: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    const cpu: ContainerSeries[] = [];
    const memory: ContainerSeries[] = [];
    let window = stepSeconds;
    for (const pod of parsed.data.items) {
      const at = Date.parse(pod.timestamp);
      if (!Number.isFinite(at)) throw new Error(`malformed metrics.k8s.io timestamp ${pod.timestamp}`);
      window = windowSeconds(pod.window);
      for (const c of pod.containers) {
        cpu.push({ pod: pod.metadata.name, container: c.name, points: [[at, parseQuantity(c.usage.cpu)]] });
        memory.push({ pod: pod.metadata.name, container: c.name, points: [[at, parseQuantity(c.usage.memory)]] });
      }
    }
    const batch: UsageBatch = { source: this.name, cpu, memory, stepSeconds: window, startMs: endMs, endMs };
    return batch;
  }
}
