// Fleet benchmark: N TenantControlPlanes on a meta-cluster of its own, with the operator and the ClusterScaler
// in one process. Records time to Ready per TCP (median and p90), the operator's CPU and RSS per TCP, the writes a
// full resync of the Ready fleet makes (audit log; should be 0), and OOM-to-patch latency (p50, p99) over 100
// trials at that fleet size. Kamaji's published figures (about 4.5 s and 6 MiB per TCP) are the anchor.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../src/kube/client.js";
import { Informer } from "../src/kube/informer.js";
import { createLogger } from "../src/kube/logger.js";
import { Manager } from "../src/kube/manager.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import { addTenantControlPlaneController } from "../src/operator/controller.js";
import { addClusterScalerController } from "../src/scaler/controller.js";
import { down, up } from "../hack/lib/metacluster.js";
import { readAudit, isWrite } from "../test/harness/audit.js";
import { createVictim, markOomKilled } from "../test/fixtures/tenant.js";
import { installCrds } from "../test/harness/crds.js";
import { mapLimit, mib, percentile, repoRoot, round, summarize, type Benchmark, type BenchOptions } from "./lib.js";

interface Tcp extends KubeObject {
  spec?: { apiServer?: { resources?: { limits?: Record<string, string> } } };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> };
}
interface Deployment extends KubeObject {
  spec?: {
    template?: {
      spec?: {
        containers?: Array<{ resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }>;
      };
    };
  };
}

export const fleetBenchmark: Benchmark = {
  name: "fleet",
  description: "N TenantControlPlanes: time to Ready, operator CPU/RSS per TCP, resync writes, OOM-to-patch latency",
  async run(opts) {
    // FLEET_TCPS is one size or a comma-separated list (default 100); each size runs on a fresh meta-cluster and
    // replaces the entry of the same size in bench/results/fleet.json, so sizes can be run one at a time.
    const sizes = opts.quick ? [10] : (process.env.FLEET_TCPS ?? "100").split(",").map(Number);
    const file = path.join(repoRoot, "bench/results", opts.quick ? "fleet.quick.json" : "fleet.json");
    const previous = existsSync(file)
      ? ((JSON.parse(readFileSync(file, "utf8")) as { runs?: Array<Record<string, unknown>> }).runs ?? [])
      : [];
    const runs = previous.filter((r) => !sizes.includes(Number(r.tenantControlPlanes)));
    for (const count of sizes) {
      opts.log(`fleet of ${count}`);
      runs.push(await runSize(count, opts));
    }
    runs.sort((a, b) => Number(a.tenantControlPlanes) - Number(b.tenantControlPlanes));
    return {
      runs,
      anchor: {
        kamajiSecondsPerTcp: 4.5,
        kamajiMiBPerTcp: 6,
        note: "Kamaji's published figures, different hardware; time to Ready here is per TCP with all created at once",
      },
      note: "kwok pods become Ready without running any process; times measure the control loop, not container start-up",
    };
  },
};

