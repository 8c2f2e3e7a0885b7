// The registry of controllers the `metapilot controller` command can run. Each entry wires one controller into a
// manager in a few lines; unknown names are rejected at start-up, before anything runs.
import type { Manager } from "./kube/manager.js";
import type { PrometheusOptions } from "./prometheus/client.js";
import type { DisruptionBudget } from "./api/index.js";

/** An ops center that receives decision reports (--ops-center-url and its options). */
export interface OpsCenterEndpoint {
  url: string;
  /** HMAC-SHA256 key; the signature goes into X-Metapilot-Signature over "<timestamp>.<body>". */
  hmacSecret?: string;
  hmacSecretFile?: string;
  caFile?: string;
  insecureSkipVerify?: boolean;
  timeoutMs?: number;
}

export interface ControllerConfig {
  workers: number;
  /** Global dry-run: decisions and plans are recorded, workloads are never changed. */
  dryRun: boolean;
  namespace?: string;
  prometheus?: PrometheusOptions;
  pollIntervalMs?: number;
  rateWindow?: string;
  staleAfterMs?: number;
  /** Black-box /readyz probes of tenant apiservers: every this often; 0 or unset turns them off. */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Honour a TenantControlPlane's spec.allowInsecureExtraArgs (the platform admin's escape hatch). */
  allowInsecureExtraArgs?: boolean;
  /** Name of the node this process runs on (downward API NODE_NAME): a drain takes it last. */
  nodeName?: string;
  /** Most nodes one NodeDrain may select; a drain that selects more is refused. Default 50. */
  maxDrainNodes?: number;
  /** Most nodes one NodeDrain may select, in percent of the cluster's nodes (at least one node). Default 34. */
  maxDrainPercent?: number;
  /**
   * Hosts a `metapilot.io/probe-url` annotation may name besides the tenant's own Service and endpoint: exact
   * names or IPs, or `*.suffix`.
   */
  probeAllowedHosts?: string[];
  opsCenter?: OpsCenterEndpoint[];
  clusterName?: string;
  decisionRetentionMs?: number;
  /** The disruption budgets of a ClusterScaler that sets none (--default-disruption-budgets); 10 per 5m unset. */
  defaultDisruptionBudgets?: DisruptionBudget[];
  /** metapilot's own namespaces (its leader-election namespace): no TenantControlPlane may use them. */
  ownNamespaces?: string[];
  /** Namespaces besides the tenant's own that spec.etcd.external.secretRef may name. */
  externalEtcdSecretNamespaces?: string[];
  /**
   * Secrets only in tenant namespaces: the ClusterRole metapilot binds to its own ServiceAccount in each tenant
   * namespace it creates (--tenant-secrets-cluster-role, --service-account). Unset: its kubeconfig's own rights.
   */
  tenantSecretAccess?: { clusterRole: string; serviceAccount: { namespace: string; name: string } };
  /** Registry of the tenant component images (--image-registry); a TenantControlPlane's spec.imageRegistry wins. */
  imageRegistry?: string;
  /** The key ScalingDecisions are signed with (--decision-signing-key-file); else decisionSigningKeySecret. */
  decisionSigningKeyFile?: string;
  /** The Secret that holds the signing key, created with a random key when missing (next to the Lease). */
  decisionSigningKeySecret?: { namespace: string; name: string };
}

export type ControllerFactory = (manager: Manager, config: ControllerConfig) => void;

const registry = new Map<string, ControllerFactory>();

export function registerController(name: string, factory: ControllerFactory): void {
  if (registry.has(name)) throw new Error(`controller ${name} registered twice`);
  registry.set(name, factory);
}

export function availableControllers(): string[] {
  return [...registry.keys()].sort();
}

export function controllerFactory(name: string): ControllerFactory {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown controller "${name}"; available: ${availableControllers().join(", ") || "(none)"}`);
  return f;
}
