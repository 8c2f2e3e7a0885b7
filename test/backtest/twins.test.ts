// Backtest equals live. The ClusterScaler runs live on the meta-cluster, with a Prometheus of its own scraping a
// synthetic exporter that plays cAdvisor and kube-state-metrics for the tenants' real pods (kwok's, replaced on
// every rollout): an OOM storm (three kills in a row), cluster growth (the tenant's node count), CPU growth, and an
// idle tenant scaled down step by step. Then `backtest()` replays the same window from that Prometheus, at the
// live poll interval and rate window, from the sizes the workloads had when the scaler started. Every live
// ScalingDecision must have its twin in the backtest: within one poll interval, the same action, direction and
// category, the same size after. A backtest decision with no live twin must have a documented cause (`causes`);
// the explained ones are counted and printed, the unexplained count must be 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backtest } from "../../src/cli/backtest.js";
import { inventoryOf, type Inventory } from "../../src/backtest/inventory.js";
import type { TimelineEntry } from "../../src/backtest/run.js";
import { fetchHistory } from "../../src/backtest/signals.js";
import { parsePolicies, replayWorkload } from "../../src/backtest/workload-replay.js";
import { PrometheusClient } from "../../src/prometheus/client.js";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { sizeBlock, sizeOf } from "../../src/scaler/decisions.js";
import type { Size } from "../../src/scaler/types.js";
import { parseQuantity } from "../../src/api/index.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

/** The live poll interval, and the backtest's step. */
const pollMs = 2000;
const rateWindow = "5s";
const rateWindowMs = 5000;
const Mi = 2 ** 20;
/** The busy tenant's CPU scaler threshold. */
const cpuThreshold = 0.8;
/**
 * How long a rollout keeps the old pod once the new one is Ready: a rate window and three seconds more (a scrape,
 * and the kubelet loop's lag in seeing the new pod), so that the old pod's CPU series ends only after the new pod's
 * has a full rate window of samples. kwok's pods are Ready at once: without it the old pod went within a second of
 * the rollout's start, and the workload's CPU rate (its worst pod's) dipped from about one scrape after the old
 * series' last sample until the new one's was a rate window old. A live decision's own rollout then dipped it just
 * after the decision, and the backtest, whose round completes the same sustained window up to one poll interval
 * later (when the threshold is crossed between a step and the live poll after it), read the dip there and started
 * its window again: its twin came five steps late.
 */
const minReadySeconds = rateWindowMs / 1000 + 3;
const container = "kube-apiserver";

interface PodObject extends KubeObject {
  spec?: { containers?: Array<{ name: string; resources?: { limits?: Record<string, string> } }> };
  status?: { phase?: string };
}

interface DecisionObject extends KubeObject {
  spec?: {
    target?: { name?: string };
    direction?: "Up" | "Down";
    decidedAt?: string;
    rootCause?: { category?: string; evidence?: Twin["evidence"] };
    before?: Parameters<typeof sizeOf>[0];
    after?: Parameters<typeof sizeOf>[0];
  };
  status?: { phase?: string };
}

interface Twin {
  tenant: string;
  /** A live decision's evidence (what it rested on), for the report of one without a twin. */
  evidence?: Array<{ signal?: string; value?: string; threshold?: string; observedAt?: string }>;
  at: number;
  action: "change" | "blocked";
  direction: string;
  category: string;
  after: Size;
}

/**
 * Why a backtest decision may have no live twin. Each is a property of the comparison, not of the engine: a
 * difference of the engine or of the rebuilt signals is a bug to fix, never a cause to add here.
 */
const causes = {
  chained:
    "timed from the workload's previous change (its stabilization window): live decides at the reconcile the " +
    "reconciler requeues for the window's end (nextWindowEndMs, at least 1 s after the last round), the " +
    "backtest on the step, so the offset can grow along a chain of scale-downs; the time since the previous " +
    "twin agrees within one poll interval",
  afterStop:
    "decided after the live scaler was stopped: the backtest's range runs one poll interval past it, so that a " +
    "live decision at the very end still finds its twin",
} as const;

/** Sizes as a ScalingDecision records them (whole millicores and MiB), so both sides compare alike. */
const recorded = (s: Size) => JSON.stringify(sizeOf(sizeBlock(s)));

/** HH:MM:SS.mmm of a time. */
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/**
 * Why a live decision has no twin, as far as the rebuilt signals tell: the backtest's rounds of its workload around
 * it (each step's worst-pod CPU usage and memory, each pod's CPU rate, the size the replay had, the CPU ratio to it and
 * the backtest's decisions), each pod's raw CPU samples (when its series began and ended, and any scrape gap), and
 * the live decision's evidence.
 */
