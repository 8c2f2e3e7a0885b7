import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, kubeProxyWaitSeconds } from "./metacluster.js";

describe("freePort", () => {
  it("gives bindable ports below the kernel's ephemeral range, where outgoing connections cannot take them", async () => {
    let low = 32768;
    try {
      low = Math.min(low, Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]));
    } catch {
      // not Linux: the default bound
    }
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(port).toBeLessThan(low);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
      });
      await new Promise((r) => server.close(r));
    }
  });
});

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
