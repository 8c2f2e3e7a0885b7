import { describe, expect, it } from "vitest";
import {
  cadvisorMetricDrops,
  kubeletScrapeConfigs,
  kubeletScrapeRbac,
  kubeletScrapeUser,
  kubeletTargetGroups,
} from "./kubelet-scrape.js";
import { prometheusConfig, withOwnJobs, type MetaclusterState } from "./metacluster.js";

const files = { caFile: "/mc/pki/ca.crt", certFile: "/mc/pki/p.crt", keyFile: "/mc/pki/p.key", targetsFile: "/t.json" };

/** Prometheus' relabel "replace" of one rule (regex anchored, default separator ";"), enough for these rules. */
function relabel(rules: Array<Record<string, unknown>>, labels: Record<string, string>): Record<string, string> | null {
  let out = { ...labels };
  for (const r of rules) {
    const source = ((r.source_labels as string[] | undefined) ?? []).map((l) => out[l] ?? "").join(";");
    const match = new RegExp(`^(?:${(r.regex as string | undefined) ?? "(.*)"})$`).exec(source);
    const action = (r.action as string | undefined) ?? "replace";
    if (action === "drop" && match) return null;
    if (action === "keep" && !match) return null;
    if (action === "replace" && match) {
      const value = ((r.replacement as string | undefined) ?? "$1").replace(
        /\$(\d)/g,
        (_, i) => match[Number(i)] ?? "",
      );
      out = { ...out, [r.target_label as string]: value };
    }
  }
  return out;
}

describe("kubeletScrapeConfigs", () => {
  const [cadvisor, resource] = kubeletScrapeConfigs(files);

  it("scrapes /metrics/cadvisor and /metrics/resource over HTTPS with the kubelet's own labels kept", () => {
    expect(cadvisor).toMatchObject({ job_name: "kubelet", metrics_path: "/metrics/cadvisor", scheme: "https" });
    expect(resource).toMatchObject({ metrics_path: "/metrics/resource", scheme: "https" });
    for (const c of [cadvisor!, resource!]) {
      expect(c.honor_labels).toBe(true);
      expect(c.file_sd_configs).toEqual([{ files: ["/t.json"], refresh_interval: "5s" }]);
      // Verified against the meta-cluster's CA, with Prometheus' own certificate.
      expect(c.tls_config).toEqual({
        ca_file: "/mc/pki/ca.crt",
        cert_file: "/mc/pki/p.crt",
        key_file: "/mc/pki/p.key",
      });
      expect(c.tls_config).not.toHaveProperty("insecure_skip_verify");
      // Not every 5 s like the rest of the meta-cluster: a kubelet's cAdvisor answer is thousands of series.
      expect(c.scrape_interval).toBe("15s");
    }
    // As kube-prometheus: Prometheus' scrape time, not cAdvisor's housekeeping time.
    expect(cadvisor!.honor_timestamps).toBe(false);
    expect(new Set([cadvisor!.job_name, resource!.job_name]).size).toBe(2);
  });

  it("labels both as job kubelet with the metrics_path, instance the kubelet's address and the node's name", () => {
    const [group] = kubeletTargetGroups([{ name: "metacluster-real-0", gateway: "10.88.3.1", kubeletPort: 21234 }]);
    // What Prometheus has before target relabelling: the target group's labels and the job's own.
    const before = (c: Record<string, unknown>) => ({
      ...group!.labels,
      __address__: group!.targets[0]!,
      __metrics_path__: c.metrics_path as string,
      job: c.job_name as string,
    });
    const after = (c: Record<string, unknown>) =>
      relabel(c.relabel_configs as Array<Record<string, unknown>>, before(c));
    expect(after(cadvisor!)).toMatchObject({
      job: "kubelet",
      metrics_path: "/metrics/cadvisor",
      node: "metacluster-real-0",
      __address__: "10.88.3.1:21234",
    });
    expect(after(resource!)).toMatchObject({
      job: "kubelet",
      metrics_path: "/metrics/resource",
      node: "metacluster-real-0",
      __address__: "10.88.3.1:21234",
    });
  });

  it("drops what kube-prometheus drops from cAdvisor, and never the usage series metapilot reads", () => {
    const keep = (labels: Record<string, string>) => relabel(cadvisorMetricDrops, labels) !== null;
    const pod = { namespace: "tcp-a", pod: "kube-apiserver-1", container: "kube-apiserver" };
    for (const name of [
      "container_cpu_usage_seconds_total",
      "container_memory_working_set_bytes",
      "container_cpu_cfs_throttled_periods_total",
      "container_cpu_cfs_periods_total",
      "container_oom_events_total",
    ]) {
      expect(keep({ __name__: name, ...pod }), name).toBe(true);
      // The pod's cgroup (container="") too: it is there, and the queries leave it out themselves.
      expect(keep({ __name__: name, ...pod, container: "" }), `${name} of the pod cgroup`).toBe(true);
    }
    expect(keep({ __name__: "container_tasks_state", ...pod })).toBe(false);
    expect(keep({ __name__: "container_spec_memory_limit_bytes", ...pod })).toBe(true);
    expect(keep({ __name__: "container_spec_memory_limit_bytes", namespace: "", pod: "", container: "" })).toBe(false);
    expect(keep({ __name__: "container_blkio_device_usage_total", ...pod })).toBe(false);
  });
});

