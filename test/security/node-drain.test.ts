// Exploit 7 of the tenant-isolation issue: a NodeDrain without stops. On the real meta-cluster: an empty selector
// and an unconfirmed `delete` strategy are refused by the CRD's CEL rules (the apiserver answers 422); a drain that
// selects more nodes than the cluster's or a NodePool's budget is refused by the controller before anything is
// cordoned (phase Failed, condition Accepted=False/ExceedsDrainBudget, a Refused Event, and no node write in the
// audit log); and the node the controller runs on is cordoned after every other node of a drain.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/kube/errors.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addNodeDrainController } from "../../src/nodes/controller.js";
import type { RawNodeDrain } from "../../src/nodes/drain/reconciler.js";
import { type Node } from "../../src/nodes/model.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { ownNode } from "../nodes/manifests.js";
import { nodePoolLabel } from "../../src/api/labels.js";

interface EventObject extends KubeObject {
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

describe("NodeDrain safety stops", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "metapilot-test" });
  const id = randomBytes(3).toString("hex");
  const pool = `nds-${id}`;
  const identity = `nds-${id}`;
  const free = Array.from({ length: 3 }, (_, i) => `nds-${id}-free-${i}`);
  const pooled = Array.from({ length: 3 }, (_, i) => `nds-${id}-pool-${i}`);
  // The node "the leader runs on", as NODE_NAME would say in the chart's pod.
  const leaderNode = free[0]!;
  const drains: string[] = [];
  const stop = new AbortController();

  const drain = (name: string, spec: Record<string, unknown>) => {
    drains.push(name);
    return client.create(Resources.NodeDrain, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name },
      spec,
    } as KubeObject);
  };
  const refusedBy = async (spec: Record<string, unknown>): Promise<ApiError> => {
    const err = await drain(`nds-${id}-x-${randomBytes(2).toString("hex")}`, spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, "the apiserver accepted it").toBeInstanceOf(ApiError);
    return err as ApiError;
  };
  const waitPhase = (name: string, phases: string[]) =>
    eventually(
      async () => {
        const d = await client.get<RawNodeDrain>(Resources.NodeDrain, name);
        return phases.includes(d.status?.phase ?? "") ? d : undefined;
      },
      60_000,
      `NodeDrain ${name} in ${phases.join("/")}`,
    );
  const nodeWrites = (since: Date) =>
    readAudit(state, since).filter(
      (e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`) && e.objectRef?.resource === "nodes",
    );

  beforeAll(async () => {
    await installCrds(kc);
    for (const n of free) await client.create(Resources.Node, ownNode(n, pool, { role: "free" }));
    for (const n of pooled)
      await client.create(Resources.Node, ownNode(n, pool, { role: "pooled", [nodePoolLabel]: pool }));
    await client.create(Resources.NodePool, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodePool",
      metadata: { name: pool },
      spec: { provider: "kwok", minNodes: 2, maxNodes: 3, shape: { cpu: "4", memory: "8Gi" }, dryRun: true },
    } as KubeObject);
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 200,
      burst: 200,
    });
    addNodeDrainController(manager, { workers: 2, dryRun: false, nodeName: leaderNode });
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "drain caches synced");
  }, 120_000);

  afterAll(async () => {
    for (const d of drains) await client.delete(Resources.NodeDrain, d).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000)); // the sweep uncordons nodes of deleted drains
    stop.abort();
    await client.delete(Resources.NodePool, pool).catch(() => undefined);
    for (const n of [...free, ...pooled]) await client.delete(Resources.Node, n).catch(() => undefined);
  }, 60_000);

  it("refuses an empty nodeSelector at the apiserver (CEL)", async () => {
    for (const nodeSelector of [{}, { matchLabels: {} }, { matchExpressions: [] }]) {
      const err = await refusedBy({ nodeSelector });
      expect(err.statusCode).toBe(422);
      expect(err.message).toContain("nodeSelector must not be empty: an empty selector selects every node");
    }
  });

  it("refuses evictionStrategy delete unless confirmDeleteBypassesPDB confirms it (CEL)", async () => {
    for (const extra of [{}, { confirmDeleteBypassesPDB: false }]) {
      const err = await refusedBy({ nodeNames: [free[1]], evictionStrategy: "delete", dryRun: true, ...extra });
      expect(err.statusCode).toBe(422);
      expect(err.message).toContain("set confirmDeleteBypassesPDB: true to confirm it");
    }
    const name = `nds-${id}-delete-confirmed`;
    await drain(name, {
      nodeNames: [free[1]],
      evictionStrategy: "delete",
      confirmDeleteBypassesPDB: true,
      dryRun: true,
    });
    expect((await waitPhase(name, ["DryRun"])).status?.phase).toBe("DryRun");
  });

  it("refuses a drain over the cluster's budget before cordoning anything", async () => {
    const since = new Date();
    const name = `nds-${id}-everything`;
    // Not empty, and still every node: what the budget is for.
    await drain(name, {
      nodeSelector: { matchExpressions: [{ key: `no-such-label-${id}`, operator: "DoesNotExist" }] },
    });
    const done = await waitPhase(name, ["Failed", "Draining", "Succeeded"]);
    const nodes = (await client.listAll<Node>(Resources.Node)).items.length;
    console.log(`a drain of all ${nodes} nodes: ${done.status?.message}`);
    expect(done.status?.phase).toBe("Failed");
    expect(done.status?.message).toMatch(
      new RegExp(
        `^refused: selects ${nodes} nodes, more than the cluster's drain budget of \\d+ \\(--max-drain-nodes=50, --max-drain-percent=34 of ${nodes} nodes\\)$`,
      ),
    );
    expect(done.status?.conditions?.find((c) => c.type === "Accepted")).toMatchObject({
      status: "False",
      reason: "ExceedsDrainBudget",
    });
    expect(done.status?.nodes).toEqual([]);
    await eventually(
      async () => {
        const events = await client.listAll<EventObject>(Resources.Event, { namespace: "default" });
        return events.items.find((e) => e.reason === "Refused" && e.regarding?.name === name);
      },
      30_000,
      "a Refused Event",
    );
    expect(nodeWrites(since)).toEqual([]);
    const cordoned = (await client.listAll<Node>(Resources.Node)).items.filter((n) => n.spec?.unschedulable);
    expect(cordoned.map((n) => n.metadata?.name)).toEqual([]);
  });

  it("refuses a drain that would take a NodePool below its minNodes", async () => {
    const since = new Date();
    const name = `nds-${id}-pool`;
    await drain(name, { nodeNames: pooled.slice(0, 2) });
    const done = await waitPhase(name, ["Failed", "Draining", "Succeeded"]);
    expect(done.status?.phase).toBe("Failed");
    expect(done.status?.message).toBe(
      `refused: selects 2 of NodePool ${pool}'s 3 nodes; it may lose at most 1 at once (minNodes 2)`,
    );
    expect(nodeWrites(since)).toEqual([]);
  });

  it("drains the leader's node last", async () => {
    const since = new Date();
    const name = `nds-${id}-leader-last`;
    // The leader's node first in the list, and room for all three at once: it still goes last.
    await drain(name, {
      nodeNames: [leaderNode, free[1], free[2]],
      rateLimit: { nodesPerInterval: 3, interval: "1m", maxConcurrent: 3 },
    });
    const done = await waitPhase(name, ["Succeeded", "Failed"]);
    expect(done.status?.phase, done.status?.message).toBe("Succeeded");
    const cordons = nodeWrites(since)
      .filter((e) => e.verb === "patch")
      .map((e) => e.objectRef?.name);
    expect(new Set(cordons)).toEqual(new Set([leaderNode, free[1], free[2]]));
    expect(cordons.at(-1)).toBe(leaderNode);
    const byName = new Map((done.status?.nodes ?? []).map((n) => [n.name, n]));
    const leaderStart = Date.parse(byName.get(leaderNode)?.startTime ?? "");
    for (const other of [free[1], free[2]])
      expect(leaderStart).toBeGreaterThanOrEqual(Date.parse(byName.get(other!)?.completionTime ?? ""));
  });
});
