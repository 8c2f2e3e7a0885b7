import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/resources.js";
import { workloadChanged } from "./controller.js";
import { recommenderAnnotation } from "./selector.js";

const deployment = (generation: number, extra: Partial<NonNullable<KubeObject["metadata"]>> = {}): KubeObject => ({
  metadata: { name: "kube-apiserver", namespace: "tcp-a", uid: "u1", generation, resourceVersion: "1", ...extra },
});

describe("workloadChanged (which workload updates re-profile at once)", () => {
  it("ignores status churn: same generation, uid and annotation", () => {
    expect(workloadChanged(deployment(3, { resourceVersion: "9" }), deployment(3))).toBe(false);
  });

  it.each([
    ["a spec change (generation)", deployment(4)],
    ["a re-created workload (uid)", deployment(3, { uid: "u2" })],
    ["another algorithm (annotation)", deployment(3, { annotations: { [recommenderAnnotation]: "p98" } })],
    ["a deletion", deployment(3, { deletionTimestamp: new Date(0) })],
  ])("reacts to %s", (_what, next) => {
    expect(workloadChanged(next, deployment(3))).toBe(true);
  });
});
