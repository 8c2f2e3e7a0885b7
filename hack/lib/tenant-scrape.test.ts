import { describe, expect, it } from "vitest";
import {
  tenantApiserverJob,
  tenantApiserverScrapeConfig,
  tenantApiserverTargets,
  withTenantApiserverJobs,
  type EndpointSliceLike,
} from "./tenant-scrape.js";

const files = { caFile: "/p/tcp-a/ca.crt", certFile: "/p/tcp-a/tls.crt", keyFile: "/p/tcp-a/tls.key" };

describe("tenantApiserverScrapeConfig", () => {
  const job = tenantApiserverScrapeConfig("tcp-a", files, "/p/tcp-a/targets.json") as {
    job_name: string;
    scheme: string;
    tls_config: Record<string, string>;
    file_sd_configs: Array<{ files: string[] }>;
    relabel_configs: Array<Record<string, unknown>>;
  };

  it("scrapes over TLS with the tenant's metrics client certificate, verifying the pods as the Service", () => {
    expect(job.job_name).toBe("tenant-apiserver/tcp-a");
    expect(job.scheme).toBe("https");
    expect(job.tls_config).toEqual({
      ca_file: files.caFile,
      cert_file: files.certFile,
      key_file: files.keyFile,
      server_name: "kube-apiserver.tcp-a.svc",
    });
    expect(job.file_sd_configs[0]?.files).toEqual(["/p/tcp-a/targets.json"]);
  });

  it("gives every tenant's series one job name", () => {
    expect(job.relabel_configs).toEqual([{ target_label: "job", replacement: tenantApiserverJob }]);
  });
});

describe("tenantApiserverTargets", () => {
  const slice = (over: Partial<EndpointSliceLike> = {}, service = "kube-apiserver"): EndpointSliceLike => ({
    metadata: { namespace: "tcp-a", labels: { "kubernetes.io/service-name": service } },
    ports: [{ name: "https", port: 6443 }],
    endpoints: [
      { addresses: ["10.88.0.3"], conditions: { ready: true }, targetRef: { kind: "Pod", name: "kube-apiserver-b" } },
      { addresses: ["10.88.0.2"], conditions: {}, targetRef: { kind: "Pod", name: "kube-apiserver-a" } },
      { addresses: ["10.88.0.9"], conditions: { ready: false }, targetRef: { kind: "Pod", name: "kube-apiserver-c" } },
    ],
    ...over,
  });

  it("targets each ready apiserver pod at the https port, labelled with namespace, pod and service", () => {
    expect(tenantApiserverTargets("tcp-a", [slice()])).toEqual([
      {
        targets: ["10.88.0.2:6443"],
        labels: { namespace: "tcp-a", pod: "kube-apiserver-a", service: "kube-apiserver" },
      },
      {
        targets: ["10.88.0.3:6443"],
        labels: { namespace: "tcp-a", pod: "kube-apiserver-b", service: "kube-apiserver" },
      },
    ]);
  });

  it("ignores other Services, other namespaces and slices without the https port", () => {
    expect(tenantApiserverTargets("tcp-a", [slice({}, "etcd")])).toEqual([]);
    expect(tenantApiserverTargets("tcp-b", [slice()])).toEqual([]);
    expect(tenantApiserverTargets("tcp-a", [slice({ ports: [{ name: "client", port: 2379 }] })])).toEqual([]);
    expect(tenantApiserverTargets("tcp-a", [slice({ endpoints: null })])).toEqual([]);
  });

  it("brackets IPv6 addresses", () => {
    const v6 = slice({ endpoints: [{ addresses: ["fd00::5"], targetRef: { kind: "Pod", name: "p" } }] });
    expect(tenantApiserverTargets("tcp-a", [v6])[0]?.targets).toEqual(["[fd00::5]:6443"]);
  });
});

describe("withTenantApiserverJobs", () => {
  it("replaces every tenant job and keeps the others in order", () => {
    const config = {
      global: { scrape_interval: "5s" },
      scrape_configs: [{ job_name: "prometheus" }, { job_name: "tenant-apiserver/tcp-old" }, { job_name: "kubelet" }],
    };
    const jobs = [tenantApiserverScrapeConfig("tcp-a", files, "/t.json")];
    const merged = withTenantApiserverJobs(config, jobs) as typeof config;
    expect(merged.global).toEqual(config.global);
    expect(merged.scrape_configs.map((j) => j.job_name)).toEqual(["prometheus", "kubelet", "tenant-apiserver/tcp-a"]);
    expect((withTenantApiserverJobs(merged, []) as typeof config).scrape_configs.map((j) => j.job_name)).toEqual([
      "prometheus",
      "kubelet",
    ]);
  });
});
