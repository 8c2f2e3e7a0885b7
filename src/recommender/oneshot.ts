// `metapilot recommend`: a one-shot recommendation, as KRR does it, for the workloads of a namespace or a label
// selector. Same input and logic as the controller (one range query per metric per namespace, the owner chain
// for pods, OOM kills counted by the same rule into the same model, the registry's algorithms), with nothing
// written to the cluster. The controller keeps the OOM kills it saw in its checkpoint after their pods are gone;
// the one shot reads them from pod status and, for pods that are gone, from the evidence of OOMKilled
// ScalingDecisions, so a workload that is being OOM-killed is never told to shrink.
import { stringify } from "yaml";
import { parseQuantity } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { ApiError } from "../kube/errors.js";
import { applyOomKills, oomKillsOfDecision, oomKillsOfWorkload, type OomDecision, type OomKill } from "./input/ooms.js";
import { OwnerResolver, type WorkloadKind } from "./input/owners.js";
import { readNamespaces, type UsageSource } from "./input/usage.js";
import { algorithmByName, resolveParameters } from "./logic/index.js";
import { recommendContainers, toContainerRecommendation } from "./recommend.js";
import type { ContainerSpec, Workload } from "./reconciler.js";
import { feedBatch, type WorkloadModel } from "./store.js";

export interface OneShotOptions {
  client: KubeClient;
  source: UsageSource;
  namespace?: string;
  labelSelector?: string;
  algorithm: string;
  historyDays: number;
  stepSeconds: number;
  now: Date;
  onProgress?: (done: number, total: number, namespace: string) => void;
  /** Told when an input could not be read and the answer goes on without it (e.g. no access to ScalingDecisions). */
  onWarning?: (message: string) => void;
}

export interface RecommendationRow {
  namespace: string;
  kind: WorkloadKind;
  workload: string;
  container: string;
  reason: string;
  cpuRequest?: string;
  cpuTarget?: string;
  cpuLower?: string;
  cpuUpper?: string;
  memoryRequest?: string;
  memoryTarget?: string;
  memoryLower?: string;
  memoryUpper?: string;
  /** The container's limits today. */
  cpuLimit?: string;
  memoryLimit?: string;
  /**
   * Limit recommendations, as KRR gives them: no CPU limit (null: a CPU limit throttles a control plane under a
   * burst that its request already pays for), and a memory limit at the upper bound, never below the target, so a
   * working set the model still expects is not OOM-killed.
   */
  cpuLimitTarget: null;
  memoryLimitTarget?: string;
  confidenceDays: number;
  /** OOM kills of this container counted into the memory model (pod status and ScalingDecisions). */
  oomKills: number;
  /** The memory target the same history gives without those kills, when they changed it. */
  memoryTargetWithoutOomKills?: string;
}

