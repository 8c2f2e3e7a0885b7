// TenantControlPlane: one tenant cluster's control plane, run as workloads in one namespace of the meta-cluster.
import { z } from "zod";
import {
  ComponentName,
  conditions,
  DnsLabel,
  DnsSubdomain,
  Quantity,
  ResourceRequirements,
  SecretReference,
  StringMap,
  Timestamp,
} from "./common.js";
import { type TransitionRule, type UpdateCheck, type ValueRule, updateCheck, withRules } from "./rules.js";
import { kubeObject } from "./object.js";
import { AllowInsecureExtraArgs, extraArgsRules } from "./extraargs.js";
import {
  componentSchedulingDescription,
  ImageRegistry,
  Scheduling,
  topLevelSchedulingDescription,
} from "./scheduling.js";

// ---------------------------------------------------------------------------------------------------------------
// Versions

export const KUBERNETES_VERSION_PATTERN = "^v(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)$";

export interface ParsedVersion {
  major: number;
  minor: number;
  patch: number;
}

/** "v1.35.4" → {major: 1, minor: 35, patch: 4}; undefined when the string is not of that form. */
export function parseKubernetesVersion(v: string): ParsedVersion | undefined {
  const m = new RegExp(KUBERNETES_VERSION_PATTERN).exec(v);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** Negative, zero or positive as a is older than, equal to or newer than b. Both must parse. */
export function compareKubernetesVersions(a: string, b: string): number {
  const x = parseKubernetesVersion(a);
  const y = parseKubernetesVersion(b);
  if (!x || !y) throw new Error(`cannot compare versions "${a}" and "${b}"`);
  return Math.sign(x.major - y.major || x.minor - y.minor || x.patch - y.patch);
}

// The CEL versions of the same parsing, with the Kubernetes strings extension. The guard lets malformed values
// through: the pattern on the field already reports them, and int() on them would fail the whole rule.
const celGuard = "!self.matches('^v[0-9]+[.][0-9]+[.][0-9]+$') || !oldSelf.matches('^v[0-9]+[.][0-9]+[.][0-9]+$') || ";
const major = (v: string) => `int(${v}.substring(1).split('.')[0])`;
const minor = (v: string) => `int(${v}.split('.')[1])`;
const patch = (v: string) => `int(${v}.split('.')[2])`;

export const versionTransitionRules: ReadonlyArray<TransitionRule<string>> = [
  {
    rule: celGuard + `${major("self")} == ${major("oldSelf")}`,
    messageExpression: "'cannot change the major version from ' + oldSelf + ' to ' + self",
    message: "cannot change the major version",
    reason: "FieldValueForbidden",
    transition: (o, s) => {
      const [a, b] = [parseKubernetesVersion(o), parseKubernetesVersion(s)];
      return !a || !b || a.major === b.major;
    },
    explain: (o, s) => `cannot change the major version from ${o} to ${s}`,
  },
  {
    rule:
      celGuard +
      `${major("self")} != ${major("oldSelf")} || ${minor("self")} > ${minor("oldSelf")} || ` +
      `(${minor("self")} == ${minor("oldSelf")} && ${patch("self")} >= ${patch("oldSelf")})`,
    messageExpression: "'downgrade from ' + oldSelf + ' to ' + self + ' is not supported: versions may only go up'",
    message: "downgrades are not supported: versions may only go up",
    reason: "FieldValueForbidden",
    transition: (o, s) => {
      const [a, b] = [parseKubernetesVersion(o), parseKubernetesVersion(s)];
      return !a || !b || a.major !== b.major || compareKubernetesVersions(s, o) >= 0;
    },
    explain: (o, s) => `downgrade from ${o} to ${s} is not supported: versions may only go up`,
  },
  {
    rule: celGuard + `${major("self")} != ${major("oldSelf")} || ${minor("self")} <= ${minor("oldSelf")} + 1`,
    messageExpression:
      "'upgrade from ' + oldSelf + ' to ' + self + ' skips a minor version: upgrade one minor version at a time'",
    message: "upgrades may not skip a minor version: upgrade one minor version at a time",
    reason: "FieldValueForbidden",
    transition: (o, s) => {
      const [a, b] = [parseKubernetesVersion(o), parseKubernetesVersion(s)];
      return !a || !b || a.major !== b.major || b.minor <= a.minor + 1;
    },
    explain: (o, s) => `upgrade from ${o} to ${s} skips a minor version: upgrade one minor version at a time`,
  },
];

const VERSION_MESSAGE = 'must be a Kubernetes version such as "v1.35.4"';

export const KubernetesVersion = withRules(
  z.string().max(32).regex(new RegExp(KUBERNETES_VERSION_PATTERN), { error: VERSION_MESSAGE }),
  [
    // The pattern already refuses a bad version, with a message only a regex reader enjoys; this rule says it in
    // words. In TypeScript the regex's own message does the same, so the check here never fails.
    { rule: `self.matches('${KUBERNETES_VERSION_PATTERN}')`, message: VERSION_MESSAGE, check: () => true },
    ...versionTransitionRules,
  ],
);

// ---------------------------------------------------------------------------------------------------------------
// Spec

const extraArgs = (component: string) =>
  StringMap.meta({ maxProperties: 64 })
    .describe(
      `Extra command-line flags for ${component}, without the leading "--": {"v": "2"} becomes --v=2. ` +
        "They override the flags metapilot sets, except flags that would switch security off (anonymous or " +
        "static-credential access, AlwaysAllow, other trust anchors, identities or data stores): those are " +
        "refused unless spec.allowInsecureExtraArgs names them.",
    )
    .optional();

/** The Go runtime's environment variables a user may set on a component (src/operator/derived.ts). */
export const GO_ENV_NAMES = ["GOMEMLIMIT", "GOGC", "GOMAXPROCS"] as const;

const extraEnv = (component: string) =>
  z
    .object({
      GOMEMLIMIT: z
        .string()
        .max(20)
        .regex(/^(off|[0-9]+(B|KiB|MiB|GiB|TiB)?)$/, { error: 'must be "off" or bytes such as "1843MiB"' })
        .describe(
          `The Go runtime's soft memory limit for ${component}, e.g. "1843MiB" or "off". When unset, metapilot ` +
            "derives it: 90% of the container's memory limit (none without a limit).",
        )
        .optional(),
      GOGC: z
        .string()
        .max(10)
        .regex(/^(off|[0-9]+)$/, { error: 'must be "off" or a percentage such as "100"' })
        .describe(`The Go garbage collector's target percentage for ${component}, e.g. "50"; Go's 100 when unset.`)
        .optional(),
      GOMAXPROCS: z
        .string()
        .max(5)
        .regex(/^[1-9][0-9]*$/, { error: "must be a positive integer" })
        .describe(
          `The number of threads that run Go code at once for ${component}; the Go runtime's choice when unset.`,
        )
        .optional(),
    })
    .describe(
      `Environment variables of the Go runtime for ${component}'s container (only these). A value set here wins over ` +
        "the one metapilot derives. Changing one restarts the component.",
    )
    .optional();

export const ApiServerSpec = z
  .object({
    replicas: z
      .int()
      .min(1)
      .max(50)
      .default(2)
      .describe("Number of kube-apiserver pods. Two or more keep the tenant reachable during rollouts."),
    maxSurge: z
      .int()
      .min(0)
      .max(50)
      .default(3)
      .describe(
        "Extra kube-apiserver pods a rolling update may start above replicas. A large surge spreads the load of " +
          "reconnecting clients over new pods instead of piling it on the last old one.",
      ),
    resources: ResourceRequirements.optional(),
    extraArgs: extraArgs("kube-apiserver"),
    extraEnv: extraEnv("kube-apiserver"),
    scheduling: Scheduling.describe(componentSchedulingDescription("kube-apiserver")).optional(),
  })
  .describe("The tenant's kube-apiserver Deployment.");

const singletonComponent = (component: string) =>
  z
    .object({
      replicas: z
        .int()
        .min(1)
        .max(5)
        .default(1)
        .describe(`Number of ${component} pods; more than one run with leader election.`),
      resources: ResourceRequirements.optional(),
      extraArgs: extraArgs(component),
      extraEnv: extraEnv(component),
      scheduling: Scheduling.describe(componentSchedulingDescription(component)).optional(),
    })
    .describe(`The tenant's ${component} Deployment.`);

export const ControllerManagerSpec = singletonComponent("kube-controller-manager");
export const SchedulerSpec = singletonComponent("kube-scheduler");

export const ManagedEtcdSpec = z
  .object({
    replicas: z
      .literal([1, 3, 5])
      .default(3)
      .describe("Number of etcd members: 1, 3 or 5. Three tolerate the loss of one member, five of two."),
    storage: z
      .object({
        size: Quantity.default("10Gi").describe('Size of each member\'s PersistentVolumeClaim, e.g. "10Gi".'),
        storageClassName: DnsSubdomain.describe(
          "StorageClass of the PersistentVolumeClaims; the meta-cluster's default class when unset.",
        ).optional(),
      })
      .prefault({})
      .describe("Persistent storage of each etcd member."),
    resources: ResourceRequirements.optional(),
    extraEnv: extraEnv("etcd"),
    deletionPolicy: z
      .enum(["Retain", "Delete"])
      .default("Retain")
      .describe(
        "What happens to the etcd PersistentVolumeClaims when the TenantControlPlane is deleted: Retain keeps " +
          "them (the tenant's data survives), Delete removes them.",
      ),
    version: z
      .string()
      .max(32)
      .regex(/^v?[0-9]+[.][0-9]+[.][0-9]+$/, { error: 'must be an etcd version such as "v3.6.16"' })
      .describe('etcd version, e.g. "v3.6.16". When unset, the version metapilot pins for the Kubernetes version.')
      .optional(),
    scheduling: Scheduling.describe(componentSchedulingDescription("etcd")).optional(),
  })
  .describe("An etcd cluster that metapilot runs as a StatefulSet in the tenant namespace.");

export const ExternalEtcdSpec = z
  .object({
    endpoints: z
      .array(
        z
          .string()
          .max(256)
          .regex(new RegExp("^https://[^\\s/?#]+(/.*)?$"), {
            error: "must be an https:// URL such as https://etcd-0.example:2379",
          })
          .describe("Client URL of one etcd member."),
      )
      .min(1)
      .max(7)
      .describe('Client URLs of the etcd members, e.g. "https://etcd-0.example:2379".'),
    secretRef: SecretReference.describe(
      "Secret with the client certificate: keys ca.crt, tls.crt and tls.key. The namespace defaults to the tenant " +
        "namespace; another namespace is read only when the controller's --external-etcd-secret-namespaces lists it.",
    ),
  })
  .describe("An etcd cluster run outside metapilot; the apiserver connects to it with TLS client certificates.");

const etcdModeRule: TransitionRule<{ managed?: unknown }> = {
  rule: "has(self.managed) == has(oldSelf.managed)",
  message: "etcd cannot switch between managed and external",
  reason: "FieldValueForbidden",
  transition: (o, s) => (o.managed === undefined) === (s.managed === undefined),
};

export const EtcdSpec = withRules(
  z.object({
    managed: ManagedEtcdSpec.optional(),
    external: ExternalEtcdSpec.optional(),
  }),
  [
    {
      rule: "has(self.managed) != has(self.external)",
      message: "exactly one of managed and external must be set",
      check: (v) => (v?.managed === undefined) !== (v?.external === undefined),
    },
    etcdModeRule,
  ],
)
  .prefault({ managed: {} })
  .describe("Where the tenant's data lives: exactly one of managed or external. Defaults to a managed 3-member etcd.");

export const ServiceSpec = z
  .object({
    type: z
      .enum(["ClusterIP", "NodePort", "LoadBalancer"])
      .default("ClusterIP")
      .describe("Type of the Service in front of the kube-apiserver pods: ClusterIP, NodePort or LoadBalancer."),
    externalEndpoint: z
      .string()
      .max(261)
      .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:[0-9]{1,5})?$/, {
        error: "must be a host name or address, optionally with a port: api.example.com or 10.0.0.1:6443",
      })
      .describe(
        "Host or host:port that tenant clients use to reach the apiserver. It goes into the serving certificate " +
          "and the admin kubeconfig. When unset, the Service's own address is used.",
      )
      .optional(),
  })
  .describe("How the tenant's kube-apiserver is exposed.");

