// The fleet-regression estimator end to end without a cluster: a fleet of 50 tenants whose apiserver usage grows
// linearly with their node count, plus noise. A new tenant of a size no tenant has gets a size from the fit within
// 10% of the generating line (with the engine's headroom), and its ScalingDecision names the estimator and the fit.
// First through the pure engine, then through the reconciler, which builds the fit from the Prometheus snapshot and
// the workloads it governs.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createLogger } from "../kube/logger.js";
import type { KubeObject } from "../kube/resources.js";
import { emptyUsageSnapshot, type PrometheusSignals } from "./signals/prometheus.js";
import { decide, defaultEngineOptions } from "./engine.js";
import { fitFleet } from "./estimators/fleet-fit.js";
import { linearFleet, seeded } from "./estimators/fleet-testing.js";
import { fleetRegressionCondition, fleetRegressionStatus } from "./fleet-model.js";
import { MiB } from "./quantity.js";
import { ScalerReconciler, type ScalerCaches } from "./reconciler.js";
import { input, policy, Store } from "./testing.js";
import { componentLabel, tenantLabel } from "../api/labels.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const cpuLine = (nodes: number) => 0.1 + 0.002 * nodes; // cores
const memoryLine = (nodes: number) => 256 * MiB + 3 * MiB * nodes; // bytes
const newTenantNodes = 1500; // the fleet has 10 to 1000
const fresh = (value: number) => ({ value, observedAt: now - 1000, source: "prometheus" });
const within10 = (got: number | undefined, want: number) => Math.abs((got ?? NaN) / want - 1);

