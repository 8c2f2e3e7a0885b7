import { describe, expect, it } from "vitest";
import { MiB } from "../scaler/quantity.js";
import { inventoryOf, parseTenantsFile } from "./inventory.js";

const deployment = (namespace: string, tenant: string, extra: Record<string, string> = {}) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "kube-apiserver",
    namespace,
    labels: { "metapilot.io/tenant": tenant, "metapilot.io/component": "kube-apiserver", ...extra },
  },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          {
            name: "kube-apiserver",
            resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
          },
        ],
      },
    },
  },
});

describe("inventoryOf", () => {
  it("reads the tenants' control-plane workloads as the scaler does, and says why it skips the others", () => {
    const tenants = `
apiVersion: v1
kind: List
items:
  - apiVersion: metapilot.io/v1alpha1
    kind: TenantControlPlane
    metadata: { name: a, labels: { tier: gold } }
    status: { namespace: tcp-a }
`;
    const objects = [
      ...parseTenantsFile(tenants, "tenants.yaml"),
      deployment("tcp-a", "a"),
      // Labelled as a's, but not in a's namespace: not a's, as live.
      deployment("elsewhere", "a"),
      // No TenantControlPlane: governed where it runs.
      deployment("hosted-b", "b"),
      { kind: "Deployment", metadata: { name: "web", namespace: "tcp-a", labels: {} } },
    ];
    const inv = inventoryOf(objects);
    expect(inv.workloads.map((w) => [w.ref.namespace, w.ref.tenant, w.tenantLabels.tier])).toEqual([
      ["hosted-b", "b", undefined],
      ["tcp-a", "a", "gold"],
    ]);
    expect(inv.workloads[1]?.start).toEqual({
      replicas: 2,
      cpuRequest: 0.5,
      memoryRequest: 1024 * MiB,
      memoryLimit: 2048 * MiB,
    });
    // Neither is owned by a TenantControlPlane (no managed-by label): no in-place resize.
    expect(inv.workloads.map((w) => w.inPlaceResize)).toEqual([false, false]);
    expect(inv.skipped).toHaveLength(2);
    expect(inv.skipped[0]).toMatch(
      /elsewhere\/kube-apiserver: labelled metapilot.io\/tenant=a, but TenantControlPlane a runs in namespace tcp-a/,
    );
  });

  it("resizes a TenantControlPlane's own components in place unless its resourceUpdates.strategy is Restart", () => {
    const tcp = (name: string, spec: Record<string, unknown>) => ({
      kind: "TenantControlPlane",
      metadata: { name },
      spec,
      status: { namespace: `tcp-${name}` },
    });
    const managed = { "app.kubernetes.io/managed-by": "metapilot" };
    const inv = inventoryOf([
      tcp("a", {}),
      tcp("b", { resourceUpdates: { strategy: "Restart" } }),
      deployment("tcp-a", "a", managed),
      deployment("tcp-b", "b", managed),
    ]);
    expect(inv.workloads.map((w) => [w.ref.tenant, w.ref.ownedByTenantControlPlane, w.inPlaceResize])).toEqual([
      ["a", true, true],
      ["b", true, false],
    ]);
  });

  it("refuses a tenants file that is not a List or an array of objects with kinds", () => {
    expect(() => parseTenantsFile("kind: Deployment\n", "t.yaml")).toThrow(/t\.yaml: expected a List with items/);
    expect(() => parseTenantsFile("[{metadata: {}}]", "t.json")).toThrow(
      /t\.json: items\[0\]\.kind: expected a string/,
    );
    expect(() => parseTenantsFile("{", "t.json")).toThrow(/t\.json: not JSON or YAML/);
  });
});
