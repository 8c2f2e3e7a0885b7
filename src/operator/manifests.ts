// Pure functions from a TenantControlPlane to the objects of its namespace. No I/O: the pipeline applies them.
// Every object carries metapilot.io/tenant and metapilot.io/component, so the ClusterScaler and the drainer can
// find them, and a hash of its own desired content, so an unchanged object is never written again.
import { createHash } from "node:crypto";
import { DEFAULT_IMAGE_REGISTRY, effectiveScheduling, type Scheduling, type TenantControlPlane } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import { pkiSecretName, secretsMountedBy, type ControlPlaneComponent } from "./pki/index.js";
import {
  componentLabel,
  managedByLabel,
  managedByMetapilot,
  ownerUidAnnotation,
  pkiChecksumAnnotation,
  roleLabel,
  specHashAnnotation,
  tenantLabel,
  versionLabel,
} from "../api/labels.js";
import { deriveSettings, envKeys, flagKeys, type DerivedSettings } from "./derived.js";

export const names = {
  apiserver: "kube-apiserver",
  controllerManager: "kube-controller-manager",
  scheduler: "kube-scheduler",
  etcd: "etcd",
  networkPolicy: "tenant-isolation",
  resourceQuota: "tenant-quota",
  externalEtcdSecret: "external-etcd-client",
} as const;

export const apiServerPort = 6443;

export type Resources = NonNullable<TenantControlPlane["spec"]["apiServer"]["resources"]>;

/** Defaults per component when the spec sets no resources: enough for a small tenant, and always bounded. */
export const defaultResources: Record<ControlPlaneComponent, Resources> = {
  "kube-apiserver": { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi" } },
  "kube-controller-manager": { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
  "kube-scheduler": { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
  etcd: { requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: "2Gi" } },
};

/** etcd versions Kubernetes releases are tested with; spec.etcd.managed.version overrides. */
const etcdForMinor: Record<number, string> = {
  32: "3.5.16",
  33: "3.5.21",
  34: "3.6.4",
  35: "3.6.5",
  36: "3.6.6",
  37: "3.6.6",
};

export function etcdVersionFor(tcp: TenantControlPlane, kubernetesVersion: string): string {
  const pinned = tcp.spec.etcd.managed?.version;
  if (pinned) return pinned.replace(/^v/, "");
  const minor = Number(kubernetesVersion.split(".")[1]);
  return etcdForMinor[minor] ?? (minor > 37 ? "3.6.6" : "3.5.16");
}

/**
 * The hash of a value's content, whatever the order of its keys: the apiserver returns map keys sorted, a spec
 * keeps them as written, and an object rebuilt from what the apiserver holds (an in-place resize keeps the live
 * template's resources) must hash as the one first applied.
 */
export function hashOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 20);
}

/** JSON with every object's keys sorted. Pure. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** Stamps an object with the hash of its own content (computed before the stamp). */
export function withSpecHash<T extends KubeObject>(obj: T): T {
  const hash = hashOf(obj);
  obj.metadata = { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [specHashAnnotation]: hash } };
  return obj;
}

export interface TenantContext {
  tcp: TenantControlPlane;
  tenant: string;
  namespace: string;
  /** UID of the TenantControlPlane, for owner references of namespaced objects it cannot own (cluster → ns). */
  uid: string;
  /** The controller's --image-registry; spec.imageRegistry overrides it, registry.k8s.io is the default. */
  imageRegistry?: string;
}

/** The registry of the component images: spec.imageRegistry, else the controller's, else registry.k8s.io. */
export function imageRegistryOf(ctx: TenantContext): string {
  return ctx.tcp.spec.imageRegistry ?? ctx.imageRegistry ?? DEFAULT_IMAGE_REGISTRY;
}