const rotateCARules: ReadonlyArray<TransitionRule<number>> = [
  {
    rule: "self >= oldSelf",
    message: "rotateCA is a generation counter: it may only go up",
    reason: "FieldValueForbidden",
    transition: (o, s) => s >= o,
  },
];

export const PkiSpec = withRules(
  z.object({
    certificateValidityDays: z
      .int()
      .min(1)
      .max(3650)
      .default(365)
      .describe("Lifetime of the leaf certificates (serving, client, kubeconfig), in days."),
    renewBeforeDays: z
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe("Leaf certificates are renewed this many days before they expire."),
    caValidityDays: z
      .int()
      .min(1)
      .max(36500)
      .default(3650)
      .describe("Lifetime of the certificate authorities, in days."),
    rotateCA: withRules(z.int().min(0).max(1_000_000), rotateCARules)
      .default(0)
      .describe(
        "CA generation counter. Increase it by one to rotate the certificate authorities: the cluster, " +
          "front-proxy and etcd CAs are issued anew, every certificate and kubeconfig they sign is reissued with " +
          "them, and every component rolls onto the new material. This is a hard cut-over: old and new CAs are " +
          "never trusted side by side, so a client holding the old admin kubeconfig or an old certificate is " +
          "refused from then on (read the new admin kubeconfig from status.kubeconfigSecretRef). The " +
          "service-account signing key is not rotated, so service-account tokens stay valid. With a managed " +
          "etcd of more than one member the etcd CA's cut-over can stall the StatefulSet's roll: a restarted " +
          "member's new peer certificate is refused by the members still on the old CA (seen on etcd " +
          "processes, not yet through the operator); rotate such tenants in a maintenance window.",
      ),
  }),
  [
    {
      rule: "self.renewBeforeDays < self.certificateValidityDays",
      message: "renewBeforeDays must be less than certificateValidityDays",
      check: (v) => !(v?.renewBeforeDays >= v?.certificateValidityDays),
    },
    {
      rule: "self.certificateValidityDays <= self.caValidityDays",
      message: "certificateValidityDays must not be greater than caValidityDays",
      check: (v) => !(v?.certificateValidityDays > v?.caValidityDays),
    },
  ],
)
  .prefault({})
  .describe("Certificate lifetimes and CA rotation of the tenant's PKI.");

