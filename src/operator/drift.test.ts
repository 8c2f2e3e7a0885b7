import { describe, expect, it } from "vitest";
import { mustParse } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { driftedFields, driftToRepair } from "./drift.js";
import { apiServerDeployment, etcdStatefulSet, type TenantContext } from "./manifests.js";

const tcp = mustParse("TenantControlPlane", {
  apiVersion: "metapilot.io/v1alpha1",
  kind: "TenantControlPlane",
  metadata: { name: "team-a" },
  spec: {
    version: "v1.35.4",
    apiServer: {
      replicas: 2,
      resources: { requests: { cpu: "0.5", memory: "1Gi" }, limits: { memory: "2048Mi" } },
    },
  },
});
const ctx: TenantContext = { tcp, tenant: "team-a", namespace: "tcp-team-a", uid: "uid-1" };
const desired = apiServerDeployment(ctx, { version: "v1.35.4", pkiChecksum: "abc" });

type Container = Record<string, unknown> & {
  name: string;
  image: string;
  args: string[];
  env?: Array<{ name: string; value?: string }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: Record<string, unknown>;
  ports: Array<Record<string, unknown>>;
};
type Live = KubeObject & {
  spec: {
    replicas: number;
    template: {
      metadata: { annotations: Record<string, string> };
      spec: Record<string, unknown> & { containers: Container[] };
    };
  };
};

/** The object as the apiserver serves it back: defaulted fields, normalised quantities, other managers' fields. */
function live(edit: (o: Live) => void = () => undefined): Live {
  const o = structuredClone(desired) as Live;
  o.metadata = { ...o.metadata, uid: "u", resourceVersion: "42", generation: 3 };
  const pod = o.spec.template.spec;
  pod.restartPolicy = "Always";
  pod.dnsPolicy = "ClusterFirst";
  pod.schedulerName = "default-scheduler";
  pod.terminationGracePeriodSeconds ??= 30;
  for (const c of pod.containers) {
    c.imagePullPolicy = "IfNotPresent";
    c.terminationMessagePath = "/dev/termination-log";
    c.livenessProbe = { ...c.livenessProbe, successThreshold: 1 };
    for (const p of c.ports) p.protocol = "TCP";
    // The apiserver writes quantities in canonical form.
    c.resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } };
  }
  // `kubectl rollout restart` and another manager's env entry: not metapilot's fields, not drift.
  o.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] = "2026-12-05T10:00:00Z";
  pod.containers[0]!.env = [...(pod.containers[0]!.env ?? []), { name: "GODEBUG", value: "x509sha1=1" }];
  (o as { status?: unknown }).status = { replicas: 2, readyReplicas: 2 };
  edit(o);
  return o;
}

describe("driftedFields", () => {
  it("finds nothing in an object the apiserver defaulted and normalised", () => {
    expect(driftedFields(desired, live())).toEqual([]);
  });

  it("finds nothing in an unchanged etcd StatefulSet", () => {
    const sts = etcdStatefulSet(ctx, { version: "v1.35.4", etcdVersion: "3.6.5", pkiChecksum: "abc" })!;
    expect(driftedFields(sts, structuredClone(sts))).toEqual([]);
  });

  const c = "spec.template.spec.containers[kube-apiserver]";
  it.each<[string, (o: Live) => void, string[]]>([
    [
      "image",
      (o) => void (o.spec.template.spec.containers[0]!.image = "evil.example/kube-apiserver:v1"),
      [`${c}.image`],
    ],
    ["replicas", (o) => void (o.spec.replicas = 5), ["spec.replicas"]],
    ["an added arg", (o) => void o.spec.template.spec.containers[0]!.args.push("--anonymous-auth=true"), [`${c}.args`]],
    ["a changed arg", (o) => void (o.spec.template.spec.containers[0]!.args[0] = "--secure-port=1"), [`${c}.args`]],
    [
      "a memory limit",
      (o) => void (o.spec.template.spec.containers[0]!.resources.limits.memory = "8Gi"),
      [`${c}.resources.limits.memory`],
    ],
    [
      "a removed CPU request",
      (o) => void delete o.spec.template.spec.containers[0]!.resources.requests.cpu,
      [`${c}.resources.requests.cpu`],
    ],
    [
      "a probe",
      (o) => void (o.spec.template.spec.containers[0]!.livenessProbe = { exec: { command: ["true"] } }),
      [
        `${c}.livenessProbe.httpGet`,
        `${c}.livenessProbe.initialDelaySeconds`,
        `${c}.livenessProbe.periodSeconds`,
        `${c}.livenessProbe.timeoutSeconds`,
        `${c}.livenessProbe.failureThreshold`,
      ],
    ],
    [
      "a command",
      (o) => void (o.spec.template.spec.containers[0]!.command = ["sh", "-c", "sleep inf"]),
      [`${c}.command`],
    ],
    ["the container replaced by another", (o) => void (o.spec.template.spec.containers[0]!.name = "sidecar"), [c]],
    [
      "the pki checksum annotation",
      (o) => void (o.spec.template.metadata.annotations["metapilot.io/pki-checksum"] = "old"),
      ["spec.template.metadata.annotations.metapilot.io/pki-checksum"],
    ],
  ])("finds %s", (_what, edit, fields) => {
    expect(driftedFields(desired, live(edit))).toEqual(fields);
  });

  it("names an env entry by its name", () => {
    const withEnv = structuredClone(desired) as Live;
    withEnv.spec.template.spec.containers[0]!.env = [{ name: "A", value: "1" }];
    const edited = structuredClone(withEnv);
    edited.spec.template.spec.containers[0]!.env = [{ name: "A", value: "2" }];
    expect(driftedFields(withEnv, edited)).toEqual([`${c}.env[A].value`]);
  });

  it("repairs nothing on a workload annotated metapilot.io/paused", () => {
    const edited = live((o) => void (o.spec.template.spec.containers[0]!.image = "debug.example/kube-apiserver:v0"));
    expect(driftToRepair(desired, edited)).toEqual([`${c}.image`]);
    edited.metadata = {
      ...edited.metadata,
      annotations: { ...edited.metadata?.annotations, "metapilot.io/paused": "true" },
    };
    expect(driftToRepair(desired, edited)).toEqual([]);
  });
});
