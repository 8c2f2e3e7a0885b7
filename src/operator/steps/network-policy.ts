// The tenant's isolation: a NetworkPolicy that admits traffic only from its own namespace and system namespaces,
// and to the apiserver port from anywhere (src/operator/manifests.ts).
import { Resources } from "../../kube/resources.js";
import { networkPolicyManifest } from "../manifests.js";
import { deleteTenantObjects, ensure } from "./apply.js";
import type { Step } from "./step.js";

export const networkPolicyStep: Step = {
  name: "network-policy",
  define: (ctx) => [networkPolicyManifest(ctx)],
  async apply({ deps, ctx, found }) {
    for (const policy of this.define(ctx, found))
      await ensure(deps, Resources.NetworkPolicy, policy, deps.caches.networkPolicies);
  },
  status: () => [],
  cleanup: (fc) => deleteTenantObjects(fc, Resources.NetworkPolicy, fc.deps.caches.networkPolicies, "all"),
};