// CEL's cost estimator refuses both a root rule that builds "tcp-" + metadata.name and a spec rule comparing
// self.namespace with oldSelf.namespace, so immutability is two cheap rules: one on spec for presence, one on the
// field for the value. The price is that spec.namespace cannot be added later, not even with the default value.
const namespacePresenceRule: TransitionRule<{ namespace?: string }> = {
  rule: "has(self.namespace) == has(oldSelf.namespace)",
  message: "namespace cannot be set or removed after creation",
  reason: "FieldValueForbidden",
  transition: (o, s) => (o.namespace === undefined) === (s.namespace === undefined),
};
const namespaceValueRule: TransitionRule<string> = {
  rule: "self == oldSelf",
  message: "namespace cannot change after creation",
  reason: "FieldValueForbidden",
  transition: (o, s) => o === s,
};

// A control plane never runs in a system namespace. metapilot's own namespace depends on how it is installed, so
// the controller refuses that one (src/operator/namespace.ts) in a status condition.
const systemNamespaceRule: ValueRule<string> = {
  rule: "self != 'default' && !self.startsWith('kube-')",
  message: "must not be default or a kube-* namespace: a control plane needs a namespace of its own",
  check: (v) => v !== "default" && !v.startsWith("kube-"),
};

export const RESIZE_STRATEGIES = ["InPlaceOrRestart", "Restart"] as const;
export const RESIZE_REASONS = [
  "Resized",
  "Restart",
  "RestartRequired",
  "KubeletCannotResize",
  "NotReady",
  "QoSClassChange",
  "Infeasible",
  "DeferredTooLong",
  "ResizeRefused",
  "DerivedSettings",
] as const;