async function explainMissing(
  l: Twin,
  o: {
    prometheusUrl: string;
    policies: Array<{ source: string; raw: KubeObject }>;
    inventory: Inventory;
    from: number;
    to: number;
    threshold: number;
  },
): Promise<string> {
  const lines: string[] = [];
  const client = new PrometheusClient({ url: o.prometheusUrl, timeoutMs: 30_000 });
  const history = await fetchHistory({
    client,
    from: o.from,
    to: o.to,
    stepMs: pollMs,
    rateWindow,
    namespaces: [l.tenant],
  });
  const w = o.inventory.workloads.find((x) => x.ref.namespace === l.tenant);
  const policy = o.policies.findIndex((p) => p.raw.metadata?.name === l.tenant);
  if (!w || policy < 0) return `  (no workload or policy of ${l.tenant})`;
  const { figures, replayed } = replayWorkload(parsePolicies([o.policies[policy]!]), history, w, false);
  const r = replayed[0];
  const first = l.at - 16_000;
  const last = l.at + 16_000;
  lines.push(
    `  ${show(l)}: evidence ${(l.evidence ?? []).map((e) => `${e.signal}=${e.value} (threshold ${e.threshold}) observed ${e.observedAt?.slice(11, 23)}`).join(", ")}`,
    `  the backtest's rounds of ${l.tenant} around it (cpu: the worst pod's rate[${rateWindow}]; ratio: cpu over the replay's CPU request):`,
  );
  const cpuKeys = [...history.series.cpu.keys()].filter((k) => k.startsWith(`${l.tenant}/`));
  const podOf = (key: string) => key.split("/")[1]?.split("-").pop() ?? key;
  history.steps.forEach((t, i) => {
    if (t < first || t > last) return;
    const cpu = figures.cpuUsage[i] as number;
    const request = r?.cpuRequest[i] ?? Number.NaN;
    const ratio = cpu / request;
    const pods = cpuKeys
      .map((k) => [podOf(k), history.series.cpu.get(k)?.[i] ?? Number.NaN] as const)
      .filter(([, v]) => !Number.isNaN(v))
      .map(([pod, v]) => `${pod}=${v.toFixed(3)}`)
      .join(" ");
    const acted = (r?.acted ?? [])
      .filter((a) => a.i === i)
      .map((a) => ` <- ${a.plan.action} ${a.plan.direction} ${a.plan.category}`)
      .join("");
    lines.push(
      `    ${clock(t)} cpu ${Number.isNaN(cpu) ? "missing" : cpu.toFixed(3)} request ${request} ratio ${Number.isNaN(ratio) ? "-" : ratio.toFixed(3)}` +
        `${ratio >= o.threshold ? " over" : ""} | memory ${((figures.memoryUsage[i] as number) / Mi).toFixed(0)}Mi` +
        ` | nodes ${history.series.nodes.get(l.tenant)?.[i] ?? "-"} | pods ${pods || "none"}${acted}`,
    );
  });
  // What a reader at any instant would have read (every 250 ms): where the worst pod's ratio was under the threshold.
  const fine = await fetch(
    `${o.prometheusUrl}/api/v1/query_range?query=${encodeURIComponent(`max(rate(container_cpu_usage_seconds_total{namespace="${l.tenant}",container="${container}"}[${rateWindow}]))`)}&start=${first / 1000}&end=${last / 1000}&step=0.25`,
  );
  const fineBody = (await fine.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
  const under: string[] = [];
  let since: number | undefined;
  let prev = first;
  for (const [ts, v] of fineBody.data.result[0]?.values ?? []) {
    const t = ts * 1000;
    const i = Math.max(
      0,
      history.steps.findLastIndex((x) => x <= t),
    );
    const low = !(Number(v) / (r?.cpuRequest[i] ?? Number.NaN) >= o.threshold);
    if (low && since === undefined) since = t;
    if (!low && since !== undefined) {
      under.push(`${clock(since)}..${clock(prev)}`);
      since = undefined;
    }
    prev = t;
  }
  if (since !== undefined) under.push(`${clock(since)}..${clock(prev)}`);
  lines.push(`  the worst pod's CPU ratio under ${o.threshold}, read every 250 ms: ${under.join(", ") || "never"}`);
  // The raw samples: when each pod's counter began and ended, and any gap between two scrapes.
  const res = await fetch(
    `${o.prometheusUrl}/api/v1/query?query=${encodeURIComponent(`container_cpu_usage_seconds_total{namespace="${l.tenant}"}[${Math.round((last - first) / 1000) + 10}s]`)}&time=${last / 1000}`,
  );
  const body = (await res.json()) as {
    data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
  };
  for (const s of body.data.result) {
    const times = s.values.map(([t]) => t * 1000);
    const gaps: string[] = [];
    for (let k = 1; k < times.length; k++)
      if ((times[k] as number) - (times[k - 1] as number) > 1500)
        gaps.push(`${clock(times[k - 1] as number)}..${clock(times[k] as number)}`);
    lines.push(
      `  pod ${podOf(`x/${s.metric.pod}`)}: samples ${clock(times[0] ?? 0)}..${clock(times.at(-1) ?? 0)} (${times.length})` +
        (gaps.length ? `, gaps > 1.5 s: ${gaps.join(", ")}` : ""),
    );
  }
  return lines.join("\n");
}

/** A decision in one line. */
const show = (t: Twin) =>
  `${new Date(t.at).toISOString()} ${t.tenant} ${t.action} ${t.direction} ${t.category} -> ${recorded(t.after)}`;

describe("backtest equals live", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const exporter = new SyntheticExporter({ counterTimestamps: true });
  let prom: TestPrometheus;
  let busy: { name: string; cleanup: () => Promise<void> };
  let idle: { name: string; cleanup: () => Promise<void> };
  const stop = new AbortController();
  const kubeletStop = new AbortController();
  /** Per namespace, the usage every pod of its apiserver shows (CPU cores, working set bytes). */
  const usage = new Map<string, { cpu: number; memory: number }>();
  /** Per namespace/pod, the restart count kube-state-metrics shows (one per OOM kill). */
  const restarts = new Map<string, number>();
  const scalers: KubeObject[] = [];
  let kubelet: Promise<void> | undefined;

  const pods = async (ns: string) =>
    (await client.listAll<PodObject>(Resources.Pod, { namespace: ns, labelSelector: "metapilot.io/component" })).items;
  const deployment = (ns: string) => client.get<KubeObject & PodTemplate>(Resources.Deployment, "kube-apiserver", ns);
  type PodTemplate = {
    spec?: { replicas?: number; template?: { spec?: PodObject["spec"] } };
    status?: { updatedReplicas?: number; replicas?: number; observedGeneration?: number };
    metadata?: { generation?: number };
  };

  /**
   * cAdvisor and kube-state-metrics for the tenants' pods as they come and go: each pod's usage, its memory limit
   * and requests from its spec, its restart count; a deleted pod's series end.
   */
  async function kubeletLoop(): Promise<void> {
    const known = new Map<string, { ns: string; pod: string; cpu: number }>();
    while (!kubeletStop.signal.aborted) {
      const seen = new Set<string>();
      for (const [ns, u] of usage) {
        const list = await pods(ns).catch(() => undefined);
        // A LIST that failed says nothing about which pods are gone: their series stay (a counter dropped and
        // added again would reset).
        if (!list) for (const [key, k] of known) if (k.ns === ns) seen.add(key);
        for (const p of list ?? []) {
          const pod = p.metadata?.name ?? "";
          const key = `${ns}/${pod}`;
          seen.add(key);
          const labels = { namespace: ns, pod, container };
          const k = known.get(key);
          if (!k || k.cpu !== u.cpu) exporter.setRate("container_cpu_usage_seconds_total", labels, u.cpu);
          known.set(key, { ns, pod, cpu: u.cpu });
          exporter.setGauge("container_memory_working_set_bytes", labels, u.memory);
          const limits = p.spec?.containers?.find((c) => c.name === container)?.resources?.limits ?? {};
          if (limits.memory)
            exporter.setGauge(
              "kube_pod_container_resource_limits",
              { ...labels, resource: "memory", unit: "byte" },
              parseQuantity(limits.memory),
            );
          exporter.setGauge("kube_pod_container_status_restarts_total", labels, restarts.get(key) ?? 0);
        }
      }
      for (const [key, k] of known)
        if (!seen.has(key)) {
          exporter.removeWhere({ namespace: k.ns, pod: k.pod });
          known.delete(key);
        }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Until the Deployment's rollout is done: every pod has its spec's memory limit and there are no others. */
  async function settled(ns: string): Promise<PodObject[]> {
    return eventually(
      async () => {
        const d = await deployment(ns);
        const limit = d.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory;
        const list = await pods(ns);
        const ok =
          list.length === (d.spec?.replicas ?? 1) &&
          list.every(
            (p) =>
              p.status?.phase === "Running" &&
              !p.metadata?.deletionTimestamp &&
              p.spec?.containers?.[0]?.resources?.limits?.memory === limit,
          );
        return ok ? list : undefined;
      },
      60_000,
      `${ns}: rollout done`,
    );
  }

  const liveDecisions = async (ns: string) =>
    (await client.listAll<DecisionObject>(Resources.ScalingDecision, { namespace: ns })).items;

  /** Until the live scaler has recorded one more decision of `category` in `ns`. */
  async function nextDecision(ns: string, category: string, had: number): Promise<void> {
    await eventually(
      async () =>
        (await liveDecisions(ns)).filter((d) => d.spec?.rootCause?.category === category).length > had
          ? true
          : undefined,
      30_000,
      `${ns}: a live ${category} decision`,
    );
  }

  /**
   * One OOM kill of the busy tenant's pod, as a node shows it: kube-state-metrics' series first (the scrape of the
   * kubelet's status, which the backtest reads), then the pod status the scaler watches.
   */
  async function oomKill(ns: string): Promise<void> {
    const [pod] = await settled(ns);
    const name = pod?.metadata?.name ?? "";
    const count = (restarts.get(`${ns}/${name}`) ?? 0) + 1;
    restarts.set(`${ns}/${name}`, count);
    const labels = { namespace: ns, pod: name, container };
    exporter.setGauge("kube_pod_container_status_restarts_total", labels, count);
    exporter.setGauge("kube_pod_container_status_last_terminated_reason", { ...labels, reason: "OOMKilled" }, 1);
    await eventually(
      async () =>
        (
          await prom.query(
            `kube_pod_container_status_last_terminated_reason{pod="${name}"} * on (pod) kube_pod_container_status_restarts_total == ${count}`,
          )
        ).length > 0
          ? true
          : undefined,
      10_000,
      "the kill in Prometheus",
    );
    const had = (await liveDecisions(ns)).filter((d) => d.spec?.rootCause?.category === "OOMKilled").length;
    await markOomKilled(client, ns, count, name);
    await nextDecision(ns, "OOMKilled", had);
    await quiet(ns);
  }

  /**
   * Until the rollout is done, one rate window and two poll intervals more, before the next phase's trigger. Two
   * triggers within one poll interval can be one decision on one side (one round saw both) and two on the other;
   * and a threshold crossed while the CPU rate still moves is crossed at different rounds by readers at different
   * instants: the rollout's overlap (minReadySeconds) keeps the rate from dipping when the old pod goes, and the
   * rate window waited here leaves it settled before the next trigger. Both are properties of sampling at an
   * interval, not of the engine.
   */
  async function quiet(ns: string): Promise<void> {
    await settled(ns);
    await new Promise((r) => setTimeout(r, rateWindowMs + 2 * pollMs));
  }

  beforeAll(async () => {
    await installCrds(kc);
    busy = await freshNamespace(kc, "twins-busy");
    idle = await freshNamespace(kc, "twins-idle");
    prom = new TestPrometheus([await exporter.start()]);
    await prom.start();
    await createApiserver(client, busy.name, busy.name, { replicas: 1, minReadySeconds });
    await createApiserver(client, idle.name, idle.name, { replicas: 1, cpu: "2", minReadySeconds });
    usage.set(busy.name, { cpu: 0.2, memory: 300 * Mi });
    usage.set(idle.name, { cpu: 0.05, memory: 100 * Mi });
    kubelet = kubeletLoop();
    for (const ns of [busy.name, idle.name]) await settled(ns);
    await eventually(
      async () => ((await prom.query("rate(container_cpu_usage_seconds_total[5s])")).length >= 2 ? true : undefined),
      30_000,
      "usage in Prometheus",
    );
    const component = (extra: object) => ({
      name: "kube-apiserver",
      minAllowed: { cpu: "100m", memory: "128Mi" },
      maxAllowed: { cpu: "8", memory: "100Gi" },
      replicas: { min: 1, max: 1 },
      ...extra,
    });
    const common = {
      scaleUp: { cooldown: "2s" },
      // More changes than the default budget allows within minutes; the budget has its own test.
      fleetBudget: { maxChangesPerInterval: 10000, interval: "5m" },
    };
    scalers.push(
      {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: busy.name },
        spec: {
          tenantSelector: { matchLabels: { "metapilot.io/tenant": busy.name } },
          components: [
            component({
              scalers: [
                { name: "oom" },
                { name: "cpu", threshold: cpuThreshold, window: "6s" },
                { name: "cluster-size" },
              ],
              estimators: ["oom-memory", "cluster-size"],
            }),
          ],
          scaleDown: { enabled: false },
          ...common,
        },
      } as KubeObject,
      {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: idle.name },
        spec: {
          tenantSelector: { matchLabels: { "metapilot.io/tenant": idle.name } },
          components: [component({ scalers: [{ name: "oom" }, { name: "cpu" }], estimators: ["oom-memory"] })],
          // A multiple of the poll interval: each scale-down then falls on the backtest's steps as it does live.
          scaleDown: { enabled: true, stabilizationWindow: "20s", maxStepPercent: 20 },
          ...common,
        },
      } as KubeObject,
    );
  }, 180_000);

  afterAll(async () => {
    stop.abort();
    kubeletStop.abort();
    await kubelet;
    for (const cs of scalers) await client.delete(Resources.ClusterScaler, cs.metadata?.name ?? "").catch(() => 0);
    await busy?.cleanup();
    await idle?.cleanup();
    await prom?.cleanup();
    await exporter.stop();
  }, 60_000);

  it("gives every live decision its twin in the backtest of the same window", async () => {
    // The sizes the scaler starts from: the backtest's inventory, as `--tenants-file` would give them.
    const objects: KubeObject[] = [];
    for (const ns of [busy.name, idle.name]) objects.push({ ...(await deployment(ns)), kind: "Deployment" });
    const inventory = inventoryOf(objects);
    expect(inventory.workloads).toHaveLength(2);
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `twins-${busy.name}`,
      qps: 200,
      burst: 200,
    });
    addClusterScalerController(manager, {
      workers: 2,
      dryRun: false,
      prometheus: { url: prom.url, timeoutMs: 2000, retries: 0 },
      pollIntervalMs: pollMs,
      rateWindow,
    });
    void manager.start(stop.signal);
    // The observation window (the scale-down's stabilization window is timed from it) begins live at the first round
    // of a workload, the backtest's at its first step. With the scaler running and its caches synced before the
    // ClusterScalers exist, the first round follows their creation by one watch event, not by the scaler's start-up
    // (informer LISTs: 0.2 to 3.6 s under load); created half a poll interval after a step, the backtest's first
    // step follows them by half a poll interval, and both windows begin within one poll interval whatever the
    // event's lag up to a poll interval and a half.
    await eventually(async () => (manager.hasSynced() ? true : undefined), 30_000, "the scaler's caches synced");
    await new Promise((r) => setTimeout(r, pollMs - (Date.now() % pollMs) + pollMs / 2));
    const from = Date.now();
    for (const cs of scalers) await client.create(Resources.ClusterScaler, cs);

    // The OOM storm: three kills in a row, each of the pod the last answer rolled out.
    for (let i = 0; i < 3; i++) await oomKill(busy.name);
    // Cluster growth: the tenant reports 1,000 nodes.
    let had = (await liveDecisions(busy.name)).filter((d) => d.spec?.rootCause?.category === "ClusterGrowth").length;
    exporter.setGauge("apiserver_storage_objects", { namespace: busy.name, resource: "nodes" }, 1000);
    await nextDecision(busy.name, "ClusterGrowth", had);
    await quiet(busy.name);
    // CPU growth: 2 cores on a 2.25-core request, sustained.
    had = (await liveDecisions(busy.name)).filter((d) => d.spec?.rootCause?.category === "CPUSaturation").length;
    usage.set(busy.name, { cpu: 2, memory: 300 * Mi });
    await nextDecision(busy.name, "CPUSaturation", had);
    await settled(busy.name);
    // The idle tenant: at least four steps down.
    await eventually(
      async () =>
        (await liveDecisions(idle.name)).filter((d) => d.spec?.direction === "Down").length >= 4 ? true : undefined,
      180_000,
      "four live scale-downs of the idle tenant",
    );
    stop.abort();
    const stoppedAt = Date.now();
    // Prometheus has scraped the last samples.
    await new Promise((r) => setTimeout(r, 2 * pollMs));

    const live: Twin[] = [];
    for (const ns of [busy.name, idle.name])
      for (const d of await liveDecisions(ns))
        live.push({
          tenant: ns,
          at: Date.parse(d.spec?.decidedAt ?? String(d.metadata?.creationTimestamp)),
          action: d.status?.phase === "Blocked" ? "blocked" : "change",
          direction: d.spec?.direction ?? "",
          category: d.spec?.rootCause?.category ?? "",
          after: sizeOf(d.spec?.after),
          evidence: d.spec?.rootCause?.evidence,
        });
    live.sort((a, b) => a.at - b.at);
    expect(live.filter((d) => d.category === "OOMKilled")).toHaveLength(3);

    const report = await backtest({
      policies: scalers.map((cs) => ({ source: `clusterscaler/${cs.metadata?.name}`, raw: cs })),
      inventory,
      prometheus: { url: prom.url, timeoutMs: 30_000 },
      from,
      to: stoppedAt + pollMs,
      stepMs: pollMs,
      rateWindow,
    });
    expect(report.partial).toBe(false);
    // Each tenant from the policy that governs it.
    const replayed: Twin[] = report.policies.flatMap((p, i) =>
      (p.timeline[scalers[i]?.metadata?.name ?? ""] ?? []).map((e: TimelineEntry) => ({
        tenant: scalers[i]?.metadata?.name ?? "",
        at: Date.parse(e.at),
        action: e.action,
        direction: e.direction,
        category: e.category,
        after: e.after,
      })),
    );

    const same = (a: Twin, b: Twin) =>
      a.tenant === b.tenant &&
      a.action === b.action &&
      a.direction === b.direction &&
      a.category === b.category &&
      recorded(a.after) === recorded(b.after);
    const used = new Set<Twin>();
    const missing: Twin[] = [];
    const offsets: number[] = [];
    const explained: Record<keyof typeof causes, Twin[]> = { chained: [], afterStop: [] };
    /** Per tenant, the last pair of twins. */
    const last = new Map<string, { live: Twin; replayed: Twin }>();
    for (const l of live) {
      const candidates = replayed.filter((b) => !used.has(b) && same(l, b));
      let twin = candidates.find((b) => Math.abs(b.at - l.at) <= pollMs);
      const prev = last.get(l.tenant);
      if (!twin && prev) {
        twin = candidates.find((b) => Math.abs(b.at - prev.replayed.at - (l.at - prev.live.at)) <= pollMs);
        if (twin) explained.chained.push(l);
      }
      if (!twin) {
        missing.push(l);
        continue;
      }
      used.add(twin);
      last.set(l.tenant, { live: l, replayed: twin });
      offsets.push(twin.at - l.at);
    }
    const unexplained: Twin[] = [];
    for (const b of replayed) {
      if (used.has(b)) continue;
      if (b.at > stoppedAt) explained.afterStop.push(b);
      else unexplained.push(b);
    }
    for (const l of missing)
      console.log(
        `live decision without a twin, and the backtest's view of its workload:\n` +
          (await explainMissing(l, {
            prometheusUrl: prom.url,
            policies: scalers.map((cs) => ({ source: `clusterscaler/${cs.metadata?.name}`, raw: cs })),
            inventory,
            from,
            to: stoppedAt + pollMs,
            threshold: cpuThreshold,
          })),
      );
    console.log(
      `backtest equals live: ${live.length} live decisions, ${live.length - missing.length} twins ` +
        `(offset backtest-live ${Math.min(...offsets)}..${Math.max(...offsets)} ms), ` +
        `${replayed.length} backtest decisions over ${report.steps} steps, ${report.queries} range queries\n` +
        Object.entries(explained)
          .map(([cause, list]) => `  explained (${cause}): ${list.length}: ${causes[cause as keyof typeof causes]}`)
          .join("\n") +
        (missing.length ? `\n  live without a twin:\n    ${missing.map(show).join("\n    ")}` : "") +
        (unexplained.length ? `\n  backtest, unexplained:\n    ${unexplained.map(show).join("\n    ")}` : "") +
        `\n  live:\n    ${live.map(show).join("\n    ")}\n  backtest:\n    ${replayed.map(show).join("\n    ")}`,
    );
    expect(live.length).toBeGreaterThanOrEqual(9);
    // The storm's kills, read from kube-state-metrics, each answered at the step it was seen.
    expect(report.policies[0]?.oomKills.map((k) => [k.outcome, k.delayMinutes])).toEqual([
      ["answered", 0],
      ["answered", 0],
      ["answered", 0],
    ]);
    expect(missing.map(show)).toEqual([]);
    expect(unexplained.map(show)).toEqual([]);
  }, 600_000);
});