async function runSize(count: number, opts: BenchOptions): Promise<Record<string, unknown>> {
  const trials = opts.quick ? 10 : 100;
  const dir = path.join(repoRoot, ".cache/bench-fleet");
  const nodes = Math.max(20, Math.ceil((count * 5) / 80));
  const state = await up({ dir, nodes, log: opts.log });
  const stop = new AbortController();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(state.kubeconfig);
    await installCrds(kc);
    const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "bench" });
    const identity = `fleet-bench-${Date.now()}`;
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 100,
      burst: 200,
    });
    addTenantControlPlaneController(manager, { workers: 8, dryRun: false });
    addClusterScalerController(manager, { workers: 8, dryRun: false });
    void manager.start(stop.signal);
    const rssBefore = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    const created = new Map<string, number>();
    const names = Array.from({ length: count }, (_, i) => `fleet-${i}`);
    opts.log(`creating ${count} TenantControlPlanes on ${nodes} kwok nodes`);
    const started = Date.now();
    await mapLimit(names, 10, async (name) => {
      created.set(name, Date.now());
      await client.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name, labels: { fleet: "bench" } },
        spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
      } as KubeObject);
    });
    const readyAt = new Map<string, number>();
    const deadline = Date.now() + 30 * 60_000;
    while (readyAt.size < count && Date.now() < deadline) {
      const list = await client.listAll<Tcp>(Resources.TenantControlPlane);
      for (const t of list.items) {
        const name = t.metadata?.name ?? "";
        if (t.status?.phase === "Ready" && !readyAt.has(name)) readyAt.set(name, Date.now());
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const wall = Date.now() - started;
    const perTcp = names
      .filter((n) => readyAt.has(n))
      .map((n) => ((readyAt.get(n) ?? 0) - (created.get(n) ?? 0)) / 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const rssAfter = process.memoryUsage().rss;
    opts.log(`${readyAt.size}/${count} Ready in ${round(wall / 1000, 1)} s`);

    // A full resync of the Ready fleet: every key reconciled again from the cache.
    const since = new Date();
    const controller = (
      manager as unknown as { controllers: Array<{ name: string; queue: { add(k: string): void } }> }
    ).controllers.find((c) => c.name === "tenantcontrolplane");
    for (const n of names) controller?.queue.add(n);
    await new Promise((r) => setTimeout(r, Math.max(10_000, count * 50)));
    const resyncWrites = readAudit(state, since).filter(
      (e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`),
    );

    // OOM reaction at fleet size: a ClusterScaler for one tenant, OOMs on its apiserver pod.
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: "fleet-bench" },
      spec: {
        tenantSelector: { matchLabels: { fleet: "bench" } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }],
            estimators: ["oom-memory"],
            maxAllowed: { memory: "1Ti" },
          },
        ],
      },
    } as KubeObject);
    const target = names[0] ?? "fleet-0";
    const ns = `tcp-${target}`;
    const limitOf = async () =>
      (await client.get<Deployment>(Resources.Deployment, "kube-apiserver", ns)).spec?.template?.spec?.containers?.[0]
        ?.resources?.limits?.memory;
    const latencies: number[] = [];
    const oomCpuBefore = process.cpuUsage();
    const oomStarted = Date.now();
    // A pod of the tenant's apiserver that the operator's rollouts do not replace: each trial's limit change rolls
    // the Deployment, and an OOM on a pod being deleted would be lost to the benchmark, not to the scaler.
    const pod = "oom-victim";
    await createVictim(client, ns, target, pod);
    // Every trial starts from the operator's default size: each OOM bump is x1.2, and without the reset the limit
    // would reach maxAllowed after about 40 trials and the rest would measure nothing.
    const baseline = (await client.get<Deployment>(Resources.Deployment, "kube-apiserver", ns)).spec?.template?.spec
      ?.containers?.[0]?.resources;
    const resetToBaseline = async () => {
      if ((await limitOf()) === baseline?.limits?.memory) return;
      await client.patch(
        Resources.TenantControlPlane,
        target,
        undefined,
        { spec: { apiServer: { resources: baseline } } },
        "merge",
      );
      const until = Date.now() + 30_000;
      while (Date.now() < until && (await limitOf()) !== baseline?.limits?.memory)
        await new Promise((r) => setTimeout(r, 50));
    };
    // Both hops timed from watch events, not by polling: the scaler's patch of the TenantControlPlane (its
    // reaction) and the operator's apply of the Deployment (end to end).
    let trial: { t0: number; tcpAt?: number; deploymentAt?: number } | undefined;
    const watches = new AbortController();
    const tcpWatch = new Informer<Tcp>(client, {
      resource: Resources.TenantControlPlane,
      fieldSelector: `metadata.name=${target}`,
    }).on({
      update: (o) => {
        const m = o.spec?.apiServer?.resources?.limits?.memory;
        if (trial && !trial.tcpAt && m && m !== baseline?.limits?.memory) trial.tcpAt = Date.now();
      },
    });
    const deploymentWatch = new Informer<Deployment>(client, {
      resource: Resources.Deployment,
      namespace: ns,
      fieldSelector: "metadata.name=kube-apiserver",
    }).on({
      update: (o) => {
        const m = o.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory;
        if (trial && !trial.deploymentAt && m && m !== baseline?.limits?.memory) trial.deploymentAt = Date.now();
      },
    });
    void tcpWatch.start(watches.signal);
    void deploymentWatch.start(watches.signal);
    await tcpWatch.waitForSync();
    await deploymentWatch.waitForSync();
    const toTcp: number[] = [];
    for (let i = 0; i < trials; i++) {
      await resetToBaseline();
      const current: { t0: number; tcpAt?: number; deploymentAt?: number } = { t0: Date.now() };
      trial = current;
      await markOomKilled(client, ns, 1000 + i, pod);
      const until = Date.now() + 15_000;
      while (Date.now() < until && !current.deploymentAt) await new Promise((r) => setTimeout(r, 10));
      trial = undefined;
      latencies.push((current.deploymentAt ?? Date.now()) - current.t0);
      if (current.tcpAt) toTcp.push(current.tcpAt - current.t0);
    }
    watches.abort();

    // What one user sees: a single new TenantControlPlane created into the Ready fleet, one at a time.
    const single: number[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `fleet-single-${i}`;
      const t0 = Date.now();
      await client.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name },
        spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
      } as KubeObject);
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        if ((await client.get<Tcp>(Resources.TenantControlPlane, name)).status?.phase === "Ready") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      single.push((Date.now() - t0) / 1000);
    }
    const oomCpu = process.cpuUsage(oomCpuBefore);
    const oomSeconds = (Date.now() - oomStarted) / 1000;
    stop.abort();
    return {
      tenantControlPlanes: count,
      componentWorkloads: count * 4,
      kwokNodes: nodes,
      ready: readyAt.size,
      wallToAllReadySeconds: round(wall / 1000, 1),
      wallSecondsPerTcp: round(wall / 1000 / count, 2),
      timeToReadySeconds: { ...summarize(perTcp, 2), p90: round(percentile(perTcp, 90), 2) },
      operatorCpuSecondsPerTcp: round((cpu.user + cpu.system) / 1e6 / count, 3),
      operatorRssMiB: {
        before: mib(rssBefore / 1024),
        after: mib(rssAfter / 1024),
        perTcp: round((rssAfter - rssBefore) / 2 ** 20 / count, 2),
      },
      resync: {
        reconciledKeys: count,
        writes: resyncWrites.length,
        sample: resyncWrites.slice(0, 5).map((e) => `${e.verb} ${e.requestURI}`),
      },
      singleTcpIntoReadyFleetSeconds: { ...summarize(single, 2), note: "5 TCPs created one at a time after the fleet" },
      oomToPatchMs: {
        trials: latencies.length,
        timedOut: latencies.filter((l) => l >= 15_000).length,
        scalerPatchesTenantControlPlane: { p50: round(percentile(toTcp, 50), 0), p99: round(percentile(toTcp, 99), 0) },
        p50: round(percentile(latencies, 50), 0),
        p99: round(percentile(latencies, 99), 0),
        path: "OOM in pod status -> scaler patches TenantControlPlane -> operator applies Deployment (p50/p99: end to end, from watch events)",
        controllerCpuCores: round((oomCpu.user + oomCpu.system) / 1e6 / oomSeconds, 2),
        controllerRssMiB: mib(process.memoryUsage().rss / 1024),
      },
      loadAverage1m: round(os.loadavg()[0] ?? 0, 2),
    };
  } finally {
    stop.abort();
    await down(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { writeResults } = await import("./lib.js");
  const quick = process.argv.includes("--quick");
  const figures = await fleetBenchmark.run({
    quick,
    coldBuild: false,
    log: (l) => process.stderr.write(`[fleet] ${l}\n`),
  });
  console.log(writeResults("fleet", quick, figures));
  process.exit(0);
}