export const DERIVED_SETTINGS_POLICIES = ["WithNextRestart", "Immediately"] as const;

export const ResourceUpdates = z
  .object({
    strategy: z
      .enum(RESIZE_STRATEGIES)
      .default("InPlaceOrRestart")
      .describe(
        "How a change of only CPU or memory (spec.*.resources, usually written by a ClusterScaler) reaches running " +
          "pods. InPlaceOrRestart: through each pod's resize subresource (in-place pod resize, Kubernetes 1.33+; " +
          "GA in 1.35), with no restart and no rollout; the Deployment or StatefulSet keeps its old template " +
          "resources until the next change that needs a restart anyway (a version, flag or certificate change), " +
          "and a pod created from that template meanwhile (a reschedule) is resized as soon as it runs. It falls " +
          "back to a rolling update, recorded in status.components[].resize, when the pod's kubelet does not " +
          "report container resources (older than 1.33, or no kubelet), when a pod's container is not ready (an OOM " +
          "loop: it restarts anyway, and a new pod skips its back-off), when the resize would change the pod's QoS " +
          "class, when the node calls it Infeasible, when it stays Deferred or unfinished longer than " +
          "deferredTimeoutSeconds, or when the apiserver refuses it. Restart: every change rolls the pods, as before " +
          "in-place resize existed.",
      ),
    deferredTimeoutSeconds: z
      .int()
      .min(10)
      .max(3600)
      .default(120)
      .describe(
        "How long an in-place resize may stay Deferred (the node lacks room now) or unfinished before the " +
          "component is rolled instead, in seconds.",
      ),
    derivedSettings: z
      .enum(DERIVED_SETTINGS_POLICIES)
      .default("WithNextRestart")
      .describe(
        "When settings that metapilot derives from a component's size reach its pods. They are GOMEMLIMIT for " +
          "every component (90% of the memory limit; HyperShift also couples the kube-apiserver's GOMEMLIMIT to " +
          "its size, by size class) and, for kube-apiserver, --max-requests-inflight and " +
          "--max-mutating-requests-inflight (400 and 200 per CPU core, in steps of 100 and 50, from " +
          "kube-apiserver's defaults up to HyperShift's 3000 and 1000); extraArgs or extraEnv that set one win " +
          "over it. They are read at start-up, so a change needs a restart. WithNextRestart: a change of them " +
          "alone restarts nothing; an in-place resize leaves them as they are, and they go out with the next " +
          "change that restarts the pods anyway (a version, a flag, a certificate, a rolling resize); " +
          "status.components[].derivedSettings shows what waits. Immediately: a change of them rolls the " +
          "component at once, so a resize that changes them is a rolling update (reason DerivedSettings).",
      ),
  })
  .prefault({})
  .describe("How resource changes are applied to the running control plane.");

