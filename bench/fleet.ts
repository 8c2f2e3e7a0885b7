// Fleet benchmark: N TenantControlPlanes on a meta-cluster of its own, with the operator and the ClusterScaler
// in one process. Records time to Ready per TCP (median and p90), the operator's CPU and RSS per TCP, the writes a
// full resync of the Ready fleet makes (audit log; should be 0), and OOM-to-patch latency (p50, p99) over 100
// trials at that fleet size. Kamaji's published figures (about 4.5 s and 6 MiB per TCP) are the anchor.
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../src/kube/client.js";
import { createLogger } from "../src/kube/logger.js";
import { Manager } from "../src/kube/manager.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import { addTenantControlPlaneController } from "../src/operator/controller.js";
import { addClusterScalerController } from "../src/scaler/controller.js";
import { down, up } from "../hack/lib/metacluster.js";
import { readAudit, isWrite } from "../test/harness/audit.js";
import { installCrds } from "../test/harness/crds.js";
import { mapLimit, mib, percentile, repoRoot, round, summarize, type Benchmark } from "./lib.js";

interface Tcp extends KubeObject {
  status?: { phase?: string; conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> };
}
interface Deployment extends KubeObject {
  spec?: { template?: { spec?: { containers?: Array<{ resources?: { limits?: Record<string, string> } }> } } };
}

export const fleetBenchmark: Benchmark = {
  name: "fleet",
  description: "N TenantControlPlanes: time to Ready, operator CPU/RSS per TCP, resync writes, OOM-to-patch latency",
  async run(opts) {
    const count = opts.quick ? 10 : Number(process.env.FLEET_TCPS ?? 100);
    const trials = opts.quick ? 10 : 100;
    const dir = path.join(repoRoot, ".cache/bench-fleet");
    const nodes = Math.max(20, Math.ceil((count * 5) / 80));
    const state = await up({ dir, nodes, log: opts.log });
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
      const stop = new AbortController();
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
      for (let i = 0; i < trials; i++) {
        const pods = await client.listAll<KubeObject>(Resources.Pod, {
          namespace: ns,
          labelSelector: "metapilot.io/component=kube-apiserver",
        });
        const pod = pods.items[0]?.metadata?.name;
        if (!pod) break;
        const before = await limitOf();
        const t0 = Date.now();
        await client.patch(
          Resources.Pod,
          pod,
          ns,
          {
            status: {
              containerStatuses: [
                {
                  name: "kube-apiserver",
                  image: "x",
                  imageID: "",
                  ready: true,
                  restartCount: 1000 + i,
                  state: { running: { startedAt: new Date().toISOString() } },
                  lastState: {
                    terminated: { reason: "OOMKilled", exitCode: 137, finishedAt: new Date().toISOString() },
                  },
                },
              ],
            },
          },
          "strategic",
          "status",
        );
        // The TenantControlPlane owns the size: the scaler patches its spec, the operator rolls the Deployment.
        const until = Date.now() + 15_000;
        while (Date.now() < until && (await limitOf()) === before) await new Promise((r) => setTimeout(r, 20));
        latencies.push(Date.now() - t0);
      }
      stop.abort();
      return {
        tenantControlPlanes: count,
        kwokNodes: nodes,
        ready: readyAt.size,
        wallToAllReadySeconds: round(wall / 1000, 1),
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
        oomToPatchMs: {
          trials: latencies.length,
          p50: round(percentile(latencies, 50), 0),
          p99: round(percentile(latencies, 99), 0),
          path: "OOM in pod status -> scaler patches TenantControlPlane -> operator applies Deployment",
        },
        anchor: {
          kamajiSecondsPerTcp: 4.5,
          kamajiMiBPerTcp: 6,
          note: "Kamaji's published figures, different hardware; time to Ready here is per TCP with all created at once",
        },
        note: "kwok pods become Ready without running any process; times measure the control loop, not container start-up",
      };
    } finally {
      await down(dir);
    }
  },
};

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
