import { describe, expect, it } from "vitest";
import { MiB } from "./quantity.js";
import { mainContainer, workloadSize, type Workload } from "./workload.js";

const workload: Workload = {
  metadata: { name: "kube-apiserver" },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          { name: "sidecar", resources: { requests: { cpu: "10m" } } },
          {
            name: "kube-apiserver",
            resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
          },
        ],
      },
    },
  },
};

describe("workload", () => {
  it("sizes the container named after the component, else the first", () => {
    expect(mainContainer(workload, "kube-apiserver")).toBe("kube-apiserver");
    expect(mainContainer(workload, "etcd")).toBe("sidecar");
    expect(workloadSize(workload, "kube-apiserver")).toEqual({
      replicas: 2,
      cpuRequest: 0.5,
      cpuLimit: undefined,
      memoryRequest: 1024 * MiB,
      memoryLimit: 2048 * MiB,
    });
    expect(workloadSize({ metadata: {} }, "x")).toEqual({ replicas: 1 });
  });
});
