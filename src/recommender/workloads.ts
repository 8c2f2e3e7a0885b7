// The workload controller: one WorkloadProfile per selected Deployment or StatefulSet, owned by it (so the
// garbage collector removes the profile with its workload), labelled with the workload's tenant and component.
// A workload that stops matching loses the profile this controller made; profiles made by hand are left alone.
import { createHash } from "node:crypto";
import { API_VERSION } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import type { Informer } from "../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey } from "../kube/resources.js";
import { availableAlgorithms } from "./logic/index.js";
import { type WorkloadSelector } from "./selector.js";
import type { WorkloadKind } from "./input/owners.js";
import type { RawWorkloadProfile } from "./reconciler.js";
import type { EventRecorder } from "../kube/events.js";
import { componentLabel, managedByLabel, recommenderAnnotation, tenantLabel } from "../api/labels.js";

export const managedByValue = "metapilot-recommender";
const copiedLabels = [tenantLabel, componentLabel];

/** `<workload>-<deploy|sts>`, DNS-1123 and at most 63 characters, with a hash suffix when shortened. */
export function profileNameFor(kind: WorkloadKind, name: string): string {
  const full = `${name}-${kind === "Deployment" ? "deploy" : "sts"}`;
  if (full.length <= 63) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, 54).replace(/[-.]+$/, "")}-${hash}`;
}

export interface WorkloadReconcilerOptions {
  kind: WorkloadKind;
  client: KubeClient;
  workloads: Informer<KubeObject>;
  profiles: Informer<RawWorkloadProfile>;
  selector: WorkloadSelector;
  defaultAlgorithm: string;
  recorder?: EventRecorder;
}

export function desiredProfile(
  kind: WorkloadKind,
  workload: KubeObject,
  defaultAlgorithm: string,
): { profile: RawWorkloadProfile; invalidAnnotation?: string } {
  const meta = workload.metadata ?? {};
  const annotated = meta.annotations?.[recommenderAnnotation];
  const valid = annotated !== undefined && availableAlgorithms().includes(annotated);
  const labels: Record<string, string> = { [managedByLabel]: managedByValue };
  for (const l of copiedLabels) if (meta.labels?.[l]) labels[l] = meta.labels[l];
  return {
    profile: {
      apiVersion: API_VERSION,
      kind: "WorkloadProfile",
      metadata: {
        name: profileNameFor(kind, meta.name ?? ""),
        namespace: meta.namespace,
        labels,
        ownerReferences: [
          { apiVersion: "apps/v1", kind, name: meta.name ?? "", uid: meta.uid ?? "", controller: true },
        ],
      },
      spec: {
        targetRef: { apiVersion: "apps/v1", kind, name: meta.name },
        algorithm: valid ? annotated : defaultAlgorithm,
      },
    },
    invalidAnnotation: annotated !== undefined && !valid ? annotated : undefined,
  };
}

export class WorkloadReconciler implements Reconciler {
  constructor(private readonly options: WorkloadReconcilerOptions) {}

  async reconcile(key: ObjectKey, _ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const namespace = key.namespace ?? "";
    const profileKey = `${namespace}/${profileNameFor(this.options.kind, key.name)}`;
    const existing = this.options.profiles.get(profileKey);
    const workload = this.options.workloads.get(`${namespace}/${key.name}`);
    if (!workload || workload.metadata?.deletionTimestamp) return; // the garbage collector removes the profile
    if (!this.options.selector.matches(workload)) {
      if (existing?.metadata?.labels?.[managedByLabel] === managedByValue) {
        await this.options.client.delete(Resources.WorkloadProfile, existing.metadata.name ?? "", namespace, {
          uid: existing.metadata.uid,
        });
      }
      return;
    }
    const { profile, invalidAnnotation } = desiredProfile(this.options.kind, workload, this.options.defaultAlgorithm);
    if (invalidAnnotation) {
      this.options.recorder?.record(
        workload,
        "Warning",
        "UnknownAlgorithm",
        "Profile",
        `${recommenderAnnotation}: unknown algorithm "${invalidAnnotation}"; available: ${availableAlgorithms().join(", ")}`,
      );
    }
    if (existing && upToDate(existing, profile)) return;
    if (existing && existing.metadata?.labels?.[managedByLabel] !== managedByValue) return; // made by hand
    await this.options.client.apply(Resources.WorkloadProfile, profile);
  }
}

function upToDate(existing: RawWorkloadProfile, desired: RawWorkloadProfile): boolean {
  const e = existing.metadata ?? {};
  const d = desired.metadata ?? {};
  const sameLabels = Object.entries(d.labels ?? {}).every(([k, v]) => e.labels?.[k] === v);
  const sameOwner = e.ownerReferences?.some((r) => r.uid === d.ownerReferences?.[0]?.uid && r.controller) ?? false;
  const es = existing.spec as { targetRef?: { kind?: string; name?: string }; algorithm?: string } | undefined;
  const ds = desired.spec as { targetRef: { kind: string; name: string }; algorithm: string };
  return (
    sameLabels &&
    sameOwner &&
    es?.targetRef?.kind === ds.targetRef.kind &&
    es.targetRef.name === ds.targetRef.name &&
    es.algorithm === ds.algorithm
  );
}
