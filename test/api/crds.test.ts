// The generated CRDs on a real kube-apiserver: they install, they accept what the parse helpers accept, they
// default the same way, and they refuse malformed objects with the messages the schemas promise. Every refusal is
// checked on both sides: the apiserver (OpenAPI + CEL) and the TypeScript parse helpers (zod + mirrored rules).
//
// The CRDs are applied and left installed: other tests on the shared meta-cluster need them too.
import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allKinds,
  crdName,
  examples,
  type KindInfo,
  type KindName,
  kinds,
  parseObject,
  renderCrdYaml,
  validateUpdate,
} from "../../src/api/index.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { rawRequest, serverSideApply } from "./raw.js";

const GROUP = "metapilot.io";
const VERSION = "v1alpha1";

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; resourceVersion?: string } };

/** The apiserver's message from a failed client-node call, or a failure if the call succeeded. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof k8s.ApiException) {
      const body = typeof err.body === "string" ? err.body : JSON.stringify(err.body);
      let message = body;
      try {
        message = (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        // Not JSON: keep the text.
      }
      return { code: err.code, message };
    }
    throw err;
  }
  throw new Error("the apiserver accepted an object it should have refused");
}

const suffix = () => randomBytes(3).toString("hex");

describe("metapilot.io CRDs on a real apiserver", () => {
  const kc = adminKubeConfig();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  let namespace = "";
  let cleanupNamespace: () => Promise<void> = async () => undefined;
  const clusterObjects: Array<{ plural: string; name: string }> = [];

  const create = (info: KindInfo, body: Obj) =>
    info.namespaced
      ? custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: info.plural, body })
      : custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: info.plural, body });

  const replace = (info: KindInfo, body: Obj) =>
    info.namespaced
      ? custom.replaceNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: info.plural,
          name: body.metadata.name,
          body,
        })
      : custom.replaceClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: info.plural,
          name: body.metadata.name,
          body,
        });

  /** Creates an object of `kind` and remembers cluster-scoped ones for cleanup. Returns what the apiserver stored. */
  async function createOk(kind: KindName, body: Obj): Promise<Obj> {
    const info = kinds[kind];
    if (!info.namespaced) clusterObjects.push({ plural: info.plural, name: body.metadata.name });
    return (await create(info, body)) as Obj;
  }

  /** A copy of the example of `kind` with a unique name, in the test namespace for namespaced kinds. */
  function sample(kind: KindName, change?: (o: Obj & { spec: Record<string, unknown> }) => void): Obj {
    const obj = structuredClone(examples()[kind]) as unknown as Obj & { spec: Record<string, unknown> };
    obj.metadata = { ...obj.metadata, name: `${obj.metadata.name}-${suffix()}` };
    if (kinds[kind].namespaced) obj.metadata.namespace = namespace;
    change?.(obj);
    return obj;
  }

  beforeAll(async () => {
    for (const info of allKinds) {
      const res = await serverSideApply(
        kc,
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName(info)}`,
        renderCrdYaml(info),
      );
      expect(res.status, `${info.kind}: ${res.body}`).toBeLessThan(300);
    }
    for (const info of allKinds) {
      await eventually(
        async () => {
          const crd = await extensions.readCustomResourceDefinition({ name: crdName(info) });
          const established = crd.status?.conditions?.find((c) => c.type === "Established")?.status === "True";
          return established ? crd : undefined;
        },
        30_000,
        `${crdName(info)} Established`,
      );
      // Established comes slightly before the REST handler serves the resource.
      await eventually(
        async () => {
          const res = await rawRequest(kc, "GET", `/apis/${GROUP}/${VERSION}/${info.plural}?limit=1`);
          return res.status === 200 ? true : undefined;
        },
        30_000,
        `${info.plural} served`,
      );
    }
    const ns = await freshNamespace(kc, "api");
    namespace = ns.name;
    cleanupNamespace = ns.cleanup;
  });

  afterAll(async () => {
    for (const o of clusterObjects) {
      await custom
        .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: o.plural, name: o.name })
        .catch(() => undefined);
    }
    await cleanupNamespace();
  });

  it("installs every CRD as generated: Established, names accepted, structural, schema stored unchanged", async () => {
    for (const info of allKinds) {
      const res = await rawRequest(
        kc,
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName(info)}`,
      );
      expect(res.status).toBe(200);
      const crd = JSON.parse(res.body) as {
        spec: {
          names: { shortNames: string[]; categories: string[] };
          scope: string;
          versions: Array<{ schema: unknown }>;
        };
        status: { conditions: Array<{ type: string; status: string }> };
      };
      const condition = (t: string) => crd.status.conditions.find((c) => c.type === t)?.status;
      expect(condition("Established"), info.kind).toBe("True");
      expect(condition("NamesAccepted"), info.kind).toBe("True");
      expect(condition("NonStructuralSchema"), info.kind).toBeUndefined();
      expect(crd.spec.scope).toBe(info.scope);
      expect(crd.spec.names.shortNames).toEqual([...info.shortNames]);
      expect(crd.spec.names.categories).toEqual(["metapilot"]);
      expect(crd.spec.versions[0]?.schema).toEqual({ openAPIV3Schema: info.openAPISchema });
    }
  });

  it("publishes the descriptions that kubectl explain shows", async () => {
    type Schema = { description?: string; properties?: Record<string, Schema> };
    const doc = await eventually(
      async () => {
        const res = await rawRequest(kc, "GET", `/openapi/v3/apis/${GROUP}/${VERSION}`);
        if (res.status !== 200) return undefined;
        const d = JSON.parse(res.body) as { components: { schemas: Record<string, Schema> } };
        return d.components.schemas["io.metapilot.v1alpha1.TenantControlPlane"] ? d : undefined;
      },
      30_000,
      "OpenAPI v3 document of metapilot.io/v1alpha1",
    );
    const tcp = doc.components.schemas["io.metapilot.v1alpha1.TenantControlPlane"];
    expect(tcp?.description).toMatch(/^A tenant cluster's control plane/);
    expect(tcp?.properties?.spec?.properties?.apiServer?.properties?.replicas?.description).toMatch(
      /Number of kube-apiserver pods/,
    );
  });

  it("accepts a valid object of every kind and defaults it exactly like the parse helpers", async () => {
    for (const kind of allKinds.map((k) => k.kind as KindName)) {
      const body = sample(kind);
      const local = parseObject(kind, body, { strict: true });
      expect(local.ok ? [] : local.errors, kind).toEqual([]);
      const stored = await createOk(kind, body);
      expect(stored.spec, kind).toEqual(local.ok ? (local.value as { spec: unknown }).spec : undefined);
      expect(parseObject(kind, stored).ok, kind).toBe(true);
    }
  });

  it("accepts status written through the status subresource", async () => {
    const tcp = await createOk("TenantControlPlane", sample("TenantControlPlane"));
    const status = {
      phase: "Ready",
      namespace: "tcp-team-a",
      endpoint: "https://10.0.0.1:6443",
      version: "v1.35.4",
      observedGeneration: 1,
      kubeconfigSecretRef: { name: "admin-kubeconfig", namespace: "tcp-team-a", key: "kubeconfig" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "AllComponentsReady",
          message: "",
          lastTransitionTime: "2025-01-31T12:00:00Z",
          observedGeneration: 1,
        },
      ],
      components: [{ name: "kube-apiserver", replicas: 3, readyReplicas: 3, updatedReplicas: 3, state: "Ready" }],
      pki: { caNotAfter: "2035-01-31T12:00:00Z", certificatesNotAfter: "2026-01-31T12:00:00.000Z", caGeneration: 0 },
    };
    const body = { ...tcp, status };
    expect(parseObject("TenantControlPlane", body, { strict: true }).ok).toBe(true);
    const updated = (await custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: "tenantcontrolplanes",
      name: tcp.metadata.name,
      body,
    })) as Obj;
    expect(updated.status).toEqual(status);

    const wp = await createOk("WorkloadProfile", sample("WorkloadProfile"));
    const checkpoint = {
      version: 1,
      containers: { "kube-apiserver": { cpu: { buckets: [0, 3, 7], totalWeight: 10.5 } } },
    };
    const wpStatus = {
      containers: [{ name: "kube-apiserver", target: { cpu: "750m", memory: "1200Mi" } }],
      confidence: 0.8,
      sampleCount: 1440,
      checkpoint,
    };
    const storedWp = (await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: "workloadprofiles",
      name: wp.metadata.name,
      body: { ...wp, status: wpStatus },
    })) as Obj;
    // The checkpoint is the one subtree kept without a schema.
    expect((storedWp.status as { checkpoint: unknown }).checkpoint).toEqual(checkpoint);
  });

  interface BadCase {
    what: string;
    kind: KindName;
    change: (o: Obj & { spec: Record<string, unknown> }) => void;
    /** Texts the apiserver's message must contain, or a pattern it must match. */
    server: string[] | RegExp;
    /** Text one of the parse helper's errors must contain. */
    local: string;
  }

  const badCases: BadCase[] = [
    {
      what: "a version that is not vMAJOR.MINOR.PATCH",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.version = "1.35"),
      server: ['spec.version: Invalid value: "1.35": must be a Kubernetes version such as "v1.35.4"'],
      local: 'spec.version: must be a Kubernetes version such as "v1.35.4"',
    },
    {
      what: "negative replicas",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.apiServer = { replicas: -1 }),
      server: [
        "spec.apiServer.replicas: Invalid value: -1: spec.apiServer.replicas in body should be greater than or equal to 1",
      ],
      local: "spec.apiServer.replicas: must be at least 1, not -1",
    },
    {
      what: "an unknown service type",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.service = { type: "Ingress" }),
      server: [
        'spec.service.type: Unsupported value: "Ingress": supported values: "ClusterIP", "NodePort", "LoadBalancer"',
      ],
      local: 'spec.service.type: must be one of "ClusterIP", "NodePort", "LoadBalancer", not "Ingress"',
    },
    {
      what: "both etcd modes",
      kind: "TenantControlPlane",
      change: (o) =>
        (o.spec.etcd = {
          managed: { replicas: 3 },
          external: { endpoints: ["https://etcd.example:2379"], secretRef: { name: "etcd-client" } },
        }),
      server: ["spec.etcd: Invalid value", "exactly one of managed and external must be set"],
      local: "spec.etcd: exactly one of managed and external must be set",
    },
    {
      what: "an even number of etcd members",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.etcd = { managed: { replicas: 2 } }),
      server: ['spec.etcd.managed.replicas: Unsupported value: 2: supported values: "1", "3", "5"'],
      local: "spec.etcd.managed.replicas: must be one of 1, 3, 5, not 2",
    },
    {
      what: "requests above limits (CEL quantity library)",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.scheduler = { resources: { requests: { memory: "2Gi" }, limits: { memory: "1500Mi" } } }),
      server: ["spec.scheduler.resources: Invalid value", "requests.memory must not be greater than limits.memory"],
      local: "spec.scheduler.resources: requests.memory must not be greater than limits.memory",
    },
    {
      what: "a malformed quantity",
      kind: "TenantControlPlane",
      change: (o) => (o.spec.apiServer = { resources: { requests: { cpu: "two" } } }),
      server: /spec\.apiServer\.resources\.requests\.cpu: Invalid value: "two": .*should match/,
      local: "spec.apiServer.resources.requests.cpu: must be a Kubernetes quantity such as 500m, 2, 512Mi or 1.5Gi",
    },
    {
      what: "a name that cannot make the default namespace tcp-<name>",
      kind: "TenantControlPlane",
      change: (o) => (o.metadata.name = `a${"b".repeat(58)}${suffix()}`),
      server: ["metadata.name must be a DNS label of at most 59 characters when spec.namespace is unset"],
      local: "(root): metadata.name must be a DNS label of at most 59 characters when spec.namespace is unset",
    },
    {
      what: "a threshold for a scaler that does not exist",
      kind: "ClusterScaler",
      change: (o) => (o.spec.overrides = [{ component: "etcd", thresholds: { cpu: 0.5, disk: 0.9 } }]),
      server: ["spec.overrides[0]: Invalid value", "thresholds keys must be scaler names"],
      local: 'spec.overrides[0].thresholds: unknown field "disk"',
    },
    {
      what: "minNodes above maxNodes",
      kind: "NodePool",
      change: (o) => Object.assign(o.spec, { minNodes: 10, maxNodes: 3 }),
      server: ["spec: Invalid value", "minNodes must not be greater than maxNodes"],
      local: "spec: minNodes must not be greater than maxNodes",
    },
    {
      what: "provider clusterapi without a MachineDeployment",
      kind: "NodePool",
      change: (o) => (o.spec.provider = "clusterapi"),
      server: ["spec: Invalid value", "clusterAPI must be set when provider is clusterapi"],
      local: "spec: clusterAPI must be set when provider is clusterapi",
    },
    {
      what: "both nodeNames and nodeSelector",
      kind: "NodeDrain",
      change: (o) => (o.spec.nodeSelector = { matchLabels: { "metapilot.io/pool": "general" } }),
      server: ["spec: Invalid value", "exactly one of nodeNames and nodeSelector must be set"],
      local: "spec: exactly one of nodeNames and nodeSelector must be set",
    },
    {
      what: "replicas.min above replicas.max",
      kind: "ClusterScaler",
      change: (o) => {
        const components = o.spec.components as Array<Record<string, unknown>>;
        if (components[0]) components[0].replicas = { min: 5, max: 2 };
      },
      server: ["spec.components[0].replicas: Invalid value", "replicas.min must not be greater than replicas.max"],
      local: "spec.components[0].replicas: replicas.min must not be greater than replicas.max",
    },
    {
      what: "a malformed duration",
      kind: "ClusterScaler",
      change: (o) => (o.spec.scaleUp = { cooldown: "one minute" }),
      server: /spec\.scaleUp\.cooldown: Invalid value: "one minute": .*should match/,
      local: 'spec.scaleUp.cooldown: must be a duration such as "90s", "2m", "1h30m" or "1.5h"',
    },
    {
      what: "an unknown root cause category",
      kind: "ScalingDecision",
      change: (o) => ((o.spec.rootCause as Record<string, unknown>).category = "Gremlins"),
      server: ['spec.rootCause.category: Unsupported value: "Gremlins"'],
      local: 'spec.rootCause.category: must be one of "OOMKilled"',
    },
    {
      what: "a percentile above 1",
      kind: "WorkloadProfile",
      change: (o) => (o.spec.parameters = { targetPercentile: 95 }),
      server: [
        "spec.parameters.targetPercentile: Invalid value: 95: spec.parameters.targetPercentile in body should be less than or equal to 1",
      ],
      local: "spec.parameters.targetPercentile: must be at most 1, not 95",
    },
  ];

  it.each(badCases)("refuses $what with a readable message", async (c) => {
    const body = sample(c.kind, c.change);
    const local = parseObject(c.kind, body);
    expect(local.ok).toBe(false);
    expect(local.ok ? [] : local.errors).toEqual(expect.arrayContaining([expect.stringContaining(c.local)]));
    const { code, message } = await refusal(create(kinds[c.kind], body));
    expect(code).toBe(422);
    if (Array.isArray(c.server)) for (const text of c.server) expect(message).toContain(text);
    else expect(message).toMatch(c.server);
  });

  /** Creates `from`, tries to replace it with `to`; returns the apiserver's refusal message or undefined. */
  async function tryUpdate(kind: KindName, from: Obj, change: (o: Obj & { spec: Record<string, unknown> }) => void) {
    const stored = await createOk(kind, from);
    const next = structuredClone(stored) as Obj & { spec: Record<string, unknown> };
    change(next);
    const local = validateUpdate(kind, stored, next);
    try {
      await replace(kinds[kind], next);
      return { server: undefined, local: local.ok ? undefined : local.errors.join("; ") };
    } catch (err) {
      const r = await refusal(Promise.reject(err));
      expect(r.code).toBe(422);
      return { server: r.message, local: local.ok ? undefined : local.errors.join("; ") };
    }
  }

  const tcpAt = (version: string) => sample("TenantControlPlane", (o) => (o.spec.version = version));

  it("refuses a minor-version skip, downgrades and major changes on update, as validateUpdate does", async () => {
    const skip = await tryUpdate("TenantControlPlane", tcpAt("v1.34.2"), (o) => (o.spec.version = "v1.36.0"));
    expect(skip.server).toContain(
      "spec.version: Forbidden: upgrade from v1.34.2 to v1.36.0 skips a minor version: upgrade one minor version at a time",
    );
    expect(skip.local).toBe(
      "spec.version: upgrade from v1.34.2 to v1.36.0 skips a minor version: upgrade one minor version at a time",
    );

    const down = await tryUpdate("TenantControlPlane", tcpAt("v1.35.4"), (o) => (o.spec.version = "v1.35.3"));
    expect(down.server).toContain("spec.version: Forbidden: downgrade from v1.35.4 to v1.35.3 is not supported");
    expect(down.local).toContain("downgrade from v1.35.4 to v1.35.3 is not supported");

    const major = await tryUpdate("TenantControlPlane", tcpAt("v1.35.4"), (o) => (o.spec.version = "v2.0.0"));
    expect(major.server).toContain("cannot change the major version from v1.35.4 to v2.0.0");
    expect(major.local).toContain("cannot change the major version from v1.35.4 to v2.0.0");
  });

  it("allows one-minor upgrades and patch upgrades", async () => {
    for (const [from, to] of [
      ["v1.34.9", "v1.35.0"],
      ["v1.35.0", "v1.35.4"],
    ] as const) {
      const r = await tryUpdate("TenantControlPlane", tcpAt(from), (o) => (o.spec.version = to));
      expect(r, `${from} → ${to}`).toEqual({ server: undefined, local: undefined });
    }
  });

  it("keeps immutable fields immutable", async () => {
    const cases: Array<[KindName, Obj, (o: Obj & { spec: Record<string, unknown> }) => void, string]> = [
      [
        "TenantControlPlane",
        sample("TenantControlPlane", (o) => (o.spec.namespace = `tcp-${suffix()}`)),
        (o) => (o.spec.namespace = "elsewhere"),
        "namespace cannot change after creation",
      ],
      [
        "TenantControlPlane",
        sample("TenantControlPlane"),
        (o) => (o.spec.namespace = "late"),
        "namespace cannot be set or removed after creation",
      ],
      [
        "TenantControlPlane",
        sample("TenantControlPlane", (o) => (o.spec.pki = { rotateCA: 2 })),
        (o) => ((o.spec.pki as Record<string, unknown>).rotateCA = 1),
        "rotateCA is a generation counter: it may only go up",
      ],
      [
        "TenantControlPlane",
        sample("TenantControlPlane"),
        (o) => (o.spec.etcd = { external: { endpoints: ["https://etcd.example:2379"], secretRef: { name: "etcd" } } }),
        "etcd cannot switch between managed and external",
      ],
      [
        "ScalingDecision",
        sample("ScalingDecision"),
        (o) => (o.spec.direction = "Down"),
        "spec is immutable: a ScalingDecision is a record",
      ],
    ];
    for (const [kind, from, change, message] of cases) {
      const r = await tryUpdate(kind, from, change);
      expect(r.server, message).toContain(message);
      expect(r.local, message).toContain(message);
    }
  });
});
