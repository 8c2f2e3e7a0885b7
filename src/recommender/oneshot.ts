// `metapilot recommend`: a one-shot recommendation, as KRR does it, for the workloads of a namespace or a label
// selector. Same input and logic as the controller (one range query per metric per namespace, the owner chain
// for pods, the registry's algorithms), with nothing written to the cluster.
import { stringify } from "yaml";
import { parseQuantity } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import { Resources, type KubeObject } from "../kube/resources.js";
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
  confidenceDays: number;
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
    const batches = await readNamespaces(o.source, group, start, end, o.stepSeconds);
    for (const ns of group) {
      const batch = batches.get(ns);
      if (batch) feedBatch(batch, ns, byNamespace.get(ns) ?? [], resolver, end);
      o.onProgress?.(++done, byNamespace.size, ns);
    }
  }
  const rows: RecommendationRow[] = [];
  for (const { model, obj } of models) {
    const specs: ContainerSpec[] = obj.spec?.template?.spec?.containers ?? [];
    const results = recommendContainers(
      specs.map((c) => c.name),
      model.containers,
      algorithm,
      params,
      o.now,
    );
    for (const r of results) {
      const rec = toContainerRecommendation(r);
      const req = specs.find((c) => c.name === r.name)?.resources?.requests;
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
        confidenceDays: rec.confidenceDays ?? 0,
      });
    }
  }
  return rows;
}

/** "1 → 588m (−41%)": the current request, the recommendation and the change. */
function change(current: string | undefined, target: string | undefined): string {
  if (!target) return current ? `${current} → ?` : "?";
  if (!current) return `none → ${target}`;
  const pct = Math.round((parseQuantity(target) / parseQuantity(current) - 1) * 100);
  return `${current} → ${target} (${pct >= 0 ? "+" : ""}${pct}%)`;
}

export function formatRows(rows: readonly RecommendationRow[], format: "table" | "json" | "yaml"): string {
  if (format === "json") return JSON.stringify(rows, null, 2) + "\n";
  if (format === "yaml") return stringify(rows);
  const header = ["NAMESPACE", "WORKLOAD", "CONTAINER", "CPU REQUEST", "MEMORY REQUEST", "CONFIDENCE", "NOTE"];
  const body = rows.map((r) => [
    r.namespace,
    `${r.kind === "Deployment" ? "deploy" : "sts"}/${r.workload}`,
    r.container,
    change(r.cpuRequest, r.cpuTarget),
    change(r.memoryRequest, r.memoryTarget),
    `${r.confidenceDays.toFixed(1)}d`,
    r.reason === "Recommended" ? "" : r.reason,
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
