// NodeDrain under the ClusterScalers' disruption budgets (reason Drain), on the real meta-cluster with kwok nodes:
// with a Drain budget of 1 per interval, a drain touching two tenants' kube-apiserver pods evicts one, holds the
// other back until the first leaves the interval, also across a controller restart (a new controller counts the
// recorded eviction), and says why (the pod's message and the DisruptionBudget condition name the ClusterScaler and
// the budget). A ClusterScaler whose budgets do not cover Drain leaves a drain as it was.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addNodeDrainController } from "../../src/nodes/controller.js";
import type { RawNodeDrain } from "../../src/nodes/drain/reconciler.js";
import type { Node, Pod } from "../../src/nodes/model.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { deployment, ownNode, pdbFor } from "./helpers.js";

describe("NodeDrain and the ClusterScalers' Drain budgets", () => {
  metacluster();
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "metapilot-test" });
  const id = randomBytes(3).toString("hex");
  const pool = `ndb-${id}`;
  const runLabel = "metapilot.io/test-run";
  const nodes: string[] = [];
  const drains: string[] = [];
  const scalers: string[] = [];
  let ns: { name: string; cleanup: () => Promise<void> };
  let stop: AbortController | undefined;
  const interval = "20s";
  const intervalMs = 20_000;

  const getDrain = (name: string) => client.get<RawNodeDrain>(Resources.NodeDrain, name);
  const waitPhase = (name: string, timeoutMs: number) =>
    eventually(
      async () => {
        const d = await getDrain(name);
        return ["Succeeded", "Failed"].includes(d.status?.phase ?? "") ? d : undefined;
      },
      timeoutMs,
      `NodeDrain ${name} finished`,
    );

  /** A node with one kube-apiserver pod (1 replica, PDB allowing 1) for each of two tenants, selected by `group`. */
  async function twoTenantsOnANode(group: string): Promise<{ node: string; tenants: string[] }> {
    const node = `${pool}-${group}-src`;
    const dst = `${pool}-${group}-dst`;
    nodes.push(node, dst);
    // A pool per group, so that the other group's nodes take none of these pods.
    const groupPool = `${pool}-${group}`;
    await client.create(Resources.Node, ownNode(node, groupPool, { role: "src" }));
    const tenants = [`${group}-${id}-a`, `${group}-${id}-b`];
    for (const tenant of tenants) {
      const name = `${tenant}-kube-apiserver`;
      const labels = {
        "metapilot.io/tenant": tenant,
        "metapilot.io/component": "kube-apiserver",
        [runLabel]: `${id}-${group}`,
      };
      await client.create(Resources.Deployment, deployment(ns.name, name, groupPool, { replicas: 1, labels }));
      await client.create(Resources.PodDisruptionBudget, pdbFor(ns.name, name, { maxUnavailable: 1 }));
    }
    await eventually(
      async () => {
        const pods = (await client.listAll<Pod>(Resources.Pod, { namespace: ns.name })).items.filter(
          (p) => p.metadata?.labels?.[runLabel] === `${id}-${group}`,
        );
        return pods.filter((p) => p.status?.phase === "Running" && p.spec?.nodeName === node).length === 2
          ? true
          : undefined;
      },
      120_000,
      `two tenant apiserver pods Running on ${node}`,
    );
    // Somewhere to go, created only now so that nothing started there.
    await client.create(Resources.Node, ownNode(dst, groupPool, { role: "dst" }));
    await eventually(
      async () => {
        const n = await client.get<Node>(Resources.Node, dst);
        const pdbs = await client.listAll<KubeObject & { status?: { disruptionsAllowed?: number } }>(
          Resources.PodDisruptionBudget,
          { namespace: ns.name },
        );
        const ours = pdbs.items.filter((p) => tenants.some((t) => p.metadata?.name === `${t}-kube-apiserver`));
        return n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
          ours.length === 2 &&
          ours.every((p) => (p.status?.disruptionsAllowed ?? 0) >= 1)
          ? true
          : undefined;
      },
      60_000,
      `${dst} Ready and both PDBs allowing a disruption`,
    );
    return { node, tenants };
  }

  async function clusterScaler(group: string, budgets: Array<Record<string, unknown>>): Promise<string> {
    const name = `ndb-${id}-${group}`;
    scalers.push(name);
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name },
      spec: {
        tenantSelector: { matchLabels: { [runLabel]: `${id}-${group}` } },
        components: [{ name: "kube-apiserver", scalers: [{ name: "oom" }] }],
        dryRun: true,
        disruption: { budgets },
      },
    } as KubeObject);
    return name;
  }

  async function startDrain(group: string, node: string): Promise<string> {
    const name = `ndb-${id}-${group}`;
    drains.push(name);
    await client.create(Resources.NodeDrain, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name },
      spec: { nodeNames: [node], timeout: "5m" },
    } as KubeObject);
    return name;
  }

  const startManager = (identity: string) => {
    stop = new AbortController();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 100,
      burst: 100,
    });
    addNodeDrainController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
  };

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "ndb");
    startManager(`nodedrain-budget-${id}`);
  }, 120_000);

  afterAll(async () => {
    for (const d of drains) await client.delete(Resources.NodeDrain, d).catch(() => undefined);
    for (const s of scalers) await client.delete(Resources.ClusterScaler, s).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000));
    stop?.abort();
    await ns?.cleanup();
    for (const n of nodes) await client.delete(Resources.Node, n).catch(() => undefined);
  }, 120_000);

  it("a Drain budget of 1 per interval: one eviction, a wait that the status explains, then the other", async () => {
    const { node } = await twoTenantsOnANode("held");
    const scaler = await clusterScaler("held", [
      { limit: "1", interval, reasons: ["Drain"] },
      { limit: "5", interval: "10m", reasons: ["ScaleUp"] },
    ]);
    const name = await startDrain("held", node);
    // One evicted, the other held back, and the status says by what.
    const held = await eventually(
      async () => {
        const d = await getDrain(name);
        const pods = d.status?.pods ?? [];
        const blocked = pods.find((p) => p.state === "Blocked" && p.disruption?.heldBy);
        return blocked && pods.filter((p) => p.disruption?.evictedAt).length === 1 ? { d, blocked } : undefined;
      },
      60_000,
      "one eviction made and one held back by the budget",
    );
    expect(held.blocked.message).toContain(`ClusterScaler ${scaler}'s disruption budget spec.disruption.budgets[0]`);
    expect(held.blocked.disruption).toMatchObject({ clusterScaler: scaler, heldBy: "spec.disruption.budgets[0]" });
    const condition = held.d.status?.conditions?.find((c) => c.type === "DisruptionBudget");
    expect(condition).toMatchObject({ status: "False", reason: "BudgetSpent" });
    expect(condition?.message).toContain(`ClusterScaler ${scaler}'s disruption budget spec.disruption.budgets[0]`);
    expect(held.d.status?.message).toContain("waiting for a disruption budget");
    // A new controller (another identity, nothing in memory) counts the first eviction from the NodeDrain's record.
    stop?.abort();
    startManager(`nodedrain-budget-${id}-2`);

    const done = await waitPhase(name, 120_000);
    expect(done.status?.phase, done.status?.message).toBe("Succeeded");
    const evictions = (done.status?.pods ?? [])
      .map((p) => Date.parse(p.disruption?.evictedAt ?? ""))
      .filter((t) => Number.isFinite(t))
      .sort((a, b) => a - b);
    expect(evictions).toHaveLength(2);
    // The second waited until the first left the budget's interval, across the controller's restart.
    expect((evictions[1] ?? 0) - (evictions[0] ?? 0)).toBeGreaterThanOrEqual(intervalMs);
    expect(done.status?.conditions?.find((c) => c.type === "DisruptionBudget")).toMatchObject({
      status: "True",
      reason: "WithinBudget",
    });
  }, 300_000);

  it("budgets that do not cover Drain leave the drain as it was: both evicted at once, no condition", async () => {
    const { node } = await twoTenantsOnANode("free");
    await clusterScaler("free", [
      { limit: "1", interval: "10m", reasons: ["ScaleUp", "ScaleDown", "RestartRequiring"] },
    ]);
    const name = await startDrain("free", node);
    const done = await waitPhase(name, 120_000);
    expect(done.status?.phase, done.status?.message).toBe("Succeeded");
    const pods = done.status?.pods ?? [];
    expect(pods.filter((p) => p.state === "Evicted")).toHaveLength(2);
    expect(pods.every((p) => !p.disruption?.heldBy)).toBe(true);
    expect(done.status?.conditions?.find((c) => c.type === "DisruptionBudget")).toBeUndefined();
  }, 300_000);
});
