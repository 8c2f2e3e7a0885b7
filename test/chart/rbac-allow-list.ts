// The RBAC verbs the chart grants that test/chart/chart.test.ts does not see used, each with the situation that
// needs it. No vitest import: hack/chart-docs.ts renders this list into the chart README.
/**
 * Verbs the chart grants that the scenario does not reach, as "group/resource[/subresource]:verb" (core group "").
 * Rendered into charts/metapilot/README.md by hack/chart-docs.ts. Each needs a reason; a verb missing here and unused fails the test.
 */
export const rbacAllowList: Record<string, string> = {
  "/secrets:get":
    "spec.etcd.external's client certificate Secret, the CA a tenant's /readyz probe trusts (a tenant with a reachable " +
    "endpoint), and the ScalingDecision signing key Secret",
  "/namespaces:patch":
    "a tenant namespace whose manifest changed, or one an earlier metapilot version created (adopted once)",
  "rbac.authorization.k8s.io/clusterroles:bind":
    "checked by the apiserver's RBAC escalation check when the operator writes its tenant-secrets RoleBinding; never " +
    "a request of its own, so never in the audit log",
  "/resourcequotas:delete":
    "a spec.resourceQuota removed from a TenantControlPlane, or deletion with deletionPolicy Retain",
  "/resourcequotas:patch": "only for a TenantControlPlane with spec.resourceQuota",
  "/resourcequotas:create": "only for a TenantControlPlane with spec.resourceQuota",
  "/pods/resize:patch":
    "in-place resize of a tenant component's running pods (spec.resourceUpdates), where their kubelet reports " +
    "container resources (1.33 and later); the scenario's kwok pods do not, so it rolls them instead",
  "/pods:delete": 'the "delete" eviction strategy of a NodeDrain (ignores PodDisruptionBudgets; opt-in)',
  "/nodes:delete":
    "a kwok NodePool scaling down (after its NodeDrain succeeded); granted only with nodePools.kwok.enabled",
  "/nodes:get": "a NodePool template patch that conflicted (409) with another writer of the node",
  "metapilot.io/nodedrains:create": "a NodePool scaling down starts a NodeDrain",
  "metapilot.io/scalingdecisions:delete": "garbage collection of decisions older than --decision-retention (168h)",
  "metapilot.io/workloadprofiles:delete": "a workload that is no longer selected (label or opt-out annotation)",
  "cluster.x-k8s.io/machinedeployments:get": "the clusterapi NodePool provider (not used on the kwok meta-cluster)",
  "cluster.x-k8s.io/machinedeployments:patch": "the clusterapi NodePool provider (not used on the kwok meta-cluster)",
  "cluster.x-k8s.io/machines:patch": "the clusterapi NodePool provider (not used on the kwok meta-cluster)",
  "metrics.k8s.io/pods:list": "the recommender's fallback when Prometheus fails (Prometheus is healthy here)",
  "events.k8s.io/events:patch": "a repeated Event (series count); the scenario may or may not repeat one",
};
