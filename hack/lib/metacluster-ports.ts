// Free ports for the meta-cluster's components, chosen where outgoing connections cannot take them.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A free port on 127.0.0.1 below the kernel's ephemeral range (32768+ here): a port the kernel hands out is also
 * what it picks as the source port of outgoing connections, and the busy meta-cluster beside this one makes
 * thousands of them, so such a port can be taken between choosing it and the component binding it.
 */
export async function freePort(): Promise<number> {
  const top = Math.min(ephemeralLow(), 32768);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    if (await canBind(port)) return port;
  }
  return bindAndRelease(0); // the whole range below is taken: let the kernel choose
}

/** The first port of the kernel's ephemeral range (Linux); the IANA range's elsewhere. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (low > 20500) return low;
  } catch {
    // not Linux
  }
  return 49152;
}

function canBind(port: number): Promise<boolean> {
  return bindAndRelease(port).then(
    () => true,
    () => false,
  );
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}
