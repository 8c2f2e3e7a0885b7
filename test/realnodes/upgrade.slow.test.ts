// A version upgrade on real pods: a TenantControlPlane on a real node, created at the previous Kubernetes release
// (PREVIOUS_KUBERNETES_VERSION, its control-plane images built by `hack/build-binaries.sh kubernetes_previous`),
// is upgraded to KUBERNETES_VERSION. The operator rolls etcd → kube-apiserver → controller-manager and scheduler;
// the apiserver rolls with maxUnavailable 0. A prober sends a request through the apiserver Service's ClusterIP
// every 100 ms, each on a new TLS connection (so each one is routed by kube-proxy afresh), from before the upgrade
// until every pod runs the new release; every failed request is recorded with its error. The goal is none.
//
// A `.slow.test.ts` file: `make bench` runs it (the second Kubernetes build is minutes more on a cold machine), not
// `make test`. The figures go to bench/results/realnodes.json, key upgrade.
import * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildImage, controlPlaneRecipe, importImage, binaryVersionOf, versionOutput } from "../../hack/lib/images.js";
import { binDir, repoRoot } from "../../hack/lib/metacluster.js";
import { Resources } from "../../src/kube/resources.js";
import { eventually } from "../harness/cluster.js";
import { machineNow, RealTenant, recordRealNodeResult } from "../harness/realtenant.js";

const log = (l: string) => process.stderr.write(`[realnodes-upgrade] ${l}\n`);
const previousBinDir = path.join(binDir, "previous");
const rolled = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** PREVIOUS_KUBERNETES_VERSION from hack/versions.env. */
function previousVersion(): string {
  const env = readFileSync(path.join(repoRoot, "hack/versions.env"), "utf8");
  const v = /^PREVIOUS_KUBERNETES_VERSION=(\S+)$/m.exec(env)?.[1];
  if (!v) throw new Error("hack/versions.env has no PREVIOUS_KUBERNETES_VERSION");
  return v;
}

interface ProbeFailure {
  at: string;
  error: string;
}

/** Requests /readyz-independent work (a namespace list) every `intervalMs` on a fresh connection until stopped. */
function startProber(kc: k8s.KubeConfig, intervalMs: number) {
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const url = new URL("/api/v1/namespaces?limit=1", cluster.server);
  const failures: ProbeFailure[] = [];
  let sent = 0;
  let ok = 0;
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      sent += 1;
      const req = https.request(
        url,
        {
          method: "GET",
          ca: Buffer.from(cluster.caData!, "base64"),
          cert: Buffer.from(user.certData!, "base64"),
          key: Buffer.from(user.keyData!, "base64"),
          // A new TCP and TLS connection each time: kube-proxy picks a backend per connection.
          agent: false,
          timeout: 5_000,
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) ok += 1;
            else failures.push({ at: new Date().toISOString(), error: `HTTP ${res.statusCode}` });
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
      req.on("error", (err) => {
        failures.push({ at: new Date().toISOString(), error: err.message });
        resolve();
      });
      req.end();
    });
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      await one();
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { sent, ok, failures };
    },
  };
}

describe("a TenantControlPlane upgraded on real pods", () => {
  const from = previousVersion();
  const t = new RealTenant({
    prefix: "upg",
    log,
    spec: (spec) => ({ ...spec, version: from }),
  });
  let setupError: unknown;

  beforeAll(async () => {
    try {
      await t.setUp();
      // The previous release's images, from its binaries, into the node beside the current ones.
      for (const component of rolled) {
        const binary = path.join(previousBinDir, component);
        const version = binaryVersionOf(component, versionOutput(binary));
        if (`v${version}` !== from) throw new Error(`${binary} reports v${version}, not ${from}`);
        await importImage(
          t.node.containerdSocket,
          buildImage(repoRoot, controlPlaneRecipe(component, binary, version)),
        );
      }
    } catch (err) {
      setupError =
        err instanceof Error && /ENOENT/.test(err.message)
          ? new Error(`${err.message}: build the previous release first (hack/build-binaries.sh kubernetes_previous)`)
          : err;
    }
  }, 900_000);

  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(() => t.tearDown(), 600_000);

  it("rolls from the previous release to the current one with no failed request through the ClusterIP", async () => {
    const to = t.versions.kubernetes;
    expect(from).not.toBe(to);
    const createdAt = Date.now();
    await t.create();
    await t.waitReady();
    const readyAt = Date.now();
    const { kubeConfig } = await t.tenantKubeConfig();
    // The apiserver answers through the ClusterIP before the prober counts.
    await eventually(
      () =>
        kubeConfig
          .makeApiClient(k8s.VersionApi)
          .getCode()
          .then((v) => (v.gitVersion === from ? v : undefined)),
      120_000,
      `the tenant apiserver at ${from} through the ClusterIP`,
    );
    const prober = startProber(kubeConfig, 100);
    await new Promise((r) => setTimeout(r, 10_000));

    const upgradeStarted = Date.now();
    await t.client.patch(Resources.TenantControlPlane, t.name, undefined, { spec: { version: to } });
    const upgraded = await t.waitReady();
    // Ready at the new generation, and every pod of every rolled component runs the new release's image.
    await eventually(
      async () => {
        const pods = (await t.core.listNamespacedPod({ namespace: t.namespace })).items;
        const mine = pods.filter((p) =>
          (rolled as readonly string[]).includes(p.metadata?.labels?.["metapilot.io/component"] ?? ""),
        );
        const current = mine.filter(
          (p) =>
            !p.metadata?.deletionTimestamp &&
            p.spec?.containers[0]?.image?.endsWith(`:${to}`) &&
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return current.length === mine.length && mine.length >= 4 ? mine : undefined;
      },
      600_000,
      `every control-plane pod of ${t.name} at ${to}`,
    );
    const upgradeDone = Date.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const probe = await prober.stop();
    const version = await kubeConfig.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toBe(to);
    expect(upgraded.status?.version).toBe(to);

    recordRealNodeResult("upgrade", {
      recordedBy: "test/realnodes/upgrade.slow.test.ts",
      measuredAt: new Date().toISOString(),
      machine: machineNow(),
      from,
      to,
      apiServerReplicas: 2,
      createdToReadySeconds: Math.round((readyAt - createdAt) / 100) / 10,
      upgradeSeconds: Math.round((upgradeDone - upgradeStarted) / 100) / 10,
      probe: {
        meaning:
          "GET /api/v1/namespaces?limit=1 through the apiserver Service's ClusterIP every 100 ms, each on a new connection",
        sent: probe.sent,
        succeeded: probe.ok,
        failed: probe.failures.length,
        failures: probe.failures.slice(0, 20),
      },
    });
    log(`upgrade ${from} → ${to}: ${probe.sent} requests, ${probe.failures.length} failed`);
    expect(probe.sent).toBeGreaterThan(50);
    expect(probe.failures, JSON.stringify(probe.failures.slice(0, 10))).toEqual([]);
  }, 1_800_000);
});
