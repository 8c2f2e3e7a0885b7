// Drift: what a hand edit changed in a managed workload. The operator skips its server-side apply while the live
// object carries the desired spec hash; that hash says nothing about edits made since (`kubectl edit` of an image,
// the replicas, args or resources). This compares the fields metapilot writes with the live object from the cache.
//
// The comparison is "what metapilot wrote is still there": every field of the desired object must hold the same
// value in the live one; fields the apiserver defaults (probe periods, protocols, defaultMode...) or other field
// managers added (a `kubectl rollout restart` annotation, an extra env entry owned by kubectl) are not drift, because
// metapilot's apply would not remove them and a repair would never end. Lists that Kubernetes merges by key
// (containers, env, volumes, volumeMounts, ports) are matched by that key; other lists (args, command,
// tolerations) are atomic and must be equal in length too. Quantities are compared by value ("0.5" is "500m").
//
// Replicas and resources belong to metapilot here: the ClusterScaler changes a TenantControlPlane's own workloads
// by patching the TenantControlPlane's spec (src/scaler/actuator.ts), never the Deployment, so the desired object
// already carries its choice and a repair does not fight it.
import { parseQuantity } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { pausedAnnotation } from "../api/labels.js";

/** The parts of a workload that the operator owns and repairs. */
const comparedPaths: ReadonlyArray<readonly string[]> = [
  ["spec", "replicas"],
  ["spec", "template"],
];

/** Lists merged by a key (`x-kubernetes-list-map-keys` in the Kubernetes OpenAPI), by the name of the list. */
const listMapKeys: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  imagePullSecrets: "name",
};

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A value the apiserver drops when it serialises (omitempty): absent in the live object means the same. */
const isEmpty = (v: Json) =>
  v === undefined ||
  v === null ||
  v === false ||
  v === 0 ||
  v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (isObject(v) && Object.keys(v).length === 0);

function sameQuantity(a: string, b: string): boolean {
  try {
    return parseQuantity(a) === parseQuantity(b);
  } catch {
    return false;
  }
}

function compare(desired: Json, live: Json, path: string, quantities: boolean, out: string[]): void {
  if (desired === undefined) return;
  if (live === undefined || live === null) {
    if (!isEmpty(desired)) out.push(path);
    return;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) {
      out.push(path);
      return;
    }
    const listName = path.slice(path.lastIndexOf(".") + 1);
    const key = listMapKeys[listName];
    if (key) {
      for (const item of desired) {
        const id = isObject(item) ? item[key] : undefined;
        const match = live.find((l) => isObject(l) && l[key] === id);
        compare(item, match, `${path}[${String(id)}]`, quantities, out);
      }
      return;
    }
    if (desired.length !== live.length) {
      out.push(path);
      return;
    }
    const before = out.length;
    desired.forEach((item, i) => compare(item, live[i], `${path}[${i}]`, quantities, out));
    // An atomic list is re-applied whole: name the list once, not each element.
    if (out.length > before) out.splice(before, out.length - before, path);
    return;
  }
  if (isObject(desired)) {
    if (!isObject(live)) {
      out.push(path);
      return;
    }
    for (const [k, v] of Object.entries(desired)) {
      compare(v, live[k], `${path}.${k}`, quantities || k === "resources" || k === "sizeLimit", out);
    }
    return;
  }
  if (desired === live) return;
  if (quantities && typeof desired === "string" && typeof live === "string" && sameQuantity(desired, live)) return;
  // Numbers the apiserver keeps as written, but a YAML hand edit may turn 1 into "1" where an int-or-string is.
  if (typeof desired !== typeof live && String(desired) === String(live)) return;
  out.push(path);
}

/**
 * The fields of a managed Deployment or StatefulSet whose live value differs from what metapilot applies, as
 * paths such as `spec.template.spec.containers[kube-apiserver].image`; empty when nothing drifted.
 */
export function driftedFields(desired: KubeObject, live: KubeObject): string[] {
  const out: string[] = [];
  for (const path of comparedPaths) {
    let d: Json = desired;
    let l: Json = live;
    for (const p of path) {
      d = isObject(d) ? d[p] : undefined;
      l = isObject(l) ? l[p] : undefined;
    }
    compare(d, l, path.join("."), false, out);
  }
  return out;
}

/**
 * The drift the operator repairs: none on a workload annotated `metapilot.io/paused: "true"`, which stops every
 * automatic change to it (an admin debugging a control plane by hand pauses it first).
 */
export function driftToRepair(desired: KubeObject, live: KubeObject): string[] {
  if (live.metadata?.annotations?.[pausedAnnotation] === "true") return [];
  return driftedFields(desired, live);
}