export const TenantControlPlaneSpec = withRules(
  z.object({
    version: KubernetesVersion.describe(
      'Kubernetes version of the control plane, e.g. "v1.35.4". Upgrades go one minor version at a time; ' +
        "downgrades are refused. Components roll in order: etcd, kube-apiserver, then the rest.",
    ),
    namespace: withRules(DnsLabel, [namespaceValueRule, systemNamespaceRule])
      .describe(
        "Namespace in the meta-cluster that holds the control plane. When unset, the controller uses tcp-<name>. " +
          "It can only be set at creation and never changes. metapilot creates it and uses only a namespace it " +
          "created for this TenantControlPlane: an existing namespace, default, kube-*, metapilot's own or " +
          "another TenantControlPlane's is refused in the NamespaceReady condition, and nothing is written there.",
      )
      .optional(),
    apiServer: ApiServerSpec.prefault({}),
    controllerManager: ControllerManagerSpec.prefault({}),
    scheduler: SchedulerSpec.prefault({}),
    etcd: EtcdSpec,
    service: ServiceSpec.prefault({}),
    scheduling: Scheduling.describe(topLevelSchedulingDescription).optional(),
    imageRegistry: ImageRegistry.describe(
      "Registry (host, optional port and path, no tag or digest) the component images are pulled from, e.g. " +
        '"mirror.example.com/k8s" for an air-gapped mirror: images become <imageRegistry>/kube-apiserver:<version>, ' +
        "<imageRegistry>/etcd:<etcd version>-0 and so on. It takes precedence over the controller's " +
        "--image-registry flag (chart value imageRegistry), which takes precedence over registry.k8s.io. Changing " +
        "it rolls every component.",
    ).optional(),
    certSANs: z
      .array(z.string().min(1).max(253).describe("A DNS name or IP address."))
      .max(64)
      .meta({ "x-kubernetes-list-type": "set" })
      .describe("Extra DNS names and IP addresses for the kube-apiserver serving certificate.")
      .optional(),
    pki: PkiSpec,
    resourceQuota: z
      .record(z.string().min(1).max(253), Quantity.describe("The hard limit for this resource."))
      .meta({ maxProperties: 32 })
      .describe(
        'A ResourceQuota for the tenant namespace, as in ResourceQuota.spec.hard, e.g. {"requests.cpu": "16"}. ' +
          "None when unset.",
      )
      .optional(),
    paused: z
      .boolean()
      .default(false)
      .describe(
        "Stops every automatic change to this control plane (reconciling, scaling, upgrades) while true. " +
          'Same as the annotation metapilot.io/paused: "true".',
      ),
    allowInsecureExtraArgs: AllowInsecureExtraArgs.optional(),
    resourceUpdates: ResourceUpdates,
  }),
  [namespacePresenceRule, ...extraArgsRules],
).describe("Desired state of the tenant control plane.");

