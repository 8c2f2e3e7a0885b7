// Prometheus' scrape of tenant apiservers: each tenant's own kube-apiserver pods, with the tenant's metrics client
// certificate (Secret <tenant>-metrics-client: O=system:monitoring, which the tenant's bootstrap RBAC allows GET on
// /metrics and nothing else) and the tenant's cluster CA (the ca.crt of that Secret) to verify the pods' serving
// certificate, under the name of the apiserver Service. The shape is what a ServiceMonitor on the kube-apiserver
// Service of the tenant namespace makes prometheus-operator write: one target per ready apiserver pod behind the
// Service's "https" port (each pod counts its own requests, so rate() never mixes two counters), labelled with the
// namespace, which is how the ClusterScaler tells tenants apart, and the pod.
//
// Debian's Prometheus (2.42) is built without kubernetes_sd_configs and has no scrape_config_files, so this harness
// does the endpoint discovery itself, from the Service's EndpointSlices, into a file_sd file per tenant; the job of
// each tenant (a client certificate is per job) is kept in prometheus/tenant-apiservers/<namespace>.json and merged
// into prometheus.yml, followed by a reload.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import type { MetaclusterState } from "./metacluster.js";

/** Every tenant's series carry job="tenant-apiserver"; the scrape config of a tenant is this plus its namespace. */
export const tenantApiserverJob = "tenant-apiserver";
/** The Service and its port that the operator gives every tenant apiserver (src/operator/manifests.ts). */
export const tenantApiserverService = "kube-apiserver";
export const tenantApiserverPortName = "https";
/** A tenant apiserver's /metrics is a few MB of text: kube-prometheus scrapes apiservers every 30 s, a test needs less. */
export const tenantApiserverScrapeInterval = "10s";

export interface TenantScrapeFiles {
  /** The tenant's cluster CA: verifies the apiserver pods' serving certificate. */
  caFile: string;
  /** The metrics client certificate and key. */
  certFile: string;
  keyFile: string;
}

/** The scrape config of one tenant's apiserver pods, found in `targetsFile` (file_sd, `tenantApiserverTargets`). Pure. */
export function tenantApiserverScrapeConfig(
  namespace: string,
  files: TenantScrapeFiles,
  targetsFile: string,
): Record<string, unknown> {
  return {
    job_name: `${tenantApiserverJob}/${namespace}`,
    scheme: "https",
    metrics_path: "/metrics",
    scrape_interval: tenantApiserverScrapeInterval,
    scrape_timeout: "10s",
    tls_config: {
      ca_file: files.caFile,
      cert_file: files.certFile,
      key_file: files.keyFile,
      // Targets are pod IPs, which no serving certificate names; the Service's name is in it (apiserverSans).
      server_name: `${tenantApiserverService}.${namespace}.svc`,
    },
    file_sd_configs: [{ files: [targetsFile], refresh_interval: "5s" }],
    relabel_configs: [{ target_label: "job", replacement: tenantApiserverJob }],
  };
}

/** The parts of a discovery.k8s.io/v1 EndpointSlice read here. */
export interface EndpointSliceLike {
  metadata?: { namespace?: string; labels?: Record<string, string> };
  ports?: Array<{ name?: string; port?: number }> | null;
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean };
    targetRef?: { kind?: string; name?: string };
  }> | null;
}

/**
 * The file_sd target groups of a tenant's apiserver pods: every ready endpoint of the kube-apiserver Service's
 * slices, at its "https" port, labelled namespace, pod and service. Pure.
 */
export function tenantApiserverTargets(
  namespace: string,
  slices: readonly EndpointSliceLike[],
): Array<{ targets: string[]; labels: Record<string, string> }> {
  const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
  for (const slice of slices) {
    if (slice.metadata?.namespace !== undefined && slice.metadata.namespace !== namespace) continue;
    if (slice.metadata?.labels?.["kubernetes.io/service-name"] !== tenantApiserverService) continue;
    const port = slice.ports?.find((p) => p.name === tenantApiserverPortName)?.port;
    if (!port) continue;
    for (const e of slice.endpoints ?? []) {
      // An endpoint whose readiness is unknown counts as ready, as the EndpointSlice API documents.
      if (e.conditions?.ready === false) continue;
      const address = e.addresses?.[0];
      if (!address) continue;
      const host = address.includes(":") ? `[${address}]` : address;
      groups.push({
        targets: [`${host}:${port}`],
        labels: {
          namespace,
          ...(e.targetRef?.kind === "Pod" && e.targetRef.name ? { pod: e.targetRef.name } : {}),
          service: tenantApiserverService,
        },
      });
    }
  }
  return groups.sort((a, b) => a.targets[0]!.localeCompare(b.targets[0]!));
}