describe("kubeletTargetGroups", () => {
  it("lists each real kubelet at its bridge address and port, and nothing when there are no real nodes", () => {
    expect(
      kubeletTargetGroups([
        { name: "metacluster-real-0", gateway: "10.88.3.1", kubeletPort: 21234 },
        { name: "metacluster-real-1", gateway: "10.88.7.1", kubeletPort: 22345 },
      ]),
    ).toEqual([
      { targets: ["10.88.3.1:21234"], labels: { node: "metacluster-real-0" } },
      { targets: ["10.88.7.1:22345"], labels: { node: "metacluster-real-1" } },
    ]);
    expect(kubeletTargetGroups([])).toEqual([]);
  });
});

describe("kubeletScrapeRbac", () => {
  it("grants Prometheus' user get on nodes/metrics and nothing else", () => {
    const [role, binding] = kubeletScrapeRbac();
    expect(role!.path).toBe("/apis/rbac.authorization.k8s.io/v1/clusterroles");
    expect(role!.body.rules).toEqual([{ apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] }]);
    expect(binding!.body).toMatchObject({
      roleRef: { kind: "ClusterRole", name: (role!.body.metadata as { name: string }).name },
      subjects: [{ kind: "User", name: kubeletScrapeUser }],
    });
    expect(kubeletScrapeUser).not.toBe("metacluster-admin");
  });
});

describe("prometheusConfig", () => {
  const state = {
    dir: "/mc",
    scrapeInterval: "5s",
    ports: { prometheus: 9090, "kube-apiserver": 6443 },
  } as unknown as MetaclusterState;

  it("has the kubelet jobs beside the meta-cluster's own, with the dedicated identity, not the admin's", () => {
    const jobs = (prometheusConfig(state).scrape_configs as Array<Record<string, unknown>>).map((c) => c);
    expect(jobs.map((j) => j.job_name)).toEqual([
      "prometheus",
      "kube-apiserver",
      "targets",
      "kubelet",
      "kubelet-resource",
    ]);
    for (const j of jobs.slice(3)) {
      expect(j.tls_config).toEqual({
        ca_file: "/mc/pki/ca.crt",
        cert_file: "/mc/pki/prometheus-kubelet.crt",
        key_file: "/mc/pki/prometheus-kubelet.key",
      });
      expect(j.file_sd_configs).toEqual([{ files: ["/mc/prometheus/kubelets/kubelets.json"], refresh_interval: "5s" }]);
    }
    // The file_sd "targets" job (plain HTTP) must not pick the kubelets up too.
    const targets = jobs.find((j) => j.job_name === "targets")!;
    expect((targets.file_sd_configs as Array<{ files: string[] }>)[0]!.files).toEqual([
      "/mc/prometheus/targets/*.json",
    ]);
  });

  it("keeps the jobs others merged into prometheus.yml (tenant apiservers) when it adds the kubelet jobs", () => {
    const desired = prometheusConfig(state);
    const older = {
      global: {},
      scrape_configs: [
        { job_name: "prometheus" },
        { job_name: "kube-apiserver" },
        { job_name: "targets" },
        { job_name: "tenant-apiserver/tcp-a", scheme: "https" },
      ],
    };
    const merged = withOwnJobs(older, desired);
    const jobs = (merged.scrape_configs as Array<Record<string, unknown>>).map((j) => j.job_name);
    expect(jobs).toEqual([
      "prometheus",
      "kube-apiserver",
      "targets",
      "kubelet",
      "kubelet-resource",
      "tenant-apiserver/tcp-a",
    ]);
    expect(merged.global).toEqual(desired.global);
    // Once written, the same again: no rewrite, no reload.
    expect(withOwnJobs(merged, desired)).toEqual(merged);
    expect(withOwnJobs(null, desired)).toEqual(desired);
  });
});
