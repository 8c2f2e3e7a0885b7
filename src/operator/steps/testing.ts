// A world for the steps' unit tests, with no cluster: caches over plain lists, a client that records its writes
// (and answers from what it holds), the tenant's Secrets as a map, and an event recorder that keeps the events.
import { expect, it } from "vitest";
import { mustParse, type TenantControlPlaneInput } from "../../api/index.js";
import type { KubeObject, ResourceType } from "../../kube/resources.js";
import type { TenantContext } from "../manifests.js";
import type { SecretObject } from "../tenant-secrets.js";
import {
  emptyFound,
  type Cache,
  type FinalizeContext,
  type Found,
  type OperatorCaches,
  type RawTenantControlPlane,
  type StepContext,
  type Step,
  type StepDeps,
} from "./step.js";

const keyOf = (o: KubeObject) =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? "");

export class ListCache<T extends KubeObject = KubeObject> implements Cache<T> {
  constructor(readonly items: T[] = []) {}
  get(key: string): T | undefined {
    return this.items.find((o) => keyOf(o) === key);
  }
  list(filter?: (obj: T) => boolean): T[] {
    return filter ? this.items.filter(filter) : [...this.items];
  }
  listNamespace(namespace: string, filter?: (obj: T) => boolean): T[] {
    return this.list((o) => o.metadata?.namespace === namespace && (!filter || filter(o)));
  }
}

export type Call =
  | { verb: "apply" | "create"; resource: string; key: string; object: KubeObject }
  | { verb: "delete"; resource: string; key: string; uid?: string }
  | { verb: "get"; resource: string; key: string }
  | { verb: "patch"; resource: string; key: string; subresource?: string; body: unknown };

/** A test's specs, parsed and defaulted as the reconciler sees them. */
export const specs = {
  minimal: {},
  haApiServer: { apiServer: { replicas: 3, maxSurge: 3 } },
  externalEtcd: {
    etcd: { external: { endpoints: ["https://etcd.example.com:2379"], secretRef: { name: "etcd-client" } } },
  },
  customVersion: { version: "v1.33.5", etcd: { managed: { replicas: 3, version: "3.5.21" } } },
} satisfies Record<string, Partial<TenantControlPlaneInput["spec"]>>;

export function tenantContext(spec: Partial<TenantControlPlaneInput["spec"]> = {}): TenantContext {
  const tcp = mustParse("TenantControlPlane", {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name: "team-a", uid: "uid-1" },
    spec: { version: "v1.35.4", ...spec },
  });
  return { tcp, tenant: "team-a", namespace: "tcp-team-a", uid: "uid-1" };
}

export function rawTenant(over: Partial<RawTenantControlPlane> = {}): RawTenantControlPlane {
  return {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name: "team-a", uid: "uid-1", creationTimestamp: "2026-12-01T00:00:00Z", generation: 1 },
    spec: { version: "v1.35.4" },
    ...over,
  };
}

export interface World {
  deps: StepDeps;
  caches: { [K in keyof OperatorCaches]: ListCache };
  calls: Call[];
  events: Array<{ type: string; reason: string; action: string; note: string }>;
  /** Objects getOptional answers with, by "namespace/name". */
  stored: Map<string, KubeObject>;
  /** The tenant's Secrets (what TenantSecrets.list answers). */
  secrets: Map<string, SecretObject>;
  unbound: Set<string>;
  /** What ensureAccess answers. */
  access: { effective: boolean };
  /** Errors that patch throws, by "namespace/name" (after recording the call). */
  patchErrors: Map<string, Error>;
  /** Builds the context of one step's run. */
  step(ctx: TenantContext, found?: Found, raw?: RawTenantControlPlane): StepContext;
  finalizing(retain: boolean, namespaceObject?: KubeObject): FinalizeContext;
}

