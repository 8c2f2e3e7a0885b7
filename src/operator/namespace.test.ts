// Which namespace a TenantControlPlane may use: only one metapilot created for it (the owner-uid annotation, set
// at creation), or one an earlier version created for it; never a system namespace, metapilot's own, or another
// tenant's. Also the rule for spec.etcd.external.secretRef's namespace.
import { describe, expect, it } from "vitest";
import { parseTenantControlPlane } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { claimantOf, isProtectedNamespace, namespaceVerdict, type NamespaceClaimant } from "./namespace.js";
import { externalSecretRefusal } from "./steps/etcd.js";
import { managedByLabel, ownerUidAnnotation, tenantLabel } from "../api/labels.js";

const tcp = (name: string, uid: string, created: string, namespace?: string): NamespaceClaimant =>
  claimantOf({ metadata: { name, uid, creationTimestamp: created }, spec: namespace ? { namespace } : {} });

const ns = (
  name: string,
  created: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
  deleting = false,
): KubeObject => ({
  metadata: {
    name,
    uid: `ns-${name}`,
    creationTimestamp: created,
    labels,
    annotations,
    ...(deleting ? { deletionTimestamp: "2026-01-02T00:00:00Z" } : {}),
  },
});

const ours = (tenant: string) => ({ [tenantLabel]: tenant, [managedByLabel]: "metapilot" });

describe("namespaceVerdict", () => {
  const a = tcp("a", "uid-a", "2026-01-01T10:00:00Z");
  const verdict = (
    tenant: NamespaceClaimant,
    existing: KubeObject | undefined,
    others: NamespaceClaimant[] = [],
    own: string[] = ["metapilot-system"],
  ) => namespaceVerdict({ tenant, existing, others: () => others, ownNamespaces: own });

  it.each([
    ["default", "a system namespace"],
    ["kube-system", "a system namespace"],
    ["kube-public", "a system namespace"],
    ["metapilot-system", "metapilot's own namespace"],
  ])("refuses %s (%s), existing or not", (name, what) => {
    const t = tcp("a", "uid-a", "2026-01-01T10:00:00Z", name);
    for (const existing of [undefined, ns(name, "2020-01-01T00:00:00Z")]) {
      const v = verdict(t, existing);
      expect(v).toMatchObject({ action: "refuse", reason: "ProtectedNamespace" });
      expect(v.action === "refuse" && v.message).toContain(what);
    }
    expect(isProtectedNamespace("kube-x", [])).toBe(true);
    expect(isProtectedNamespace("kubeflow", [])).toBe(false);
  });

  it("creates a namespace that does not exist, and uses one that carries its uid", () => {
    expect(verdict(a, undefined)).toEqual({ action: "create" });
    const created = ns("tcp-a", "2026-01-01T10:00:01Z", ours("a"), { [ownerUidAnnotation]: "uid-a" });
    expect(verdict(a, created)).toEqual({ action: "use" });
  });

  it("refuses a namespace that existed before, even with the tenant labels applied to it", () => {
    const t = tcp("evil", "uid-e", "2026-01-01T10:00:00Z", "payroll");
    const labelSets: Array<Record<string, string>> = [{}, ours("evil"), { [tenantLabel]: "evil" }];
    for (const labels of labelSets) {
      const v = verdict(t, ns("payroll", "2025-06-01T00:00:00Z", labels));
      expect(v).toMatchObject({ action: "refuse", reason: "NamespaceNotCreatedByMetapilot" });
      expect(v.action === "refuse" && v.message).toMatch(/Nothing was written to payroll.*will not delete it/);
    }
  });

  it("refuses a namespace created after it by someone else (no metapilot labels)", () => {
    const t = tcp("x", "uid-x", "2026-01-01T10:00:00Z", "team");
    expect(verdict(t, ns("team", "2026-01-01T11:00:00Z", { [tenantLabel]: "x" }))).toMatchObject({
      action: "refuse",
      reason: "NamespaceNotCreatedByMetapilot",
    });
  });

  it("adopts a namespace an earlier version created for it: both labels, created no earlier than the TCP", () => {
    const same = ns("tcp-a", "2026-01-01T10:00:00Z", ours("a"));
    expect(verdict(a, same)).toMatchObject({ action: "adopt" });
    expect(verdict(a, ns("tcp-a", "2026-01-01T10:00:03Z", ours("a")))).toMatchObject({ action: "adopt" });
    // Another tenant's labels: not ours.
    expect(verdict(a, ns("tcp-a", "2026-01-01T10:00:03Z", ours("b")))).toMatchObject({ action: "refuse" });
  });

  it("refuses the namespace of another TenantControlPlane: by its uid, its status, or its earlier claim", () => {
    const b = tcp("b", "uid-b", "2026-01-01T09:00:00Z");
    const victim = tcp("a", "uid-victim", "2026-01-01T09:00:00Z");
    const evil = tcp("evil", "uid-e", "2026-01-01T10:00:00Z", "tcp-a");
    const held = ns("tcp-a", "2026-01-01T09:00:01Z", ours("a"), { [ownerUidAnnotation]: "uid-victim" });
    const v = verdict(evil, held, [victim, b]);
    expect(v).toMatchObject({ action: "refuse", reason: "NamespaceHeldByAnotherTenant" });
    expect(v.action === "refuse" && v.message).toContain("TenantControlPlane a");
    // Not created yet: the older claim wins, whichever reconciles first.
    expect(verdict(evil, undefined, [victim])).toMatchObject({ reason: "NamespaceHeldByAnotherTenant" });
    expect(verdict(victim, undefined, [evil])).toEqual({ action: "create" });
    // A holder by status.namespace wins even when younger.
    const holder = { ...tcp("h", "uid-h", "2026-02-01T00:00:00Z", "shared"), statusNamespace: "shared" };
    const older = tcp("o", "uid-o", "2026-01-01T00:00:00Z", "shared");
    expect(verdict(older, undefined, [holder])).toMatchObject({ reason: "NamespaceHeldByAnotherTenant" });
    // A namespace metapilot created for another name whose TenantControlPlane is gone is still not this one's.
    const retainedForB = ns("tcp-a", "2026-01-01T09:00:01Z", ours("b"), { [ownerUidAnnotation]: "uid-old-b" });
    expect(verdict(a, retainedForB)).toMatchObject({ reason: "NamespaceHeldByAnotherTenant" });
  });

  it("adopts a namespace retained from an earlier TenantControlPlane of the same name", () => {
    const retained = ns("tcp-a", "2025-01-01T00:00:00Z", ours("a"), { [ownerUidAnnotation]: "uid-old-a" });
    expect(verdict(a, retained)).toMatchObject({ action: "adopt" });
    // ...unless that uid belongs to a TenantControlPlane that exists.
    expect(verdict(a, retained, [tcp("z", "uid-old-a", "2025-01-01T00:00:00Z", "tcp-a")])).toMatchObject({
      reason: "NamespaceHeldByAnotherTenant",
    });
  });

  it("waits for a terminating namespace instead of writing into it", () => {
    const going = ns("tcp-a", "2026-01-01T10:00:01Z", ours("a"), { [ownerUidAnnotation]: "uid-a" }, true);
    expect(verdict(a, going)).toMatchObject({ action: "refuse", reason: "NamespaceTerminating" });
  });

  it("asks for the other TenantControlPlanes only when it needs them", () => {
    let asked = 0;
    const others = () => {
      asked++;
      return [];
    };
    const created = ns("tcp-a", "2026-01-01T10:00:01Z", ours("a"), { [ownerUidAnnotation]: "uid-a" });
    namespaceVerdict({ tenant: a, existing: created, others, ownNamespaces: [] });
    expect(asked).toBe(0);
    namespaceVerdict({ tenant: a, existing: undefined, others, ownNamespaces: [] });
    expect(asked).toBe(1);
  });
});