/** The scheduling a component's own field holds, if any (it overrides spec.scheduling field by field). */
function componentScheduling(ctx: TenantContext, component: ControlPlaneComponent): Scheduling | undefined {
  const spec = ctx.tcp.spec;
  switch (component) {
    case "kube-apiserver":
      return spec.apiServer.scheduling;
    case "kube-controller-manager":
      return spec.controllerManager.scheduling;
    case "kube-scheduler":
      return spec.scheduler.scheduling;
    case "etcd":
      return spec.etcd.managed?.scheduling;
  }
}

function labels(ctx: TenantContext, component?: string): Record<string, string> {
  return {
    [tenantLabel]: ctx.tenant,
    [managedByLabel]: managedByMetapilot,
    ...(component ? { [componentLabel]: component } : {}),
  };
}

function meta(ctx: TenantContext, name: string, component?: string, extra: Record<string, string> = {}) {
  return { name, namespace: ctx.namespace, labels: { ...labels(ctx, component), ...extra } };
}

/**
 * The tenant namespace. metapilot.io/owner-uid (the TenantControlPlane's uid) is set in the request that creates
 * it and is what later proves that metapilot created it for this TenantControlPlane (src/operator/namespace.ts).
 */
export function namespaceManifest(ctx: TenantContext): KubeObject {
  return withSpecHash({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ctx.namespace,
      labels: { ...labels(ctx), [roleLabel]: "tenant" },
      annotations: { [ownerUidAnnotation]: ctx.uid },
    },
  });
}

/**
 * Isolation between tenants: pods of the namespace accept traffic only from their own namespace and from
 * namespaces labelled metapilot.io/role=system (metapilot, monitoring). The apiserver port is the one exception:
 * it is the tenant's public endpoint, authenticated by its own PKI.
 */
export function networkPolicyManifest(ctx: TenantContext): KubeObject {
  return withSpecHash({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(ctx, names.networkPolicy),
    spec: {
      podSelector: {},
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { [roleLabel]: "system" } } }],
        },
        {
          from: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
          ports: [{ protocol: "TCP", port: apiServerPort }],
        },
      ],
    },
  } as KubeObject);
}

export function resourceQuotaManifest(ctx: TenantContext): KubeObject | undefined {
  const hard = ctx.tcp.spec.resourceQuota;
  if (!hard || Object.keys(hard).length === 0) return undefined;
  return withSpecHash({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta(ctx, names.resourceQuota),
    spec: { hard },
  } as KubeObject);
}

export function apiServerServiceManifest(ctx: TenantContext): KubeObject {
  return withSpecHash({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(ctx, names.apiserver, "kube-apiserver"),
    spec: {
      type: ctx.tcp.spec.service.type,
      selector: { [tenantLabel]: ctx.tenant, [componentLabel]: "kube-apiserver" },
      ports: [{ name: "https", port: apiServerPort, targetPort: apiServerPort, protocol: "TCP" }],
    },
  } as KubeObject);
}

export function etcdServiceManifest(ctx: TenantContext): KubeObject {
  return withSpecHash({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(ctx, names.etcd, "etcd"),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [tenantLabel]: ctx.tenant, [componentLabel]: "etcd" },
      ports: [
        { name: "client", port: 2379, targetPort: 2379 },
        { name: "peer", port: 2380, targetPort: 2380 },
      ],
    },
  } as KubeObject);
}

export function pdbManifest(ctx: TenantContext, component: ControlPlaneComponent): KubeObject {
  return withSpecHash({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(ctx, component, component),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { [tenantLabel]: ctx.tenant, [componentLabel]: component } },
    },
  } as KubeObject);
}

function secretVolumes(ctx: TenantContext, component: ControlPlaneComponent) {
  const secretNames = secretsMountedBy(component, ctx.tenant);
  return {
    volumes: secretNames.map((s) => ({ name: s, secret: { secretName: s, defaultMode: 0o400 } })),
    mounts: secretNames.map((s) => ({ name: s, mountPath: `/etc/kubernetes/pki/${s}`, readOnly: true })),
  };
}