export function world(objects: Partial<Record<keyof OperatorCaches, KubeObject[]>> = {}): World {
  const calls: Call[] = [];
  const events: World["events"] = [];
  const stored = new Map<string, KubeObject>();
  const secrets = new Map<string, SecretObject>();
  const unbound = new Set<string>();
  const access = { effective: true };
  const patchErrors = new Map<string, Error>();
  const cache = (name: keyof OperatorCaches) => new ListCache(objects[name] ?? []);
  const caches = {
    tenants: cache("tenants"),
    namespaces: cache("namespaces"),
    deployments: cache("deployments"),
    statefulSets: cache("statefulSets"),
    services: cache("services"),
    pdbs: cache("pdbs"),
    networkPolicies: cache("networkPolicies"),
    resourceQuotas: cache("resourceQuotas"),
    replicaSets: cache("replicaSets"),
    pods: cache("pods"),
  };
  let uids = 0;
  const written = <T extends KubeObject>(obj: T): T =>
    structuredClone({ ...obj, metadata: { ...obj.metadata, uid: obj.metadata?.uid ?? `uid-w${++uids}` } });
  const deps: StepDeps = {
    client: {
      apply: <T extends KubeObject>(resource: ResourceType, obj: T) => {
        calls.push({ verb: "apply", resource: resource.plural, key: keyOf(obj), object: obj });
        return Promise.resolve(written(obj));
      },
      create: <T extends KubeObject>(resource: ResourceType, obj: T) => {
        calls.push({ verb: "create", resource: resource.plural, key: keyOf(obj), object: obj });
        return Promise.resolve(written(obj));
      },
      delete: (resource: ResourceType, name: string, namespace?: string, opts?: { uid?: string }) => {
        calls.push({
          verb: "delete",
          resource: resource.plural,
          key: namespace ? `${namespace}/${name}` : name,
          uid: opts?.uid,
        });
        return Promise.resolve();
      },
      patch: (
        resource: ResourceType,
        name: string,
        namespace: string | undefined,
        body: unknown,
        _type?: string,
        subresource?: string,
      ) => {
        const key = namespace ? `${namespace}/${name}` : name;
        calls.push({ verb: "patch", resource: resource.plural, key, subresource, body });
        const err = patchErrors.get(key);
        return err ? Promise.reject(err) : Promise.resolve({ metadata: { name, namespace } });
      },
      getOptional: <T extends KubeObject>(resource: ResourceType, name: string, namespace?: string) => {
        const key = namespace ? `${namespace}/${name}` : name;
        calls.push({ verb: "get", resource: resource.plural, key });
        return Promise.resolve(stored.get(key) as T | undefined);
      },
    } as StepDeps["client"],
    caches,
    secrets: {
      access: undefined,
      ensureAccess: () => Promise.resolve(access.effective),
      list: (namespace: string) =>
        Promise.resolve([...secrets.values()].filter((s) => s.metadata?.namespace === namespace)),
      get: (key: string) => secrets.get(key),
      remember: (secret: SecretObject) => void secrets.set(keyOf(secret), secret),
      unbind: (namespace: string) => {
        calls.push({ verb: "delete", resource: "rolebindings", key: `${namespace}/metapilot-tenant-secrets` });
        unbound.add(namespace);
        return Promise.resolve();
      },
      isUnbound: (namespace: string) => unbound.has(namespace),
      forget: () => undefined,
    } as unknown as StepDeps["secrets"],
    recorder: { record: (_regarding, type, reason, action, note) => void events.push({ type, reason, action, note }) },
    now: () => new Date("2026-12-05T12:00:00Z"),
    ownNamespaces: ["metapilot-system"],
    externalEtcdSecretNamespaces: [],
    resyncMs: 3_600_000,
  };
  const signal = new AbortController().signal;
  const logger = { debug: () => undefined } as unknown as StepContext["rc"]["logger"];
  return {
    deps,
    caches,
    calls,
    events,
    stored,
    secrets,
    unbound,
    access,
    patchErrors,
    step: (ctx, found = emptyFound(), raw = rawTenant()) => ({ deps, raw, ctx, found, rc: { signal, logger } }),
    finalizing: (retain, namespaceObject = namespaceObjectOf("tcp-team-a")) => ({
      deps,
      raw: rawTenant({ metadata: { ...rawTenant().metadata, deletionTimestamp: "2026-12-05T12:00:00Z" } }),
      tenant: "team-a",
      namespace: "tcp-team-a",
      namespaceObject,
      retain,
      signal,
    }),
  };
}