describe("spec.namespace in the schema", () => {
  const spec = (namespace: string) => ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name: "a" },
    spec: { version: "v1.35.4", namespace },
  });
  it.each(["default", "kube-system", "kube-node-lease"])("refuses %s", (name) => {
    const r = parseTenantControlPlane(spec(name));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.join(";")).toMatch(/must not be default or a kube-\* namespace/);
  });
  it.each(["tcp-a", "kubeflow-tenant", "payroll"])("accepts %s (the controller checks ownership)", (name) => {
    expect(parseTenantControlPlane(spec(name)).ok).toBe(true);
  });
});

describe("externalSecretRefusal", () => {
  it("allows the tenant's own namespace and the listed ones, and says what to do otherwise", () => {
    expect(externalSecretRefusal("tcp-a", "tcp-a", [])).toBeUndefined();
    expect(externalSecretRefusal("etcd-certs", "tcp-a", ["etcd-certs"])).toBeUndefined();
    const refusal = externalSecretRefusal("tcp-b", "tcp-a", ["etcd-certs"]);
    expect(refusal).toMatch(/namespace tcp-b is not allowed.*tcp-a or one of etcd-certs.*was not read/);
    expect(refusal).toContain("--external-etcd-secret-namespaces");
    expect(externalSecretRefusal("kube-system", "tcp-a", [])).toMatch(/not allowed/);
  });
});