// ---------------------------------------------------------------------------------------------------------------
// Status

export const TENANT_PHASES = ["Provisioning", "Ready", "Upgrading", "Degraded", "Deleting"] as const;

export const ComponentStatus = z
  .object({
    name: ComponentName,
    version: z.string().max(64).describe("Version all updated pods run.").optional(),
    replicas: z.int().min(0).describe("Pods that exist.").optional(),
    readyReplicas: z.int().min(0).describe("Pods that are ready.").optional(),
    updatedReplicas: z.int().min(0).describe("Pods that run the current spec.").optional(),
    state: z
      .enum(["Pending", "Progressing", "Ready", "Degraded"])
      .describe("Rollout state: Pending (not started), Progressing, Ready or Degraded.")
      .optional(),
    message: z.string().max(1024).describe("Details about the state.").optional(),
    resize: z
      .object({
        method: z
          .enum(["InPlace", "Rolling"])
          .describe("InPlace: the pods' resize subresource, no restart. Rolling: a rolling update of the pods."),
        state: z
          .enum(["InProgress", "Done"])
          .describe("InProgress until every pod runs with the resources of the spec."),
        reason: z
          .enum(RESIZE_REASONS)
          .describe(
            "Why this method: Resized (in place), Restart (spec.resourceUpdates.strategy), RestartRequired (other " +
              "fields of the pod template change too), KubeletCannotResize, NotReady (a pod's container is not ready, " +
              "e.g. in an OOM loop: a new pod starts at once), QoSClassChange, Infeasible, " +
              "DeferredTooLong, ResizeRefused (the apiserver refused it) or DerivedSettings (the new size changes " +
              "GOMEMLIMIT or the in-flight limits and spec.resourceUpdates.derivedSettings is Immediately).",
          ),
        message: z.string().max(1024).describe("The pods and sizes concerned, or what refused the resize."),
        resources: z
          .string()
          .max(256)
          .describe('The resources the pods are being given, e.g. "requests cpu=500m memory=1Gi, limits memory=2Gi".'),
      })
      .describe("The last change of this component's CPU or memory, and how it reached the pods.")
      .optional(),
    derivedSettings: z
      .object({
        state: z
          .enum(["InForce", "AwaitingRestart"])
          .describe(
            "InForce: the pod template carries the settings derived from the spec's size. AwaitingRestart: it " +
              "carries older ones, which stay until the next restart (spec.resourceUpdates.derivedSettings " +
              "WithNextRestart).",
          ),
        inForce: z
          .string()
          .max(256)
          .describe('What the pod template carries, e.g. "GOMEMLIMIT=921MiB, --max-requests-inflight=400", or "none".'),
        desired: z.string().max(256).describe("What metapilot derives from the spec's size now, in the same form."),
      })
      .describe(
        "Settings derived from the component's size (GOMEMLIMIT, kube-apiserver's in-flight limits): in force and " +
          "desired (spec.resourceUpdates.derivedSettings).",
      )
      .optional(),
  })
  .describe("Rollout state of one component.");

