// NodeDrain on the real meta-cluster: 10 kwok nodes hosting 30 tenant-like control planes (Deployments labelled
// as tenant components, with PDBs) are drained without any PDB ever below its minimum, every pod rescheduled; the
// same drain in dry-run reports the identical plan and writes nothing; a blocking PDB times out, uncordons and is
// named; a drain interrupted by a crash is resumed by a new controller within the budget.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addNodeDrainController } from "../../src/nodes/controller.js";
import type { RawNodeDrain } from "../../src/nodes/drain/reconciler.js";
import { type Node, type Pod } from "../../src/nodes/model.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { deployment, ownNode, pdbFor, samplePdbs, testPoolLabel } from "./helpers.js";
import { cordonedByAnnotation } from "../../src/api/labels.js";

const tenants = 30;
const sourceNodes = 10;

describe("NodeDrain", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "metapilot-test" });
  const id = randomBytes(3).toString("hex");
  const pool = `nd-${id}`;
  const identity = `nodedrain-${id}`;
  const src = Array.from({ length: sourceNodes }, (_, i) => `nd-${id}-src-${i}`);
  const dst = Array.from({ length: sourceNodes }, (_, i) => `nd-${id}-dst-${i}`);
  const extraNodes: string[] = [];
  const drains: string[] = [];
  let ns: { name: string; cleanup: () => Promise<void> };
  let stop: AbortController;

  const startManager = (name: string) => {
    stop = new AbortController();
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: name,
      qps: 200,
      burst: 200,
    });
    addNodeDrainController(manager, { workers: 4, dryRun: false });
    void manager.start(stop.signal);
    return stop;
  };
  const getDrain = (name: string) => client.get<RawNodeDrain>(Resources.NodeDrain, name);
  const waitPhase = (name: string, phases: string[], timeoutMs: number) =>
    eventually(
      async () => {
        const d = await getDrain(name);
        return phases.includes(d.status?.phase ?? "") ? d : undefined;
      },
      timeoutMs,
      `NodeDrain ${name} in ${phases.join("/")}`,
    );
  const drainObject = (name: string, spec: Record<string, unknown>) => {
    drains.push(name);
    return { apiVersion: "metapilot.io/v1alpha1", kind: "NodeDrain", metadata: { name }, spec } as KubeObject;
  };
  const podsIn = async () => (await client.listAll<Pod>(Resources.Pod, { namespace: ns.name })).items;

  beforeAll(async () => {
    await installCrds(kc);
    ns = await freshNamespace(kc, "nd");
    await Promise.all(src.map((n) => client.create(Resources.Node, ownNode(n, pool, { role: "src" }))));
    const objects: Array<KubeObject & Record<string, unknown>> = [];
    for (let t = 0; t < tenants; t++) {
      const tenant = `t${t}`;
      for (const [component, replicas] of [
        ["kube-apiserver", 2],
        ["kube-controller-manager", 1],
        ["kube-scheduler", 1],
      ] as const) {
        const name = `${tenant}-${component}`;
        const labels = { "metapilot.io/tenant": tenant, "metapilot.io/component": component };
        objects.push(deployment(ns.name, name, pool, { replicas, labels }));
        objects.push(pdbFor(ns.name, name, { maxUnavailable: 1 }));
      }
    }
    await Promise.all(
      objects.map((o) =>
        client.create(o.kind === "Deployment" ? Resources.Deployment : Resources.PodDisruptionBudget, o),
      ),
    );
    await eventually(
      async () => {
        const pods = await podsIn();
        const running = pods.filter((p) => p.status?.phase === "Running" && src.includes(p.spec?.nodeName ?? ""));
        return running.length === tenants * 4 ? true : undefined;
      },
      180_000,
      `${tenants * 4} tenant pods Running on the source nodes`,
    );
    // Somewhere to go: as many destination nodes, created only now so that nothing started there.
    await Promise.all(dst.map((n) => client.create(Resources.Node, ownNode(n, pool, { role: "dst" }))));
    await eventually(
      async () => {
        const nodes = await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` });
        const ready = nodes.items.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        const pdbs = await client.listAll<KubeObject & { status?: { disruptionsAllowed?: number } }>(
          Resources.PodDisruptionBudget,
          { namespace: ns.name },
        );
        return ready.length === 2 * sourceNodes && pdbs.items.every((p) => (p.status?.disruptionsAllowed ?? 0) >= 1)
          ? true
          : undefined;
      },
      120_000,
      "destination nodes Ready and every PDB allowing a disruption",
    );
    startManager(identity);
  }, 400_000);

  afterAll(async () => {
    for (const d of drains) await client.delete(Resources.NodeDrain, d).catch(() => undefined);
    // The controller's sweep uncordons nodes of deleted drains; give it a moment, then remove our nodes.
    await new Promise((r) => setTimeout(r, 2000));
    stop?.abort();
    await ns?.cleanup();
    for (const n of [...src, ...dst, ...extraNodes]) await client.delete(Resources.Node, n).catch(() => undefined);
  }, 120_000);

  let dryPlan: unknown;

  it("dry-run reports the full plan and writes nothing but its own status (audit log)", async () => {
    const since = new Date();
    const name = `nd-${id}-dry`;
    await client.create(
      Resources.NodeDrain,
      drainObject(name, { nodeSelector: { matchLabels: { [testPoolLabel]: pool, role: "src" } }, dryRun: true }),
    );
    const done = await waitPhase(name, ["DryRun"], 30_000);
    const plan = done.status?.plan ?? [];
    expect(plan.map((p) => p.node)).toEqual([...src].sort());
    expect(plan.reduce((n, p) => n + (p.pods?.length ?? 0), 0)).toBe(tenants * 4);
    // Order on each node: scheduler, controller-manager, then apiserver.
    for (const entry of plan) {
      const components = (entry.pods ?? []).map((p) => p.replace(/^.*?-(kube-[a-z-]+?)-[a-z0-9]+-[a-z0-9]+$/, "$1"));
      const rank = components.map((c) => ["kube-scheduler", "kube-controller-manager", "kube-apiserver"].indexOf(c));
      expect(rank).toEqual([...rank].sort((a, b) => a - b));
    }
    expect(done.status?.nodes?.every((n) => n.state === "Pending")).toBe(true);
    dryPlan = plan;
    await new Promise((r) => setTimeout(r, 1500));
    const writes = readAudit(state, since).filter((e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`));
    expect(writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource ?? ""}`)).toEqual(
      writes.map(() => "patch nodedrains/status"),
    );
    expect(writes.length).toBeGreaterThan(0);
    const nodes = await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` });
    expect(nodes.items.filter((n) => n.spec?.unschedulable)).toEqual([]);
  }, 60_000);

  it(`drains ${sourceNodes} nodes hosting ${tenants} tenant control planes; no PDB ever below its minimum`, async () => {
    const name = `nd-${id}-live`;
    const sampler = samplePdbs(client, ns.name, 100);
    const started = Date.now();
    await client.create(
      Resources.NodeDrain,
      drainObject(name, {
        nodeSelector: { matchLabels: { [testPoolLabel]: pool, role: "src" } },
        rateLimit: { nodesPerInterval: 5, interval: "2s", maxConcurrent: 5 },
        timeout: "5m",
      }),
    );
    const done = await waitPhase(name, ["Succeeded", "Failed"], 300_000);
    const seconds = (Date.now() - started) / 1000;
    const { samples, violations } = await sampler.stop();
    console.log(
      `drained ${sourceNodes} nodes / ${tenants * 4} pods in ${seconds.toFixed(1)} s; ${samples} PDB samples, ${violations.length} below minimum`,
    );
    expect(done.status?.phase, done.status?.message).toBe("Succeeded");
    expect(violations).toEqual([]);
    expect(samples).toBeGreaterThan(90 * 5);
    // The live drain recorded the very plan the dry-run reported.
    expect(done.status?.plan).toEqual(dryPlan);
    expect(done.status?.nodes?.map((n) => n.state)).toEqual(src.map(() => "Drained"));
    const evicted = (done.status?.pods ?? []).filter((p) => p.state === "Evicted");
    expect(evicted.length).toBeGreaterThanOrEqual(tenants * 4);
    // Every pod rescheduled and Running, none left on the drained nodes.
    await eventually(
      async () => {
        const pods = (await podsIn()).filter((p) => !p.metadata?.deletionTimestamp);
        const ok =
          pods.length === tenants * 4 &&
          pods.every((p) => p.status?.phase === "Running" && dst.includes(p.spec?.nodeName ?? ""));
        return ok ? true : undefined;
      },
      120_000,
      "all tenant pods Running on destination nodes",
    );
    const nodes = await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool},role=src` });
    for (const n of nodes.items) {
      expect(n.spec?.unschedulable).toBe(true);
      expect(n.metadata?.annotations?.[cordonedByAnnotation]).toBe(name);
    }
  }, 400_000);

  it("times out on a blocking PDB, uncordons the node and names the PDB", async () => {
    const node = `nd-${id}-blk`;
    extraNodes.push(node);
    await client.create(Resources.Node, ownNode(node, `${pool}-blk`));
    await client.create(Resources.Deployment, deployment(ns.name, "blocked", `${pool}-blk`, { replicas: 1 }));
    await client.create(Resources.PodDisruptionBudget, pdbFor(ns.name, "blocked", { minAvailable: 1 }));
    await eventually(
      async () => {
        const pdb = await client.get<
          KubeObject & { status?: { currentHealthy?: number; observedGeneration?: number } }
        >(Resources.PodDisruptionBudget, "blocked", ns.name);
        return pdb.status?.currentHealthy === 1 ? true : undefined;
      },
      60_000,
      "the blocking PDB healthy",
    );
    const name = `nd-${id}-blk`;
    await client.create(Resources.NodeDrain, drainObject(name, { nodeNames: [node], timeout: "8s" }));
    await eventually(
      async () => ((await client.get<Node>(Resources.Node, node)).spec?.unschedulable ? true : undefined),
      10_000,
      "the node cordoned",
    );
    const done = await waitPhase(name, ["Failed", "Succeeded"], 30_000);
    expect(done.status?.phase).toBe("Failed");
    expect(done.status?.message).toContain(`${ns.name}/blocked`);
    const pod = done.status?.pods?.find((p) => p.node === node);
    expect(pod?.state).toBe("Blocked");
    expect(pod?.attempts ?? 0).toBeGreaterThan(1);
    expect(pod?.message).toContain(`PodDisruptionBudget ${ns.name}/blocked`);
    expect(done.status?.plan?.[0]?.blockingPDBs).toEqual([`${ns.name}/blocked`]);
    const after = await eventually(
      async () => {
        const n = await client.get<Node>(Resources.Node, node);
        return n.spec?.unschedulable ? undefined : n;
      },
      10_000,
      "the node uncordoned",
    );
    expect(after.metadata?.annotations?.[cordonedByAnnotation]).toBeUndefined();
    const pods = (await podsIn()).filter((p) => p.spec?.nodeName === node);
    expect(pods.length).toBe(1);
  }, 120_000);

  it("refuses a node whose control-plane component has no PDB, or creates the PDB when told to", async () => {
    const node = `nd-${id}-nopdb`;
    extraNodes.push(node);
    await client.create(Resources.Node, ownNode(node, `${pool}-nopdb`));
    const labels = { "metapilot.io/tenant": "lonely", "metapilot.io/component": "etcd" };
    await client.create(
      Resources.Deployment,
      deployment(ns.name, "lonely-etcd", `${pool}-nopdb`, { replicas: 2, labels }),
    );
    await eventually(
      async () =>
        (await podsIn()).filter((p) => p.spec?.nodeName === node && p.status?.phase === "Running").length === 2
          ? true
          : undefined,
      60_000,
      "lonely etcd Running",
    );
    const refused = `nd-${id}-refused`;
    await client.create(Resources.NodeDrain, drainObject(refused, { nodeNames: [node] }));
    const r = await waitPhase(refused, ["Failed", "Succeeded"], 30_000);
    expect(r.status?.nodes?.[0]?.state).toBe("Failed");
    expect(r.status?.nodes?.[0]?.message).toContain(`${ns.name}/lonely/etcd`);
    expect((await client.get<Node>(Resources.Node, node)).spec?.unschedulable).toBeFalsy();

    // With createMissingPDBs the drain adds a PDB and then proceeds; the pods have nowhere to go, so it times out,
    // uncordons, and removes the PDB it made.
    const created = `nd-${id}-mkpdb`;
    await client.create(
      Resources.NodeDrain,
      drainObject(created, { nodeNames: [node], createMissingPDBs: true, timeout: "6s" }),
    );
    await eventually(
      async () => {
        const pdbs = await client.listAll<KubeObject>(Resources.PodDisruptionBudget, {
          namespace: ns.name,
          labelSelector: "metapilot.io/created-by-drain",
        });
        return pdbs.items.length === 1 ? true : undefined;
      },
      15_000,
      "a PDB created for lonely/etcd",
    );
    const m = await waitPhase(created, ["Failed", "Succeeded"], 30_000);
    expect(m.status?.phase).toBe("Failed");
    await eventually(
      async () => {
        const pdbs = await client.listAll<KubeObject>(Resources.PodDisruptionBudget, {
          namespace: ns.name,
          labelSelector: "metapilot.io/created-by-drain",
        });
        const n = await client.get<Node>(Resources.Node, node);
        return pdbs.items.length === 0 && !n.spec?.unschedulable ? true : undefined;
      },
      15_000,
      "created PDB removed and node uncordoned",
    );
  }, 120_000);

  it("resumes after a controller crash and uncordons the nodes of a deleted drain", async () => {
    // Move the pods back: uncordon the source nodes by deleting the live drain (the sweep does it).
    const live = `nd-${id}-live`;
    await client.delete(Resources.NodeDrain, live);
    await eventually(
      async () => {
        const nodes = await client.listAll<Node>(Resources.Node, {
          labelSelector: `${testPoolLabel}=${pool},role=src`,
        });
        return nodes.items.every((n) => !n.spec?.unschedulable && !n.metadata?.annotations?.[cordonedByAnnotation])
          ? true
          : undefined;
      },
      20_000,
      "source nodes uncordoned after their drain was deleted",
    );
    // Now drain the destination nodes back to the sources, and crash the controller half-way.
    const name = `nd-${id}-crash`;
    await client.create(
      Resources.NodeDrain,
      drainObject(name, {
        nodeSelector: { matchLabels: { [testPoolLabel]: pool, role: "dst" } },
        rateLimit: { nodesPerInterval: 2, interval: "2s", maxConcurrent: 2 },
        disruptionBudget: { maxUnavailable: 2 },
        timeout: "5m",
      }),
    );
    await eventually(
      async () => {
        const d = await getDrain(name);
        return (d.status?.nodes ?? []).filter((n) => n.state === "Drained").length >= 2 ? true : undefined;
      },
      120_000,
      "two nodes drained before the crash",
    );
    stop.abort();
    const sampler = samplePdbs(client, ns.name, 100);
    let maxCordoned = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const nodes = await client.listAll<Node>(Resources.Node, {
          labelSelector: `${testPoolLabel}=${pool},role=dst`,
        });
        const d = await getDrain(name);
        const drained = new Set((d.status?.nodes ?? []).filter((n) => n.state === "Drained").map((n) => n.name));
        // Cordoned and not yet drained: what the budget bounds.
        const inFlight = nodes.items.filter(
          (n) => n.spec?.unschedulable && !drained.has(n.metadata?.name ?? ""),
        ).length;
        maxCordoned = Math.max(maxCordoned, inFlight);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    startManager(`${identity}-2`);
    const done = await waitPhase(name, ["Succeeded", "Failed"], 300_000);
    watching = false;
    await watcher;
    const { violations } = await sampler.stop();
    expect(done.status?.phase, done.status?.message).toBe("Succeeded");
    expect(done.status?.nodes?.every((n) => n.state === "Drained")).toBe(true);
    expect(violations).toEqual([]);
    expect(maxCordoned).toBeLessThanOrEqual(2);
  }, 400_000);
});
