// One workload's signals for a round, gathered from what the sources hold: OOM kills from its pods' status, usage
// and throttling from the last Prometheus poll (the worst pod), the tenant's size, and probe failures. Pure: the
// sources are passed in.
import type { Measurement, Signals, WorkloadRef } from "../types.js";
import { oomEventsOf, type PodLike } from "./oom.js";
import type { UsageSnapshot } from "./prometheus.js";

/** What a Prometheus source offers a round: its last snapshot, and why it failed if its last poll did. */
export interface UsageSource {
  snapshot: UsageSnapshot;
  lastError?: string;
}

/** What a probe source offers a round: the failed probes of a tenant within a window. */
export interface ProbeSource {
  failuresWithin(tenant: string, windowMs: number, now: number): Measurement | undefined;
}

/** The largest of the pods' series of `container` in a namespace/pod/container map: the worst pod decides. */
export function worstPod(
  series: ReadonlyMap<string, Measurement>,
  namespace: string,
  pods: readonly PodLike[],
  container: string,
): Measurement | undefined {
  let worst: Measurement | undefined;
  for (const pod of pods) {
    const m = series.get(`${namespace}/${pod.metadata?.name}/${container}`);
    if (m && (!worst || m.value > worst.value)) worst = m;
  }
  return worst;
}

export function workloadSignals(
  ref: WorkloadRef,
  pods: readonly PodLike[],
  sources: { prometheus?: UsageSource; probe?: ProbeSource },
  probeWindowMs: number,
  now: number,
): Signals {
  const oom = pods.flatMap((p) => oomEventsOf(p, ref.container));
  const p = sources.prometheus;
  const signals: Signals = { oom };
  if (ref.component === "kube-apiserver" && sources.probe)
    signals.probeFailures = sources.probe.failuresWithin(ref.tenant, probeWindowMs, now);
  if (!p) return { ...signals, unavailableReason: "no Prometheus configured" };
  const worst = (series: ReadonlyMap<string, Measurement>) => worstPod(series, ref.namespace, pods, ref.container);
  signals.cpuUsage = worst(p.snapshot.cpu);
  signals.memoryWorkingSet = worst(p.snapshot.memory);
  signals.cpuThrottledRatio = worst(p.snapshot.throttledRatio);
  if (ref.component === "kube-apiserver") signals.apiserver429Rate = p.snapshot.apiserver429.get(ref.namespace);
  signals.clusterNodes = p.snapshot.nodes.get(ref.namespace);
  signals.storedObjects = p.snapshot.objects.get(ref.namespace);
  // The tenant's load, from its apiserver's own metrics: the ladder's other keys for every component, and the
  // saturation the apf and latency scalers read for the apiserver.
  signals.apiserverWatchers = p.snapshot.watchers.get(ref.namespace);
  signals.etcdDatabaseBytes = p.snapshot.etcdDbSize.get(ref.namespace);
  if (ref.component === "kube-apiserver") {
    signals.apfSeatsRatio = p.snapshot.apfSeats.get(ref.namespace);
    signals.apfRejectedRate = p.snapshot.apfRejected.get(ref.namespace);
    const prefix = `${ref.namespace}/`;
    const latency: Record<string, Measurement> = {};
    for (const [key, m] of p.snapshot.latencyP99) if (key.startsWith(prefix)) latency[key.slice(prefix.length)] = m;
    if (Object.keys(latency).length > 0) signals.requestLatencyP99 = latency;
  }
  if (p.lastError) signals.unavailableReason = p.lastError;
  return signals;
}
