import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/resources.js";
import { apiServerServiceStep } from "./apiserver-service.js";
import { emptyFound } from "./step.js";
import { specs, tenantContext, tenantObject, world, writes } from "./testing.js";

describe("the apiserver-service step", () => {
  it.each(Object.entries(specs))("defines the apiserver's Service (%s)", (_, spec) => {
    expect(apiServerServiceStep.define(tenantContext(spec), emptyFound())).toMatchSnapshot();
  });

  it("records the ClusterIP and the load balancer's address for the PKI", async () => {
    const ctx = tenantContext({ service: { type: "LoadBalancer" } });
    const [desired] = apiServerServiceStep.define(ctx, emptyFound());
    const live = {
      ...desired,
      spec: { ...(desired as { spec: object }).spec, clusterIP: "10.96.0.10" },
      status: { loadBalancer: { ingress: [{ hostname: "lb.example.com" }] } },
    } as KubeObject;
    const w = world({ services: [live] });
    const sc = w.step(ctx);
    await apiServerServiceStep.apply(sc);
    expect(w.calls).toEqual([]);
    expect(sc.found).toMatchObject({ clusterIP: "10.96.0.10", externalEndpoint: "lb.example.com" });
  });

  it("prefers spec.service.externalEndpoint, and records no ClusterIP for a headless answer", async () => {
    const w = world();
    const sc = w.step(tenantContext({ service: { type: "ClusterIP", externalEndpoint: "api.example.com:443" } }));
    await apiServerServiceStep.apply(sc);
    expect(writes(w.calls)).toEqual(["apply services tcp-team-a/kube-apiserver"]);
    expect(sc.found.externalEndpoint).toBe("api.example.com:443");
    expect(sc.found.clusterIP).toBeUndefined();
  });

  it("removes every Service of the tenant but etcd's from a retained namespace", async () => {
    const w = world({
      services: [tenantObject("Service", "kube-apiserver", "kube-apiserver"), tenantObject("Service", "etcd", "etcd")],
    });
    await apiServerServiceStep.cleanup(w.finalizing(true), []);
    expect(writes(w.calls)).toEqual(["delete services tcp-team-a/kube-apiserver"]);
  });
});
