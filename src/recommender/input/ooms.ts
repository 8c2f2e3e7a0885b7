// OOM kills as the recommender counts them: each kill becomes a memory peak of the killed pod and day (VPA's rule,
// model/container.ts recordOom). The profile controller reads kills from pod status as they happen (its
// checkpoint keeps them after the pod is gone); `metapilot recommend` reads the same pod status and, for the pods
// that are gone, the kills recorded as evidence of OOMKilled ScalingDecisions. Both apply them with applyOomKills,
// so one model and one rule answer for both.
import { parseQuantity, type ScalingDecisionObject } from "../../api/index.js";
import type { KubeObject } from "../../kube/resources.js";
import { podPeak, recordOom, type OomBump } from "../model/container.js";
import { containerState, type WorkloadModel } from "../store.js";
import type { OwnerResolver, WorkloadRef } from "./owners.js";

export interface OomKill {
  /** The id the kill is counted under once: pod uid (or name), container and when it died. */
  id: string;
  pod: string;
  container: string;
  /** When the container died (ms). */
  at: number;
  /** The container's memory limit and request at the time, bytes. */
  limitBytes?: number;
  requestBytes?: number;
  /** Where the kill was read: "pod-status" or "scaling-decision". */
  source: "pod-status" | "scaling-decision";
}

export interface OomPod extends KubeObject {
  spec?: {
    containers?: Array<{
      name: string;
      resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    }>;
  };
  status?: {
    containerStatuses?: Array<{
      name: string;
      lastState?: { terminated?: { reason?: string; finishedAt?: string } };
    }>;
  };
}

function quantity(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  try {
    return parseQuantity(q);
  } catch {
    return undefined;
  }
}

/** The OOM kill in each container's lastState of one pod (the kubelet keeps only the latest per container). */
export function oomKillsOfPod(pod: OomPod): OomKill[] {
  const out: OomKill[] = [];
  for (const cs of pod.status?.containerStatuses ?? []) {
    const t = cs.lastState?.terminated;
    if (t?.reason !== "OOMKilled" || !t.finishedAt) continue;
    const at = Date.parse(t.finishedAt);
    if (!Number.isFinite(at)) continue;
    const resources = pod.spec?.containers?.find((c) => c.name === cs.name)?.resources;
    out.push({
      // The id the profile controller has always used: checkpoints written before keep matching.
      id: `${pod.metadata?.uid}/${cs.name}/${t.finishedAt}`,
      pod: pod.metadata?.name ?? "",
      container: cs.name,
      at,
      limitBytes: quantity(resources?.limits?.memory),
      requestBytes: quantity(resources?.requests?.memory),
      source: "pod-status",
    });
  }
  return out;
}

/** A ScalingDecision as a LIST gives it (the contract's shape); the OOM kills are in spec.target, rootCause and before. */
export type OomDecision = ScalingDecisionObject;

/**
 * The OOM kills an OOMKilled ScalingDecision names as evidence: `container_oom_killed` with value "<pod>/<container>",
 * threshold "limit <quantity>" and observedAt the time of death (what the scaler writes, src/scaler/engine.ts). The
 * decision's namespace and target say whose kills they are; a kill without a time is skipped.
 */
export function oomKillsOfDecision(
  d: OomDecision,
): { namespace: string; target: WorkloadRef; kills: OomKill[] } | undefined {
  const spec = d.spec;
  const target = spec?.target;
  if (spec?.rootCause?.category !== "OOMKilled" || !target?.name) return undefined;
  if (target.kind !== "Deployment" && target.kind !== "StatefulSet") return undefined;
  const namespace = d.metadata?.namespace ?? "";
  // A decision speaks only for a workload of its own namespace.
  if (target.namespace !== undefined && target.namespace !== namespace) return undefined;
  const kills: OomKill[] = [];
  for (const e of spec.rootCause.evidence ?? []) {
    if (e.signal !== "container_oom_killed" || !e.value || !e.observedAt) continue;
    const slash = e.value.lastIndexOf("/");
    if (slash <= 0 || slash === e.value.length - 1) continue;
    const at = Date.parse(e.observedAt);
    if (!Number.isFinite(at)) continue;
    const pod = e.value.slice(0, slash);
    const container = e.value.slice(slash + 1);
    const limit = /^limit (\S+)$/.exec(e.threshold ?? "")?.[1];
    kills.push({
      id: `${namespace}/${pod}/${container}/${e.observedAt}`,
      pod,
      container,
      at,
      limitBytes: quantity(limit) ?? quantity(spec.before?.resources?.limits?.memory),
      requestBytes: quantity(spec.before?.resources?.requests?.memory),
      source: "scaling-decision",
    });
  }
  return { namespace, target: { kind: target.kind, name: target.name }, kills };
}

/**
 * Counts each kill once into the model: the memory at the OOM is the container's limit (where it died), else the
 * larger of its request and the pod's peak of that day (VPA); bumped by `bump`, it becomes the pod's peak of the
 * day. Returns the kills that were new. A kill seen twice (by id, or the same pod, container and time from two
 * sources) adds nothing the second time.
 */
export function applyOomKills(
  model: WorkloadModel,
  kills: readonly OomKill[],
  bump: OomBump,
  nowMs: number,
): OomKill[] {
  const counted: OomKill[] = [];
  const seen = new Set<string>();
  for (const k of kills) {
    const sameKill = `${k.pod}/${k.container}/${k.at}`;
    if (seen.has(sameKill)) continue;
    seen.add(sameKill);
    const state = containerState(model, k.container, nowMs);
    const day = state.days.find((d) => d.start <= k.at && k.at < d.start + 86_400_000);
    const dayPeak = day && podPeak(day, k.pod)?.bytes;
    const atOom = k.limitBytes ?? Math.max(k.requestBytes ?? 0, dayPeak ?? 0);
    if (atOom <= 0) continue;
    if (recordOom(state, k.id, k.pod, k.at, atOom, bump)) counted.push(k);
  }
  return counted;
}

/** The kills in the status of the pods of `ref` (resolved through the owner chain). */
export function oomKillsOfWorkload(
  pods: Iterable<OomPod>,
  namespace: string,
  ref: WorkloadRef,
  resolver: OwnerResolver,
): OomKill[] {
  const out: OomKill[] = [];
  for (const pod of pods) {
    if (pod.metadata?.namespace !== undefined && pod.metadata.namespace !== namespace) continue;
    const owner = resolver.resolve(namespace, pod.metadata?.name ?? "");
    if (owner?.kind !== ref.kind || owner.name !== ref.name) continue;
    out.push(...oomKillsOfPod(pod));
  }
  return out;
}
