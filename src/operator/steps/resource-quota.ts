// spec.resourceQuota as the namespace's ResourceQuota; removed again when the spec drops it.
import { Resources } from "../../kube/resources.js";
import { names, resourceQuotaManifest } from "../manifests.js";
import { deleteTenantObjects, ensure } from "./apply.js";
import type { Step } from "./step.js";

export const resourceQuotaStep: Step = {
  name: "resource-quota",
  define(ctx) {
    const quota = resourceQuotaManifest(ctx);
    return quota ? [quota] : [];
  },
  async apply({ deps, ctx, found }) {
    const [quota] = this.define(ctx, found);
    if (quota) await ensure(deps, Resources.ResourceQuota, quota, deps.caches.resourceQuotas);
    else if (deps.caches.resourceQuotas.get(`${ctx.namespace}/${names.resourceQuota}`))
      await deps.client.delete(Resources.ResourceQuota, names.resourceQuota, ctx.namespace);
  },
  status: () => [],
  cleanup: (fc) => deleteTenantObjects(fc, Resources.ResourceQuota, fc.deps.caches.resourceQuotas, "all"),
};
