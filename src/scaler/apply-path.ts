// How a decision reached the pods (ScalingDecision status.applyPath): resized in place, or by a rolling update, and
// why. For a component a TenantControlPlane owns, the scaler only writes the spec; the operator chooses the path and
// reports it in the TenantControlPlane's status.components[].resize (src/operator/steps/resize.ts). The scaler's
// reconcile of the workload runs on every change of its TenantControlPlane (the informer it already watches), and
// copies that report onto the decision it belongs to, with no polling. A workload no TenantControlPlane owns is
// changed through its pod template, which rolls: known when the decision is applied. A dry-run decision gets the
// path a live one would take where that is known when it is made, and none where only the kubelet would tell.
import type { ApplyPathReason } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { Informer } from "../kube/informer.js";
import { Resources } from "../kube/resources.js";
import type { DecisionObject } from "./decisions.js";
import { sizeOf } from "./decisions.js";
import { restartCause, type RestartFacts } from "./restart.js";
import { sameResources } from "./sizes.js";
import type { ApplyPath, Size, WorkloadRef } from "./types.js";

export type { ApplyPath } from "./types.js";

type SizeBlockLike = Parameters<typeof sizeOf>[0];

/** What the operator reports of a component's last resize (TenantControlPlane status.components[].resize). */
export interface OperatorResize {
  method?: string;
  state?: string;
  reason?: string;
  message?: string;
  resources?: string;
}

/** "requests cpu=500m memory=1Gi, limits memory=2Gi" (the operator's describeResources) back into a Size. Pure. */
export function sizeOfResourcesText(text: string, replicas = 1): Size | undefined {
  const lists: Record<string, Record<string, string>> = { requests: {}, limits: {} };
  if (text !== "none") {
    for (const part of text.split(",").map((p) => p.trim())) {
      const [list, ...pairs] = part.split(/\s+/);
      if (!list || !(list in lists) || pairs.length === 0) return undefined;
      for (const pair of pairs) {
        const [k, v] = pair.split("=");
        if ((k !== "cpu" && k !== "memory") || !v) return undefined;
        lists[list]![k] = v;
      }
    }
  }
  try {
    return sizeOf({ replicas, resources: { requests: lists.requests, limits: lists.limits } });
  } catch {
    return undefined;
  }
}

/**
 * The path of a decision that gave the component `after`, from the operator's report, or undefined when the report
 * is of another size (a later change, or one the operator has not seen yet). Pure.
 */
export function pathFromOperator(resize: OperatorResize | undefined, after: Size, now: number): ApplyPath | undefined {
  if (!resize?.resources || (resize.method !== "InPlace" && resize.method !== "Rolling")) return undefined;
  const reported = sizeOfResourcesText(resize.resources, after.replicas);
  if (!reported || !sameResources(reported, after)) return undefined;
  return {
    method: resize.method,
    reason: (resize.reason ?? "Resized") as ApplyPathReason,
    ...(resize.state === "InProgress" || resize.state === "Done" ? { state: resize.state } : {}),
    ...(resize.message ? { message: resize.message.slice(0, 1024) } : {}),
    observedAt: new Date(now).toISOString(),
  };
}

/**
 * The path known when a decision from `before` to `after` is made: for a live one only a workload's own template
 * change (the operator reports the rest); for a dry-run one also what the operator would surely do (its rules in
 * src/operator/steps/resize.ts that the state now decides). Undefined when no pod is resized (replicas alone) or
 * the path is not known yet. Pure.
 */
export function pathAtDecision(
  facts: RestartFacts,
  before: Size,
  after: Size,
  dryRun: boolean,
  now: number,
): ApplyPath | undefined {
  if (sameResources(before, after)) return undefined;
  // Live, only a workload's own template change is known now; the operator reports the rest.
  if (!dryRun && facts.ownedByTenantControlPlane) return undefined;
  const cause = restartCause(facts, before, after);
  if (!cause?.certain) return undefined;
  return {
    method: "Rolling",
    reason: cause.reason,
    message: cause.message,
    observedAt: new Date(now).toISOString(),
    ...(dryRun ? { predicted: true } : {}),
  };
}

/**
 * The decision of this workload whose path the operator's report belongs to: its latest live Applied decision that
 * changes CPU or memory, while it has no path yet or one still InProgress. Pure.
 */
export function awaitingPath(decisions: readonly DecisionObject[], ref: WorkloadRef): DecisionObject | undefined {
  const applied = decisions.filter(
    (d) =>
      d.spec?.target?.name === ref.name &&
      d.spec?.dryRun !== true &&
      d.status?.phase === "Applied" &&
      !sameResources(sizeOf((d.spec as { before?: SizeBlockLike } | undefined)?.before), sizeOf(d.spec?.after)),
  );
  const latest = applied.reduce<DecisionObject | undefined>(
    (a, b) => (!a || (b.spec?.decidedAt ?? "") > (a.spec?.decidedAt ?? "") ? b : a),
    undefined,
  );
  const path = (latest?.status as { applyPath?: ApplyPath } | undefined)?.applyPath;
  return latest && (!path || path.state === "InProgress") ? latest : undefined;
}

/**
 * Copies the operator's report onto the decision it belongs to, if that changes anything. A merge patch of the
 * status, so the phase and delivery written by server-side apply stay as they are.
 */
export async function recordOperatorPath(
  client: Pick<KubeClient, "patch">,
  decisions: Pick<Informer<DecisionObject>, "listNamespace">,
  ref: WorkloadRef,
  resize: OperatorResize | undefined,
  now: number,
): Promise<ApplyPath | undefined> {
  if (!ref.ownedByTenantControlPlane || !resize) return undefined;
  const d = awaitingPath(decisions.listNamespace(ref.namespace), ref);
  if (!d?.metadata?.name) return undefined;
  const path = pathFromOperator(resize, sizeOf(d.spec?.after), now);
  const had = (d.status as { applyPath?: ApplyPath } | undefined)?.applyPath;
  if (!path || (had && had.method === path.method && had.reason === path.reason && had.state === path.state))
    return undefined;
  await client.patch(
    Resources.ScalingDecision,
    d.metadata.name,
    ref.namespace,
    { status: { applyPath: path } },
    "merge",
    "status",
  );
  return path;
}
