// The slice of Node, Pod and PodDisruptionBudget that node pools and drains read, and pure helpers over them:
// requests, fit (resources, taints, node selectors), label selectors and the "leave this alone" markers.
import { parseQuantity, type LabelSelector } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { doNotDisruptAnnotation, pausedAnnotation } from "../api/labels.js";

export const doNotDisruptAnnotations: ReadonlyArray<readonly [string, string]> = [
  [doNotDisruptAnnotation, "true"],
  ["karpenter.sh/do-not-disrupt", "true"],
  ["cluster-autoscaler.kubernetes.io/safe-to-evict", "false"],
];
export const gpuResource = "nvidia.com/gpu";

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: Taint[]; providerID?: string };
  status?: {
    allocatable?: Record<string, string>;
    capacity?: Record<string, string>;
    conditions?: Array<{ type: string; status: string }>;
  };
}

export interface Container {
  name: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
    containers?: Container[];
    initContainers?: Container[];
    overhead?: Record<string, string>;
    volumes?: Array<{ name: string; emptyDir?: unknown }>;
    terminationGracePeriodSeconds?: number;
    priority?: number;
  };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string }>;
  };
}

export interface PodDisruptionBudget extends KubeObject {
  spec?: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
  status?: {
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    expectedPods?: number;
    observedGeneration?: number;
  };
}

/** CPU in cores, memory in bytes, pods as a count, GPUs as a count. */
export interface Resources {
  cpu: number;
  memory: number;
  pods: number;
  gpu: number;
}

export const zero = (): Resources => ({ cpu: 0, memory: 0, pods: 0, gpu: 0 });

export function add(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu + b.cpu, memory: a.memory + b.memory, pods: a.pods + b.pods, gpu: a.gpu + b.gpu };
}

export function sub(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu - b.cpu, memory: a.memory - b.memory, pods: a.pods - b.pods, gpu: a.gpu - b.gpu };
}

/** Every dimension of `need` fits into `free` (a small epsilon absorbs float error from quantities). */
export function fitsIn(need: Resources, free: Resources): boolean {
  const eps = 1e-9;
  return (
    need.cpu <= free.cpu + eps &&
    need.memory <= free.memory + eps &&
    need.pods <= free.pods + eps &&
    need.gpu <= free.gpu + eps
  );
}

// Quantities repeat endlessly across pods ("100m", "128Mi"), and parsing one builds a RegExp: memoize.
const quantityCache = new Map<string, number>();

function q(v: string | undefined): number {
  if (v === undefined) return 0;
  let n = quantityCache.get(v);
  if (n === undefined) {
    try {
      n = parseQuantity(v);
    } catch {
      n = 0;
    }
    if (quantityCache.size < 10_000) quantityCache.set(v, n);
  }
  return n;
}

function listOf(r: Record<string, string> | undefined): Resources {
  return { cpu: q(r?.cpu), memory: q(r?.memory), pods: q(r?.pods), gpu: q(r?.[gpuResource]) };
}

// Cached per object: informers replace an object on every change, so a cached value never goes stale.
const requestsCache = new WeakMap<Pod, Resources>();

/** What the scheduler reserves for a pod: max(sum of containers, largest init container) plus overhead. */
export function podRequests(pod: Pod): Resources {
  const cached = requestsCache.get(pod);
  if (cached) return cached;
  const r = computeRequests(pod);
  requestsCache.set(pod, r);
  return r;
}

function computeRequests(pod: Pod): Resources {
  let sum = zero();
  for (const c of pod.spec?.containers ?? []) sum = add(sum, listOf(c.resources?.requests));
  for (const c of pod.spec?.initContainers ?? []) {
    const r = listOf(c.resources?.requests);
    sum = {
      cpu: Math.max(sum.cpu, r.cpu),
      memory: Math.max(sum.memory, r.memory),
      pods: 0,
      gpu: Math.max(sum.gpu, r.gpu),
    };
  }
  sum = add(sum, listOf(pod.spec?.overhead));
  return { ...sum, pods: 1 };
}

export function nodeAllocatable(node: Node): Resources {
  const a = listOf(node.status?.allocatable ?? node.status?.capacity);
  return { ...a, pods: a.pods || 110 };
}

export function isNodeReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

export function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

/** Pods still holding resources on their node: bound, not finished. */
export function occupiesNode(pod: Pod): boolean {
  return !!pod.spec?.nodeName && !isTerminal(pod);
}

export function isUnschedulable(pod: Pod): boolean {
  if (pod.spec?.nodeName || pod.status?.phase !== "Pending" || pod.metadata?.deletionTimestamp) return false;
  return (
    pod.status.conditions?.some(
      (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
    ) ?? false
  );
}

export function tolerates(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === "Exists";
    if (t.key !== taint.key) return false;
    return t.operator === "Exists" || (t.value ?? "") === (taint.value ?? "");
  });
}

/** Whether the pod may be placed on a node with these labels and taints (NoSchedule and NoExecute taints). */
export function schedulableOn(pod: Pod, labels: Record<string, string>, taints: readonly Taint[]): boolean {
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  for (const t of taints) {
    if (t.effect === "PreferNoSchedule") continue;
    if (!tolerates(pod.spec?.tolerations, t)) return false;
  }
  return true;
}

/** A label selector as the apiserver's `labelSelector` query string. */
export function selectorString(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === "In" ? "in" : "notin"} (${(e.values ?? []).join(",")})`);
  }
  return parts.join(",");
}

export function isPaused(obj: KubeObject): boolean {
  return obj.metadata?.annotations?.[pausedAnnotation] === "true";
}

/** The annotation that forbids disrupting this pod or node, if any (paused counts). */
export function doNotDisruptReason(obj: KubeObject): string | undefined {
  const a = obj.metadata?.annotations ?? {};
  if (a[pausedAnnotation] === "true") return `${pausedAnnotation}=true`;
  for (const [k, v] of doNotDisruptAnnotations) if (a[k] === v) return `${k}=${v}`;
  return undefined;
}

export function controllerOf(obj: KubeObject): { kind: string; name: string } | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller);
  return ref ? { kind: ref.kind, name: ref.name } : undefined;
}

export function isDaemonSetPod(pod: Pod): boolean {
  return controllerOf(pod)?.kind === "DaemonSet";
}

export function isMirrorPod(pod: Pod): boolean {
  return "kubernetes.io/config.mirror" in (pod.metadata?.annotations ?? {});
}

export function hasLocalStorage(pod: Pod): boolean {
  return (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined);
}

export function podKey(pod: KubeObject): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

export function creationMs(obj: KubeObject): number {
  const t = obj.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}
