import { describe, expect, it } from "vitest";
import { tenantSpecSize } from "./actuator.js";
import { MiB } from "./quantity.js";

const observed = { replicas: 3, cpuRequest: 0.25, memoryRequest: 150 * MiB, memoryLimit: 150 * MiB };

describe("tenantSpecSize", () => {
  it("is the spec's size where the actuator wrote it, before the operator has rolled the Deployment", () => {
    const spec = {
      apiServer: {
        replicas: 1,
        resources: { requests: { cpu: "100m", memory: "250Mi" }, limits: { memory: "250Mi" } },
      },
    };
    expect(tenantSpecSize(observed, spec, "kube-apiserver")).toEqual({
      replicas: 1,
      cpuRequest: 0.1,
      cpuLimit: undefined,
      memoryRequest: 250 * MiB,
      memoryLimit: 250 * MiB,
    });
  });

  it("maps each component to its field, and keeps etcd's member count", () => {
    const r = (m: string) => ({ resources: { limits: { memory: m } } });
    const spec = {
      controllerManager: r("300Mi"),
      scheduler: r("200Mi"),
      etcd: { managed: { replicas: 5, ...r("1Gi") } },
    };
    expect(tenantSpecSize(observed, spec, "kube-controller-manager").memoryLimit).toBe(300 * MiB);
    expect(tenantSpecSize(observed, spec, "kube-scheduler").memoryLimit).toBe(200 * MiB);
    expect(tenantSpecSize(observed, spec, "etcd")).toMatchObject({ replicas: 3, memoryLimit: 1024 * MiB });
    // Replicas the spec leaves to the operator's default are the workload's.
    expect(tenantSpecSize(observed, spec, "kube-scheduler").replicas).toBe(3);
  });

  it("is the workload's own size where the spec sets no resources (the operator's defaults), or there is no spec", () => {
    expect(tenantSpecSize(observed, { apiServer: { replicas: 2 } }, "kube-apiserver")).toBe(observed);
    expect(tenantSpecSize(observed, undefined, "kube-apiserver")).toBe(observed);
    expect(tenantSpecSize(observed, { etcd: { external: {} } }, "etcd")).toBe(observed);
  });
});
