// Prometheus' scrape of the real nodes' kubelets, shaped as kube-prometheus shapes it: job "kubelet",
// /metrics/cadvisor and /metrics/resource over HTTPS, the kubelet's own namespace, pod and container labels kept
// (honor_labels), the path in a metrics_path label, the node's address as instance and its name as node. So the
// series metapilot reads here have the names and labels a production Prometheus gives them.
//
// Prometheus authenticates with a client certificate of its own (user metacluster:prometheus), not the admin's:
// the kubelets ask the apiserver (webhook authorization) whether it may get nodes/metrics, which is all it may.
import type { RealNode } from "./realnodes.js";

/** The user Prometheus is to the kubelets; its certificate is pki/<kubeletScrapeIdentity>.crt. */
export const kubeletScrapeUser = "metacluster:prometheus";
export const kubeletScrapeIdentity = "prometheus-kubelet";
/** kube-prometheus scrapes kubelets every 30 s; 15 s keeps a test's wait short without loading the machine. */
export const kubeletScrapeInterval = "15s";
export const kubeletJob = "kubelet";

export interface KubeletScrapeFiles {
  /** The CA that signed the kubelets' serving certificates (the meta-cluster's). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The file service discovery file that lists the real kubelets (kubeletTargetGroups). */
  targetsFile: string;
}

/**
 * What kube-prometheus' kubelet ServiceMonitor drops from /metrics/cadvisor: series nobody graphs or alerts on,
 * and per-cgroup detail of cgroups that are no pod's.
 */
export const cadvisorMetricDrops: Array<Record<string, unknown>> = [
  {
    source_labels: ["__name__"],
    regex: "container_(network_tcp_usage_total|network_udp_usage_total|tasks_state|cpu_load_average_10s)",
    action: "drop",
  },
  {
    source_labels: ["__name__", "pod", "namespace"],
    regex:
      "(container_spec_.*|container_file_descriptors|container_sockets|container_threads_max|container_threads|container_start_time_seconds|container_last_seen);;",
    action: "drop",
  },
  { source_labels: ["__name__", "container"], regex: "(container_blkio_device_usage_total);.+", action: "drop" },
];

/** The two scrape configs (cAdvisor and resource metrics), both ending up as job="kubelet". Pure. */
export function kubeletScrapeConfigs(files: KubeletScrapeFiles): Array<Record<string, unknown>> {
  const common = {
    scheme: "https",
    scrape_interval: kubeletScrapeInterval,
    scrape_timeout: "10s",
    // The kubelet's namespace, pod and container labels win over any target label of the same name.
    honor_labels: true,
    tls_config: { ca_file: files.caFile, cert_file: files.certFile, key_file: files.keyFile },
    file_sd_configs: [{ files: [files.targetsFile], refresh_interval: "5s" }],
  };
  const metricsPathLabel = { source_labels: ["__metrics_path__"], target_label: "metrics_path" };
  return [
    {
      job_name: kubeletJob,
      metrics_path: "/metrics/cadvisor",
      ...common,
      // As kube-prometheus: cAdvisor stamps a series with the time of its last housekeeping, which can lag the
      // scrape; Prometheus' own scrape time keeps staleness and rate() windows right.
      honor_timestamps: false,
      relabel_configs: [metricsPathLabel],
      metric_relabel_configs: cadvisorMetricDrops,
    },
    {
      // A job name is unique per scrape config; the series carry job="kubelet" as kube-prometheus' do.
      job_name: `${kubeletJob}-resource`,
      metrics_path: "/metrics/resource",
      ...common,
      relabel_configs: [metricsPathLabel, { target_label: "job", replacement: kubeletJob }],
    },
  ];
}

/** The file service discovery content: each real kubelet at its address, labelled with its node's name. Pure. */
export function kubeletTargetGroups(
  nodes: readonly Pick<RealNode, "name" | "gateway" | "kubeletPort">[],
): Array<{ targets: string[]; labels: Record<string, string> }> {
  return nodes.map((n) => ({ targets: [`${n.gateway}:${n.kubeletPort}`], labels: { node: n.name } }));
}

/** The ClusterRole (get nodes/metrics, nothing else) and its binding to kubeletScrapeUser. Pure. */
export function kubeletScrapeRbac(): Array<{ path: string; body: Record<string, unknown> }> {
  const name = "metacluster:prometheus-kubelet";
  return [
    {
      path: "/apis/rbac.authorization.k8s.io/v1/clusterroles",
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name },
        // The kubelet authorizes /metrics and every path under it (/metrics/cadvisor, /metrics/resource) as
        // get nodes/metrics.
        rules: [{ apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] }],
      },
    },
    {
      path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: kubeletScrapeUser }],
      },
    },
  ];
}
