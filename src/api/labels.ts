// The labels, annotations and finalizer metapilot reads and writes: one declaration each, imported everywhere.
// They are part of the API contract (users select by them, and set the ones marked "set by users"), so they live
// beside the schemas.

/** On every object metapilot manages for a tenant, and on its ScalingDecisions: the TenantControlPlane's name. */
export const tenantLabel = "metapilot.io/tenant";
/** On every managed object of a tenant: kube-apiserver, kube-controller-manager, kube-scheduler, etcd or pki. */
export const componentLabel = "metapilot.io/component";
/** On a tenant's workloads: the Kubernetes version they run. */
export const versionLabel = "metapilot.io/version";
/** app.kubernetes.io/managed-by=metapilot on what metapilot creates. */
export const managedByLabel = "app.kubernetes.io/managed-by";
/** The value of managedByLabel on what metapilot creates (the recommender's WorkloadProfiles carry their own). */
export const managedByMetapilot = "metapilot";
/**
 * On a namespace: "tenant" on each tenant namespace metapilot creates; set by users to "system" on the namespaces
 * (metapilot's own, monitoring) whose pods every tenant namespace's NetworkPolicy lets in.
 */
export const roleLabel = "metapilot.io/role";
/** On a tenant namespace: the uid of the TenantControlPlane metapilot created it for. */
export const ownerUidAnnotation = "metapilot.io/owner-uid";
/** On a managed object: a hash of its desired content, so an unchanged object is never written again. */
export const specHashAnnotation = "metapilot.io/spec-hash";
/** On every PKI Secret: sha256 of its data. */
export const checksumAnnotation = "metapilot.io/checksum";
/** On pod templates: the combined checksum of the PKI Secrets a component mounts. */
export const pkiChecksumAnnotation = "metapilot.io/pki-checksum";
/** The TenantControlPlane finalizer: the operator's cleanup runs before the object goes. */
export const tenantFinalizer = "metapilot.io/tenant-control-plane";

/** Set by users on a workload, TenantControlPlane, node or pod: no automatic change touches it. */
export const pausedAnnotation = "metapilot.io/paused";
/** Set by users on a tenant workload: a black-box readiness probe URL (https, the tenant's own Service). */
export const probeUrlAnnotation = "metapilot.io/probe-url";
/** Set by users on a workload: "true" profiles it even outside the selector, "false" never profiles it. */
export const profileAnnotation = "metapilot.io/profile";
/** Set by users on a workload: the recommender algorithm for it (e.g. p98), over the profile's spec.algorithm. */
export const recommenderAnnotation = "metapilot.io/recommender";

/** On a node: the NodeDrain that cordoned it, so only that drain (or its sweeper) ever uncordons it. */
export const cordonedByAnnotation = "metapilot.io/cordoned-by";
/** On a node: the NodePool it belongs to. */
export const nodePoolLabel = "metapilot.io/nodepool";
/** On a node: the labels a NodePool's template set, so removing one from the template removes it from nodes. */
export const managedLabelsAnnotation = "metapilot.io/managed-labels";
/** On a node: the taints a NodePool's template set. */
export const managedTaintsAnnotation = "metapilot.io/managed-taints";
/** Set by users on a pod or node: "true" keeps drains and node scale-downs from disrupting it. */
export const doNotDisruptAnnotation = "metapilot.io/do-not-disrupt";
/** On a temporary PodDisruptionBudget: the NodeDrain that created it. */
export const createdByDrainLabel = "metapilot.io/created-by-drain";

/** On a ScalingDecision: Up or Down, so decisions can be selected by direction. */
export const directionLabel = "metapilot.io/direction";
/** On a ScalingDecision: the ids of the OOM kills it answers, so one kill is answered once. */
export const oomIdsAnnotation = "metapilot.io/oom-ids";
/** On a ScalingDecision: the workload it is about (kind/name). */
export const workloadAnnotation = "metapilot.io/workload";
/** On dry-run decisions: the workload's real size when the decision was made (JSON of a Size). */
export const observedSizeAnnotation = "metapilot.io/observed-size";
/** On a ScalingDecision: metapilot's HMAC over its content, so a decision a user wrote is never acted on. */
export const signatureAnnotation = "metapilot.io/decision-signature";
/** On a Blocked decision: what held it back ("fleet-budget" for the fleet budget). */
export const blockedByAnnotation = "metapilot.io/blocked-by";
/** On a decision held back by a disruption budget: which budget ("spec.disruption.budgets[0]"). Shown, not trusted. */
export const heldByBudgetAnnotation = "metapilot.io/disruption-budget";
/**
 * On a Blocked decision for a condition that lasts (an OOM kill at maxAllowed, a size no node holds): the condition
 * (the size and the bound or node), so that after a restart the same condition is not recorded again.
 */
export const blockedKeyAnnotation = "metapilot.io/blocked-key";
/**
 * On a control-plane Deployment or StatefulSet: how its last CPU or memory change reached the pods when that was a
 * rolling update (JSON of status.components[].resize), kept with the template that carries it so that every later
 * pass reports the same, whatever the TenantControlPlane's status said when it began.
 */
export const lastResizeAnnotation = "metapilot.io/last-resize";