export const TenantControlPlaneStatus = z
  .object({
    phase: z
      .enum(TENANT_PHASES)
      .describe("Summary of the control plane: Provisioning, Ready, Upgrading, Degraded or Deleting.")
      .optional(),
    conditions: conditions("Conditions of the control plane, e.g. Ready, EtcdReady, APIServerReady.").optional(),
    namespace: withRules(DnsLabel, [namespaceValueRule])
      .describe("Namespace in the meta-cluster that holds the control plane.")
      .optional(),
    endpoint: z
      .string()
      .max(512)
      .describe("URL of the tenant's kube-apiserver, e.g. https://10.0.0.1:6443.")
      .optional(),
    kubeconfigSecretRef: z
      .object({
        name: DnsSubdomain.describe("Name of the Secret."),
        namespace: withRules(DnsLabel, [namespaceValueRule]).describe("Namespace of the Secret."),
        key: z.string().min(1).max(253).describe("Key in the Secret's data that holds the kubeconfig."),
      })
      .describe("The Secret with an admin kubeconfig for the tenant cluster.")
      .optional(),
    version: z
      .string()
      .max(32)
      .describe("The Kubernetes version every component runs; differs from spec.version during an upgrade.")
      .optional(),
    observedGeneration: z.int().min(0).describe("The metadata.generation this status describes.").optional(),
    components: z
      .array(ComponentStatus)
      .max(4)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Rollout state per component.")
      .optional(),
    pki: z
      .object({
        caNotAfter: Timestamp.describe("When the current certificate authority expires.").optional(),
        certificatesNotAfter: Timestamp.describe("When the first of the leaf certificates expires.").optional(),
        caGeneration: z.int().min(0).describe("The spec.pki.rotateCA value the current CA was issued for.").optional(),
      })
      .describe("State of the tenant's PKI.")
      .optional(),
    deletion: z
      .object({
        startedAt: Timestamp.describe("When the deletion began.").optional(),
        message: z.string().max(1024).describe("What the deletion is waiting for.").optional(),
      })
      .describe("Progress of the deletion, while phase is Deleting.")
      .optional(),
  })
  .describe("Observed state of the tenant control plane.");

/** The namespace of a control plane: spec.namespace, or tcp-<name> when unset. */
export function defaultNamespace(tcp: { metadata?: { name?: string }; spec?: { namespace?: string } }): string {
  return tcp.spec?.namespace ?? `tcp-${tcp.metadata?.name ?? ""}`;
}

/** The namespace a control plane runs in: status.namespace (where the operator placed it), else defaultNamespace. */
export function tenantNamespaceOf(tcp: {
  metadata?: { name?: string };
  spec?: { namespace?: string };
  status?: { namespace?: string };
}): string {
  return tcp.status?.namespace ?? defaultNamespace(tcp);
}

type NamedWithNamespace = { metadata?: { name?: string }; spec?: { namespace?: string } };

export const TenantControlPlane = withRules(
  kubeObject("TenantControlPlane", TenantControlPlaneSpec, TenantControlPlaneStatus),
  [
    {
      rule:
        "has(self.spec.namespace) || " +
        "(size(self.metadata.name) <= 59 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",
      message:
        "metadata.name must be a DNS label of at most 59 characters when spec.namespace is unset, " +
        "because the namespace defaults to tcp-<name>",
      check: (v: NamedWithNamespace) => {
        const name = v?.metadata?.name;
        return (
          v?.spec?.namespace !== undefined || name === undefined || /^[a-z0-9]([-a-z0-9]{0,57}[a-z0-9])?$/.test(name)
        );
      },
    },
  ],
).describe(
  "A tenant cluster's control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), run by " +
    "metapilot in one namespace of the meta-cluster.",
);

export type TenantControlPlane = z.infer<typeof TenantControlPlane>;
export type TenantControlPlaneInput = z.input<typeof TenantControlPlane>;
export type TenantControlPlaneSpec = z.infer<typeof TenantControlPlaneSpec>;
export type TenantControlPlaneStatus = z.infer<typeof TenantControlPlaneStatus>;
export type TenantPhase = (typeof TENANT_PHASES)[number];

export const tenantControlPlaneUpdateChecks: readonly UpdateCheck[] = [
  updateCheck("spec", [namespacePresenceRule]),
  updateCheck("spec.namespace", [namespaceValueRule]),
  updateCheck("spec.version", versionTransitionRules),
  updateCheck("spec.etcd", [etcdModeRule]),
  updateCheck("spec.pki.rotateCA", rotateCARules),
];
