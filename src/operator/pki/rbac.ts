// The one piece of tenant-side RBAC the PKI depends on. The apiserver's kubelet client certificate carries
// O=kubeadm:cluster-admins (as kubeadm issues it since 1.29, instead of system:masters), so kubelets authorize
// `kubectl logs/exec/port-forward` only once this binding exists in the tenant cluster.
import { clusterAdminsGroup } from "./spec.js";

export function clusterAdminsBinding() {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: clusterAdminsGroup },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: clusterAdminsGroup }],
  };
}
