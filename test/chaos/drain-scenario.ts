// Chaos for NodeDrain: the leading controller (a child process) is SIGKILLed in the middle of a drain and a standby
// finishes it. Invariants: no PDB ever below its minimum (sampled continuously), the drain succeeds with every pod
// Running elsewhere, only the drained nodes end cordoned, and once the drain is deleted no node is left cordoned.
import { randomBytes } from "node:crypto";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import type { RawNodeDrain } from "../../src/nodes/drain/reconciler.js";
import { type Node, type Pod } from "../../src/nodes/model.js";
import { deployment, ownNode, pdbFor, testPoolLabel } from "../nodes/manifests.js";
import {
  ControllerProcess,
  ensureNamespace,
  samplePdbs,
  Scenario,
  waitUntil,
  type ChaosEnv,
  type ScenarioResult,
} from "./lib.js";
import { cordonedByAnnotation } from "../../src/api/labels.js";

export async function leaderKillDrain(
  env: ChaosEnv,
  opts: { tenants: number; sourceNodes: number; kills: number },
): Promise<ScenarioResult> {
  const s = new Scenario(
    "leader-killed-during-drain",
    { tenants: opts.tenants, nodes: opts.sourceNodes, kills: opts.kills },
    env.log,
  );
  const id = randomBytes(2).toString("hex");
  const pool = `cd-${id}`;
  const ns = `chaos-drain-${id}`;
  const src = Array.from({ length: opts.sourceNodes }, (_, i) => `cd-${id}-src-${i}`);
  const dst = Array.from({ length: opts.sourceNodes }, (_, i) => `cd-${id}-dst-${i}`);
  const drainName = `cd-${id}`;
  const { client } = env;
  const procs: ControllerProcess[] = [];
  const spawnOne = async () => {
    const p = new ControllerProcess(env, {
      identity: `cd-${id}-${procs.length}`,
      controllers: ["nodedrain"],
      leaseId: `cd-${id}`,
    });
    procs.push(p);
    await p.start();
    return p;
  };
  const podsIn = async () => (await client.listAll<Pod>(Resources.Pod, { namespace: ns })).items;
  try {
    await ensureNamespace(client, ns, { "metapilot.io/test": "chaos" });
    await Promise.all(src.map((n) => client.create(Resources.Node, ownNode(n, pool, { role: "src" }))));
    const objects: Array<KubeObject & Record<string, unknown>> = [];
    for (let t = 0; t < opts.tenants; t++) {
      for (const [component, replicas] of [
        ["kube-apiserver", 2],
        ["kube-controller-manager", 1],
        ["kube-scheduler", 1],
      ] as const) {
        const name = `t${t}-${component}`;
        const labels = { "metapilot.io/tenant": `t${t}`, "metapilot.io/component": component };
        objects.push(deployment(ns, name, pool, { replicas, labels }));
        objects.push(pdbFor(ns, name, { maxUnavailable: 1 }));
      }
    }
    await Promise.all(
      objects.map((o) =>
        client.create(o.kind === "Deployment" ? Resources.Deployment : Resources.PodDisruptionBudget, o),
      ),
    );
    const podCount = opts.tenants * 4;
    s.objectsAtRisk = podCount;
    await waitUntil(
      async () =>
        (await podsIn()).filter((p) => p.status?.phase === "Running" && src.includes(p.spec?.nodeName ?? "")).length ===
        podCount,
      180_000,
    );
    await Promise.all(dst.map((n) => client.create(Resources.Node, ownNode(n, pool, { role: "dst" }))));
    await waitUntil(async () => {
      const pdbs = await client.listAll<KubeObject & { status?: { disruptionsAllowed?: number } }>(
        Resources.PodDisruptionBudget,
        { namespace: ns },
      );
      const nodes = await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` });
      const ready = nodes.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return ready.length === 2 * opts.sourceNodes && pdbs.items.every((p) => (p.status?.disruptionsAllowed ?? 0) >= 1);
    }, 120_000);

    let leader = await spawnOne();
    // Start-up, not the scenario: two controllers starting at once took over 60 s at load average 20.
    await leader.waitLeader(180_000);
    let standby = await spawnOne();
    await standby.waitReady();
    const sampler = samplePdbs(client, () => [ns], 150);
    await client.create(Resources.NodeDrain, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name: drainName },
      spec: {
        nodeSelector: { matchLabels: { [testPoolLabel]: pool, role: "src" } },
        rateLimit: { nodesPerInterval: 1, interval: "2s", maxConcurrent: 1 },
        timeout: "10m",
      },
    } as KubeObject);
    for (let k = 0; k < opts.kills; k++) {
      // Mid-drain: some pods already evicted, the rest still to go.
      await waitUntil(async () => {
        const d = await client.get<RawNodeDrain>(Resources.NodeDrain, drainName);
        const evicted = (d.status?.pods ?? []).filter((p) => p.state === "Evicted").length;
        return evicted >= Math.max(1, Math.floor(((k + 1) * podCount) / (opts.kills + 2)));
      }, 120_000);
      s.fault(`SIGKILL the leader mid-drain (kill ${k + 1})`);
      await leader.kill("SIGKILL");
      await standby.waitLeader(30_000);
      leader = standby;
      standby = await spawnOne();
      await standby.waitReady();
    }
    const finished = await waitUntil(async () => {
      const d = await client.get<RawNodeDrain>(Resources.NodeDrain, drainName);
      return ["Succeeded", "Failed", "Aborted"].includes(d.status?.phase ?? "");
    }, 300_000);
    const done = await client.get<RawNodeDrain>(Resources.NodeDrain, drainName);
    const { samples, violations } = await sampler.stop();
    s.figures.pdbSamples = samples;
    s.check(
      "no PDB below its minimum at any sample",
      violations.length === 0,
      `${samples} samples; ${violations.slice(0, 5).join(" ")}`,
    );
    s.check(
      "the drain succeeds after the failover(s)",
      finished && done.status?.phase === "Succeeded",
      `${done.status?.phase}: ${done.status?.message}`,
    );
    const allRunning = await waitUntil(async () => {
      const pods = (await podsIn()).filter((p) => !p.metadata?.deletionTimestamp);
      return (
        pods.length === podCount &&
        pods.every((p) => p.status?.phase === "Running" && dst.includes(p.spec?.nodeName ?? ""))
      );
    }, 120_000);
    const pods = (await podsIn()).filter((p) => !p.metadata?.deletionTimestamp);
    const missing = podCount - pods.filter((p) => p.status?.phase === "Running").length;
    s.objectsLost = Math.max(0, missing);
    s.check("every pod Running on a destination node", allRunning, `${pods.length}/${podCount} pods`);
    const nodes = (await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` })).items;
    const cordonedDst = nodes.filter((n) => dst.includes(n.metadata?.name ?? "") && n.spec?.unschedulable);
    s.check(
      "no destination node cordoned",
      cordonedDst.length === 0,
      cordonedDst.map((n) => n.metadata?.name).join(" "),
    );
    await client.delete(Resources.NodeDrain, drainName);
    const uncordoned = await waitUntil(async () => {
      const list = (await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` })).items;
      return list.every((n) => !n.spec?.unschedulable && !n.metadata?.annotations?.[cordonedByAnnotation]);
    }, 60_000);
    s.check("no node left cordoned once the drain is deleted", uncordoned);
    const crashes = procs.flatMap((p) => p.crashLines());
    s.check(
      "no controller crash besides the injected SIGKILLs",
      crashes.length === 0,
      crashes.join("\n").slice(0, 300),
    );
    return s.result();
  } finally {
    for (const p of procs) await p.kill("SIGTERM");
    await client.delete(Resources.NodeDrain, drainName).catch(() => undefined);
    await client.delete(Resources.Namespace, ns).catch(() => undefined);
    for (const n of [...src, ...dst]) await client.delete(Resources.Node, n).catch(() => undefined);
  }
}