describe("fleet-regression in the engine", () => {
  const fleet = {
    cpu: fitFleet(linearFleet(50, cpuLine, 0.1, 1)),
    memory: fitFleet(linearFleet(50, memoryLine, 0.1, 2)),
  };
  const bounds = { minAllowed: { cpu: 0.1, memory: 128 * MiB }, maxAllowed: { cpu: 64, memory: 256 * 1024 * MiB } };
  const newTenant = (estimators: string[], over: Parameters<typeof policy>[0] = {}) =>
    input(
      {
        current: { replicas: 1, cpuRequest: 0.1, memoryRequest: 256 * MiB, memoryLimit: 512 * MiB },
        policy: policy({ estimators, ...bounds, ...over }),
        fleet,
      },
      { clusterNodes: fresh(newTenantNodes) },
    );

  it("sizes a new tenant of a size never seen within 10% of the generating line, with the usual headroom", () => {
    const plan = decide(newTenant(["oom-memory", "fleet-regression", "cluster-size"]));
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.category).toBe("ClusterGrowth");
    expect(plan.estimator).toBe("fleet-regression");
    const { cpuTargetUtilization, memoryHeadroom } = defaultEngineOptions;
    expect(within10(plan.after.cpuRequest, cpuLine(newTenantNodes) / cpuTargetUtilization)).toBeLessThan(0.1);
    expect(within10(plan.after.memoryRequest, memoryLine(newTenantNodes) * memoryHeadroom)).toBeLessThan(0.1);
    // The limit keeps its ratio to the request (2:1 here).
    expect((plan.after.memoryLimit ?? 0) / (plan.after.memoryRequest ?? 1)).toBeCloseTo(2);
    const fit = plan.evidence.find((e) => e.signal === "fleet_fit_cpu_cores");
    expect(fit?.value).toMatch(/·nodes \(R² 0\.9\d\d, 50 tenants\)/);
    expect(fit?.source).toBe("fleet-regression");
    expect(plan.summary).toMatch(/fleet regression at 1500 nodes/);
  });

  it("keeps within maxAllowed", () => {
    const plan = decide(newTenant(["fleet-regression"], { maxAllowed: { cpu: 2, memory: 8192 * MiB } }));
    expect(plan.action === "change" && plan.after.cpuRequest).toBe(2);
  });

  it("tries the list in order: the first estimator with an answer sets the size", () => {
    const ladder = [{ nodes: 0, cpu: 1, memory: 1024 * MiB }];
    const ladderFirst = decide(newTenant(["cluster-size", "fleet-regression"], { ladder }));
    expect(ladderFirst.action === "change" && ladderFirst.estimator).toBe("cluster-size");
    expect(ladderFirst.action === "change" && ladderFirst.after.cpuRequest).toBe(1);
    const fleetFirst = decide(newTenant(["fleet-regression", "cluster-size"], { ladder }));
    expect(fleetFirst.action === "change" && fleetFirst.estimator).toBe("fleet-regression");
  });

  it("gives nothing with too few tenants and says why; the next listed estimator answers", () => {
    const few = { cpu: fitFleet(linearFleet(5, cpuLine, 0.1)), memory: fitFleet(linearFleet(5, memoryLine, 0.1)) };
    const ladder = [{ nodes: 0, cpu: 1, memory: 1024 * MiB }];
    const i = { ...newTenant(["fleet-regression", "cluster-size"], { ladder }), fleet: few };
    const plan = decide(i);
    expect(plan.action === "change" && plan.estimator).toBe("cluster-size");
    expect(plan.action === "change" && plan.summary).toMatch(/tried first: fleet-regression: .*5 tenants .*fewer than/);
    // Alone, it gives no size at all, and the plan's notes say why.
    const alone = decide({ ...newTenant(["fleet-regression"]), fleet: few });
    expect(alone.action).toBe("none");
    expect(alone.notes.join(" ")).toMatch(/no size for 1500 tenant nodes: fleet-regression: .*fewer than the 10/);
  });

  it("is a floor for scale-downs of a quiet tenant: never below what its size needs", () => {
    const quiet = input(
      {
        current: { replicas: 1, cpuRequest: 8, memoryRequest: 16384 * MiB },
        policy: policy({
          estimators: ["fleet-regression"],
          ...bounds,
          scaleDown: { ...policy().scaleDown, maxStepPercent: 100 },
        }),
        fleet,
        history: { handledOomIds: new Set(), overThresholdSince: {}, recommendations: [], observingSince: 0 },
      },
      { clusterNodes: fresh(newTenantNodes), cpuUsage: fresh(0.05), memoryWorkingSet: fresh(100 * MiB) },
    );
    const plan = decide(quiet);
    expect(plan.action === "change" && plan.direction).toBe("Down");
    if (plan.action !== "change") return;
    expect(within10(plan.after.cpuRequest, cpuLine(newTenantNodes) / 0.6)).toBeLessThan(0.1);
    expect(within10(plan.after.memoryRequest, memoryLine(newTenantNodes) * 1.3)).toBeLessThan(0.1);
  });
});

