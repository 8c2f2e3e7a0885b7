// The controller runtime against a loaded apiserver: 1,000 Deployments × 10 replicas (10,000 Running pods on
// 100 kwok nodes), then a controller process with cluster-wide Pod and Deployment informers (startup-to-synced,
// RSS, apiserver requests per minute in a steady-state window, from the audit log and from its own metrics),
// compared in the same run with a naive poller that LISTs both collections unpaginated every 10 s.
import { KubeConfig } from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { down, up, type MetaclusterState } from "../hack/lib/metacluster.js";
import { KubeClient } from "../src/kube/client.js";
import { ApiError } from "../src/kube/errors.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import {
  CpuWindow,
  RssSampler,
  mapLimit,
  mib,
  ratio,
  repoRoot,
  round,
  rssKb,
  seconds,
  summarize,
  waitFor,
  withTimeout,
  diff,
  perMinute,
  sum,
  type BenchOptions,
  type Benchmark,
} from "./lib.js";

const benchClusterDir = path.join(repoRoot, ".cache/bench-metacluster");

interface Config {
  nodes: number;
  namespaces: number;
  deployments: number;
  replicas: number;
  createParallelism: number;
  /** Quiet time after the pods are Running, and after a client's sync, before a window opens. */
  settleMs: number;
  idleWindowMs: number;
  steadyWindowMs: number;
  pollIntervalMs: number;
  /** How often the controller logs its heap and cache sizes. */
  statusIntervalMs: number;
}

const fullConfig: Config = {
  nodes: 100,
  namespaces: 10,
  deployments: 1000,
  replicas: 10,
  createParallelism: 32,
  settleMs: 30_000,
  idleWindowMs: 60_000,
  steadyWindowMs: 120_000,
  pollIntervalMs: 10_000,
  statusIntervalMs: 10_000,
};

const quickConfig: Config = {
  nodes: 10,
  namespaces: 2,
  deployments: 20,
  replicas: 5,
  createParallelism: 8,
  settleMs: 5_000,
  idleWindowMs: 10_000,
  steadyWindowMs: 30_000,
  pollIntervalMs: 10_000,
  statusIntervalMs: 10_000,
};

interface Deployment extends KubeObject {
  spec?: unknown;
  status?: { replicas?: number; readyReplicas?: number };
}

interface Pod extends KubeObject {
  status?: { phase?: string };
}

// --- workload -----------------------------------------------------------------------------------------------

function deployment(namespace: string, name: string, replicas: number): Deployment {
  return {
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            { name: "app", image: "registry.invalid/bench:1", resources: { requests: { cpu: "10m", memory: "16Mi" } } },
          ],
          nodeSelector: { type: "kwok" },
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
        },
      },
    },
  };
}

async function createWorkload(admin: KubeClient, cfg: Config, log: (l: string) => void) {
  const namespaces = Array.from({ length: cfg.namespaces }, (_, i) => `bench-rt-${i}`);
  for (const name of namespaces) {
    await admin.create(Resources.Namespace, { metadata: { name } }).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    });
  }
  const items = Array.from({ length: cfg.deployments }, (_, i) => ({
    namespace: namespaces[i % namespaces.length] ?? "default",
    name: `d-${String(i).padStart(4, "0")}`,
  }));
  const started = performance.now();
  let done = 0;
  await mapLimit(items, cfg.createParallelism, async ({ namespace, name }) => {
    await admin.create(Resources.Deployment, deployment(namespace, name, cfg.replicas)).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    });
    if (++done % 250 === 0) log(`  ${done}/${cfg.deployments} Deployments created`);
  });
  return { createSeconds: seconds(performance.now() - started) };
}

