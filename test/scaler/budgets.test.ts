// Disruption budgets on the real meta-cluster (kwok pods, no real node), issue 19's must-show "Budgets": 100 tenants
// whose kube-apiserver all want a scale-down at once (low CPU and memory from the synthetic exporter) are changed at
// the budget's rate, never faster, across two leader changes in the middle. Three controller instances (each its own
// Manager, caches and reconciler, as replicas are) share one Lease. The first leader is stopped as SIGTERM stops it:
// it releases the Lease and the standby takes over at once. The second leader is killed: each instance reaches the
// apiserver through a proxy of its own (test/fixtures/cut-proxy.ts), and cutting it resets every connection and
// refuses new ones, so that leader never releases its Lease, its in-flight requests fail half-way and whatever it
// does afterwards reaches nobody; the third instance takes over once the Lease has expired, with nothing in memory
// but what it lists. (The instances run in the test's process, as in test/scaler/fleet-budget.test.ts: a controller
// process takes minutes just to start on a loaded 2-core machine. The takeover of a SIGKILLed controller process is
// test/runtime/failover.test.ts's.)
// The budgets are the meta-cluster-wide default (the config --default-disruption-budgets fills; the ClusterScaler
// sets none):
//   default[0]  10% of the governed tenants (10 of 100) per 20 s, for ScaleDown;
//   default[1]  6 per 20 s, for RestartRequiring (these Deployments are not owned by a TenantControlPlane, so every
//               change of their template rolls: every scale-down here has both reasons, and this one wins);
//   default[2]  0 per 20 s for ScaleUp: no scale-up at all, but for the OOM floor;
//   default[3]  0 per 20 s, for every reason, on Jan 1st 00:00-00:01 UTC only: inactive while the test runs.
// Sampled continuously: every ScalingDecision is watched, and every sliding 20 s window (each ending at a decision)
// is checked against the limits; the Deployments are listed every second, and no template changes without a
// counted decision. An OOM kill in the middle is answered at once, on the floor that the ScaleUp budget of 0 cannot
// take away. The ClusterScaler's status shows each budget. Nothing here measures speed: the counts per window are the
// budget's own correctness.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import type { DisruptionBudget } from "../../src/api/index.js";
import { ensureNamespace } from "../chaos/lib.js";
import { CutProxy } from "../fixtures/cut-proxy.js";
import { blockedByAnnotation, blockedKeyAnnotation } from "../../src/api/labels.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { adminKubeConfig, eventually, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";

interface Decision extends KubeObject {
  spec?: {
    target?: { tenant?: string; name?: string; namespace?: string };
    clusterScaler?: string;
    direction?: string;
    decidedAt?: string;
    disruptionReasons?: string[];
    rootCause?: { category?: string };
  };
  status?: { phase?: string; reason?: string };
}

interface Deployment extends KubeObject {
  spec?: { template?: { spec?: { containers?: Array<{ resources?: unknown }> } } };
}

interface BudgetStatus {
  budget: string;
  active: boolean;
  limit: number;
  reasons: string[];
  changes: number;
  remaining: number;
  heldBack: number;
  windowChangesAt?: string;
}

const tenantCount = 100;
const intervalMs = 20_000;
const restartLimit = 6;
const scaleDownLimit = 10; // 10% of 100
const defaultBudgets: DisruptionBudget[] = [
  { limit: "10%", interval: "20s", reasons: ["ScaleDown"] },
  { limit: String(restartLimit), interval: "20s", reasons: ["RestartRequiring"] },
  { limit: "0", interval: "20s", reasons: ["ScaleUp"] },
  { limit: "0", interval: "20s", schedule: "0 0 1 1 *", duration: "1m" },
];

