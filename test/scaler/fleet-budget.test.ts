// The fleet budget on the real meta-cluster, across a leader change: six tenants (kube-apiserver Deployments on
// kwok nodes) all want a cluster-size change, the budget allows two per 30 minutes. The first controller makes two
// and holds four back; it stops (releasing its Lease) and a new controller process takes the Lease over, with
// nothing in memory but what it lists. The tenants then all want another change: the new leader must make none,
// because the two changes its predecessor recorded still fill the interval. An OOM kill is still answered (the
// tenant's floor of one), a second one on the same tenant is not, and the ClusterScaler's status shows what the
// budget holds back.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { blockedByFleetBudget } from "../../src/scaler/fleet-budget.js";
import { cores } from "../../src/scaler/quantity.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { blockedByAnnotation } from "../../src/api/labels.js";

interface Decision extends KubeObject {
  spec?: {
    target?: { tenant?: string };
    clusterScaler?: string;
    decidedAt?: string;
    rootCause?: { category?: string };
    after?: { resources?: { requests?: Record<string, string> } };
  };
  status?: { phase?: string };
}

interface Deployment extends KubeObject {
  spec?: { template?: { spec?: { containers?: Array<{ resources?: { requests?: Record<string, string> } }> } } };
}

interface Scaler extends KubeObject {
  status?: {
    fleetBudget?: {
      changes?: number;
      remaining?: number;
      heldBack?: number;
      heldBackWorkloads?: string[];
      nextChangeAt?: string;
    };
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

const tenantCount = 6;

describe("the fleet budget across a leader change", () => {
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "test-user" });
  const id = randomBytes(3).toString("hex");
  const name = `budget-${id}`;
  const tenants = Array.from({ length: tenantCount }, (_, i) => `budget-${id}-${i}`);
  const namespaces = new Map<string, Awaited<ReturnType<typeof freshNamespace>>>();
  const exporter = new SyntheticExporter();
  const watchStop = new AbortController();
  let prom: TestPrometheus;
  let leaseNs: Awaited<ReturnType<typeof freshNamespace>>;
  let decisions: Informer<Decision>;
  let deployments: Informer<Deployment>;
  const controllers: Array<{ stop: AbortController; done: Promise<unknown>; manager: Manager }> = [];

  const nsOf = (tenant: string) => namespaces.get(tenant)?.name ?? "";
  const mine = (filter: (d: Decision) => boolean = () => true) =>
    decisions.list((d) => d.spec?.clusterScaler === name && filter(d));
  const changes = () =>
    mine((d) => d.status?.phase === "Applied" || d.status?.phase === "DryRun" || d.status?.phase === undefined);
  const heldByBudget = (d: Decision) =>
    d.status?.phase === "Blocked" && d.metadata?.annotations?.[blockedByAnnotation] === blockedByFleetBudget;
  const cpuOf = (tenant: string) =>
    deployments.get(`${nsOf(tenant)}/kube-apiserver`)?.spec?.template?.spec?.containers?.[0]?.resources?.requests?.cpu;
  const setNodes = (n: number) => {
    for (const t of tenants)
      exporter.setGauge("apiserver_storage_objects", { namespace: nsOf(t), resource: "nodes" }, n);
  };

  /** A controller process: its own manager, caches and reconciler, leader-elected on the test's Lease. */
  async function startController(identity: string) {
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 200,
      burst: 200,
      leaderElection: {
        enabled: true,
        namespace: leaseNs.name,
        name: "metapilot",
        leaseDurationMs: 8000,
        renewDeadlineMs: 6000,
        retryPeriodMs: 500,
      },
    });
    addClusterScalerController(manager, {
      workers: 4,
      dryRun: false,
      prometheus: { url: prom.url, timeoutMs: 5000, retries: 0 },
      pollIntervalMs: 1000,
      rateWindow: "5s",
      staleAfterMs: 30_000,
      decisionSigningKeySecret: { namespace: leaseNs.name, name: "metapilot-decision-key" },
    });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    controllers.push({ stop, done, manager });
    await eventually(
      async () => (manager.hasSynced() && manager.isLeader() ? true : undefined),
      120_000,
      `${identity} leading`,
    );
    return { stop, done, manager };
  }

  beforeAll(async () => {
    await installCrds(kc);
    leaseNs = await freshNamespace(kc, "budget-lease");
    for (const t of tenants) {
      const ns = await freshNamespace(kc, "budget");
      namespaces.set(t, ns);
      await createApiserver(client, ns.name, t, { victim: t === tenants[0] });
    }
    // kwok writes the victim's status when it starts it; an OOM kill marked before that would be overwritten.
    await eventually(
      async () =>
        (
          await client.get<KubeObject & { status?: { phase?: string } }>(
            Resources.Pod,
            "victim",
            nsOf(tenants[0] ?? ""),
          )
        ).status?.phase === "Running"
          ? true
          : undefined,
      120_000,
      "victim Running",
    );
    const target = await exporter.start();
    prom = new TestPrometheus([target]);
    await prom.start();
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name },
      spec: {
        tenantSelector: { matchExpressions: [{ key: "metapilot.io/tenant", operator: "In", values: tenants }] },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }, { name: "cluster-size" }],
            estimators: ["oom-memory", "cluster-size"],
            maxAllowed: { cpu: "8", memory: "100Gi" },
            clusterSizeLadder: [
              { nodes: 0, cpu: "1", memory: "1Gi" },
              { nodes: 100, cpu: "2", memory: "2Gi" },
            ],
          },
        ],
        scaleUp: { cooldown: "1s" },
        scaleDown: { enabled: false },
        fleetBudget: { maxChangesPerInterval: 2, interval: "30m", oomFloorPerTenant: 1 },
      },
    } as KubeObject);
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision });
    deployments = new Informer<Deployment>(client, {
      resource: Resources.Deployment,
      labelSelector: "metapilot.io/tenant",
    });
    void decisions.start(watchStop.signal);
    void deployments.start(watchStop.signal);
    await decisions.waitForSync();
    await deployments.waitForSync();
  }, 300_000);

  afterAll(async () => {
    for (const c of controllers) c.stop.abort();
    await Promise.all(controllers.map((c) => c.done.catch(() => undefined)));
    watchStop.abort();
    await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
    for (const ns of namespaces.values()) await ns.cleanup();
    await leaseNs?.cleanup();
    await prom?.cleanup();
    await exporter.stop();
  }, 120_000);

  it("keeps the rate when a new controller takes the Lease over, and still answers an OOM kill on the floor", async () => {
    // The first leader: every tenant wants the 0-node step (cpu 500m -> 1); two get it, four are held back.
    const first = await startController(`budget-first-${id}`);
    setNodes(10);
    await eventually(
      async () => {
        const held = new Set(mine(heldByBudget).map((d) => d.spec?.target?.tenant));
        return changes().length === 2 && held.size === tenantCount - 2 ? true : undefined;
      },
      120_000,
      () =>
        `2 changes and ${tenantCount - 2} tenants held back; have ${changes().length} changes, held back: ` +
        `${[...new Set(mine(heldByBudget).map((d) => d.spec?.target?.tenant))].join(", ")}`,
    );
    const changedFirst = tenants.filter((t) => changes().some((d) => d.spec?.target?.tenant === t));
    expect(changedFirst).toHaveLength(2);

    // The first leader stops (its Lease released); a new process, nothing in memory, takes over.
    first.stop.abort();
    await first.done;
    const handover = Date.now();
    await startController(`budget-second-${id}`);

    // Every tenant now wants the 100-node step. The budget still holds the first leader's two changes.
    setNodes(100);
    await eventually(
      async () => {
        const held = new Set(
          mine(
            (d) =>
              heldByBudget(d) &&
              Date.parse(d.spec?.decidedAt ?? "") >= handover &&
              d.spec?.after?.resources?.requests?.cpu === "2000m",
          ).map((d) => d.spec?.target?.tenant),
        );
        return held.size === tenantCount ? true : undefined;
      },
      120_000,
      () => `every tenant's 100-node step held back by the new leader; changes: ${changes().length}`,
    );
    expect(changes()).toHaveLength(2);
    for (const t of tenants) expect(cores(cpuOf(t)), t).toBe(changedFirst.includes(t) ? 1 : 0.5);

    // An OOM kill is answered all the same: the tenant's floor of one OOM scale-up per interval.
    const victim = tenants[0] as string;
    await markOomKilled(client, nsOf(victim), 1);
    const oom = await eventually(
      async () => mine((d) => d.spec?.rootCause?.category === "OOMKilled" && d.status?.phase === "Applied")[0],
      60_000,
      "the OOM kill answered on the floor",
    );
    expect(oom.spec?.target?.tenant).toBe(victim);
    // A second kill of the same tenant in the interval finds the floor used and the budget spent.
    await markOomKilled(client, nsOf(victim), 2);
    await eventually(
      async () => mine((d) => d.spec?.rootCause?.category === "OOMKilled" && heldByBudget(d))[0],
      60_000,
      "the second OOM kill held back",
    );
    expect(mine((d) => d.spec?.rootCause?.category === "OOMKilled" && d.status?.phase === "Applied")).toHaveLength(1);
    expect(changes()).toHaveLength(3);

    // The status says what the budget holds back, as the new leader counts it.
    const status = await eventually(
      async () => {
        const cs = await client.get<Scaler>(Resources.ClusterScaler, name);
        const b = cs.status?.fleetBudget;
        return b?.changes === 3 && b.heldBack === tenantCount ? cs.status : undefined;
      },
      60_000,
      "status.fleetBudget with 3 changes and every tenant held back",
    );
    expect(status?.fleetBudget?.remaining).toBe(0);
    expect(new Set(status?.fleetBudget?.heldBackWorkloads)).toEqual(
      new Set(tenants.map((t) => `${nsOf(t)}/kube-apiserver`)),
    );
    // Three changes against two: the two oldest must leave the 30-minute interval before one is free again.
    const appliedAt = mine((d) => d.status?.phase === "Applied")
      .map((d) => Date.parse(d.spec?.decidedAt ?? ""))
      .sort((a, b) => a - b);
    expect(Date.parse(status?.fleetBudget?.nextChangeAt ?? "")).toBe((appliedAt[1] ?? NaN) + 30 * 60_000);
    const condition = status?.conditions?.find((c) => c.type === "FleetBudgetAvailable");
    expect(condition).toMatchObject({ status: "False", reason: "BudgetSpent" });
  }, 600_000);
});
