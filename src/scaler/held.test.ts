// Which workloads a ClusterScaler reports as held for missing data: a workload is held while its latest plan is
// held, and leaves the set on any other outcome, so ScaleDownHeld never keeps repeating a reason that is gone.
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { componentLabel, pausedAnnotation, tenantLabel } from "../api/labels.js";
import { Store } from "./testing.js";

const ns = "hand";
const labels = { [tenantLabel]: "hand", [componentLabel]: "kube-apiserver" };

describe("ScalerReconciler.heldReasons", () => {
  it("holds a workload while its scale-down waits for data, and forgets it when it no longer does", async () => {
    const deployment: KubeObject = {
      metadata: { name: "kube-apiserver", namespace: ns, uid: "d1", labels },
      spec: {
        replicas: 1,
        template: {
          spec: { containers: [{ name: "kube-apiserver", resources: { requests: { memory: "512Mi" } } }] },
        },
      },
    } as KubeObject;
    const deployments = new Store([deployment]);
    const caches = {
      clusterScalers: new Store([
        {
          apiVersion: "metapilot.io/v1alpha1",
          kind: "ClusterScaler",
          metadata: { name: "all", uid: "cs", resourceVersion: "1" },
          spec: { components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }] },
        } as KubeObject,
      ]),
      tenants: new Store(),
      deployments,
      statefulSets: new Store(),
      pods: new Store(),
      decisions: new Store(),
      profiles: new Store(),
    } as unknown as ScalerCaches;
    // No Prometheus: nothing can be scaled down, so the workload's scale-down is held for data.
    const reconciler = new ScalerReconciler({
      caches,
      client: undefined as never,
      actuator: { dryRun: false, apply: async () => undefined },
      recorder: { record: () => undefined } as never,
      dryRun: false,
    });
    const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
    const reconcile = () => reconciler.reconcile({ namespace: ns, name: "kube-apiserver" }, rc);

    await reconcile();
    expect(reconciler.heldReasons.get("all")).toEqual(new Map([["hand/kube-apiserver", "no Prometheus configured"]]));
    // While the next round runs, the status (written on each poll) still sees it held: emptied at the start of a
    // round, the set read empty and the ClusterScaler said its signals were fresh (chaos: Prometheus answering NaN).
    const inFlight = reconcile();
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);
    await inFlight;
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);

    // Paused: its plan is no longer a hold for data, so the old reason must not linger.
    deployment.metadata = { ...deployment.metadata, annotations: { [pausedAnnotation]: "true" } };
    await reconcile();
    expect(reconciler.heldReasons.has("all")).toBe(false);

    deployment.metadata = { ...deployment.metadata, annotations: {} };
    await reconcile();
    expect(reconciler.heldReasons.get("all")?.size).toBe(1);

    // Deleted: gone from the set too.
    deployments.items.length = 0;
    await reconcile();
    expect(reconciler.heldReasons.has("all")).toBe(false);
  });
});
