import { describe, expect, it } from "vitest";
import { examples } from "./examples.js";
import { effectiveScheduling, imageRegistryError } from "./scheduling.js";
import { parseTenantControlPlane } from "./validate.js";

function withSpec(change: Record<string, unknown>) {
  const tcp = examples().TenantControlPlane;
  return { ...tcp, spec: { ...tcp.spec, ...change } };
}

function errorsOf(obj: unknown): string[] {
  const r = parseTenantControlPlane(obj);
  expect(r.ok).toBe(false);
  return r.ok ? [] : (r.errors ?? []);
}

describe("spec.imageRegistry", () => {
  it.each([
    "registry.k8s.io",
    "mirror.local:5000",
    "mirror.local:5000/k8s",
    "registry.example.com/team-a/kubernetes",
    "10.0.0.5:5000/k8s_images",
    "[fd00::1]:5000/k8s",
    "localhost",
  ])("accepts %s", (value) => {
    expect(imageRegistryError(value)).toBeUndefined();
    expect(parseTenantControlPlane(withSpec({ imageRegistry: value })).ok).toBe(true);
  });

  it.each([
    ["https://mirror.local", "a scheme"],
    ["mirror.local/k8s:v1", "a tag"],
    ["mirror.local/k8s@sha256:abcd", "a digest"],
    ["mirror.local/", "a trailing slash"],
    ["mirror.local/K8s", "an upper-case path"],
    ["-mirror.local", "a host that starts with a dash"],
    ["mirror local", "a space"],
    ["", "nothing"],
    ["a".repeat(256), "too many characters"],
  ])("refuses %s (%s) with a message that says what is expected", (value) => {
    const errors = errorsOf(withSpec({ imageRegistry: value }));
    expect(errors.join("\n")).toMatch(/spec\.imageRegistry/);
    if (value.length <= 255) expect(errors.join("\n")).toContain("registry host with an optional port and path");
    expect(imageRegistryError(value)).toBeDefined();
  });
});

describe("spec.scheduling", () => {
  it("accepts the Pod API's placement fields at the top and under each component", () => {
    const scheduling = {
      nodeSelector: { "metapilot.io/node-kind": "real" },
      tolerations: [{ key: "metapilot.io/node-kind", operator: "Equal", value: "real", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } },
          ],
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { "metapilot.io/tenant": "x" } } },
          ],
        },
      },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" },
      ],
    };
    const tcp = examples().TenantControlPlane;
    const r = parseTenantControlPlane({
      ...tcp,
      spec: {
        ...tcp.spec,
        scheduling,
        apiServer: { ...tcp.spec.apiServer, scheduling: { nodeSelector: {} } },
        controllerManager: { scheduling },
        scheduler: { scheduling: { tolerations: [] } },
        etcd: { managed: { replicas: 3, scheduling } },
      },
    });
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it.each([
    [{ tolerations: [{ key: "a", operator: "Matches" }] }, "spec.scheduling.tolerations[0].operator"],
    [{ tolerations: [{ effect: "NoRun" }] }, "spec.scheduling.tolerations[0].effect"],
    [{ tolerations: Array.from({ length: 17 }, () => ({ operator: "Exists" })) }, "spec.scheduling.tolerations"],
    [
      { topologySpreadConstraints: [{ maxSkew: 0, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }] },
      "spec.scheduling.topologySpreadConstraints[0].maxSkew",
    ],
    [
      { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "Sometimes" }] },
      "spec.scheduling.topologySpreadConstraints[0].whenUnsatisfiable",
    ],
    [
      { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } },
      "spec.scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
    ],
    [
      { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 101 }] } } },
      "spec.scheduling.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
    ],
    [{ nodeSelector: { a: 1 } }, "spec.scheduling.nodeSelector.a"],
  ])("refuses %j at %s", (scheduling, path) => {
    const errors = errorsOf(withSpec({ scheduling }));
    expect(errors.some((e) => e.startsWith(path))).toBe(true);
  });

  it("reports a Pod field that spec.scheduling does not have, such as nodeName, as unknown", () => {
    const r = parseTenantControlPlane(withSpec({ scheduling: { nodeName: "node-1" } }), { strict: true });
    expect(r.ok ? [] : r.errors).toEqual([expect.stringContaining("spec.scheduling.nodeName")]);
  });

  it("refuses a bad value in a component's scheduling at that component's path", () => {
    const tcp = examples().TenantControlPlane;
    const errors = errorsOf({
      ...tcp,
      spec: { ...tcp.spec, etcd: { managed: { scheduling: { tolerations: [{ operator: "Sometimes" }] } } } },
    });
    expect(errors.some((e) => e.startsWith("spec.etcd.managed.scheduling.tolerations[0].operator"))).toBe(true);
  });
});

describe("effectiveScheduling", () => {
  it("takes each field from the component when it sets it, else from the top level", () => {
    const top = { nodeSelector: { a: "1" }, tolerations: [{ operator: "Exists" as const }] };
    expect(effectiveScheduling(top, undefined)).toEqual(top);
    expect(effectiveScheduling(undefined, top)).toEqual(top);
    expect(effectiveScheduling(top, { nodeSelector: { b: "2" } })).toEqual({
      nodeSelector: { b: "2" },
      tolerations: [{ operator: "Exists" }],
    });
    expect(effectiveScheduling(top, { tolerations: [] })).toEqual({ nodeSelector: { a: "1" }, tolerations: [] });
    expect(effectiveScheduling(undefined, undefined)).toEqual({});
  });
});