export async function recommendOnce(o: OneShotOptions): Promise<RecommendationRow[]> {
  const algorithm = algorithmByName(o.algorithm); // unknown names fail before any request
  const params = resolveParameters(algorithm, { historyDays: o.historyDays });
  const list = async <T extends KubeObject>(r: (typeof Resources)[keyof typeof Resources], labelSelector?: string) =>
    (await o.client.listAll<T>(r, { namespace: o.namespace, labelSelector })).items;
  const workloads: Array<{ kind: WorkloadKind; obj: Workload }> = [
    ...(await list<Workload>(Resources.Deployment, o.labelSelector)).map((obj) => ({
      kind: "Deployment" as const,
      obj,
    })),
    ...(await list<Workload>(Resources.StatefulSet, o.labelSelector)).map((obj) => ({
      kind: "StatefulSet" as const,
      obj,
    })),
  ];
  const pods = new Map((await list(Resources.Pod)).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const replicaSets = await list(Resources.ReplicaSet);
  const rsByKey = new Map(replicaSets.map((r) => [`${r.metadata?.namespace}/${r.metadata?.name}`, r]));
  const names = (items: KubeObject[], ns: string) =>
    items.filter((i) => i.metadata?.namespace === ns).map((i) => i.metadata?.name ?? "");
  const resolver = new OwnerResolver({
    pod: (ns, n) => pods.get(`${ns}/${n}`),
    replicaSet: (ns, n) => rsByKey.get(`${ns}/${n}`),
    replicaSetNames: (ns) => names(replicaSets, ns),
    statefulSetNames: (ns) =>
      names(
        workloads.filter((w) => w.kind === "StatefulSet").map((w) => w.obj),
        ns,
      ),
  });
  const byNamespace = new Map<string, WorkloadModel[]>();
  const models = workloads.map(({ kind, obj }) => {
    const model: WorkloadModel = {
      namespace: obj.metadata?.namespace ?? "",
      ref: { kind, name: obj.metadata?.name ?? "" },
      uid: obj.metadata?.uid ?? "",
      containers: new Map(),
      halfLifeMs: params.halfLifeHours * 3_600_000,
      historyDays: params.historyDays,
      memoryPeakRule: params.memoryPeakRule,
    };
    byNamespace.set(model.namespace, [...(byNamespace.get(model.namespace) ?? []), model]);
    return { model, obj };
  });
  const end = o.now.getTime();
  let done = 0;
  // Namespaces in groups of 20: one query per metric per group when the source can batch.
  const all = [...byNamespace.keys()];
  const start = end - params.historyDays * 86_400_000;
  for (let i = 0; i < all.length; i += 20) {
    const group = all.slice(i, i + 20);
    o.onProgress?.(done, byNamespace.size, group[0] ?? "");
    // The whole history, ending at now, as VPA's bootstrap reads it (see ReadGrid).
    const batches = await readNamespaces(o.source, group, start, end, o.stepSeconds, undefined, "fromEnd");
    for (const ns of group) {
      const batch = batches.get(ns);
      if (batch) feedBatch(batch, ns, byNamespace.get(ns) ?? [], resolver, end);
      o.onProgress?.(++done, byNamespace.size, ns);
    }
  }
  const decisionKills = await recordedOomKills(o);
  const bump = { bumpBytes: params.oomBumpBytes, bumpRatio: params.oomBumpRatio };
  const rows: RecommendationRow[] = [];
  for (const { model, obj } of models) {
    const specs: ContainerSpec[] = obj.spec?.template?.spec?.containers ?? [];
    const names = specs.map((c) => c.name);
    // What the history alone says, to tell in the row what the kills changed.
    const withoutOoms = recommendContainers(names, structuredClone(model.containers), algorithm, params, o.now);
    resolver.reset();
    const kills: OomKill[] = [
      ...oomKillsOfWorkload(pods.values(), model.namespace, model.ref, resolver),
      ...(decisionKills.get(`${model.namespace}/${model.ref.kind}/${model.ref.name}`) ?? []),
    ];
    const counted = applyOomKills(model, kills, bump, end);
    const results = recommendContainers(names, model.containers, algorithm, params, o.now);
    for (const r of results) {
      const rec = toContainerRecommendation(r);
      const plain = withoutOoms.find((w) => w.name === r.name);
      const plainMemory = plain && toContainerRecommendation(plain).target?.memory;
      const oomKills = counted.filter((k) => k.container === r.name).length;
      const spec = specs.find((c) => c.name === r.name)?.resources;
      const req = spec?.requests;
      rows.push({
        namespace: model.namespace,
        kind: model.ref.kind,
        workload: model.ref.name,
        container: r.name,
        reason: r.reason,
        cpuRequest: req?.cpu,
        cpuTarget: rec.target?.cpu,
        cpuLower: rec.lowerBound?.cpu,
        cpuUpper: rec.upperBound?.cpu,
        memoryRequest: req?.memory,
        memoryTarget: rec.target?.memory,
        memoryLower: rec.lowerBound?.memory,
        memoryUpper: rec.upperBound?.memory,
        cpuLimit: spec?.limits?.cpu,
        memoryLimit: spec?.limits?.memory,
        cpuLimitTarget: null,
        memoryLimitTarget: memoryLimitFor(rec.target?.memory, rec.upperBound?.memory),
        confidenceDays: rec.confidenceDays ?? 0,
        oomKills,
        ...(oomKills > 0 && plainMemory !== rec.target?.memory
          ? { memoryTargetWithoutOomKills: plainMemory ?? "none" }
          : {}),
      });
    }
  }
  return rows;
}

/**
 * The OOM kills recorded as evidence of OOMKilled ScalingDecisions, by workload ("ns/Kind/name"). A cluster without
 * the CRD has none; a user who may not list them gets a warning and the answer from pod status alone.
 */
async function recordedOomKills(o: OneShotOptions): Promise<Map<string, OomKill[]>> {
  const out = new Map<string, OomKill[]>();
  let decisions: OomDecision[];
  try {
    decisions = (await o.client.listAll<OomDecision>(Resources.ScalingDecision, { namespace: o.namespace })).items;
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 404) return out;
    if (err instanceof ApiError && err.statusCode === 403) {
      o.onWarning?.(
        `cannot list ScalingDecisions (${err.message}): OOM kills of pods that are gone are not counted, only those in pod status`,
      );
      return out;
    }
    throw err;
  }
  for (const d of decisions) {
    const found = oomKillsOfDecision(d);
    if (!found || found.kills.length === 0) continue;
    const key = `${found.namespace}/${found.target.kind}/${found.target.name}`;
    out.set(key, [...(out.get(key) ?? []), ...found.kills]);
  }
  return out;
}

