// Node pools and drain. (1) Choosing scale-down candidates over 2,000 nodes and 40,000 pods: a pure function
// over in-memory objects, timed against a simple baseline (pods looked up per node by scanning every pod) in the
// same run, with both required to choose the same nodes. (2) Drain throughput on the running meta-cluster at a
// configured rate: kwok nodes hosting Deployments with PDBs, drained back and forth by an in-process controller.
// Run alone with `npx tsx bench/nodes.ts [--quick]`; writes bench/results/nodes.json.
import { randomBytes } from "node:crypto";
import os from "node:os";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { readState } from "../hack/lib/metacluster.js";
import { KubeClient } from "../src/kube/client.js";
import { createLogger } from "../src/kube/logger.js";
import { Manager } from "../src/kube/manager.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import { addNodeDrainController } from "../src/nodes/controller.js";
import type { RawNodeDrain } from "../src/nodes/drain/reconciler.js";
import { node, pod } from "../src/nodes/fixtures.js";
import type { Node, Pod } from "../src/nodes/model.js";
import { chooseScaleDownCandidates, indexPodsByNode, type ScaleDownInput } from "../src/nodes/scaledown.js";
import { deployment, ownNode, pdbFor, testPoolLabel } from "../test/nodes/manifests.js";
import { machineInfo, median, round, summarize, writeResults, type Benchmark, type BenchOptions } from "./lib.js";

// --- (1) candidate selection ---------------------------------------------------------------------------------

/** Deterministic pseudo-random numbers, so every run measures the same cluster. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function syntheticCluster(nodeCount: number, podCount: number): { nodes: Node[]; pods: Pod[] } {
  const rand = rng(42);
  const nodes = Array.from({ length: nodeCount }, (_, i) =>
    node(`n-${String(i).padStart(5, "0")}`, {
      cpu: "32",
      memory: "128Gi",
      created: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
    }),
  );
  // 5% empty, 20% lightly loaded, the rest busy: weights per node.
  const weight: number[] = nodes.map((_, i) => (i % 20 === 0 ? 0 : i % 5 === 1 ? 0.3 : 1.2));
  const total = weight.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weight) cumulative.push((acc += w / total));
  const pods: Pod[] = [];
  for (let i = 0; i < podCount; i++) {
    const r = rand();
    let lo = 0;
    let hi = nodeCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] ?? 1) < r) lo = mid + 1;
      else hi = mid;
    }
    const cpu = `${100 + Math.floor(rand() * 1900)}m`;
    const memory = `${64 + Math.floor(rand() * 4000)}Mi`;
    pods.push(pod(`p-${i}`, { node: nodes[lo]?.metadata?.name, cpu, memory, namespace: `ns-${i % 400}` }));
  }
  return { nodes, pods };
}

/** The baseline: for every node, scan every pod (what a controller without an index does). */
export function naivePodsByNode(nodes: readonly Node[], pods: readonly Pod[]): Map<string, Pod[]> {
  const out = new Map<string, Pod[]>();
  for (const n of nodes) {
    const name = n.metadata?.name ?? "";
    out.set(
      name,
      pods.filter((p) => p.spec?.nodeName === name),
    );
  }
  return out;
}

function candidateRun(nodes: Node[], pods: Pod[], index: (n: Node[], p: Pod[]) => Map<string, Pod[]>) {
  const now = Date.UTC(2025, 1, 1);
  const started = performance.now();
  const podsByNode = index(nodes, pods);
  const input: ScaleDownInput = {
    poolNodes: nodes,
    allNodes: nodes,
    podsByNode,
    strategy: "underutilized",
    utilizationThreshold: 0.5,
    unneededTimeMs: 600_000,
    unneededSince: new Map(nodes.map((n) => [n.metadata?.name ?? "", now - 3_600_000])),
    maxCandidates: 10,
    now,
  };
  const result = chooseScaleDownCandidates(input);
  return { ms: performance.now() - started, result };
}

