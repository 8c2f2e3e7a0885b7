// The RealTenant fixture (hack/lib/realtenant.ts) on the meta-cluster of the test run, with the CRDs installed.
import { RealTenant as RealTenantOnCluster, type RealTenantOptions } from "../../hack/lib/realtenant.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { addClusterScalerController, type ScalerWiring } from "../../src/scaler/controller.js";
import { eventually, metacluster } from "./cluster.js";
import { installCrds } from "./crds.js";

export {
  builtVersions,
  containerRss,
  machineNow,
  podCgroupDir,
  realNodesResultsFile,
  realNodeToleration,
  recordRealNodeResult,
} from "../../hack/lib/realtenant.js";

/** A TenantControlPlane on a real node of the test run's meta-cluster; see hack/lib/realtenant.ts. */
export class RealTenant extends RealTenantOnCluster {
  constructor(o: Omit<RealTenantOptions, "state" | "installCrds"> & Partial<Pick<RealTenantOptions, "state">>) {
    super({ installCrds, ...o, state: o.state ?? metacluster() });
  }
}

/**
 * A live ClusterScaler controller (not dry-run) in this process, for a real tenant's files: it reads the
 * meta-cluster's Prometheus, which scrapes the real kubelets' cAdvisor as kube-prometheus does, every 5 s.
 * Resolves once its caches are synced; stops with `signal`.
 */
export async function startLiveScaler(
  t: RealTenant,
  signal: AbortSignal,
  o: { rateWindow: string; prometheusTimeoutMs: number },
): Promise<ScalerWiring> {
  const manager = new Manager({
    kubeConfig: t.kc,
    logger: createLogger({ level: "warn" }),
    identity: `scaler-${t.name}`,
    qps: 50,
    burst: 50,
  });
  const scaler = addClusterScalerController(manager, {
    workers: 2,
    dryRun: false,
    prometheus: { url: t.state.prometheusUrl, timeoutMs: o.prometheusTimeoutMs, retries: 0 },
    pollIntervalMs: 5000,
    rateWindow: o.rateWindow,
    staleAfterMs: 60_000,
  });
  void manager.start(signal);
  await eventually(async () => (manager.hasSynced() ? true : undefined), 120_000, "scaler caches synced");
  return scaler;
}
