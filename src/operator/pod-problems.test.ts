import { describe, expect, it } from "vitest";
import { imageRemedy, podProblem, type PendingPod } from "./pod-problems.js";

const waiting = (image: string, reason: string, message?: string): PendingPod => ({
  status: { phase: "Pending", containerStatuses: [{ image, state: { waiting: { reason, message } } }] },
});

const pullMessage =
  'failed to pull and unpack image "127.0.0.1:1/absent/kube-apiserver:v1.35.4": failed to resolve reference: ' +
  "dial tcp 127.0.0.1:1: connect: connection refused";

describe("podProblem", () => {
  it("names the scheduler's reason first: a pod that cannot be placed never gets to pull", () => {
    const pod: PendingPod = {
      status: {
        phase: "Pending",
        conditions: [
          { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available" },
        ],
      },
    };
    expect(podProblem("kube-apiserver", [pod, waiting("x/kube-apiserver:v1", "ErrImagePull")])).toEqual({
      reason: "Unschedulable",
      message: "1 pod(s) cannot be scheduled: 0/3 nodes are available",
    });
  });

  it.each([
    ["ErrImagePull", pullMessage],
    ["ImagePullBackOff", 'Back-off pulling image "127.0.0.1:1/absent/kube-apiserver:v1.35.4"'],
    ["ErrImageNeverPull", "Container image is not present with pull policy of Never"],
    ["InvalidImageName", "Failed to apply default image tag"],
  ])("%s: names the image, the reason, what to change, and the kubelet's words", (reason, said) => {
    const image = "127.0.0.1:1/absent/kube-apiserver:v1.35.4";
    const p = podProblem("kube-apiserver", [waiting(image, reason, said)]);
    expect(p?.reason).toBe("ImagePullFailed");
    expect(p?.message).toContain(`image ${image} cannot be pulled (${reason}): `);
    expect(p?.message).toContain("spec.imageRegistry (or the controller's --image-registry) and spec.version");
    expect(p?.message).toContain(`the kubelet says: ${said}`);
  });

  it("says what to do before the kubelet's words, which are cut, so a long message still says it", () => {
    const p = podProblem("kube-apiserver", [waiting("r/kube-apiserver:v1", "ErrImagePull", "x".repeat(5000))])!;
    expect(p.message.indexOf("spec.version")).toBeLessThan(p.message.indexOf("the kubelet says"));
    expect(p.message.length).toBeLessThan(1024);
  });

  it("points etcd at its own version field", () => {
    const p = podProblem("etcd", [waiting("r/etcd:3.6.99-0", "ImagePullBackOff")]);
    expect(p?.message).toContain("spec.etcd.managed.version");
    expect(p?.message).not.toContain("the kubelet says");
  });

  it("finds nothing in running pods, pods waiting for other reasons, or no pods", () => {
    expect(podProblem("kube-scheduler", [])).toBeUndefined();
    expect(podProblem("kube-scheduler", [waiting("r/kube-scheduler:v1", "ContainerCreating")])).toBeUndefined();
    const running: PendingPod = {
      status: { phase: "Running", containerStatuses: [{ image: "i", state: { waiting: { reason: "ErrImagePull" } } }] },
    };
    expect(podProblem("kube-scheduler", [running])).toBeUndefined();
  });
});

describe("imageRemedy", () => {
  it("tells a pull that is not allowed from a name that is wrong and an image that is missing", () => {
    expect(imageRemedy("kube-apiserver", "ErrImageNeverPull")).toMatch(/^the node may not pull it: import/);
    expect(imageRemedy("kube-apiserver", "InvalidImageName")).toMatch(/^the name is not a valid image reference/);
    expect(imageRemedy("kube-controller-manager", "ErrImagePull")).toMatch(/^make the image available/);
  });
});