/** Polls the Deployments' status (cheap) until every replica exists and is ready, then confirms on the pods. */
async function waitForPods(admin: KubeClient, cfg: Config, log: (l: string) => void, since: number) {
  const total = cfg.deployments * cfg.replicas;
  let allCreatedSeconds: number | undefined;
  let lastLog = 0;
  await waitFor(
    async () => {
      const { items } = await admin.listAll<Deployment>(Resources.Deployment);
      const created = items.reduce((s, d) => s + (d.status?.replicas ?? 0), 0);
      const ready = items.reduce((s, d) => s + (d.status?.readyReplicas ?? 0), 0);
      if (created >= total && allCreatedSeconds === undefined) allCreatedSeconds = seconds(performance.now() - since);
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        log(`  pods: ${created}/${total} created, ${ready} ready`);
      }
      return ready >= total ? true : undefined;
    },
    45 * 60_000,
    `${total} ready replicas`,
    5000,
  );
  const running = await waitFor(
    async () => {
      let n = 0;
      await admin.listAll<Pod>(Resources.Pod, { onItem: (p) => void (p.status?.phase === "Running" && n++) });
      return n >= total ? n : undefined;
    },
    10 * 60_000,
    `${total} Running pods`,
    10_000,
  );
  return { allCreatedSeconds, allRunningSeconds: seconds(performance.now() - since), runningPods: running };
}

// --- measuring a client process -----------------------------------------------------------------------------

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  userAgent?: string;
  objectRef?: { resource?: string; apiGroup?: string };
  requestReceivedTimestamp: string;
}

/** Requests (one per auditID) whose userAgent names `identity`, read from byte `offset` of the audit log on. */
async function auditRequestsOf(state: MetaclusterState, identity: string, offset: number): Promise<AuditEvent[]> {
  const size = statSync(state.auditLog).size;
  if (size < offset) throw new Error("the audit log was rotated during the measurement");
  const marker = `instance=${identity}`;
  const byId = new Map<string, AuditEvent>();
  const lines = createInterface({ input: createReadStream(state.auditLog, { start: offset }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes(marker)) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line still being written
    }
    if (e.userAgent?.includes(marker) && !byId.has(e.auditID)) byId.set(e.auditID, e);
  }
  return [...byId.values()];
}

function countBy(events: AuditEvent[], key: (e: AuditEvent) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[key(e)] = (out[key(e)] ?? 0) + 1;
  return out;
}

const resourceOf = (e: AuditEvent) =>
  e.objectRef?.apiGroup ? `${e.objectRef.resource}.${e.objectRef.apiGroup}` : (e.objectRef?.resource ?? "-");

function inWindow(events: AuditEvent[], fromMs: number, toMs: number): AuditEvent[] {
  return events.filter((e) => {
    const t = Date.parse(e.requestReceivedTimestamp);
    return t >= fromMs && t < toMs;
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("metrics scrape timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** The controller's own request counters: metapilot_apiserver_requests_total summed by verb, and relists. */
async function scrapeCounters(address: { host: string; port: number }) {
  const text = await httpGet(`http://${address.host}:${address.port}/metrics`);
  const requestsByVerb: Record<string, number> = {};
  let relists = 0;
  for (const line of text.split("\n")) {
    const m = /^(metapilot_apiserver_requests_total|metapilot_informer_relists_total)\{([^}]*)\} ([\d.e+]+)$/.exec(
      line,
    );
    if (!m?.[1] || m[2] === undefined) continue;
    const value = Number(m[3]);
    if (m[1] === "metapilot_informer_relists_total") relists += value;
    else {
      const verb = /verb="([^"]+)"/.exec(m[2])?.[1] ?? "?";
      requestsByVerb[verb] = (requestsByVerb[verb] ?? 0) + value;
    }
  }
  return { requestsByVerb, relists };
}

interface ChildLine {
  msg?: string;
  [key: string]: unknown;
}

/** Spawns `node --import tsx <fixture> ...args`; resolves the first stdout JSON line with msg `readyMsg`. */
function startFixture(fixture: string, args: string[], readyMsg: string, log: (l: string) => void) {
  // node --import tsx, not the tsx CLI: the pid we sample is then the process that does the work.
  const child = spawn(process.execPath, ["--import", "tsx", path.join("bench/fixtures", fixture), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: ChildLine[] = [];
  let latest: ChildLine | undefined;
  const ready = new Promise<{ line: ChildLine; at: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      let line: ChildLine;
      try {
        line = JSON.parse(text) as ChildLine;
      } catch {
        log(`  ${fixture}: ${text}`);
        return;
      }
      latest = line;
      lines.push(line);
      if (line.msg === readyMsg) resolve({ line, at: Date.now() });
      if (typeof line.level === "string" && ["warn", "error", "fatal"].includes(line.level)) {
        log(`  ${fixture} ${line.level}: ${text.slice(0, 400)}`);
      }
    });
    createInterface({ input: child.stderr! }).on("line", (text) => log(`  ${fixture} stderr: ${text}`));
    child.on("exit", (code) => reject(new Error(`${fixture} exited with ${code} before "${readyMsg}"`)));
  });
  return { child, ready, lines, latest: () => latest };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  try {
    await withTimeout(exited, 15_000, "the child's exit");
  } catch {
    child.kill("SIGKILL");
    await exited;
  }
}

