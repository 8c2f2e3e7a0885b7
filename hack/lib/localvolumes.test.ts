import { describe, expect, it } from "vitest";
import {
  localStorageClassManifest,
  localVolumeManifest,
  localVolumePath,
  realLocalStorageClass,
} from "./localvolumes.js";
import { realNodeLayout } from "./realnodes.js";

const node = realNodeLayout("/tmp/mc", 0, 3, { kubelet: 10250, healthz: 10248 }, "abc123");

describe("local volumes on real nodes", () => {
  it("have a StorageClass without a provisioner that binds when the pod has a node", () => {
    expect(localStorageClassManifest()).toMatchObject({
      metadata: { name: realLocalStorageClass },
      provisioner: "kubernetes.io/no-provisioner",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Retain",
    });
  });

  it("are `local` volumes (which take the pod's fsGroup, unlike hostPath) under the node's directory, on that node only", () => {
    const pv = localVolumeManifest(node, "t-etcd-0", "1Gi") as {
      spec: Record<string, unknown> & { local: { path: string }; nodeAffinity: unknown };
    };
    expect(pv.spec.local.path).toBe(localVolumePath(node, "t-etcd-0"));
    expect(pv.spec.local.path.startsWith(`${node.dir}/`)).toBe(true);
    expect(pv.spec).not.toHaveProperty("hostPath");
    expect(pv.spec).not.toHaveProperty("claimRef");
    expect(pv.spec.storageClassName).toBe(realLocalStorageClass);
    expect(pv.spec.capacity).toEqual({ storage: "1Gi" });
    expect(pv.spec.nodeAffinity).toEqual({
      required: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node.name] }] },
        ],
      },
    });
  });

  it("can be reserved for one claim, such as a StatefulSet member's", () => {
    const pv = localVolumeManifest(node, "t-etcd-0", "1Gi", { namespace: "tcp-t", name: "data-etcd-0" }) as {
      spec: { claimRef: unknown };
    };
    expect(pv.spec.claimRef).toEqual({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      namespace: "tcp-t",
      name: "data-etcd-0",
    });
  });
});
