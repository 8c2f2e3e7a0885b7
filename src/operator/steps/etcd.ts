// etcd: a managed StatefulSet with its headless Service and PodDisruptionBudget, or, for spec.etcd.external, a
// copy in the tenant namespace of the client certificate Secret that spec.etcd.external.secretRef names.
import { rolledOut } from "./rollout.js";
import { componentLabel, specHashAnnotation, tenantLabel, versionLabel } from "../../api/labels.js";
import { Resources, type KubeObject } from "../../kube/resources.js";
import {
  etcdServiceManifest,
  etcdStatefulSet,
  etcdVersionFor,
  names,
  pdbManifest,
  type TenantContext,
} from "../manifests.js";
import type { SecretObject } from "../tenant-secrets.js";
import { deleteTenantObjects, ensure } from "./apply.js";
import { cond, type ComponentState, type Found, type Step, type StepContext } from "./step.js";
import { derivedInput, ensureControlPlaneWorkload, withPodProblems } from "./workload.js";
import type { DerivedSettings } from "../derived.js";

const externalKeys = ["ca.crt", "tls.crt", "tls.key"] as const;

/**
 * Why spec.etcd.external.secretRef may not name `secretNamespace`, or undefined when it may: the tenant's own
 * namespace always, another only when the controller's --external-etcd-secret-namespaces lists it.
 */
export function externalSecretRefusal(
  secretNamespace: string,
  tenantNamespace: string,
  allowed: readonly string[],
): string | undefined {
  if (secretNamespace === tenantNamespace || allowed.includes(secretNamespace)) return undefined;
  return (
    `spec.etcd.external.secretRef.namespace ${secretNamespace} is not allowed: the Secret must be in the tenant ` +
    `namespace ${tenantNamespace}${allowed.length ? ` or one of ${allowed.join(", ")}` : ""}. Copy it there, or ask ` +
    "the platform admin to list its namespace in the controller's --external-etcd-secret-namespaces " +
    "(chart value externalEtcdSecretNamespaces); it was not read"
  );
}

function externalCopy(ctx: TenantContext, source: SecretObject): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: names.externalEtcdSecret,
      namespace: ctx.namespace,
      labels: { [tenantLabel]: ctx.tenant, [componentLabel]: "etcd" },
      annotations: { [specHashAnnotation]: `${source.metadata?.resourceVersion}` },
    },
    data: Object.fromEntries(externalKeys.map((key) => [key, source.data?.[key] ?? ""])),
  } as KubeObject;
}

function managedStatefulSet(ctx: TenantContext, found: Found, derived?: DerivedSettings): KubeObject | undefined {
  const version = ctx.tcp.spec.version;
  return etcdStatefulSet(
    ctx,
    { version, etcdVersion: etcdVersionFor(ctx.tcp, version), pkiChecksum: found.pki?.checksums.etcd ?? "" },
    derived,
  );
}

/** Reads and checks the external Secret; the state to report when it cannot be used. */
async function readExternalSource(sc: StepContext): Promise<ComponentState | undefined> {
  const { deps, raw, ctx, found } = sc;
  const secretRef = ctx.tcp.spec.etcd.external!.secretRef;
  const namespace = secretRef.namespace ?? ctx.namespace;
  const refusal = externalSecretRefusal(namespace, ctx.namespace, deps.externalEtcdSecretNamespaces);
  if (refusal) {
    // Not even read: a TenantControlPlane must not be a way to copy another namespace's Secret.
    deps.recorder.record(raw, "Warning", "SecretNamespaceNotAllowed", "ReadExternalEtcdSecret", refusal);
    return { ready: false, reason: "SecretNamespaceNotAllowed", message: refusal };
  }
  const source = await deps.client.getOptional<SecretObject>(Resources.Secret, secretRef.name, namespace);
  if (!source?.data)
    return {
      ready: false,
      message: `external etcd Secret ${namespace}/${secretRef.name} not found: create it with ca.crt, tls.crt and tls.key`,
    };
  const missing = externalKeys.filter((key) => !source.data?.[key]);
  if (missing.length)
    return { ready: false, message: `external etcd Secret ${namespace}/${secretRef.name} lacks ${missing.join(", ")}` };
  found.externalEtcdSource = source;
  return undefined;
}

