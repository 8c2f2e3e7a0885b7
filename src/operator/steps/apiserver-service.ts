// The apiserver's Service, before the PKI: its ClusterIP and its load balancer's address (or
// spec.service.externalEndpoint) go into the serving certificate and status.endpoint.
import { Resources } from "../../kube/resources.js";
import { apiServerServiceManifest } from "../manifests.js";
import { deleteTenantObjects, ensure } from "./apply.js";
import type { ServiceObject, Step } from "./step.js";

export const apiServerServiceStep: Step = {
  name: "apiserver-service",
  define: (ctx) => [apiServerServiceManifest(ctx)],
  async apply({ deps, ctx, found }) {
    const [desired] = this.define(ctx, found);
    const service = (await ensure(deps, Resources.Service, desired!, deps.caches.services)) as ServiceObject;
    const clusterIP = service.spec?.clusterIP;
    found.clusterIP = clusterIP && clusterIP !== "None" ? clusterIP : undefined;
    const ingress = service.status?.loadBalancer?.ingress?.[0];
    found.externalEndpoint = ctx.tcp.spec.service.externalEndpoint ?? ingress?.ip ?? ingress?.hostname;
  },
  status: () => [],
  // And any other Service of the tenant but etcd's, which no other step claims.
  cleanup: (fc) => deleteTenantObjects(fc, Resources.Service, fc.deps.caches.services, { notComponents: ["etcd"] }),
};
