// The RealTenant fixture (hack/lib/realtenant.ts) on the meta-cluster of the test run, with the CRDs installed.
import { RealTenant as RealTenantOnCluster, type RealTenantOptions } from "../../hack/lib/realtenant.js";
import { metacluster } from "./cluster.js";
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