/** The memory limit to recommend: the upper bound, never below the target. */
export function memoryLimitFor(target: string | undefined, upper: string | undefined): string | undefined {
  if (target === undefined) return upper;
  if (upper === undefined) return target;
  return parseQuantity(upper) >= parseQuantity(target) ? upper : target;
}

/** "1 → 588m (−41%)": the current request, the recommendation and the change. */
export function change(current: string | undefined, target: string | undefined): string {
  if (!target) return current ? `${current} → ?` : "?";
  if (!current) return `none → ${target}`;
  const pct = Math.round((parseQuantity(target) / parseQuantity(current) - 1) * 100);
  return `${current} → ${target} (${pct >= 0 ? "+" : ""}${pct}%)`;
}

/** The NOTE column: why there is no recommendation, and what OOM kills did to it. */
export function note(r: RecommendationRow): string {
  const parts = r.reason === "Recommended" ? [] : [r.reason];
  if (r.oomKills > 0) {
    const kills = `${r.oomKills} OOM kill${r.oomKills === 1 ? "" : "s"}`;
    parts.push(
      r.memoryTargetWithoutOomKills !== undefined
        ? `memory raised by ${kills} (history alone: ${r.memoryTargetWithoutOomKills})`
        : `${kills} counted`,
    );
  }
  return parts.join("; ");
}

export function formatRows(rows: readonly RecommendationRow[], format: "table" | "json" | "yaml"): string {
  if (format === "json") return JSON.stringify(rows, null, 2) + "\n";
  if (format === "yaml") return stringify(rows);
  const header = [
    "NAMESPACE",
    "WORKLOAD",
    "CONTAINER",
    "CPU REQUEST",
    "MEMORY REQUEST",
    "CPU LIMIT",
    "MEMORY LIMIT",
    "CONFIDENCE",
    "NOTE",
  ];
  const body = rows.map((r) => [
    r.namespace,
    `${r.kind === "Deployment" ? "deploy" : "sts"}/${r.workload}`,
    r.container,
    change(r.cpuRequest, r.cpuTarget),
    change(r.memoryRequest, r.memoryTarget),
    r.cpuLimit ? `${r.cpuLimit} → none` : "none",
    change(r.memoryLimit, r.memoryLimitTarget),
    `${r.confidenceDays.toFixed(1)}d`,
    note(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  return (
    [header, ...body]
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
