import { describe, expect, it } from "vitest";
import { kubeProxyWaitSeconds } from "./metacluster-realnode-services.js";

describe("kubeProxyWaitSeconds", () => {
  it("is 1200 unless METACLUSTER_KUBE_PROXY_WAIT_SECONDS says otherwise, and refuses what is not seconds", () => {
    expect(kubeProxyWaitSeconds(undefined)).toBe(1200);
    expect(kubeProxyWaitSeconds("")).toBe(1200);
    expect(kubeProxyWaitSeconds("0")).toBe(0);
    expect(kubeProxyWaitSeconds("90")).toBe(90);
    expect(() => kubeProxyWaitSeconds("20m")).toThrow(/number of seconds/);
    expect(() => kubeProxyWaitSeconds("-1")).toThrow(/number of seconds/);
  });
});
