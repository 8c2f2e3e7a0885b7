// The meta-cluster's Prometheus: its configuration (itself, the apiserver, file-discovered targets and the real
// kubelets), the scrape targets tests register, and reloads.
import path from "node:path";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { parse, stringify } from "yaml";
import {
  kubeletScrapeConfigs,
  kubeletScrapeIdentity,
  kubeletScrapeRbac,
  kubeletTargetGroups,
} from "./kubelet-scrape.js";
import { adminCall } from "./metacluster-client.js";
import { ensurePki } from "./metacluster-pki.js";
import { type MetaclusterState, writeIfChanged } from "./metacluster-state.js";

/** Prometheus' files of a new meta-cluster: its configuration, the static targets and no kubelets yet. */
export function writePrometheusConfig(state: MetaclusterState, targets: string[]): void {
  const promDir = path.join(state.dir, "prometheus");
  mkdirSync(path.join(promDir, "targets"), { recursive: true });
  mkdirSync(path.dirname(kubeletTargetsFile(state)), { recursive: true });
  if (!existsSync(kubeletTargetsFile(state))) writeFileSync(kubeletTargetsFile(state), "[]");
  writeFileSync(path.join(promDir, "prometheus.yml"), stringify(prometheusConfig(state)));
  writeFileSync(
    path.join(promDir, "targets/static.json"),
    JSON.stringify(targets.length ? [{ targets, labels: { source: "metacluster-up" } }] : []),
  );
}

/** Where file service discovery finds the real kubelets for the kubelet jobs. */
function kubeletTargetsFile(state: MetaclusterState): string {
  return path.join(state.dir, "prometheus/kubelets/kubelets.json");
}

/**
 * Prometheus' configuration: itself, the apiserver, the file_sd "targets" job (setScrapeTargets) and the real
 * kubelets' cAdvisor and resource metrics as kube-prometheus scrapes them (none while there are no real nodes).
 */
export function prometheusConfig(state: MetaclusterState): Record<string, unknown> {
  const { dir, ports } = state;
  const promDir = path.join(dir, "prometheus");
  return {
    global: {
      scrape_interval: state.scrapeInterval,
      evaluation_interval: state.scrapeInterval,
      query_log_file: path.join(promDir, "query.log"),
    },
    scrape_configs: [
      { job_name: "prometheus", static_configs: [{ targets: [`127.0.0.1:${ports.prometheus}`] }] },
      {
        job_name: "kube-apiserver",
        scheme: "https",
        tls_config: {
          ca_file: path.join(dir, "pki/ca.crt"),
          cert_file: path.join(dir, "pki/admin.crt"),
          key_file: path.join(dir, "pki/admin.key"),
        },
        static_configs: [{ targets: [`127.0.0.1:${ports["kube-apiserver"]}`] }],
      },
      {
        job_name: "targets",
        file_sd_configs: [{ files: [path.join(promDir, "targets/*.json")], refresh_interval: "2s" }],
      },
      ...kubeletScrapeConfigs({
        caFile: path.join(dir, "pki/ca.crt"),
        certFile: path.join(dir, `pki/${kubeletScrapeIdentity}.crt`),
        keyFile: path.join(dir, `pki/${kubeletScrapeIdentity}.key`),
        targetsFile: kubeletTargetsFile(state),
      }),
    ],
  };
}

/**
 * Points Prometheus at exactly the real nodes' kubelets: grants its identity nodes/metrics while there are any,
 * lists them for file service discovery (picked up within seconds, and a removed node is no longer scraped), and
 * rewrites prometheus.yml and reloads Prometheus when the file is not this version's (a meta-cluster started
 * before the kubelet jobs existed).
 */
export async function syncKubeletScrape(state: MetaclusterState, log: (l: string) => void): Promise<void> {
  const nodes = state.realNodes ?? [];
  if (nodes.length) {
    await ensurePki(state.dir);
    for (const { path: apiPath, body } of kubeletScrapeRbac()) {
      const res = await adminCall(state, "POST", apiPath, body);
      if (res.status !== 201 && res.status !== 409)
        throw new Error(`creating Prometheus' kubelet RBAC: ${res.status} ${res.body}`);
    }
  }
  mkdirSync(path.dirname(kubeletTargetsFile(state)), { recursive: true });
  writeIfChanged(kubeletTargetsFile(state), JSON.stringify(kubeletTargetGroups(nodes), null, 2));
  if (nodes.length === 0) return;
  const file = path.join(state.dir, "prometheus/prometheus.yml");
  if (writeIfChanged(file, stringify(withOwnJobs(parse(readFileSync(file, "utf8")), prometheusConfig(state))))) {
    log("Prometheus: configuration with the kubelet jobs written; reloading");
    await reloadPrometheus(state);
  }
}

/**
 * `desired` with the jobs of `current` that it does not define kept after its own (tenant apiserver jobs that
 * hack/lib/tenant-scrape.ts merged in). Pure.
 */
export function withOwnJobs(current: unknown, desired: Record<string, unknown>): Record<string, unknown> {
  const own = (desired.scrape_configs ?? []) as Array<Record<string, unknown>>;
  const names = new Set(own.map((j) => j.job_name));
  const existing = ((current as { scrape_configs?: unknown } | null)?.scrape_configs ?? []) as Array<
    Record<string, unknown>
  >;
  return { ...desired, scrape_configs: [...own, ...existing.filter((j) => !names.has(j.job_name))] };
}

/** POST /-/reload (Prometheus runs with --web.enable-lifecycle); fails when Prometheus refuses the configuration. */
async function reloadPrometheus(state: MetaclusterState): Promise<void> {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(`${state.prometheusUrl}/-/reload`, { method: "POST", timeout: 30_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("Prometheus did not answer /-/reload within 30 s")));
    req.on("error", reject);
    req.end();
  });
  if (res.status !== 200) throw new Error(`Prometheus refused its new configuration: ${res.status} ${res.body}`);
}

/** Registers scrape targets with Prometheus through file service discovery (picked up within 2 s). */
export function setScrapeTargets(
  state: MetaclusterState,
  name: string,
  targets: string[],
  labels: Record<string, string> = {},
): void {
  writeFileSync(
    path.join(state.dir, "prometheus/targets", `${name}.json`),
    JSON.stringify(targets.length ? [{ targets, labels }] : []),
  );
}
