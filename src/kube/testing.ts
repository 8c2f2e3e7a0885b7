// Helpers for unit tests of the runtime (not shipped logic): a KubeConfig pointing at a nock-able server.
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";

export const testServer = "http://kube.test";

export function testKubeConfig(server = testServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "test-token" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

export const silentLogger = pino({ level: "silent" });