function benchCandidates(opts: BenchOptions) {
  const nodeCount = opts.quick ? 500 : 2000;
  const podCount = opts.quick ? 10_000 : 40_000;
  const runs = opts.quick ? 3 : 9;
  const { nodes, pods } = syntheticCluster(nodeCount, podCount);
  opts.log(`candidate selection: ${nodeCount} nodes, ${podCount} pods, ${runs} runs each`);
  const indexed: number[] = [];
  const naive: number[] = [];
  let chosen: string[] = [];
  let underThreshold = 0;
  for (let i = 0; i < runs; i++) {
    // Alternate the order so neither side always runs on a warmer JIT.
    const a = candidateRun(nodes, pods, (_n, p) => indexPodsByNode(p));
    const b = candidateRun(nodes, pods, naivePodsByNode);
    const namesA = a.result.candidates.map((c) => c.name);
    const namesB = b.result.candidates.map((c) => c.name);
    if (JSON.stringify(namesA) !== JSON.stringify(namesB))
      throw new Error("baseline and indexed chose different nodes");
    indexed.push(a.ms);
    naive.push(b.ms);
    chosen = namesA;
    underThreshold = a.result.underThreshold.length;
  }
  return {
    nodes: nodeCount,
    pods: podCount,
    strategy: "underutilized",
    maxCandidates: 10,
    chosen,
    nodesUnderThreshold: underThreshold,
    indexedMs: summarize(indexed, 1),
    baselineMs: summarize(naive, 1),
    speedupMedian: round(median(naive) / median(indexed), 1),
  };
}

// --- (2) drain throughput --------------------------------------------------------------------------------------