const pki = (ctx: TenantContext, part: Parameters<typeof pkiSecretName>[1], file: string) =>
  `/etc/kubernetes/pki/${pkiSecretName(ctx.tenant, part)}/${file}`;

/**
 * The placement fields of a component's pod spec. spec.scheduling and the component's own scheduling merge field
 * by field (src/api/scheduling.ts). Without affinity or topologySpreadConstraints, metapilot's defaults spread the
 * component's pods over nodes and zones, as preferences, so a small pool still schedules. A spread constraint
 * without a labelSelector counts the component's own pods.
 */
export function placement(ctx: TenantContext, component: ControlPlaneComponent): Record<string, unknown> {
  const selector = { matchLabels: { [tenantLabel]: ctx.tenant, [componentLabel]: component } };
  const s = effectiveScheduling(ctx.tcp.spec.scheduling, componentScheduling(ctx, component));
  const topologySpreadConstraints = s.topologySpreadConstraints?.map((c) =>
    c.labelSelector ? c : { ...c, labelSelector: selector },
  ) ?? [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: selector,
    },
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: selector,
    },
  ];
  const affinity = s.affinity ?? {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: selector } },
      ],
    },
  };
  return {
    ...(s.nodeSelector && Object.keys(s.nodeSelector).length > 0 ? { nodeSelector: s.nodeSelector } : {}),
    ...(s.tolerations && s.tolerations.length > 0 ? { tolerations: s.tolerations } : {}),
    ...(topologySpreadConstraints.length > 0 ? { topologySpreadConstraints } : {}),
    ...(Object.keys(affinity).length > 0 ? { affinity } : {}),
  };
}