async function applyExternal(sc: StepContext): Promise<ComponentState> {
  const refused = await readExternalSource(sc);
  if (refused) return refused;
  const { deps, ctx, found } = sc;
  for (const copy of etcdStep.define(ctx, found)) {
    deps.secrets.remember(await ensure(deps, Resources.Secret, copy, deps.secrets));
  }
  return { ready: true, message: `external etcd at ${ctx.tcp.spec.etcd.external!.endpoints.join(", ")}` };
}

async function applyManaged(sc: StepContext): Promise<ComponentState> {
  const { deps, ctx, found } = sc;
  const [service, desired, pdb] = etcdStep.define(ctx, found);
  await ensure(deps, Resources.Service, service!, deps.caches.services);
  // The StatefulSet as applied: with its old template resources when the members were resized in place.
  const {
    applied: statefulSet,
    resize,
    derivedSettings,
  } = await ensureControlPlaneWorkload(
    sc,
    "StatefulSet",
    "etcd",
    desired!,
    deps.caches.statefulSets,
    derivedInput(ctx, "etcd", (settings) => managedStatefulSet(ctx, found, settings)!),
  );
  await ensure(deps, Resources.PodDisruptionBudget, pdb!, deps.caches.pdbs);
  const cached = deps.caches.statefulSets.get(`${ctx.namespace}/${names.etcd}`);
  const want = ctx.tcp.spec.etcd.managed?.replicas ?? 1;
  const s = cached?.status ?? {};
  const current =
    !!cached &&
    cached.metadata?.annotations?.[specHashAnnotation] === statefulSet?.metadata?.annotations?.[specHashAnnotation] &&
    rolledOut("StatefulSet", cached, { want, pods: "ready" });
  return {
    ready: current,
    resize: resize(current),
    derivedSettings,
    version: cached?.metadata?.labels?.[versionLabel],
    replicas: s.replicas,
    readyReplicas: s.readyReplicas,
    updatedReplicas: s.updatedReplicas,
    message: current
      ? `${want}/${want} members ready`
      : `${s.readyReplicas ?? 0}/${want} members ready, ${s.updatedReplicas ?? 0} updated`,
  };
}

export const etcdStep: Step = {
  name: "etcd",
  define(ctx, found) {
    if (ctx.tcp.spec.etcd.external)
      return found.externalEtcdSource ? [externalCopy(ctx, found.externalEtcdSource)] : [];
    const statefulSet = managedStatefulSet(ctx, found);
    return statefulSet ? [etcdServiceManifest(ctx), statefulSet, pdbManifest(ctx, "etcd")] : [];
  },
  async apply(sc) {
    const state = sc.ctx.tcp.spec.etcd.external ? await applyExternal(sc) : await applyManaged(sc);
    sc.found.components.etcd = withPodProblems(sc.deps, sc.ctx, "etcd", state);
  },
  status({ found }) {
    const etcd = found.components.etcd;
    if (!etcd) return [];
    return [
      cond("EtcdReady", etcd.ready, etcd.ready ? "EtcdAvailable" : (etcd.reason ?? "EtcdNotReady"), etcd.message),
    ];
  },
  // Its copy of the external Secret goes with the tenant's other Secrets (the PKI step).
  async cleanup(fc) {
    const own = { component: "etcd" };
    const { caches } = fc.deps;
    return [
      ...(await deleteTenantObjects(fc, Resources.StatefulSet, caches.statefulSets, "all")),
      ...(await deleteTenantObjects(fc, Resources.Service, caches.services, own)),
      ...(await deleteTenantObjects(fc, Resources.PodDisruptionBudget, caches.pdbs, own)),
    ];
  },
};
