// fleet-regression through the controller on the real meta-cluster: twenty tenants (an apiserver pod each, on kwok
// nodes) whose usage, served by a synthetic exporter and read through a Prometheus of the test's own, grows
// linearly with their node count plus noise. A new tenant of a size none of them has, with no usage of its own yet,
// gets a dry-run decision sized by the fit, which names the estimator and the fit; the ClusterScaler's status shows
// the fit's R² and sample count.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { PrometheusClient } from "../../src/prometheus/client.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { seeded } from "../../src/scaler/estimators/fleet-testing.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { createApiserver, createVictim } from "../fixtures/tenant.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

interface Decision extends KubeObject {
  spec?: {
    target?: { tenant?: string };
    clusterScaler?: string;
    estimator?: string;
    decidedAt?: string;
    rootCause?: { category?: string; summary?: string; evidence?: Array<{ signal: string; value: string }> };
    after?: { resources?: { requests?: Record<string, string> } };
  };
  status?: { phase?: string };
}

interface Scaler extends KubeObject {
  status?: {
    fleetRegression?: Array<{ component: string; resource: string; fitted: boolean; samples: number; r2?: number }>;
    conditions?: Array<{ type: string; status: string; reason?: string }>;
  };
}

const Mi = 2 ** 20;
const cpuLine = (nodes: number) => 0.05 + 0.0005 * nodes; // cores
const memoryLine = (nodes: number) => 256 * Mi + 1 * Mi * nodes; // bytes
const fleetSize = 20;
const newestFirst = <T extends { spec?: { decidedAt?: string } }>(list: T[]) =>
  list.sort((a, b) => (b.spec?.decidedAt ?? "").localeCompare(a.spec?.decidedAt ?? ""));
const newTenantNodes = 2000; // the fleet has 10 to 1000

