// Local persistent volumes on real nodes, as a cluster admin provisions them for local disks (the way
// sig-storage's local-static-provisioner does): a directory on the node, a `local` PersistentVolume with node
// affinity to it, and a StorageClass without a provisioner that binds when the pod is scheduled.
//
// kwok's default StorageClass (kwok-volume) is not enough on a real node: its PVs are hostPath directories that the
// kubelet creates owned by root with mode 0755, and Kubernetes applies a pod's fsGroup to no hostPath volume, so a
// non-root etcd (uid 65532, as the operator runs it) cannot write its data directory. The kubelet applies fsGroup
// to `local` volumes, as it does to real disks.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { RealNode } from "./realnodes.js";

/** The StorageClass of local volumes on real nodes. */
export const realLocalStorageClass = "metapilot-real-local";

export function localStorageClassManifest(): Record<string, unknown> {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: realLocalStorageClass, labels: { "app.kubernetes.io/managed-by": "metacluster" } },
    provisioner: "kubernetes.io/no-provisioner",
    // The claim binds once its pod has a node, so the scheduler only picks the node that holds the volume.
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Retain",
  };
}

/** Where a volume's directory lives on the node: under the node's own directory, which `down` removes. */
export function localVolumePath(node: RealNode, name: string): string {
  return path.join(node.dir, "volumes", name);
}

/**
 * A `local` PersistentVolume of `size` on `node`. With `claim` it is reserved for that PersistentVolumeClaim (a
 * StatefulSet's claim is `<template>-<set>-<ordinal>`), so no other claim of the class takes it.
 */
export function localVolumeManifest(
  node: RealNode,
  name: string,
  size: string,
  claim?: { namespace: string; name: string },
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name,
      labels: { "app.kubernetes.io/managed-by": "metacluster", "kubernetes.io/hostname": node.name },
    },
    spec: {
      capacity: { storage: size },
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: realLocalStorageClass,
      local: { path: localVolumePath(node, name) },
      ...(claim ? { claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", ...claim } } : {}),
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node.name] }] },
          ],
        },
      },
    },
  };
}

/** Makes the volume's directory (root-owned, 0755: the kubelet gives it the pod's fsGroup when it mounts it). */
export function makeLocalVolumeDir(node: RealNode, name: string): string {
  const dir = localVolumePath(node, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}