/** The data of a tenant's <tenant>-metrics-client Secret, base64 as read from the API. */
export interface MetricsClientSecretData {
  "ca.crt": string;
  "tls.crt": string;
  "tls.key": string;
}

const jobsDir = (state: MetaclusterState) => path.join(state.dir, "prometheus/tenant-apiservers");

function requireDnsLabel(namespace: string): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
    throw new Error(`namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`);
}

/**
 * Makes Prometheus scrape the apiserver pods of the tenant in `namespace` with its metrics client Secret's data:
 * the certificate, key and CA are written (0600) under prometheus/tenant-apiservers/<namespace>/, with the targets
 * of the Service's EndpointSlices, the job is merged into prometheus.yml and Prometheus reloads. Calling it again
 * (a renewed Secret, pods that changed) replaces the files; targets alone are picked up within 5 s, no reload.
 */
export async function setTenantApiserverScrape(
  state: MetaclusterState,
  namespace: string,
  secret: MetricsClientSecretData,
  slices: readonly EndpointSliceLike[],
): Promise<void> {
  requireDnsLabel(namespace);
  const dir = path.join(jobsDir(state), namespace);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: TenantScrapeFiles = {
    caFile: path.join(dir, "ca.crt"),
    certFile: path.join(dir, "tls.crt"),
    keyFile: path.join(dir, "tls.key"),
  };
  for (const [key, file] of [
    ["ca.crt", files.caFile],
    ["tls.crt", files.certFile],
    ["tls.key", files.keyFile],
  ] as const) {
    const value = secret[key];
    if (!value) throw new Error(`the metrics client Secret of ${namespace} has no ${key}`);
    writeFileSync(file, Buffer.from(value, "base64"), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const targetsFile = path.join(dir, "targets.json");
  writeFileSync(targetsFile, JSON.stringify(tenantApiserverTargets(namespace, slices), null, 2));
  const job = tenantApiserverScrapeConfig(namespace, files, targetsFile);
  writeFileSync(path.join(jobsDir(state), `${namespace}.json`), JSON.stringify(job, null, 2));
  await applyTenantApiserverJobs(state);
}

/** Stops scraping the tenant in `namespace` and removes its credentials. */
export async function removeTenantApiserverScrape(state: MetaclusterState, namespace: string): Promise<void> {
  requireDnsLabel(namespace);
  rmSync(path.join(jobsDir(state), `${namespace}.json`), { force: true });
  rmSync(path.join(jobsDir(state), namespace), { recursive: true, force: true });
  await applyTenantApiserverJobs(state);
}

/** prometheus.yml's jobs with every tenant apiserver job replaced by the ones on disk. Pure but for the reads. */
export function withTenantApiserverJobs(
  config: { scrape_configs?: Array<Record<string, unknown>> } & Record<string, unknown>,
  jobs: Array<Record<string, unknown>>,
): Record<string, unknown> {
  const others = (config.scrape_configs ?? []).filter((j) => !String(j.job_name).startsWith(`${tenantApiserverJob}/`));
  return { ...config, scrape_configs: [...others, ...jobs] };
}

/** Merges the tenant jobs on disk into prometheus.yml and reloads Prometheus; a refused config is an error. */
export async function applyTenantApiserverJobs(state: MetaclusterState): Promise<void> {
  const file = path.join(state.dir, "prometheus/prometheus.yml");
  const dir = jobsDir(state);
  const jobs = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Record<string, unknown>)
    : [];
  const current = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  writeFileSync(file, stringify(withTenantApiserverJobs(current, jobs)));
  const res = await fetch(`${state.prometheusUrl}/-/reload`, { method: "POST" });
  if (!res.ok) throw new Error(`Prometheus refused the reload: ${res.status} ${await res.text()}`);
}