describe("fleet-regression through the controller", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const id = randomBytes(3).toString("hex");
  const name = `fleet-${id}`;
  const tenants = Array.from({ length: fleetSize }, (_, i) => `fleet-${id}-${i}`);
  const newcomer = `fleet-${id}-new`;
  const namespaces = new Map<string, Awaited<ReturnType<typeof freshNamespace>>>();
  const exporter = new SyntheticExporter();
  const stop = new AbortController();
  const watchStop = new AbortController();
  let prom: TestPrometheus;
  let decisions: Informer<Decision>;
  let done: Promise<unknown> | undefined;

  beforeAll(async () => {
    await installCrds(kc);
    const random = seeded(17);
    const cpuRates = new Map<string, number>();
    for (const t of [...tenants, newcomer]) {
      const ns = await freshNamespace(kc, "fleet");
      namespaces.set(t, ns);
      // The Deployment is the workload; a stand-alone pod of the same labels, named "api", is its pod.
      await createApiserver(client, ns.name, t, { replicas: 0 });
      await createVictim(client, ns.name, t, "api");
      const nodes = t === newcomer ? newTenantNodes : Math.round(10 + random() * 990);
      exporter.setGauge("apiserver_storage_objects", { namespace: ns.name, resource: "nodes" }, nodes);
      if (t === newcomer) continue; // no usage yet
      const noise = () => 1 + (random() * 2 - 1) * 0.1;
      const labels = { namespace: ns.name, pod: "api", container: "kube-apiserver" };
      const rate = cpuLine(nodes) * noise();
      cpuRates.set(ns.name, rate);
      exporter.setRate("container_cpu_usage_seconds_total", labels, rate);
      exporter.setGauge("container_memory_working_set_bytes", labels, memoryLine(nodes) * noise());
    }
    const target = await exporter.start();
    prom = new TestPrometheus([target]);
    await prom.start();
    // A rate over a window that holds the counter's first samples is extrapolated from its start and can be far
    // off; the controller starts once Prometheus gives every tenant the rate the exporter serves.
    const promClient = new PrometheusClient({ url: prom.url, retries: 0, timeoutMs: 5000 });
    await eventually(
      async () => {
        const samples = await promClient.query("rate(container_cpu_usage_seconds_total[15s])");
        const settled = [...cpuRates].every(([ns, rate]) => {
          const got = samples.find((x) => x.labels.namespace === ns)?.value;
          return got !== undefined && Math.abs(got / rate - 1) < 0.02;
        });
        return settled ? true : undefined;
      },
      120_000,
      "Prometheus's CPU rates equal to the exporter's",
    );
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name },
      spec: {
        tenantSelector: {
          matchExpressions: [{ key: "metapilot.io/tenant", operator: "In", values: [...tenants, newcomer] }],
        },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }, { name: "cluster-size" }],
            estimators: ["oom-memory", "fleet-regression", "cluster-size"],
            maxAllowed: { cpu: "16", memory: "64Gi" },
          },
        ],
        dryRun: true,
        scaleUp: { cooldown: "1s" },
        scaleDown: { enabled: false },
        // Larger tenants of the fleet get dry-run decisions too; none may hold the newcomer's back.
        fleetBudget: { maxChangesPerInterval: 1000 },
        fleetRegression: { minTenants: 10, minR2: 0.7 },
      },
    } as KubeObject);
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision });
    void decisions.start(watchStop.signal);
    await decisions.waitForSync();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: name,
      qps: 200,
      burst: 200,
    });
    addClusterScalerController(manager, {
      workers: 4,
      dryRun: false,
      prometheus: { url: prom.url, timeoutMs: 5000, retries: 0 },
      pollIntervalMs: 1000,
      // A window of 15 scrapes: a rate over a few is off by several percent when a scrape comes late.
      rateWindow: "15s",
      staleAfterMs: 30_000,
    });
    done = manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 120_000, "scaler caches synced");
  }, 300_000);

  afterAll(async () => {
    stop.abort();
    await done?.catch(() => undefined);
    watchStop.abort();
    await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
    for (const ns of namespaces.values()) await ns.cleanup();
    await prom?.cleanup();
    await exporter.stop();
  }, 120_000);

  it("sizes a new tenant by the fleet's fit, and says so in its decision and the ClusterScaler's status", async () => {
    const decision = await eventually(
      async () =>
        newestFirst(
          decisions.list(
            (d) =>
              d.spec?.clusterScaler === name &&
              d.spec.target?.tenant === newcomer &&
              d.spec.estimator === "fleet-regression" &&
              d.status?.phase === "DryRun" &&
              // Memory is fitted from the first scrape; CPU, a rate, a few scrapes later: until then the first
              // decision sizes memory alone.
              ["fleet_fit_cpu_cores", "fleet_fit_memory_bytes"].every((signal) =>
                // A fit over the whole fleet: the first polls may miss some tenants' rates.
                d.spec?.rootCause?.evidence?.some(
                  (e) => e.signal === signal && e.value.endsWith(`, ${fleetSize} tenants)`),
                ),
              ),
          ),
        )[0],
      180_000,
      () =>
        `a fleet-regression decision for ${newcomer}; decisions of ${name}: ` +
        decisions
          .list((d) => d.spec?.clusterScaler === name)
          .map((d) => `${d.spec?.target?.tenant} ${d.spec?.estimator} ${d.status?.phase}`)
          .join(", "),
    );
    expect(decision.spec?.rootCause?.category).toBe("ClusterGrowth");
    const evidence = Object.fromEntries((decision.spec?.rootCause?.evidence ?? []).map((e) => [e.signal, e.value]));
    expect(evidence.fleet_fit_cpu_cores).toMatch(/·nodes \(R² 0\.\d+, \d+ tenants\)/);
    expect(evidence.fleet_fit_memory_bytes).toMatch(/·nodes \(R² 0\.\d+, \d+ tenants\)/);
    const requests = decision.spec?.after?.resources?.requests ?? {};
    const cpu = Number(requests.cpu?.replace(/m$/, "")) / 1000;
    const memory = Number(requests.memory?.replace(/Mi$/, "")) * Mi;
    // The fit at 2000 nodes with the engine's headroom (CPU for 60% utilisation, memory +30%), within 10%.
    expect(Math.abs(cpu / (cpuLine(newTenantNodes) / 0.6) - 1)).toBeLessThan(0.1);
    expect(Math.abs(memory / (memoryLine(newTenantNodes) * 1.3) - 1)).toBeLessThan(0.1);

    const status = await eventually(
      async () => {
        const cs = await client.get<Scaler>(Resources.ClusterScaler, name);
        const fits = cs.status?.fleetRegression ?? [];
        return fits.length === 2 && fits.every((f) => f.fitted && f.samples === fleetSize) ? cs.status : undefined;
      },
      60_000,
      `status.fleetRegression fitted over ${fleetSize} tenants`,
    );
    for (const fit of status?.fleetRegression ?? []) expect(fit.r2).toBeGreaterThan(0.7);
    expect(status?.conditions?.find((c) => c.type === "FleetRegressionReady")).toMatchObject({ status: "True" });
    console.log(
      `fleet-regression: ${newcomer} at ${newTenantNodes} nodes -> cpu ${requests.cpu}, memory ${requests.memory}; ` +
        (status?.fleetRegression ?? []).map((f) => `${f.resource} R² ${f.r2} over ${f.samples}`).join(", ") +
        `; decision's fits: ${evidence.fleet_fit_cpu_cores}, ${evidence.fleet_fit_memory_bytes}`,
    );
  }, 300_000);
});