// --- the benchmark ------------------------------------------------------------------------------------------

async function run(opts: BenchOptions): Promise<Record<string, unknown>> {
  const { log } = opts;
  const cfg = opts.quick ? quickConfig : fullConfig;
  const out: Record<string, unknown> = { config: { ...cfg, dir: path.relative(repoRoot, benchClusterDir) } };
  const children: ChildProcess[] = [];
  try {
    // A meta-cluster of our own, from nothing.
    await down(benchClusterDir);
    log(`meta-cluster up with ${cfg.nodes} nodes`);
    const upStarted = performance.now();
    const state = await up({ dir: benchClusterDir, nodes: cfg.nodes, log: (l) => log(`  ${l}`) });
    const upSeconds = seconds(performance.now() - upStarted);
    const kc = new KubeConfig();
    kc.loadFromFile(state.kubeconfig);
    const admin = new KubeClient(kc, {
      userAgent: "metapilot-bench-admin",
      qps: 200,
      burst: 400,
      requestTimeoutMs: 60_000,
    });

    log(`creating ${cfg.deployments} Deployments × ${cfg.replicas} replicas in ${cfg.namespaces} namespaces`);
    const workloadStarted = performance.now();
    const created = await createWorkload(admin, cfg, log);
    const pods = await waitForPods(admin, cfg, log, workloadStarted);
    log(`${pods.runningPods} pods Running ${pods.allRunningSeconds}s after the first create`);
    out.setup = {
      metaclusterUpSeconds: upSeconds,
      deploymentsCreateSeconds: created.createSeconds,
      createParallelism: cfg.createParallelism,
      secondsToAllPodsCreated: pods.allCreatedSeconds,
      secondsToAllPodsRunning: pods.allRunningSeconds,
      runningPods: pods.runningPods,
      note: "Times from the first Deployment create: kube-controller-manager creates the pods, kube-scheduler binds them, kwok marks them Running.",
    };

    const pids = (extra: Record<string, number> = {}) => ({
      "kube-apiserver": state.pids["kube-apiserver"] ?? 0,
      etcd: state.pids.etcd ?? 0,
      ...extra,
    });

    // The apiserver's CPU with no client of ours, before the controller and after the poller.
    const measureIdle = async () => {
      log(`idle window of ${cfg.idleWindowMs / 1000}s (no client)`);
      const cpu = new CpuWindow(pids());
      await sleep(cfg.idleWindowMs);
      const idle = cpu.stop();
      return {
        windowSeconds: idle.wallSeconds,
        cpuCores: idle.coresByProcess,
        machineBusyFraction: idle.machineBusyFraction,
      };
    };
    log(`settling ${cfg.settleMs / 1000}s`);
    await sleep(cfg.settleMs);
    const idleBefore = await measureIdle();

    // --- the fixed cost of a tsx-run process with the runtime loaded ---
    log("measuring the process floor (runtime loaded, nothing started)");
    const floor = startFixture("idle-process.ts", [state.kubeconfig], "ready", log);
    children.push(floor.child);
    await withTimeout(floor.ready, 120_000, "the idle process");
    await sleep(5000);
    const floorRss = new RssSampler(floor.child.pid ?? 0, 500).start();
    await sleep(10_000);
    const floorStats = floorRss.stop();
    await stopChild(floor.child);
    out.processFloor = {
      rss: floorStats,
      note:
        "node --import tsx with the runtime's modules loaded and a Manager constructed (metrics server listening), " +
        "no informer started: the fixed RSS that the controller and the poller figures both include.",
    };

    // --- the informer controller ---
    const controllerId = `bench-informer-${randomBytes(3).toString("hex")}`;
    const controllerAuditOffset = statSync(state.auditLog).size;
    log(`starting the informer controller (${controllerId})`);
    const spawnedAt = Date.now();
    const controller = startFixture(
      "informer-controller.ts",
      [state.kubeconfig, controllerId, String(cfg.statusIntervalMs)],
      "synced",
      log,
    );
    children.push(controller.child);
    const synced = await withTimeout(controller.ready, 15 * 60_000, "the controller's sync");
    const cpid = controller.child.pid ?? 0;
    const rssAtSyncKb = rssKb(cpid) ?? 0;
    const startupToSyncedSeconds = seconds(synced.at - spawnedAt);
    log(`controller synced ${startupToSyncedSeconds}s after spawn, RSS ${mib(rssAtSyncKb)} MiB`);
    await sleep(cfg.settleMs);
    const address = synced.line.metrics as { host: string; port: number };
    const rssAfterSettleKb = rssKb(cpid) ?? 0;
    const cWindowStart = Date.now();
    const counters0 = await scrapeCounters(address);
    const cCpu = new CpuWindow(pids({ controller: cpid }));
    const cRss = new RssSampler(cpid, 500).start();
    const cLinesBefore = controller.lines.length;
    log(`controller steady-state window: ${cfg.steadyWindowMs / 1000}s`);
    await sleep(cfg.steadyWindowMs);
    const cRssStats = cRss.stop();
    const cCpuStats = cCpu.stop();
    const counters1 = await scrapeCounters(address);
    const cWindowEnd = Date.now();
    const cHeap = controller.lines
      .slice(cLinesBefore)
      .filter((l) => l.msg === "status")
      .map((l) => Number(l.heapUsedBytes) / 2 ** 20);
    await stopChild(controller.child);
    await sleep(2000); // let the apiserver write the audit events of the last requests
    const cEvents = await auditRequestsOf(state, controllerId, controllerAuditOffset);
    const cStartup = inWindow(cEvents, spawnedAt - 1000, cWindowStart);
    const cSteady = inWindow(cEvents, cWindowStart, cWindowEnd);
    const cWindowMs = cWindowEnd - cWindowStart;
    const cMetricsDiff = diff(counters1.requestsByVerb, counters0.requestsByVerb);
    const controllerFigures = {
      identity: controllerId,
      startupToSyncedSeconds,
      inProcess: {
        processStartToManagerStartSeconds: seconds(Number(synced.line.processStartToManagerStartMs)),
        managerStartToSyncedSeconds: seconds(Number(synced.line.managerStartToSyncedMs)),
        cachedPods: synced.line.pods,
        cachedDeployments: synced.line.deployments,
        heapUsedMiBAtSync: mib(Number(synced.line.heapUsedBytes) / 1024),
      },
      rssAfterSyncMiB: mib(rssAtSyncKb),
      rssAfterSettleMiB: mib(rssAfterSettleKb),
      startupRequests: {
        byVerbAndResource: countBy(cStartup, (e) => `${e.verb} ${resourceOf(e)}`),
        note: "From the audit log, spawn to the window's start: the initial LISTs (500 a page) and the two WATCHes.",
      },
      steady: {
        windowSeconds: seconds(cWindowMs, 1),
        requestsPerMinute: {
          audit: {
            total: round((cSteady.length * 60_000) / cWindowMs, 2),
            byVerb: perMinute(
              countBy(cSteady, (e) => e.verb),
              cWindowMs,
            ),
          },
          metrics: {
            total: round((sum(cMetricsDiff) * 60_000) / cWindowMs, 2),
            byVerb: perMinute(cMetricsDiff, cWindowMs),
          },
        },
        requestsInWindow: { audit: cSteady.length, metrics: sum(cMetricsDiff) },
        listsInWindow: {
          audit: cSteady.filter((e) => e.verb === "list").length,
          metrics: cMetricsDiff.list ?? 0,
          informerRelists: counters1.relists - counters0.relists,
        },
        rss: cRssStats,
        heapUsedMiB: summarize(cHeap, 1),
        cpuCores: cCpuStats.coresByProcess.controller,
        apiserverCpuCores: cCpuStats.coresByProcess["kube-apiserver"],
        etcdCpuCores: cCpuStats.coresByProcess.etcd,
        machineBusyFraction: cCpuStats.machineBusyFraction,
      },
    };
    out.controller = controllerFigures;
    log(
      `controller: ${controllerFigures.steady.requestsInWindow.audit} requests in window (audit), ` +
        `${controllerFigures.steady.listsInWindow.audit} LISTs, RSS median ${cRssStats.medianMiB} MiB`,
    );

    // --- the naive poller (baseline) ---
    const pollerId = `bench-poller-${randomBytes(3).toString("hex")}`;
    const pollerAuditOffset = statSync(state.auditLog).size;
    log(`starting the naive poller (${pollerId}), every ${cfg.pollIntervalMs / 1000}s`);
    const pSpawnedAt = Date.now();
    const poller = startFixture(
      "naive-poller.ts",
      [state.kubeconfig, pollerId, String(cfg.pollIntervalMs)],
      "polled",
      log,
    );
    children.push(poller.child);
    const firstPoll = await withTimeout(poller.ready, 10 * 60_000, "the poller's first poll");
    const ppid = poller.child.pid ?? 0;
    await sleep(cfg.settleMs);
    const pWindowStart = Date.now();
    const pCpu = new CpuWindow(pids({ poller: ppid }));
    const pRss = new RssSampler(ppid, 500).start();
    const pollsBefore = poller.lines.length;
    log(`poller steady-state window: ${cfg.steadyWindowMs / 1000}s`);
    await sleep(cfg.steadyWindowMs);
    const pRssStats = pRss.stop();
    const pCpuStats = pCpu.stop();
    const pWindowEnd = Date.now();
    const windowPolls = poller.lines.slice(pollsBefore).filter((l) => l.msg === "polled");
    await stopChild(poller.child);
    await sleep(2000);
    const pEvents = await auditRequestsOf(state, pollerId, pollerAuditOffset);
    const idleAfter = await measureIdle();
    const idleApiserver =
      ((idleBefore.cpuCores["kube-apiserver"] ?? 0) + (idleAfter.cpuCores["kube-apiserver"] ?? 0)) / 2;
    out.idle = { before: idleBefore, after: idleAfter, apiserverCpuCoresMean: round(idleApiserver, 3) };
    const pSteady = inWindow(pEvents, pWindowStart, pWindowEnd);
    const pWindowMs = pWindowEnd - pWindowStart;
    const pollerFigures = {
      identity: pollerId,
      intervalSeconds: cfg.pollIntervalMs / 1000,
      startupToFirstPollSeconds: seconds(firstPoll.at - pSpawnedAt),
      pollSeconds: summarize(
        windowPolls.map((l) => Number(l.ms) / 1000),
        2,
      ),
      steady: {
        windowSeconds: seconds(pWindowMs, 1),
        requestsPerMinute: {
          audit: {
            total: round((pSteady.length * 60_000) / pWindowMs, 2),
            byVerb: perMinute(
              countBy(pSteady, (e) => e.verb),
              pWindowMs,
            ),
          },
        },
        requestsInWindow: {
          audit: pSteady.length,
          byVerbAndResource: countBy(pSteady, (e) => `${e.verb} ${resourceOf(e)}`),
        },
        listsInWindow: { audit: pSteady.filter((e) => e.verb === "list").length },
        rss: pRssStats,
        heapUsedMiB: summarize(
          windowPolls.map((l) => Number(l.heapUsedBytes) / 2 ** 20),
          1,
        ),
        cpuCores: pCpuStats.coresByProcess.poller,
        apiserverCpuCores: pCpuStats.coresByProcess["kube-apiserver"],
        etcdCpuCores: pCpuStats.coresByProcess.etcd,
        machineBusyFraction: pCpuStats.machineBusyFraction,
      },
      note: "Same KubeClient transport as the runtime; each poll LISTs all pods, then all deployments, with no limit, and keeps the latest snapshot.",
    };
    out.baseline = pollerFigures;
    log(`poller: ${pSteady.length} requests in window, RSS median ${pRssStats.medianMiB} MiB`);

    const cRpm = controllerFigures.steady.requestsPerMinute.audit.total;
    const pRpm = pollerFigures.steady.requestsPerMinute.audit.total;
    const cWindowMin = cWindowMs / 60_000;
    out.comparison = {
      requestsPerMinute: {
        controller: cRpm,
        baseline: pRpm,
        baselineOverController: ratio(pRpm, cRpm, 1),
        baselineOverControllerAtLeast: cRpm === 0 ? round(pRpm / (1 / cWindowMin), 1) : undefined,
      },
      listsPerMinute: {
        controller: round((controllerFigures.steady.listsInWindow.audit * 60_000) / cWindowMs, 2),
        baseline: round((pollerFigures.steady.listsInWindow.audit * 60_000) / pWindowMs, 2),
      },
      rssMedianMiB: {
        controller: cRssStats.medianMiB,
        baseline: pRssStats.medianMiB,
        controllerOverBaseline: ratio(cRssStats.medianMiB, pRssStats.medianMiB),
      },
      rssMedianAboveFloorMiB: {
        controller: round(cRssStats.medianMiB - floorStats.medianMiB, 1),
        baseline: round(pRssStats.medianMiB - floorStats.medianMiB, 1),
        note: "Approximate: the floor process loads the controller's modules; the poller loads fewer (no Manager, pino or prom-client), so its figure above the floor is an underestimate.",
      },
      rssMaxMiB: {
        controller: cRssStats.maxMiB,
        baseline: pRssStats.maxMiB,
        controllerOverBaseline: ratio(cRssStats.maxMiB, pRssStats.maxMiB),
      },
      clientCpuCores: {
        controller: controllerFigures.steady.cpuCores,
        baseline: pollerFigures.steady.cpuCores,
      },
      heapUsedMedianMiB: {
        controller: controllerFigures.steady.heapUsedMiB.median,
        baseline: pollerFigures.steady.heapUsedMiB.median,
        controllerOverBaseline: ratio(
          controllerFigures.steady.heapUsedMiB.median,
          pollerFigures.steady.heapUsedMiB.median,
        ),
      },
      apiserverCpuCoresAboveIdle: {
        controller: round((controllerFigures.steady.apiserverCpuCores ?? 0) - idleApiserver, 3),
        baseline: round((pollerFigures.steady.apiserverCpuCores ?? 0) - idleApiserver, 3),
      },
      note:
        "Requests per minute are from the apiserver's audit log (one per auditID, by the client's userAgent " +
        "instance=<identity>), in a steady-state window that opens after the client's first full view plus a " +
        "settle time. A steady informer makes no requests until a WATCH times out (300–600 s, randomised), so its " +
        "window count is usually 0: the ratio is then null and baselineOverControllerAtLeast is the ratio had it " +
        "made one request in the window. heapUsed is each client's own process.memoryUsage() (the controller every " +
        "statusInterval, the poller after each poll). Apiserver CPU above idle subtracts the mean of the no-client " +
        "windows before the controller and after the poller; differences of a few hundredths of a core are noise.",
    };
    log(
      `requests/min: controller ${cRpm}, poller ${pRpm}; RSS median ${cRssStats.medianMiB} vs ${pRssStats.medianMiB} MiB`,
    );
  } finally {
    for (const c of children) await stopChild(c);
    await down(benchClusterDir);
  }
  return out;
}

export const runtimeBenchmark: Benchmark = {
  name: "runtime",
  description: "informer controller vs naive poller on 10,000 Running pods (1,000 Deployments × 10)",
  run,
};
