// The resources metapilot talks to, with their REST paths. A static table instead of discovery: the set is
// known at build time, and discovery would cost every process start a burst of requests.
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const r = (group: string, version: string, kind: string, plural: string, namespaced: boolean): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced,
});

export const Resources = {
  Namespace: r("", "v1", "Namespace", "namespaces", false),
  Node: r("", "v1", "Node", "nodes", false),
  Pod: r("", "v1", "Pod", "pods", true),
  Secret: r("", "v1", "Secret", "secrets", true),
  ConfigMap: r("", "v1", "ConfigMap", "configmaps", true),
  Service: r("", "v1", "Service", "services", true),
  ServiceAccount: r("", "v1", "ServiceAccount", "serviceaccounts", true),
  PersistentVolumeClaim: r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
  ResourceQuota: r("", "v1", "ResourceQuota", "resourcequotas", true),
  Deployment: r("apps", "v1", "Deployment", "deployments", true),
  StatefulSet: r("apps", "v1", "StatefulSet", "statefulsets", true),
  ReplicaSet: r("apps", "v1", "ReplicaSet", "replicasets", true),
  DaemonSet: r("apps", "v1", "DaemonSet", "daemonsets", true),
  PodDisruptionBudget: r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
  NetworkPolicy: r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true),
  Lease: r("coordination.k8s.io", "v1", "Lease", "leases", true),
  Event: r("events.k8s.io", "v1", "Event", "events", true),
  RoleBinding: r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
  SelfSubjectAccessReview: r(
    "authorization.k8s.io",
    "v1",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    false,
  ),
  CustomResourceDefinition: r(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    false,
  ),
  TenantControlPlane: r("metapilot.io", "v1alpha1", "TenantControlPlane", "tenantcontrolplanes", false),
  WorkloadProfile: r("metapilot.io", "v1alpha1", "WorkloadProfile", "workloadprofiles", true),
  ClusterScaler: r("metapilot.io", "v1alpha1", "ClusterScaler", "clusterscalers", false),
  ScalingDecision: r("metapilot.io", "v1alpha1", "ScalingDecision", "scalingdecisions", true),
  NodePool: r("metapilot.io", "v1alpha1", "NodePool", "nodepools", false),
  NodeDrain: r("metapilot.io", "v1alpha1", "NodeDrain", "nodedrains", false),
  // Cluster API (the NodePool clusterapi provider); v1beta2 is the storage version from v1.11.
  MachineDeployment: r("cluster.x-k8s.io", "v1beta2", "MachineDeployment", "machinedeployments", true),
  Machine: r("cluster.x-k8s.io", "v1beta2", "Machine", "machines", true),
} as const satisfies Record<string, ResourceType>;

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** Human name for metrics and logs, e.g. "deployments.apps". */
export function resourceName(t: ResourceType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

export function collectionPath(t: ResourceType, namespace?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  if (t.namespaced && namespace) return `${base}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`;
  return `${base}/${t.plural}`;
}

export function objectPath(t: ResourceType, name: string, namespace?: string, subresource?: string): string {
  if (t.namespaced && !namespace) throw new Error(`${t.kind} ${name}: a namespace is required`);
  const path = `${collectionPath(t, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
  managedFields?: unknown[];
}

/** The minimal shape of any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ObjectKey {
  namespace?: string;
  name: string;
}

export function keyOf(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? "");
}

export function parseKey(key: string): ObjectKey {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function formatKey(k: ObjectKey): string {
  return k.namespace ? `${k.namespace}/${k.name}` : k.name;
}

/**
 * Orders two resourceVersions of one resource: negative when `a` is older, 0 when equal, positive when newer.
 * Kubernetes 1.35 made them comparable (KEP-5504, GA): a canonical positive integer, compared by length and then
 * digit by digit (client-go's CompareResourceVersion). Undefined when either is not such an integer, for an
 * apiserver that does not follow the KEP; callers then treat the order as unknown.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  const canonical = /^[1-9][0-9]*$/;
  if (!a || !b || !canonical.test(a) || !canonical.test(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
