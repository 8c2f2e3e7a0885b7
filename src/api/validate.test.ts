import { describe, expect, it } from "vitest";
import { compareQuantities, parseDuration, parseQuantity } from "./common.js";
import { examples } from "./examples.js";
import { kindNames } from "./kinds.js";
import {
  compareKubernetesVersions,
  defaultNamespace,
  parseKubernetesVersion,
  tenantNamespaceOf,
} from "./tenantcontrolplane.js";
import {
  formatPath,
  mustParse,
  parseClusterScaler,
  parseNodeDrain,
  parseNodePool,
  parseObject,
  parseScalingDecision,
  parseTenantControlPlane,
  parseWorkloadProfile,
  validateUpdate,
  ValidationError,
} from "./validate.js";

/** The example of a kind with `change` applied to a copy. */
function variant<K extends keyof ReturnType<typeof examples>>(
  kind: K,
  change: (obj: ReturnType<typeof examples>[K]) => void,
): ReturnType<typeof examples>[K] {
  const obj = examples()[kind];
  change(obj);
  return obj;
}

function errorsOf(result: { ok: boolean; errors?: string[] }): string[] {
  expect(result.ok).toBe(false);
  return result.errors ?? [];
}

describe("parse helpers", () => {
  it("accept every example, strictly, and fill in defaults", () => {
    for (const kind of kindNames) {
      const r = parseObject(kind, examples()[kind], { strict: true });
      expect(r.ok ? [] : r.errors, kind).toEqual([]);
    }
    const tcp = mustParse("TenantControlPlane", { metadata: { name: "a" }, spec: { version: "v1.35.4" } });
    expect(tcp.apiVersion).toBe("metapilot.io/v1alpha1");
    expect(tcp.kind).toBe("TenantControlPlane");
    expect(tcp.spec.apiServer).toEqual({ replicas: 2, maxSurge: 3 });
    expect(tcp.spec.controllerManager.replicas).toBe(1);
    expect(tcp.spec.etcd.managed).toEqual({ replicas: 3, storage: { size: "10Gi" }, deletionPolicy: "Retain" });
    expect(tcp.spec.service.type).toBe("ClusterIP");
    expect(tcp.spec.pki).toEqual({
      certificateValidityDays: 365,
      renewBeforeDays: 30,
      caValidityDays: 3650,
      rotateCA: 0,
    });
    expect(tcp.spec.paused).toBe(false);

    const cs = parseClusterScaler(examples().ClusterScaler);
    expect(cs.ok && cs.value.spec.scaleUp.cooldown).toBe("1m");
    expect(cs.ok && cs.value.spec.scaleDown).toEqual({
      enabled: true,
      stabilizationWindow: "6h",
      maxStepPercent: 10,
    });
    const wp = parseWorkloadProfile(examples().WorkloadProfile);
    expect(wp.ok && wp.value.spec.algorithm).toBe("vpa-histogram");
    const nd = parseNodeDrain(examples().NodeDrain);
    expect(nd.ok && nd.value.spec.evictionStrategy).toBe("eviction");
    expect(nd.ok && nd.value.spec.rateLimit.maxConcurrent).toBe(1);
    const np = parseNodePool(examples().NodePool);
    expect(np.ok && np.value.spec.scaleDown.unneededTime).toBe("10m");
    const sd = parseScalingDecision(examples().ScalingDecision);
    expect(sd.ok && sd.value.spec.target.apiVersion).toBe("apps/v1");
  });

  it("keep unknown metadata and status written by the apiserver", () => {
    const obj = {
      ...examples().NodePool,
      metadata: {
        name: "general",
        uid: "123",
        resourceVersion: "9",
        creationTimestamp: "2025-01-01T00:00:00Z",
        managedFields: [{}],
      },
      status: { nodes: 3, readyNodes: 2, lastScaleTime: "2025-01-01T00:00:00Z" },
    };
    const r = parseNodePool(obj);
    expect(r.ok && r.value.metadata).toEqual(obj.metadata);
    expect(r.ok && r.value.status).toEqual(obj.status);
  });

  it("report each problem as field path plus a readable message", () => {
    const tcp = variant("TenantControlPlane", (o) => {
      o.spec.version = "1.35";
      o.spec.apiServer = { replicas: -1 };
      // @ts-expect-error an invalid value on purpose
      o.spec.service = { type: "Foo" };
      o.spec.etcd = { managed: {}, external: { endpoints: ["http://etcd:2379"], secretRef: { name: "etcd" } } };
      o.spec.resourceQuota = { "requests.cpu": "lots" };
    });
    expect(errorsOf(parseTenantControlPlane(tcp))).toEqual([
      'spec.version: must be a Kubernetes version such as "v1.35.4"',
      "spec.apiServer.replicas: must be at least 1, not -1",
      "spec.etcd.external.endpoints[0]: must be an https:// URL such as https://etcd-0.example:2379",
      "spec.etcd: exactly one of managed and external must be set",
      'spec.service.type: must be one of "ClusterIP", "NodePort", "LoadBalancer", not "Foo"',
      'spec.resourceQuota["requests.cpu"]: must be a Kubernetes quantity such as 500m, 2, 512Mi or 1.5Gi',
    ]);
  });

  it("explain missing fields, wrong types and fractions", () => {
    expect(errorsOf(parseTenantControlPlane({ metadata: { name: "x" }, spec: {} }))).toEqual([
      "spec.version: required",
    ]);
    expect(errorsOf(parseTenantControlPlane({ metadata: { name: "x" } }))).toEqual(["spec: required"]);
    expect(
      errorsOf(
        parseTenantControlPlane({
          metadata: { name: "x" },
          spec: { version: "v1.35.0", apiServer: { replicas: "3" } },
        }),
      ),
    ).toEqual(['spec.apiServer.replicas: must be an integer, not a string ("3")']);
    expect(
      errorsOf(
        parseTenantControlPlane({
          metadata: { name: "x" },
          spec: { version: "v1.35.0", apiServer: { replicas: 2.5 } },
        }),
      ),
    ).toEqual(["spec.apiServer.replicas: must be a whole number, not 2.5"]);
    expect(
      errorsOf(parseTenantControlPlane({ kind: "Pod", metadata: { name: "x" }, spec: { version: "v1.35.0" } })),
    ).toEqual(['kind: must be "TenantControlPlane", not "Pod"']);
  });

  it("check the same cross-field rules as the CRD's CEL", () => {
    const cases: Array<[string, unknown, string]> = [
      [
        "NodePool",
        variant("NodePool", (o) => Object.assign(o.spec, { minNodes: 10, maxNodes: 5 })),
        "spec: minNodes must not be greater than maxNodes",
      ],
      [
        "NodePool",
        variant("NodePool", (o) => Object.assign(o.spec, { provider: "clusterapi" })),
        "spec: clusterAPI must be set when provider is clusterapi",
      ],
      [
        "NodePool",
        variant("NodePool", (o) => Object.assign(o.spec, { scaleDown: { strategy: "label-selector" } })),
        "spec.scaleDown: selector must be set when strategy is label-selector",
      ],
      [
        "NodeDrain",
        variant("NodeDrain", (o) => Object.assign(o.spec, { nodeSelector: { matchLabels: { pool: "a" } } })),
        "spec: exactly one of nodeNames and nodeSelector must be set",
      ],
      [
        "NodeDrain",
        variant("NodeDrain", (o) => delete o.spec.nodeNames),
        "spec: exactly one of nodeNames and nodeSelector must be set",
      ],
      [
        "ClusterScaler",
        variant("ClusterScaler", (o) => Object.assign(o.spec.components[0] ?? {}, { replicas: { min: 5, max: 2 } })),
        "spec.components[0].replicas: replicas.min must not be greater than replicas.max",
      ],
      [
        "ClusterScaler",
        variant("ClusterScaler", (o) => Object.assign(o.spec.components[0] ?? {}, { minAllowed: { memory: "64Gi" } })),
        "spec.components[0]: minAllowed.memory must not be greater than maxAllowed.memory",
      ],
      [
        "ClusterScaler",
        variant("ClusterScaler", (o) => Object.assign(o.spec.overrides?.[0] ?? {}, { thresholds: { cpux: 1 } })),
        'spec.overrides[0].thresholds: unknown field "cpux"',
      ],
      [
        "TenantControlPlane",
        variant("TenantControlPlane", (o) => {
          o.spec.apiServer = { resources: { requests: { cpu: "2" }, limits: { cpu: "1500m" } } };
        }),
        "spec.apiServer.resources: requests.cpu must not be greater than limits.cpu",
      ],
      [
        "TenantControlPlane",
        variant("TenantControlPlane", (o) => {
          o.spec.pki = { certificateValidityDays: 30, renewBeforeDays: 30 };
        }),
        "spec.pki: renewBeforeDays must be less than certificateValidityDays",
      ],
      [
        "TenantControlPlane",
        variant("TenantControlPlane", (o) => {
          o.metadata = { name: "a".repeat(60) };
        }),
        "(root): metadata.name must be a DNS label of at most 59 characters when spec.namespace is unset, " +
          "because the namespace defaults to tcp-<name>",
      ],
      [
        "WorkloadProfile",
        variant("WorkloadProfile", (o) =>
          Object.assign(o.spec, { parameters: { targetPercentile: 0.5, upperBoundPercentile: 0.4 } }),
        ),
        "spec.parameters: targetPercentile must not be greater than upperBoundPercentile",
      ],
    ];
    for (const [kind, obj, message] of cases) {
      expect(errorsOf(parseObject(kind as "NodePool", obj))).toContain(message);
    }
  });

  it("warn about unknown fields, or refuse them in strict mode", () => {
    const obj = variant("TenantControlPlane", (o) => Object.assign(o.spec, { apiServr: { replicas: 3 } }));
    const lenient = parseTenantControlPlane(obj);
    expect(lenient.ok).toBe(true);
    expect(lenient.warnings).toEqual(["spec.apiServr: unknown field"]);
    expect(errorsOf(parseTenantControlPlane(obj, { strict: true }))).toEqual(["spec.apiServr: unknown field"]);
    // The histogram checkpoint is opaque: anything goes below it.
    const wp = { ...examples().WorkloadProfile, status: { checkpoint: { containers: { app: { cpu: [1, 2] } } } } };
    expect(parseWorkloadProfile(wp, { strict: true }).ok).toBe(true);
  });

  it("throw a ValidationError listing every problem from mustParse", () => {
    try {
      mustParse("NodePool", { metadata: { name: "p" }, spec: { provider: "aws" } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors).toEqual([
        'spec.provider: must be one of "clusterapi", "kwok", not "aws"',
        "spec.maxNodes: required",
        "spec.shape: required",
      ]);
      expect((err as Error).message).toMatch(/^invalid NodePool:\n {2}spec\.provider/);
    }
  });
});

describe("validateUpdate", () => {
  const tcpAt = (version: string) => variant("TenantControlPlane", (o) => (o.spec.version = version));
  const update = (from: string, to: string) => validateUpdate("TenantControlPlane", tcpAt(from), tcpAt(to));

  it("allows patch and one-minor upgrades, and no-ops", () => {
    for (const [from, to] of [
      ["v1.34.2", "v1.34.3"],
      ["v1.34.2", "v1.35.0"],
      ["v1.34.9", "v1.35.0"],
      ["v1.35.4", "v1.35.4"],
    ] as const) {
      expect(update(from, to).ok, `${from} → ${to}`).toBe(true);
    }
  });

  it("refuses downgrades, minor skips and major changes with a message naming both versions", () => {
    expect(errorsOf(update("v1.35.4", "v1.35.3"))).toEqual([
      "spec.version: downgrade from v1.35.4 to v1.35.3 is not supported: versions may only go up",
    ]);
    expect(errorsOf(update("v1.35.4", "v1.34.9"))).toEqual([
      "spec.version: downgrade from v1.35.4 to v1.34.9 is not supported: versions may only go up",
    ]);
    expect(errorsOf(update("v1.34.2", "v1.36.0"))).toEqual([
      "spec.version: upgrade from v1.34.2 to v1.36.0 skips a minor version: upgrade one minor version at a time",
    ]);
    expect(errorsOf(update("v1.35.0", "v2.0.0"))).toEqual([
      "spec.version: cannot change the major version from v1.35.0 to v2.0.0",
    ]);
  });

  it("refuses changes to immutable fields", () => {
    const tcp = examples().TenantControlPlane;
    const withNs = (ns?: string) => variant("TenantControlPlane", (o) => (o.spec.namespace = ns));
    expect(errorsOf(validateUpdate("TenantControlPlane", withNs("a"), withNs("b")))).toEqual([
      "spec.namespace: namespace cannot change after creation",
    ]);
    expect(errorsOf(validateUpdate("TenantControlPlane", tcp, withNs("b")))).toEqual([
      "spec: namespace cannot be set or removed after creation",
    ]);
    const rotate = (n: number) => variant("TenantControlPlane", (o) => (o.spec.pki = { rotateCA: n }));
    expect(validateUpdate("TenantControlPlane", rotate(1), rotate(2)).ok).toBe(true);
    expect(errorsOf(validateUpdate("TenantControlPlane", rotate(2), rotate(1)))).toEqual([
      "spec.pki.rotateCA: rotateCA is a generation counter: it may only go up",
    ]);
    const external = variant("TenantControlPlane", (o) => {
      o.spec.etcd = { external: { endpoints: ["https://etcd:2379"], secretRef: { name: "etcd" } } };
    });
    expect(errorsOf(validateUpdate("TenantControlPlane", tcp, external))).toEqual([
      "spec.etcd: etcd cannot switch between managed and external",
    ]);
    const sd = examples().ScalingDecision;
    const changed = variant("ScalingDecision", (o) => (o.spec.direction = "Down"));
    expect(errorsOf(validateUpdate("ScalingDecision", sd, changed))).toEqual([
      "spec: spec is immutable: a ScalingDecision is a record",
    ]);
    expect(validateUpdate("ScalingDecision", sd, { ...sd, status: { phase: "Applied" } }).ok).toBe(true);
  });

  it("reports problems of the new object first", () => {
    expect(errorsOf(update("v1.35.0", "v1.35"))).toEqual([
      'spec.version: must be a Kubernetes version such as "v1.35.4"',
    ]);
  });
});

describe("helpers", () => {
  it("formatPath", () => {
    expect(formatPath([])).toBe("(root)");
    expect(formatPath(["spec", "taints", 0, "key"])).toBe("spec.taints[0].key");
    expect(formatPath(["metadata", "labels", "app.kubernetes.io/name"])).toBe(
      'metadata.labels["app.kubernetes.io/name"]',
    );
  });

  it("parseQuantity and compareQuantities", () => {
    expect(parseQuantity("500m")).toBeCloseTo(0.5);
    expect(parseQuantity("2")).toBe(2);
    expect(parseQuantity("1Gi")).toBe(2 ** 30);
    expect(parseQuantity("1.5Mi")).toBe(1.5 * 2 ** 20);
    expect(parseQuantity("1k")).toBe(1000);
    expect(parseQuantity("1e3")).toBe(1000);
    expect(parseQuantity("100M")).toBe(1e8);
    expect(() => parseQuantity("lots")).toThrow(/invalid quantity/);
    expect(compareQuantities("1Gi", "1000Mi")).toBe(1);
    expect(compareQuantities("1500m", "2")).toBe(-1);
    expect(compareQuantities("1024Mi", "1Gi")).toBe(0);
  });

  it("parseDuration", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("0")).toBe(0);
    expect(() => parseDuration("3 days")).toThrow(/invalid duration/);
  });

  it("Kubernetes versions", () => {
    expect(parseKubernetesVersion("v1.35.4")).toEqual({ major: 1, minor: 35, patch: 4 });
    expect(parseKubernetesVersion("1.35.4")).toBeUndefined();
    expect(parseKubernetesVersion("v1.35")).toBeUndefined();
    expect(compareKubernetesVersions("v1.35.10", "v1.35.9")).toBe(1);
    expect(compareKubernetesVersions("v1.9.0", "v1.10.0")).toBe(-1);
    expect(defaultNamespace({ metadata: { name: "team-a" }, spec: {} })).toBe("tcp-team-a");
    expect(defaultNamespace({ metadata: { name: "team-a" }, spec: { namespace: "x" } })).toBe("x");
    // Where it runs: status first, then spec, then tcp-<name>.
    expect(tenantNamespaceOf({ metadata: { name: "a" }, spec: { namespace: "s" }, status: { namespace: "st" } })).toBe(
      "st",
    );
    expect(tenantNamespaceOf({ metadata: { name: "a" }, spec: { namespace: "s" } })).toBe("s");
    expect(tenantNamespaceOf({ metadata: { name: "a" } })).toBe("tcp-a");
  });
});