describe("fleet-regression through the reconciler", () => {
  it("fits the governed fleet from the Prometheus snapshot, and the new tenant's decision names the estimator and the fit", async () => {
    const random = seeded(5);
    const deployments = new Store();
    const pods = new Store();
    const snapshot = emptyUsageSnapshot();
    const addTenant = (tenant: string, nodes: number, usage: boolean) => {
      const ns = `tcp-${tenant}`;
      const labels = { [tenantLabel]: tenant, [componentLabel]: "kube-apiserver" };
      deployments.items.push({
        metadata: { name: "kube-apiserver", namespace: ns, uid: `d-${tenant}`, labels },
        spec: {
          replicas: 1,
          template: {
            spec: {
              containers: [
                {
                  name: "kube-apiserver",
                  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
                },
              ],
            },
          },
        },
      } as KubeObject);
      pods.items.push({ metadata: { name: `${tenant}-api`, namespace: ns, uid: `p-${tenant}`, labels } } as KubeObject);
      snapshot.nodes.set(ns, fresh(nodes));
      if (!usage) return;
      const noise = () => 1 + (random() * 2 - 1) * 0.1;
      snapshot.cpu.set(`${ns}/${tenant}-api/kube-apiserver`, fresh(cpuLine(nodes) * noise()));
      snapshot.memory.set(`${ns}/${tenant}-api/kube-apiserver`, fresh(memoryLine(nodes) * noise()));
    };
    for (let i = 0; i < 50; i++) addTenant(`t${i}`, 10 + Math.round(random() * 990), true);
    addTenant("newcomer", newTenantNodes, false); // no usage yet: a new tenant
    const created: KubeObject[] = [];
    const caches = {
      clusterScalers: new Store([
        {
          apiVersion: "metapilot.io/v1alpha1",
          kind: "ClusterScaler",
          metadata: { name: "fleet", uid: "cs", generation: 1 },
          spec: {
            components: [
              {
                name: "kube-apiserver",
                scalers: [{ name: "oom" }, { name: "cluster-size" }],
                estimators: ["oom-memory", "fleet-regression", "cluster-size"],
                maxAllowed: { cpu: "64", memory: "256Gi" },
              },
            ],
            scaleDown: { enabled: false },
          },
        } as KubeObject,
      ]),
      tenants: new Store(),
      deployments,
      statefulSets: new Store(),
      pods,
      decisions: new Store(),
      profiles: new Store(),
    } as unknown as ScalerCaches;
    const prometheus = { snapshot, lastSuccessAt: now - 1000, lastError: undefined } as unknown as PrometheusSignals;
    const reconciler = new ScalerReconciler({
      caches,
      client: {
        create: async (_t: unknown, o: KubeObject) => {
          created.push(o);
          return o;
        },
        applyStatus: async (_t: unknown, o: KubeObject) => o,
      } as never,
      actuator: { dryRun: true, apply: async () => undefined },
      recorder: { record: () => undefined } as never,
      prometheus,
      dryRun: true,
      now: () => now,
      signingKey: async () => randomBytes(32),
    });
    const rc = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }) };
    await reconciler.reconcile({ namespace: "tcp-newcomer", name: "kube-apiserver" }, rc);

    const decision = created[0] as KubeObject & {
      spec: {
        estimator?: string;
        rootCause: { category: string; summary: string; evidence: Array<{ signal: string; value: string }> };
        after: { resources: { requests: Record<string, string> } };
      };
    };
    expect(created).toHaveLength(1);
    expect(decision.spec.estimator).toBe("fleet-regression");
    expect(decision.spec.rootCause.category).toBe("ClusterGrowth");
    expect(decision.spec.rootCause.summary).toMatch(/fleet regression at 1500 nodes/);
    const evidence = Object.fromEntries(decision.spec.rootCause.evidence.map((e) => [e.signal, e.value]));
    expect(evidence.fleet_fit_cpu_cores).toMatch(/·nodes \(R² 0\.9\d\d, 50 tenants\)/);
    expect(evidence.fleet_fit_memory_bytes).toMatch(/Mi·nodes \(R² 0\.9\d\d, 50 tenants\)/);
    const cpu = Number(decision.spec.after.resources.requests.cpu?.replace(/m$/, "")) / 1000;
    const memory = Number(decision.spec.after.resources.requests.memory?.replace(/Mi$/, "")) * MiB;
    expect(within10(cpu, cpuLine(newTenantNodes) / 0.6)).toBeLessThan(0.1);
    expect(within10(memory, memoryLine(newTenantNodes) * 1.3)).toBeLessThan(0.1);

    // The ClusterScaler's status: each fit with its R² and sample count (the newcomer has no usage: 50 samples).
    const fits = reconciler.fleetModel(now).get("fleet");
    const status = fleetRegressionStatus(fits);
    expect(status).toHaveLength(2);
    for (const s of status) expect(s).toMatchObject({ component: "kube-apiserver", fitted: true, samples: 50 });
    expect(status.every((s) => (s.r2 as number) > 0.9)).toBe(true);
    expect(fleetRegressionCondition(fits)).toMatchObject({ status: "True", reason: "Fitted" });
  });
});