describe("disruption budgets: 100 tenants scaled down at the budget's rate, across a leader change", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const client = new KubeClient(kc, { qps: 300, burst: 300, fieldManager: "test-user" });
  const id = randomBytes(3).toString("hex");
  const name = `budgets-${id}`;
  const tenants = Array.from({ length: tenantCount }, (_, i) => `bud-${id}-${i}`);
  const nsOf = (tenant: string) => `bud-${id}-${tenants.indexOf(tenant)}`;
  const exporter = new SyntheticExporter();
  const watchStop = new AbortController();
  const controllers: Array<{ stop: AbortController; done: Promise<unknown>; manager: Manager; proxy: CutProxy }> = [];
  let prom: TestPrometheus;
  let decisions: Informer<Decision>;
  let sampler: NodeJS.Timeout | undefined;
  /** Per workload, the template resources seen by the last sample, and how often they changed. */
  const seen = new Map<string, string>();
  const changedTemplates = new Map<string, number>();

  const mine = (filter: (d: Decision) => boolean = () => true) =>
    decisions.list((d) => d.spec?.clusterScaler === name && filter(d));
  /**
   * What a budget counts: Applied decisions and unfinished ones (a stopped leader may have applied them), but not
   * one still being recorded that was created as held back (its phase, Blocked, comes a moment later).
   */
  const counted = (d: Decision) =>
    d.status?.phase === "Applied" ||
    (d.status?.phase === undefined &&
      !d.metadata?.annotations?.[blockedByAnnotation] &&
      !d.metadata?.annotations?.[blockedKeyAnnotation]);
  const at = (d: Decision) => Date.parse(d.spec?.decidedAt ?? "");
  const isOom = (d: Decision) => d.spec?.direction === "Up" && d.spec?.rootCause?.category === "OOMKilled";
  const downs = () => mine((d) => counted(d) && d.spec?.direction === "Down");

  async function sample(): Promise<void> {
    const list = await client.listAll<Deployment>(Resources.Deployment, {
      labelSelector: "metapilot.io/component=kube-apiserver",
    });
    for (const d of list.items) {
      const ns = d.metadata?.namespace ?? "";
      if (!ns.startsWith(`bud-${id}-`)) continue;
      const r = JSON.stringify(d.spec?.template?.spec?.containers?.[0]?.resources);
      const before = seen.get(ns);
      if (before !== undefined && before !== r) changedTemplates.set(ns, (changedTemplates.get(ns) ?? 0) + 1);
      seen.set(ns, r);
    }
  }

  /**
   * Every sliding window of the budgets' interval that ends at a counted decision: the decisions it holds, by reason.
   * A window with the most changes ends at one of them, so these are all the windows that matter.
   */
  function windows(): Array<{ end: number; down: number; restart: number; floorOoms: number; up: number }> {
    const all = mine(counted);
    return all.map((last) => {
      const end = at(last);
      const inside = all.filter((d) => at(d) > end - intervalMs && at(d) <= end);
      const has = (d: Decision, r: string) => d.spec?.disruptionReasons?.includes(r) ?? false;
      return {
        end,
        down: inside.filter((d) => has(d, "ScaleDown")).length,
        restart: inside.filter((d) => has(d, "RestartRequiring") && !isOom(d)).length,
        floorOoms: inside.filter(isOom).length,
        up: inside.filter((d) => has(d, "ScaleUp") && !isOom(d)).length,
      };
    });
  }

  /**
   * A controller instance: its own manager, caches and reconciler, leader-elected on the test's Lease, reaching the
   * apiserver through a proxy of its own that the test can cut.
   */
  async function startController(i: number) {
    const proxy = new CutProxy(CutProxy.targetOf(kc));
    const manager = new Manager({
      kubeConfig: await proxy.start(kc),
      logger: createLogger({ level: "warn" }),
      identity: `budgets-${id}-${i}`,
      qps: 200,
      burst: 200,
      leaderElection: {
        enabled: true,
        namespace: "chaos-system",
        name: `budgets-${id}`,
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
      decisionSigningKeySecret: { namespace: "chaos-system", name: `budgets-${id}-decision-key` },
      defaultDisruptionBudgets: defaultBudgets,
    });
    const stop = new AbortController();
    const c = { stop, done: manager.start(stop.signal), manager, proxy };
    controllers.push(c);
    return c;
  }

  beforeAll(async () => {
    await installCrds(kc);
    await ensureNamespace(client, "chaos-system");
    const target = await exporter.start();
    prom = new TestPrometheus([target]);
    await prom.start();
    for (const t of tenants) {
      await ensureNamespace(client, nsOf(t), { "metapilot.io/test": "true" });
      await createApiserver(client, nsOf(t), t, { victim: t === tenants[0] });
      // What the ClusterScaler selects them by (a selector's list of values holds at most 64).
      await client.patch(
        Resources.Deployment,
        "kube-apiserver",
        nsOf(t),
        { metadata: { labels: { "budgets.metapilot.io/run": id } } },
        "merge",
      );
    }
    // Every tenant uses a tenth of its request: each wants a scale-down, in 20% steps, for a long while.
    const pods = await eventually(
      async () => {
        const list = await client.listAll<KubeObject & { status?: { phase?: string } }>(Resources.Pod, {
          labelSelector: "metapilot.io/component=kube-apiserver",
        });
        const running = list.items.filter(
          (p) => p.metadata?.namespace?.startsWith(`bud-${id}-`) && p.status?.phase === "Running",
        );
        return running.length >= tenantCount + 1 ? running : undefined;
      },
      240_000,
      "every tenant's apiserver pod Running",
    );
    for (const p of pods) {
      const labels = {
        namespace: p.metadata?.namespace ?? "",
        pod: p.metadata?.name ?? "",
        container: "kube-apiserver",
      };
      exporter.setRate("container_cpu_usage_seconds_total", labels, 0.03);
      exporter.setGauge("container_memory_working_set_bytes", labels, 60 * 1024 * 1024);
    }
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name },
      spec: {
        tenantSelector: { matchLabels: { "budgets.metapilot.io/run": id } },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }, { name: "cpu" }, { name: "memory" }],
            estimators: ["oom-memory"],
            minAllowed: { cpu: "10m", memory: "16Mi" },
            maxAllowed: { cpu: "4", memory: "64Gi" },
          },
        ],
        scaleUp: { cooldown: "1s" },
        scaleDown: { enabled: true, stabilizationWindow: "5s", maxStepPercent: 20 },
        // No budgets of its own: the controller's default ones apply. One OOM scale-up per tenant per interval.
        disruption: { oomFloorPerTenant: 1 },
      },
    } as KubeObject);
    decisions = new Informer<Decision>(client, { resource: Resources.ScalingDecision });
    void decisions.start(watchStop.signal);
    await decisions.waitForSync();
    await sample();
    sampler = setInterval(() => void sample().catch(() => undefined), 1000);
  }, 600_000);

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    for (const c of controllers) c.stop.abort();
    await Promise.all(controllers.map((c) => c.done.catch(() => undefined)));
    for (const c of controllers) c.proxy.cut();
    watchStop.abort();
    await client.delete(Resources.ClusterScaler, name).catch(() => undefined);
    for (const t of tenants) await client.delete(Resources.Namespace, nsOf(t)).catch(() => undefined);
    await prom?.cleanup();
    await exporter.stop();
  }, 300_000);

  it("holds every sliding interval to the budget, answers an OOM kill on the floor, and keeps the rate after a leader is stopped and after one is killed", async () => {
    type Instance = Awaited<ReturnType<typeof startController>>;
    const leading = (of: Instance[]) =>
      eventually(
        async () => of.find((c) => c.manager.hasSynced() && c.manager.isLeader()),
        180_000,
        "one controller leading",
      );
    const synced = (c: Instance) =>
      eventually(async () => (c.manager.hasSynced() ? true : undefined), 180_000, "the standby synced");
    const downsSince = (t: number) => downs().filter((d) => at(d) > t).length;
    const a = await startController(0);
    const b = await startController(1);
    const first = await leading([a, b]);
    const second = first === a ? b : a;
    await synced(second);

    // The first leader: changes at the budget's rate, the rest held back.
    await eventually(
      async () => (downs().length >= 2 * restartLimit ? true : undefined),
      240_000,
      () => `${2 * restartLimit} scale-downs by the first leader; have ${downs().length}`,
    );

    // An OOM kill while the budgets are spent: the ScaleUp budget of 0 cannot hold it back.
    await markOomKilled(client, nsOf(tenants[0] as string), 1);
    const oom = await eventually(
      async () => mine((d) => isOom(d) && d.status?.phase !== undefined)[0],
      60_000,
      "the OOM kill answered",
    );
    expect(oom.status?.phase, "the OOM scale-up is made on the floor").toBe("Applied");
    expect(oom.spec?.disruptionReasons).toEqual(["ScaleUp", "RestartRequiring"]);

    // Stop the first leader in the middle of the work, as SIGTERM does; the standby takes the Lease over.
    const beforeStop = downs().length;
    const stoppedAt = Date.now();
    first.stop.abort();
    await first.done;
    await eventually(async () => (second.manager.isLeader() ? true : undefined), 60_000, "the standby leading");
    console.log(
      `budgets: first leader stopped at ${new Date(stoppedAt).toISOString()}, second leading by ${new Date().toISOString()}`,
    );
    // A third instance, the standby for the next change.
    const third = await startController(2);
    await synced(third);
    await eventually(
      async () => (downsSince(stoppedAt) >= 2 * restartLimit ? true : undefined),
      240_000,
      () => `${2 * restartLimit} scale-downs by the second leader; have ${downsSince(stoppedAt)}`,
    );

    // Kill the second leader in the middle of the work: its connections are reset, its Lease is left to expire.
    const beforeKill = downs().length;
    const killedAt = Date.now();
    const reset = second.proxy.cut();
    expect(reset, "the killed leader's open connections").toBeGreaterThan(0);
    await eventually(async () => (third.manager.isLeader() ? true : undefined), 60_000, "the third instance leading");
    const takeoverMs = Date.now() - killedAt;
    await eventually(
      async () => (downsSince(killedAt) >= 2 * restartLimit ? true : undefined),
      240_000,
      () => `${2 * restartLimit} scale-downs by the third leader; have ${downsSince(killedAt)}`,
    );
    // The killed instance is still running in this process, cut off: it must have noticed it lost the Lease.
    await eventually(
      async () => (second.manager.isLeader() ? undefined : true),
      60_000,
      "the killed leader no longer believing it leads",
    );
    await sample();

    // Every sliding interval, before, across and after the failover.
    const ws = windows();
    const worst = ws.reduce((m, w) => (w.restart > m.restart ? w : m), ws[0]!);
    console.log(
      `budgets: ${downs().length} scale-downs (${beforeStop} before the first leader stopped, ${beforeKill} before ` +
        `the second was killed; takeover ${takeoverMs} ms after the kill), ${ws.length} windows checked, ` +
        `at most ${worst.restart} restart-requiring changes in ${intervalMs / 1000} s (limit ${restartLimit}), ` +
        `${mine((d) => d.status?.reason === "FleetBudget").length} decisions held back`,
    );
    for (const w of ws) {
      const when = new Date(w.end).toISOString();
      const detail = () =>
        mine((d) => counted(d) && at(d) > w.end - intervalMs && at(d) <= w.end)
          .map(
            (d) =>
              `${d.spec?.decidedAt} ${d.spec?.direction} ${d.status?.phase ?? "unfinished"} ${d.spec?.target?.namespace} [${d.spec?.disruptionReasons?.join(",") ?? ""}]`,
          )
          .join("; ");
      expect(
        w.restart,
        `restart-requiring changes in the ${intervalMs / 1000} s before ${when}: ${detail()}`,
      ).toBeLessThanOrEqual(restartLimit);
      expect(w.down, `scale-downs in the interval before ${when}`).toBeLessThanOrEqual(
        Math.min(scaleDownLimit, restartLimit),
      );
      expect(w.up, `scale-ups other than OOM ones on the floor before ${when}`).toBe(0);
      expect(w.floorOoms, `OOM scale-ups of the one killed tenant before ${when}`).toBeLessThanOrEqual(1);
    }
    // The rate is a limit, not a target: under constant demand the budget was used (a change is held back only
    // while it is spent).
    expect(mine((d) => d.status?.reason === "FleetBudget").length).toBeGreaterThan(0);
    // No workload changed without a counted decision: the changes the Deployments show are the decisions' own.
    for (const [ns, n] of changedTemplates) {
      const made = mine((d) => d.spec?.target?.namespace === ns && counted(d)).length;
      expect(n, `template changes of ${ns}`).toBeLessThanOrEqual(made);
    }

    // The status shows each budget: active or not, the limit in force, what it counted and held back.
    const status = await eventually(
      async () => {
        const cs = await client.get<
          KubeObject & {
            status?: {
              disruptionBudgets?: BudgetStatus[];
              conditions?: Array<{ type: string; status: string; reason?: string }>;
            };
          }
        >(Resources.ClusterScaler, name);
        const b = cs.status?.disruptionBudgets;
        return b?.length === 4 && (b[1]?.heldBack ?? 0) > 0 ? cs.status : undefined;
      },
      60_000,
      "status.disruptionBudgets with what the restart budget holds back",
    );
    const [down, restart, up, scheduled] = status!.disruptionBudgets!;
    expect(down).toMatchObject({ budget: "default[0]", active: true, limit: scaleDownLimit, reasons: ["ScaleDown"] });
    expect(restart).toMatchObject({ budget: "default[1]", active: true, limit: restartLimit });
    expect(up).toMatchObject({ budget: "default[2]", active: true, limit: 0, reasons: ["ScaleUp"] });
    expect(scheduled).toMatchObject({ budget: "default[3]", active: false, limit: 0 });
    expect(scheduled?.reasons).toEqual(["ScaleUp", "ScaleDown", "RestartRequiring", "Drain"]);
    expect(Date.parse(scheduled?.windowChangesAt ?? "")).toBe(
      Date.parse(`${new Date().getUTCFullYear() + 1}-01-01T00:00:00Z`),
    );
  }, 1_200_000);
});