function probes(port: number, scheme: "HTTPS" | "HTTP", livePath: string, readyPath: string) {
  return {
    livenessProbe: {
      httpGet: { path: livePath, port, scheme },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    readinessProbe: {
      httpGet: { path: readyPath, port, scheme },
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
  };
}

function flags(base: Record<string, string>, extra: Record<string, string> | undefined): string[] {
  return Object.entries({ ...base, ...extra }).map(([k, v]) => `--${k}=${v}`);
}

/** The derived flags among `derived`, in a fixed order, to go after metapilot's own. */
function derivedFlags(derived: DerivedSettings): Record<string, string> {
  return Object.fromEntries(flagKeys.flatMap((k) => (derived[k] !== undefined ? [[k, derived[k]]] : [])));
}

/**
 * A container's Go runtime variables: the derived ones and the user's spec.*.extraEnv (which win), sorted by name,
 * after `fixed` (metapilot's own, e.g. etcd's POD_NAME). No env at all when there is none, as before any existed.
 */
function goEnv(
  derived: DerivedSettings,
  user: Partial<Record<string, string>> | undefined,
  fixed: unknown[] = [],
): { env?: unknown[] } {
  const vars: Record<string, string> = {};
  for (const k of envKeys) if (derived[k] !== undefined) vars[k] = derived[k];
  for (const [k, v] of Object.entries(user ?? {})) if (v !== undefined) vars[k] = v;
  const env = [
    ...fixed,
    ...Object.keys(vars)
      .sort()
      .map((name) => ({ name, value: vars[name] })),
  ];
  return env.length ? { env } : {};
}

/**
 * The settings derived from a component's spec resources (src/operator/derived.ts), as the manifests below put
 * them in by default. The steps pass other ones to keep those a template already carries until the next restart.
 */
export function desiredSettings(ctx: TenantContext, component: ControlPlaneComponent): DerivedSettings {
  const spec = ctx.tcp.spec;
  switch (component) {
    case "kube-apiserver":
      return deriveSettings(component, spec.apiServer.resources ?? defaultResources[component], spec.apiServer);
    case "kube-controller-manager":
      return deriveSettings(
        component,
        spec.controllerManager.resources ?? defaultResources[component],
        spec.controllerManager,
      );
    case "kube-scheduler":
      return deriveSettings(component, spec.scheduler.resources ?? defaultResources[component], spec.scheduler);
    case "etcd":
      return deriveSettings(component, spec.etcd.managed?.resources ?? defaultResources.etcd, spec.etcd.managed ?? {});
  }
}

/** The user settings of a component (its extraArgs and extraEnv), which derived ones never override. */
export function userSettings(ctx: TenantContext, component: ControlPlaneComponent) {
  const spec = ctx.tcp.spec;
  switch (component) {
    case "kube-apiserver":
      return spec.apiServer;
    case "kube-controller-manager":
      return spec.controllerManager;
    case "kube-scheduler":
      return spec.scheduler;
    case "etcd":
      return spec.etcd.managed ?? {};
  }
}

const securityContext = {
  runAsNonRoot: true,
  runAsUser: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/**
 * Every component's container: CPU and memory change in place, with no restart (spec.resourceUpdates). All four are
 * Go programs that read neither at start-up: the Go runtime sizes its threads from the CPU quota only at start
 * (GOMAXPROCS stays as it was until the next restart, which costs some parallelism after a CPU increase, never
 * correctness). GOMEMLIMIT, derived from the memory limit (src/operator/derived.ts), is read at start-up too: after an
 * in-place resize it stays at the old limit's value until the next restart (spec.resourceUpdates.derivedSettings),
 * which after an increase costs only more GC work than needed, and after a decrease may leave GOMEMLIMIT above the
 * new limit: the collector no longer holds the heap under it, and an OOM kill comes as it would without GOMEMLIMIT
 * (Immediately rolls instead). A memory limit below what a container uses is not applied by the kubelet (the
 * resize stays in progress), and the operator rolls the component once spec.resourceUpdates.deferredTimeoutSeconds
 * runs out.
 */
const resizePolicy = [
  { resourceName: "cpu", restartPolicy: "NotRequired" },
  { resourceName: "memory", restartPolicy: "NotRequired" },
];

/**
 * Every component pod's: the containers run as 65532, the group that fsGroup gives the PKI Secret files (mounted
 * 0400, owned by root) and etcd's data volume, so both are readable (and the data volume writable) by that user.
 */
const podSecurityContext = { runAsNonRoot: true, fsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } };

export interface ComponentInputs {
  /** Kubernetes version this component should run now (the pipeline holds later components back). */
  version: string;
  /** Checksum of the PKI Secrets the component mounts; a change rolls its pods. */
  pkiChecksum: string;
}

function etcdEndpoints(ctx: TenantContext): string {
  const managed = ctx.tcp.spec.etcd.managed;
  if (!managed) return (ctx.tcp.spec.etcd.external?.endpoints ?? []).join(",");
  return Array.from(
    { length: managed.replicas },
    (_, i) => `https://${names.etcd}-${i}.${names.etcd}.${ctx.namespace}.svc:2379`,
  ).join(",");
}

function deployment(
  ctx: TenantContext,
  component: ControlPlaneComponent,
  replicas: number,
  inputs: ComponentInputs,
  container: Record<string, unknown>,
  extraVolumes: { volumes: unknown[]; mounts: unknown[] } = { volumes: [], mounts: [] },
  strategy: Record<string, unknown> = { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
  pod: Record<string, unknown> = {},
): KubeObject {
  const { volumes, mounts } = secretVolumes(ctx, component);
  const podLabels = { ...labels(ctx, component), [versionLabel]: inputs.version };
  return withSpecHash({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(ctx, component, component, { [versionLabel]: inputs.version }),
    spec: {
      replicas,
      revisionHistoryLimit: 3,
      strategy,
      selector: { matchLabels: { [tenantLabel]: ctx.tenant, [componentLabel]: component } },
      template: {
        metadata: { labels: podLabels, annotations: { [pkiChecksumAnnotation]: inputs.pkiChecksum } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // The PKI Secrets are mounted 0400 and owned by root; with fsGroup the kubelet gives them the group and
          // 0440, so the container's non-root user (65532) can read its certificates, keys and kubeconfig.
          securityContext: podSecurityContext,
          ...placement(ctx, component),
          containers: [
            {
              name: component,
              image: `${imageRegistryOf(ctx)}/${component}:${inputs.version}`,
              securityContext,
              resizePolicy,
              volumeMounts: [...mounts, ...extraVolumes.mounts],
              ...container,
            },
          ],
          volumes: [...volumes, ...extraVolumes.volumes],
          ...pod,
        },
      },
    },
  } as KubeObject);
}

/** kube-apiserver --shutdown-delay-duration, in seconds (see apiServerDeployment). */
export const apiServerShutdownDelaySeconds = 15;

export function apiServerDeployment(
  ctx: TenantContext,
  inputs: ComponentInputs,
  derived: DerivedSettings = desiredSettings(ctx, "kube-apiserver"),
): KubeObject {
  const spec = ctx.tcp.spec.apiServer;
  const external = ctx.tcp.spec.etcd.external;
  const etcdTls = external
    ? {
        "etcd-cafile": `/etc/kubernetes/pki/${names.externalEtcdSecret}/ca.crt`,
        "etcd-certfile": `/etc/kubernetes/pki/${names.externalEtcdSecret}/tls.crt`,
        "etcd-keyfile": `/etc/kubernetes/pki/${names.externalEtcdSecret}/tls.key`,
      }
    : {
        "etcd-cafile": pki(ctx, "apiserverEtcdClient", "ca.crt"),
        "etcd-certfile": pki(ctx, "apiserverEtcdClient", "tls.crt"),
        "etcd-keyfile": pki(ctx, "apiserverEtcdClient", "tls.key"),
      };
  const extra = external
    ? {
        volumes: [
          { name: names.externalEtcdSecret, secret: { secretName: names.externalEtcdSecret, defaultMode: 0o400 } },
        ],
        mounts: [
          {
            name: names.externalEtcdSecret,
            mountPath: `/etc/kubernetes/pki/${names.externalEtcdSecret}`,
            readOnly: true,
          },
        ],
      }
    : undefined;
  const args = flags(
    {
      "secure-port": String(apiServerPort),
      "etcd-servers": etcdEndpoints(ctx),
      ...etcdTls,
      "tls-cert-file": pki(ctx, "apiserver", "tls.crt"),
      "tls-private-key-file": pki(ctx, "apiserver", "tls.key"),
      "client-ca-file": pki(ctx, "apiserver", "ca.crt"),
      "kubelet-client-certificate": pki(ctx, "apiserverKubeletClient", "tls.crt"),
      "kubelet-client-key": pki(ctx, "apiserverKubeletClient", "tls.key"),
      "requestheader-client-ca-file": pki(ctx, "frontProxyClient", "ca.crt"),
      "proxy-client-cert-file": pki(ctx, "frontProxyClient", "tls.crt"),
      "proxy-client-key-file": pki(ctx, "frontProxyClient", "tls.key"),
      "requestheader-allowed-names": "front-proxy-client",
      "requestheader-extra-headers-prefix": "X-Remote-Extra-",
      "requestheader-group-headers": "X-Remote-Group",
      "requestheader-username-headers": "X-Remote-User",
      "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
      "service-account-key-file": pki(ctx, "serviceAccount", "sa.pub"),
      "service-account-signing-key-file": pki(ctx, "serviceAccount", "sa.key"),
      "service-cluster-ip-range": "10.96.0.0/12",
      "authorization-mode": "Node,RBAC",
      "enable-admission-plugins": "NodeRestriction",
      "allow-privileged": "true",
      profiling: "false",
      // On SIGTERM the apiserver fails /readyz but keeps serving this long before it stops listening, so the
      // endpoint controllers and kube-proxy (and any load balancer) stop sending it new connections first. Without
      // it, an upgrade on real pods refused 4 of 305 requests through the ClusterIP as old pods went
      // (test/realnodes/upgrade.slow.test.ts).
      "shutdown-delay-duration": `${apiServerShutdownDelaySeconds}s`,
      ...derivedFlags(derived),
    },
    spec.extraArgs,
  );
  return deployment(
    ctx,
    "kube-apiserver",
    spec.replicas,
    inputs,
    {
      command: ["kube-apiserver"],
      args,
      ...goEnv(derived, spec.extraEnv),
      ports: [{ name: "https", containerPort: apiServerPort }],
      resources: spec.resources ?? defaultResources["kube-apiserver"],
      ...probes(apiServerPort, "HTTPS", "/livez", "/readyz"),
    },
    extra,
    // A large surge with nothing unavailable: new apiservers come up before any old one goes, so reconnecting
    // clients spread over several new pods instead of piling onto the last old one.
    { type: "RollingUpdate", rollingUpdate: { maxSurge: spec.maxSurge, maxUnavailable: 0 } },
    // The shutdown delay, then up to a minute (the apiserver's request timeout) for requests in flight to finish.
    { terminationGracePeriodSeconds: apiServerShutdownDelaySeconds + 60 },
  );
}

export function controllerManagerDeployment(
  ctx: TenantContext,
  inputs: ComponentInputs,
  derived: DerivedSettings = desiredSettings(ctx, "kube-controller-manager"),
): KubeObject {
  const spec = ctx.tcp.spec.controllerManager;
  const kubeconfig = pki(ctx, "controllerManagerKubeconfig", "kubeconfig");
  const args = flags(
    {
      kubeconfig,
      "authentication-kubeconfig": kubeconfig,
      "authorization-kubeconfig": kubeconfig,
      "leader-elect": spec.replicas > 1 ? "true" : "false",
      "root-ca-file": pki(ctx, "ca", "tls.crt"),
      "cluster-signing-cert-file": pki(ctx, "ca", "tls.crt"),
      "cluster-signing-key-file": pki(ctx, "ca", "tls.key"),
      "service-account-private-key-file": pki(ctx, "serviceAccount", "sa.key"),
      "use-service-account-credentials": "true",
      controllers: "*,bootstrapsigner,tokencleaner",
    },
    spec.extraArgs,
  );
  return deployment(ctx, "kube-controller-manager", spec.replicas, inputs, {
    command: ["kube-controller-manager"],
    args,
    ...goEnv(derived, spec.extraEnv),
    ports: [{ name: "https", containerPort: 10257 }],
    resources: spec.resources ?? defaultResources["kube-controller-manager"],
    ...probes(10257, "HTTPS", "/healthz", "/healthz"),
  });
}

export function schedulerDeployment(
  ctx: TenantContext,
  inputs: ComponentInputs,
  derived: DerivedSettings = desiredSettings(ctx, "kube-scheduler"),
): KubeObject {
  const spec = ctx.tcp.spec.scheduler;
  const kubeconfig = pki(ctx, "schedulerKubeconfig", "kubeconfig");
  const args = flags(
    {
      kubeconfig,
      "authentication-kubeconfig": kubeconfig,
      "authorization-kubeconfig": kubeconfig,
      "leader-elect": spec.replicas > 1 ? "true" : "false",
    },
    spec.extraArgs,
  );
  return deployment(ctx, "kube-scheduler", spec.replicas, inputs, {
    command: ["kube-scheduler"],
    args,
    ...goEnv(derived, spec.extraEnv),
    ports: [{ name: "https", containerPort: 10259 }],
    resources: spec.resources ?? defaultResources["kube-scheduler"],
    ...probes(10259, "HTTPS", "/livez", "/readyz"),
  });
}

export function etcdStatefulSet(
  ctx: TenantContext,
  inputs: ComponentInputs & { etcdVersion: string },
  derived: DerivedSettings = desiredSettings(ctx, "etcd"),
): KubeObject | undefined {
  const managed = ctx.tcp.spec.etcd.managed;
  if (!managed) return undefined;
  const { volumes, mounts } = secretVolumes(ctx, "etcd");
  const peers = Array.from(
    { length: managed.replicas },
    (_, i) => `${names.etcd}-${i}=https://${names.etcd}-${i}.${names.etcd}.${ctx.namespace}.svc:2380`,
  ).join(",");
  const podLabels = { ...labels(ctx, "etcd"), [versionLabel]: inputs.etcdVersion };
  const sts = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(ctx, names.etcd, "etcd", { [versionLabel]: inputs.etcdVersion }),
    spec: {
      serviceName: names.etcd,
      replicas: managed.replicas,
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: managed.deletionPolicy === "Delete" ? "Delete" : "Retain",
        whenScaled: "Retain",
      },
      selector: { matchLabels: { [tenantLabel]: ctx.tenant, [componentLabel]: "etcd" } },
      template: {
        metadata: { labels: podLabels, annotations: { [pkiChecksumAnnotation]: inputs.pkiChecksum } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext,
          ...placement(ctx, "etcd"),
          containers: [
            {
              name: "etcd",
              image: `${imageRegistryOf(ctx)}/etcd:${inputs.etcdVersion}-0`,
              command: ["etcd"],
              args: [
                "--name=$(POD_NAME)",
                "--data-dir=/var/lib/etcd/data",
                `--listen-client-urls=https://0.0.0.0:2379`,
                `--advertise-client-urls=https://$(POD_NAME).${names.etcd}.${ctx.namespace}.svc:2379`,
                "--listen-peer-urls=https://0.0.0.0:2380",
                `--initial-advertise-peer-urls=https://$(POD_NAME).${names.etcd}.${ctx.namespace}.svc:2380`,
                `--initial-cluster=${peers}`,
                "--initial-cluster-state=new",
                `--initial-cluster-token=${ctx.tenant}`,
                "--client-cert-auth=true",
                `--trusted-ca-file=${pki(ctx, "etcdServer", "ca.crt")}`,
                `--cert-file=${pki(ctx, "etcdServer", "tls.crt")}`,
                `--key-file=${pki(ctx, "etcdServer", "tls.key")}`,
                "--peer-client-cert-auth=true",
                `--peer-trusted-ca-file=${pki(ctx, "etcdPeer", "ca.crt")}`,
                `--peer-cert-file=${pki(ctx, "etcdPeer", "tls.crt")}`,
                `--peer-key-file=${pki(ctx, "etcdPeer", "tls.key")}`,
                "--listen-metrics-urls=http://0.0.0.0:2381",
                "--quota-backend-bytes=8589934592",
                "--auto-compaction-retention=8",
                "--snapshot-count=10000",
              ],
              ...goEnv(derived, managed.extraEnv, [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              ]),
              ports: [
                { name: "client", containerPort: 2379 },
                { name: "peer", containerPort: 2380 },
                { name: "metrics", containerPort: 2381 },
              ],
              resources: managed.resources ?? defaultResources.etcd,
              resizePolicy,
              securityContext,
              ...probes(2381, "HTTP", "/livez", "/readyz"),
              volumeMounts: [...mounts, { name: "data", mountPath: "/var/lib/etcd" }],
            },
          ],
          volumes,
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data", labels: labels(ctx, "etcd") },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(managed.storage.storageClassName ? { storageClassName: managed.storage.storageClassName } : {}),
            resources: { requests: { storage: managed.storage.size } },
          },
        },
      ],
    },
  };
  return withSpecHash(sts as KubeObject);
}
