import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "./metacluster-ports.js";

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
