// Which workloads the ClusterScaler wakes for: only those a valid ClusterScaler governs, decided from the same
// caches the reconciler reads, with the parsed ClusterScalers reused until one of them changes.
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import { ScalerReconciler, isPaused, type ScalerCaches } from "./reconciler.js";
import { componentLabel, tenantLabel } from "../api/labels.js";
import { Store } from "./testing.js";

const scaler = (name: string, matchLabels: Record<string, string>, resourceVersion = "1"): KubeObject =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name, uid: `uid-${name}`, resourceVersion },
    spec: {
      tenantSelector: { matchLabels },
      components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }], maxAllowed: { memory: "4Gi" } }],
    },
  }) as KubeObject;

const tenant = (name: string, labels: Record<string, string>): KubeObject =>
  ({ apiVersion: "metapilot.io/v1alpha1", kind: "TenantControlPlane", metadata: { name, labels } }) as KubeObject;

const workload = (tenantName: string, component: string, extra: Record<string, string> = {}): KubeObject => ({
  metadata: {
    name: component,
    namespace: `tcp-${tenantName}`,
    labels: { [tenantLabel]: tenantName, [componentLabel]: component, ...extra },
  },
});

function reconcilerOver(
  scalers: Store,
  tenants: Store,
  events: Array<{ reason: string; note: string; name?: string }> = [],
): ScalerReconciler {
  const empty = new Store();
  // The governance check reads only these caches; a Store stands in for an informer's read side.
  const caches = {
    clusterScalers: scalers,
    tenants,
    deployments: empty,
    statefulSets: empty,
    pods: empty,
    decisions: empty,
    profiles: empty,
  } as unknown as ScalerCaches;
  // Client and actuator are never reached by governs(); the recorder only for a workload it refuses.
  return new ScalerReconciler({
    caches,
    client: undefined as never,
    actuator: undefined as never,
    recorder: {
      record: (regarding: KubeObject, _type: string, reason: string, _action: string, note: string) =>
        events.push({ reason, note, name: regarding.metadata?.name }),
    } as never,
    dryRun: false,
  });
}

describe("ScalerReconciler.governs", () => {
  it("is true only for a known component of a tenant some valid ClusterScaler selects", () => {
    const scalers = new Store([scaler("gold", { tier: "gold" })]);
    const tenants = new Store([tenant("a", { tier: "gold" }), tenant("b", { tier: "bronze" })]);
    const r = reconcilerOver(scalers, tenants);
    expect(r.governs(workload("a", "kube-apiserver"))).toBe(true);
    expect(r.governs(workload("a", "etcd"))).toBe(true);
    expect(r.governs(workload("b", "kube-apiserver"))).toBe(false);
    expect(r.governs(workload("a", "sidecar"))).toBe(false);
    expect(r.governs({ metadata: { name: "x", namespace: "tcp-a", labels: { [tenantLabel]: "a" } } })).toBe(false);
  });

  it("falls back to the workload's own labels for a workload no TenantControlPlane owns", () => {
    const r = reconcilerOver(new Store([scaler("gold", { tier: "gold" })]), new Store());
    expect(r.governs(workload("hand-made", "kube-apiserver", { tier: "gold" }))).toBe(true);
    expect(r.governs(workload("hand-made", "kube-apiserver"))).toBe(false);
  });

  it("refuses a workload labelled for a tenant outside that tenant's namespace, and says so once", () => {
    const events: Array<{ reason: string; note: string; name?: string }> = [];
    const r = reconcilerOver(new Store([scaler("all", {})]), new Store([tenant("victim", {})]), events);
    const forged: KubeObject = {
      metadata: {
        name: "kube-apiserver",
        namespace: "attacker",
        uid: "u1",
        labels: { [tenantLabel]: "victim", [componentLabel]: "kube-apiserver" },
      },
    };
    expect(r.governs(forged)).toBe(false);
    expect(r.governs(forged)).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: "ForeignTenantLabel", name: "kube-apiserver" });
    expect(events[0]?.note).toMatch(/TenantControlPlane victim runs in namespace tcp-victim, not attacker/);
    // The same labels in the tenant's own namespace are governed.
    expect(r.governs({ metadata: { ...forged.metadata, namespace: "tcp-victim" } })).toBe(true);
  });

  it("ignores a ClusterScaler that does not parse", () => {
    const broken = scaler("broken", { tier: "gold" });
    (broken as { spec: { components: unknown } }).spec.components = "not a list";
    const r = reconcilerOver(new Store([broken]), new Store([tenant("a", { tier: "gold" })]));
    expect(r.governs(workload("a", "kube-apiserver"))).toBe(false);
  });

  it("parses ClusterScalers once until one changes, and sees the change", () => {
    const scalers = new Store([scaler("gold", { tier: "gold" })]);
    const tenants = new Store([tenant("a", { tier: "gold" })]);
    const r = reconcilerOver(scalers, tenants);
    const first = r.clusterScalers();
    expect(r.clusterScalers()).toBe(first);
    expect(r.governs(workload("a", "kube-apiserver"))).toBe(true);
    scalers.items[0] = scaler("gold", { tier: "platinum" }, "2");
    expect(r.clusterScalers()).not.toBe(first);
    expect(r.governs(workload("a", "kube-apiserver"))).toBe(false);
    scalers.items.push(scaler("all", {}, "1"));
    expect(r.governs(workload("a", "kube-apiserver"))).toBe(true);
  });
});

describe("isPaused", () => {
  const annotated = { metadata: { annotations: { "metapilot.io/paused": "true" } } };
  const running = { spec: { paused: false } };
  it.each([
    ["nothing paused", {}, undefined, running, false],
    ["the workload's annotation", annotated, undefined, running, true],
    ["the TenantControlPlane's annotation", {}, annotated, running, true],
    ["the TenantControlPlane's spec.paused", {}, { spec: { paused: true } }, running, true],
    ["the ClusterScaler's spec.paused", {}, { spec: { paused: false } }, { spec: { paused: true } }, true],
    [
      'an annotation that is not "true"',
      { metadata: { annotations: { "metapilot.io/paused": "no" } } },
      undefined,
      running,
      false,
    ],
  ])("%s", (_name, workload, tcp, clusterScaler, expected) => {
    expect(isPaused(workload, tcp, clusterScaler)).toBe(expected);
  });
});