export function namespaceObjectOf(name: string, annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, uid: `ns-uid-${name}`, annotations } };
}

/** An object of the tenant in its namespace, as a cache holds it. */
export function tenantObject(kind: string, name: string, component?: string, extra: Partial<KubeObject> = {}) {
  return {
    kind,
    metadata: {
      name,
      namespace: "tcp-team-a",
      labels: { "metapilot.io/tenant": "team-a", ...(component ? { "metapilot.io/component": component } : {}) },
    },
    ...extra,
  } as KubeObject;
}

/** The calls that wrote something, as "verb resource key". */
export const writes = (calls: readonly Call[]) =>
  calls.filter((c) => c.verb !== "get").map((c) => `${c.verb} ${c.resource} ${c.key}`);

/**
 * The cases every step of a component after the apiserver must pass: its manifests for the test specs, the
 * upgrade order (a new version only once the apiserver runs it everywhere), and its own objects at cleanup.
 */
export function followerStepCases(step: Step, component: "kube-controller-manager" | "kube-scheduler"): void {
  const checksums = { etcd: "e", "kube-apiserver": "a", "kube-controller-manager": "c", "kube-scheduler": "s" };
  const found = (): Found => ({ ...emptyFound(), pki: { secrets: [], checksums, renewInMs: 1000, status: {} } });

  it.each(Object.entries(specs))("defines its Deployment and PodDisruptionBudget (%s)", (_, spec) => {
    expect(step.define(tenantContext(spec), found())).toMatchSnapshot();
  });

  it("moves to spec.version only once the apiserver runs it and is ready", async () => {
    const running = tenantObject("Deployment", component, component);
    running.metadata!.labels!["metapilot.io/version"] = "v1.34.4";
    const cases = [
      { apiserver: { ready: false, version: "v1.35.4" }, want: "v1.34.4" },
      { apiserver: { ready: true, version: "v1.34.4" }, want: "v1.34.4" },
      { apiserver: { ready: true, version: "v1.35.4" }, want: "v1.35.4" },
    ];
    for (const { apiserver, want } of cases) {
      const w = world({ deployments: [running] });
      const sc = w.step(tenantContext(), found());
      sc.found.components["kube-apiserver"] = { ready: apiserver.ready, message: "" };
      sc.found.versions["kube-apiserver"] = apiserver.version;
      await step.apply(sc);
      expect(sc.found.versions[component], JSON.stringify(apiserver)).toBe(want);
      expect(writes(w.calls)).toEqual([
        `apply deployments tcp-team-a/${component}`,
        `apply poddisruptionbudgets tcp-team-a/${component}`,
      ]);
      expect(step.status(sc)).toEqual([expect.objectContaining({ status: "False", reason: "RollingOut" })]);
    }
  });

  it("removes only its own Deployment and PodDisruptionBudget from a retained namespace", async () => {
    const w = world({
      deployments: [
        tenantObject("Deployment", component, component),
        tenantObject("Deployment", "kube-apiserver", "kube-apiserver"),
      ],
      pdbs: [
        tenantObject("PodDisruptionBudget", component, component),
        tenantObject("PodDisruptionBudget", "leftover"),
      ],
    });
    await step.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual([
      `delete deployments tcp-team-a/${component}`,
      `delete poddisruptionbudgets tcp-team-a/${component}`,
    ]);
  });
}