async function benchDrain(opts: BenchOptions) {
  const state = readState();
  if (!state) return { skipped: "no meta-cluster running (hack/metacluster up)" };
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  const client = new KubeClient(kc, { qps: 200, burst: 200, fieldManager: "metapilot-bench" });
  const id = randomBytes(3).toString("hex");
  const pool = `bench-${id}`;
  const perSide = opts.quick ? 4 : 10;
  const deployments = opts.quick ? 8 : 20;
  const replicas = 10;
  const rate = { nodesPerInterval: 2, interval: "5s", maxConcurrent: 2 };
  const sides = {
    a: Array.from({ length: perSide }, (_, i) => `${pool}-a-${i}`),
    b: Array.from({ length: perSide }, (_, i) => `${pool}-b-${i}`),
  };
  const ns = `${pool}`;
  const stop = new AbortController();
  const drains: string[] = [];
  try {
    await client.create(Resources.Namespace, { metadata: { name: ns, labels: { "metapilot.io/test": "true" } } });
    await Promise.all(sides.a.map((n) => client.create(Resources.Node, ownNode(n, pool, { side: "a" }))));
    for (let d = 0; d < deployments; d++) {
      await client.create(Resources.Deployment, deployment(ns, `w${d}`, pool, { replicas }));
      await client.create(Resources.PodDisruptionBudget, pdbFor(ns, `w${d}`, { maxUnavailable: 1 }));
    }
    const podsTotal = deployments * replicas;
    const waitRunning = async (side: string[]) => {
      for (;;) {
        const pods = (await client.listAll<Pod>(Resources.Pod, { namespace: ns })).items;
        const ok = pods.filter((p) => p.status?.phase === "Running" && side.includes(p.spec?.nodeName ?? "")).length;
        if (ok === podsTotal && pods.length === podsTotal) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await waitRunning(sides.a);
    await Promise.all(sides.b.map((n) => client.create(Resources.Node, ownNode(n, pool, { side: "b" }))));
    await new Promise((r) => setTimeout(r, 3000));
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `bench-${id}`,
      qps: 200,
      burst: 200,
    });
    addNodeDrainController(manager, { workers: 4, dryRun: false });
    void manager.start(stop.signal);
    const runs: Array<{ seconds: number; podsPerSecond: number; nodesPerMinute: number }> = [];
    const rounds = opts.quick ? 1 : 3;
    for (let r = 0; r < rounds; r++) {
      const from = r % 2 === 0 ? "a" : "b";
      const to = from === "a" ? sides.b : sides.a;
      // Release the side we are about to move onto (its drain from the previous round).
      const previous = drains.at(-1);
      if (previous) {
        await client.delete(Resources.NodeDrain, previous);
        for (;;) {
          const nodes = (await client.listAll<Node>(Resources.Node, { labelSelector: `${testPoolLabel}=${pool}` }))
            .items;
          if (nodes.every((n) => !n.spec?.unschedulable)) break;
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      const name = `${pool}-${r}`;
      drains.push(name);
      const started = performance.now();
      await client.create(Resources.NodeDrain, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "NodeDrain",
        metadata: { name },
        spec: { nodeSelector: { matchLabels: { [testPoolLabel]: pool, side: from } }, rateLimit: rate, timeout: "10m" },
      } as KubeObject);
      for (;;) {
        const d = await client.get<RawNodeDrain>(Resources.NodeDrain, name);
        if (d.status?.phase === "Succeeded") break;
        if (d.status?.phase === "Failed") throw new Error(`drain failed: ${d.status.message}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      const secs = (performance.now() - started) / 1000;
      runs.push({
        seconds: round(secs, 1),
        podsPerSecond: round(podsTotal / secs, 2),
        nodesPerMinute: round((perSide * 60) / secs, 1),
      });
      opts.log(`drain round ${r}: ${perSide} nodes, ${podsTotal} pods in ${secs.toFixed(1)} s`);
      await waitRunning(to);
    }
    // The rate limit alone: the first maxConcurrent nodes start at once, then nodesPerInterval per interval.
    const intervalS = 5;
    const floorSeconds = Math.ceil(perSide / rate.nodesPerInterval - 1) * intervalS;
    return {
      nodes: perSide,
      pods: podsTotal,
      deployments,
      pdb: "maxUnavailable 1 per Deployment",
      rateLimit: rate,
      rateLimitFloorSeconds: floorSeconds,
      runs,
      medianSeconds: median(runs.map((x) => x.seconds)),
      medianPodsPerSecond: median(runs.map((x) => x.podsPerSecond)),
      medianNodesPerMinute: median(runs.map((x) => x.nodesPerMinute)),
    };
  } finally {
    stop.abort();
    for (const d of drains) await client.delete(Resources.NodeDrain, d).catch(() => undefined);
    await client.delete(Resources.Namespace, ns).catch(() => undefined);
    for (const n of [...sides.a, ...sides.b]) await client.delete(Resources.Node, n).catch(() => undefined);
  }
}

export const nodesBenchmark: Benchmark = {
  name: "nodes",
  description: "scale-down candidate choice over 2,000 nodes / 40,000 pods vs a scan baseline; drain throughput",
  async run(opts) {
    const candidates = benchCandidates(opts);
    opts.log(
      `candidates: indexed median ${candidates.indexedMs.median} ms, baseline ${candidates.baselineMs.median} ms`,
    );
    const drain = await benchDrain(opts);
    return { candidateSelection: candidates, drainThroughput: drain };
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} nodes] ${line}\n`);
  const machine = machineInfo();
  const started = performance.now();
  const figures = await nodesBenchmark.run({ quick, coldBuild: false, log });
  const file = writeResults("nodes", quick, {
    benchmark: "nodes",
    description: nodesBenchmark.description,
    quick,
    machine,
    loadAverage1mAtEnd: round(os.loadavg()[0] ?? 0, 2),
    durationSeconds: Math.round((performance.now() - started) / 1000),
    ...figures,
  });
  log(`wrote ${file}`);
  process.exit(0);
}
