// Chaos for the ClusterScaler and its reports: Prometheus down, Prometheus answering garbage through a misbehaving
// proxy, the ops-center receiver down, and the leader SIGKILLed right after an OOM kill. Invariants: no scale-down on
// missing or bad data (and a condition that says why), no lost ScalingDecision or report, and exactly one decision
// (and one write to the workload) per OOM kill across a failover.
import { randomBytes } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../hack/lib/metacluster.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { signBody } from "../../src/scaler/reports.js";
import { SyntheticExporter } from "../fixtures/exporter.js";
import { TestPrometheus } from "../fixtures/prometheus.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { ensureNamespace, ControllerProcess, Scenario, waitUntil, type ChaosEnv, type ScenarioResult } from "./lib.js";

const hmacSecret = "chaos-hmac-secret";

export interface Decision extends KubeObject {
  spec?: {
    direction?: string;
    decidedAt?: string;
    rootCause?: { category?: string; evidence?: Array<{ signal?: string; value?: string }> };
  };
  status?: { phase?: string; delivery?: { state?: string; attempts?: number } };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

// --- a Prometheus that misbehaves on demand ------------------------------------------------------------------------

export type ProxyMode = "pass" | "malformed" | "partial" | "nan" | "negative" | "http500" | "wrong-shape" | "empty";
export const garbageModes: ProxyMode[] = ["malformed", "partial", "nan", "negative", "http500", "wrong-shape", "empty"];

/** An HTTP proxy in front of Prometheus that can return malformed JSON, cut bodies, NaN or negative values, 500s. */
export class GarbageProxy {
  mode: ProxyMode = "pass";
  port = 0;
  requests = 0;
  private server?: Server;
  constructor(private readonly upstream: () => string) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", () => r()));
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
  private async fetchUpstream(req: IncomingMessage): Promise<{ status: number; body: string; type: string }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return new Promise((resolve, reject) => {
      const up = httpRequest(
        `${this.upstream()}${req.url}`,
        {
          method: req.method,
          headers: { accept: "application/json", "content-type": String(req.headers["content-type"] ?? "") },
        },
        (r) => {
          let body = "";
          r.setEncoding("utf8");
          r.on("data", (c: string) => (body += c));
          r.on("end", () =>
            resolve({
              status: r.statusCode ?? 502,
              body,
              type: String(r.headers["content-type"] ?? "application/json"),
            }),
          );
        },
      );
      up.on("error", reject);
      up.end(Buffer.concat(chunks));
    });
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const mode = this.mode;
    try {
      if (mode === "http500") {
        res.writeHead(500, { "content-type": "text/plain" }).end("internal server error");
        return;
      }
      if (mode === "malformed") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success","data":{"resultType":"vec');
        return;
      }
      if (mode === "wrong-shape") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success","data":null}');
        return;
      }
      const up = await this.fetchUpstream(req);
      let body = up.body;
      if (mode === "nan" || mode === "negative" || mode === "empty") {
        const parsed = JSON.parse(body) as {
          data?: { result?: Array<{ value?: [number, string]; values?: Array<[number, string]> }> };
        };
        const v = mode === "nan" ? "NaN" : "-1";
        if (mode === "empty" && parsed.data) parsed.data.result = [];
        for (const r of parsed.data?.result ?? []) {
          if (r.value) r.value[1] = v;
          for (const p of r.values ?? []) p[1] = v;
        }
        body = JSON.stringify(parsed);
      }
      if (mode === "partial") {
        res.writeHead(up.status, { "content-type": up.type, "content-length": String(Buffer.byteLength(body)) });
        res.write(body.slice(0, Math.max(1, Math.floor(body.length / 2))));
        await sleep(50);
        res.destroy();
        return;
      }
      res.writeHead(up.status, { "content-type": up.type }).end(body);
    } catch {
      if (!res.headersSent) res.writeHead(502).end("bad gateway");
      else res.destroy();
    }
  }
}

// --- an ops-center receiver that checks signatures ------------------------------------------------------------------

export class Receiver {
  private server?: Server;
  readonly received: Array<{ id: string; subject: string; signatureOk: boolean }> = [];
  port = 0;
  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const ts = String(req.headers["x-metapilot-timestamp"] ?? "");
        const ok = req.headers["x-metapilot-signature"] === signBody(hmacSecret, ts, body);
        const event = JSON.parse(body) as { id: string; subject: string };
        this.received.push({ id: event.id, subject: event.subject, signatureOk: ok });
        res.statusCode = ok ? 202 : 401;
        res.end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", () => r()));
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

// --- a tenant with a victim pod, shared by the scaler scenarios ------------------------------------------------------

export async function createTenant(env: ChaosEnv, ns: string, tenant: string, cpu = "1"): Promise<void> {
  await ensureNamespace(env.client, ns, { "metapilot.io/test": "chaos" });
  await createApiserver(env.client, ns, tenant, { cpu, victim: true });
  await waitUntil(async () => {
    const p = await env.client.get<KubeObject & { status?: { phase?: string } }>(Resources.Pod, "victim", ns);
    return p.status?.phase === "Running";
  }, 60_000);
}

/** Marks the victim's container OOM-killed with the given restart count, as the kubelet would. */
export async function oomKill(env: ChaosEnv, ns: string, restartCount: number): Promise<void> {
  await markOomKilled(env.client, ns, restartCount);
}

export async function decisionsIn(env: ChaosEnv, ns: string): Promise<Decision[]> {
  return (await env.client.listAll<Decision>(Resources.ScalingDecision, { namespace: ns })).items;
}

function clusterScaler(name: string, tenant: string): KubeObject {
  return {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
      components: [
        {
          name: "kube-apiserver",
          scalers: [{ name: "oom" }, { name: "cpu", threshold: 0.8, window: "4s" }],
          estimators: ["oom-memory"],
          minAllowed: { cpu: "100m", memory: "128Mi" },
          maxAllowed: { cpu: "4", memory: "64Gi" },
        },
      ],
      scaleUp: { cooldown: "1s" },
      scaleDown: { enabled: true, stabilizationWindow: "5s", maxStepPercent: 20 },
    },
  } as KubeObject;
}

/**
 * The ClusterScaler in-process (so its poll interval and rate window can be short) reading Prometheus through the
 * garbage proxy and reporting to a receiver; one tenant whose CPU is far below its request, so with good data it
 * keeps being scaled down, and any scale-down while the data is missing or bad is a violation.
 */
export class ScalerRig {
  readonly id = randomBytes(2).toString("hex");
  readonly tenant = `rig-${this.id}`;
  readonly ns = `chaos-rig-${this.id}`;
  readonly exporter = new SyntheticExporter();
  prom!: TestPrometheus;
  proxy!: GarbageProxy;
  readonly receiver = new Receiver();
  private stop = new AbortController();
  constructor(private readonly env: ChaosEnv) {}

  async start(): Promise<void> {
    const target = await this.exporter.start();
    this.prom = new TestPrometheus([target]);
    await this.prom.start();
    this.proxy = new GarbageProxy(() => this.prom.url);
    await this.proxy.start();
    await this.receiver.start();
    await createTenant(this.env, this.ns, this.tenant);
    this.exporter.setRate(
      "container_cpu_usage_seconds_total",
      { namespace: this.ns, pod: "victim", container: "kube-apiserver" },
      0.05,
    );
    this.exporter.setGauge(
      "container_memory_working_set_bytes",
      { namespace: this.ns, pod: "victim", container: "kube-apiserver" },
      200 * 2 ** 20,
    );
    await this.env.client.create(Resources.ClusterScaler, clusterScaler(this.tenant, this.tenant));
    const manager = new Manager({
      kubeConfig: this.env.kc,
      logger: createLogger({ level: "warn" }),
      identity: `rig-${this.id}`,
      qps: 100,
      burst: 100,
    });
    addClusterScalerController(manager, {
      workers: 2,
      dryRun: false,
      namespace: this.ns,
      prometheus: { url: this.proxy.url, timeoutMs: 2000, retries: 0 },
      pollIntervalMs: 1000,
      rateWindow: "5s",
      staleAfterMs: 10_000,
      opsCenter: [{ url: this.receiver.url, hmacSecret, timeoutMs: 2000 }],
      clusterName: "chaos",
    });
    void manager.start(this.stop.signal);
    await waitUntil(() => manager.hasSynced(), 60_000);
  }

  async conditions(): Promise<Condition[]> {
    const cs = await this.env.client.get<KubeObject & { status?: { conditions?: Condition[] } }>(
      Resources.ClusterScaler,
      this.tenant,
    );
    return cs.status?.conditions ?? [];
  }

  async downsSince(t: number): Promise<Decision[]> {
    return (await decisionsIn(this.env, this.ns)).filter(
      (d) => d.spec?.direction === "Down" && Date.parse(d.spec?.decidedAt ?? "") >= t,
    );
  }

  /** With good data the tenant is scaled down: proves the scenario would see a wrong scale-down. */
  async controlScaleDown(timeoutMs = 60_000): Promise<boolean> {
    this.proxy.mode = "pass";
    const t = Date.now();
    return waitUntil(async () => (await this.downsSince(t)).length > 0, timeoutMs);
  }

  async cleanup(): Promise<void> {
    this.stop.abort();
    await this.env.client.delete(Resources.ClusterScaler, this.tenant).catch(() => undefined);
    await this.env.client.delete(Resources.Namespace, this.ns).catch(() => undefined);
    await this.proxy?.stop();
    await this.receiver.stop();
    await this.prom?.cleanup();
    await this.exporter.stop();
  }
}

/** Grace after a fault: one poll in flight may still carry the last good data. */
const graceMs = 2500;

export async function prometheusDown(
  env: ChaosEnv,
  rig: ScalerRig,
  opts: { outageMs: number },
): Promise<ScenarioResult> {
  const s = new Scenario("prometheus-down", { outageSeconds: Math.round(opts.outageMs / 1000) }, env.log);
  s.check("control: with good data the idle tenant is scaled down", await rig.controlScaleDown());
  s.fault(`Prometheus stopped for ${opts.outageMs / 1000} s`);
  const t0 = Date.now();
  await rig.prom.stop();
  let conditionSeen: Condition | undefined;
  const deadline = Date.now() + opts.outageMs;
  while (Date.now() < deadline) {
    const c = (await rig.conditions()).find((x) => x.type === "SignalsAvailable");
    if (c?.status === "False") conditionSeen = c;
    await sleep(Math.min(2000, opts.outageMs / 5));
  }
  const downs = await rig.downsSince(t0 + graceMs);
  s.objectsAtRisk = 1;
  s.objectsLost = downs.length ? 1 : 0;
  s.check("no scale-down while Prometheus is down", downs.length === 0, downs.map((d) => d.metadata?.name).join(" "));
  s.check(
    "SignalsAvailable=False explains the hold",
    conditionSeen !== undefined && /Prometheus|connect|ECONNREFUSED|fetch/i.test(conditionSeen.message ?? ""),
    conditionSeen?.message ?? "never False",
  );
  const held = (await rig.conditions()).find((x) => x.type === "ScaleDownHeld");
  s.check("ScaleDownHeld=True during the outage", held?.status === "True", held?.message ?? "");
  s.fault("Prometheus started again");
  await rig.prom.start();
  const recovered = await waitUntil(
    async () => (await rig.conditions()).find((x) => x.type === "SignalsAvailable")?.status === "True",
    60_000,
  );
  s.check("signals recover after Prometheus returns", recovered);
  return s.result();
}

export async function prometheusGarbage(
  env: ChaosEnv,
  rig: ScalerRig,
  opts: { perModeMs: number; rounds: number; modes?: ProxyMode[] },
): Promise<ScenarioResult> {
  const modes = opts.modes ?? garbageModes;
  const s = new Scenario(
    modes.length === 1 ? `prometheus-garbage-${modes[0]}` : "prometheus-garbage",
    { modes: modes.length, rounds: opts.rounds },
    env.log,
  );
  s.check("control: with good data the idle tenant is scaled down", await rig.controlScaleDown());
  s.objectsAtRisk = 1;
  const wrong: string[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    for (const mode of modes) {
      // Back to good data first, so each mode starts from fresh signals.
      rig.proxy.mode = "pass";
      await sleep(3000);
      s.fault(`proxy answers ${mode} for ${opts.perModeMs / 1000} s`);
      rig.proxy.mode = mode;
      const t0 = Date.now();
      let explained: Condition | undefined;
      // Watched for scale-downs for perModeMs at least, and until a condition explains the hold: a poll and its
      // status write took longer than 5 s at load average 20.
      const deadline = Date.now() + opts.perModeMs;
      const explainBy = Date.now() + 60_000;
      while (Date.now() < deadline || (explained === undefined && Date.now() < explainBy)) {
        const conds = await rig.conditions();
        const sig = conds.find((x) => x.type === "SignalsAvailable");
        const held = conds.find((x) => x.type === "ScaleDownHeld");
        if (sig?.status === "False" || held?.status === "True") explained = sig?.status === "False" ? sig : held;
        await sleep(1000);
      }
      const downs = await rig.downsSince(t0 + graceMs);
      if (downs.length) wrong.push(`${mode}: ${downs.length} scale-down(s)`);
      s.check(`${mode}: no scale-down`, downs.length === 0, downs.map((d) => d.metadata?.name).join(" "));
      s.check(`${mode}: a condition explains the hold`, explained !== undefined, explained?.message ?? "none");
    }
  }
  rig.proxy.mode = "pass";
  s.objectsLost = wrong.length ? 1 : 0;
  s.figures.proxyRequests = rig.proxy.requests;
  return s.result();
}

export async function opsCenterDown(
  env: ChaosEnv,
  rig: ScalerRig,
  opts: { ooms: number; outageMs: number },
): Promise<ScenarioResult> {
  const s = new Scenario("ops-center-down", { ooms: opts.ooms, outageSeconds: opts.outageMs / 1000 }, env.log);
  s.fault(`receiver stopped for ${opts.outageMs / 1000} s`);
  await rig.receiver.stop();
  const before = (await decisionsIn(env, rig.ns)).length;
  const t0 = Date.now();
  const pod = await env.client.get<KubeObject & { status?: { containerStatuses?: Array<{ restartCount?: number }> } }>(
    Resources.Pod,
    "victim",
    rig.ns,
  );
  let restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
  for (let i = 0; i < opts.ooms; i++) {
    const n = (await decisionsIn(env, rig.ns)).length;
    await oomKill(env, rig.ns, ++restarts);
    await waitUntil(async () => (await decisionsIn(env, rig.ns)).length > n, 15_000);
  }
  const made = (await decisionsIn(env, rig.ns)).length - before;
  s.check(`each of the ${opts.ooms} OOM kills made a decision during the outage`, made >= opts.ooms, `${made}`);
  await sleep(Math.max(0, opts.outageMs - (Date.now() - t0)));
  s.fault("receiver started again");
  await rig.receiver.start();
  const all = await decisionsIn(env, rig.ns);
  s.objectsAtRisk = all.length;
  // Failed deliveries back off from 1 s, doubling, to 5 min (src/scaler/reports.ts): after an outage of T seconds
  // the next attempt comes within about T more, and T grows with load. The wait covers the cap.
  await waitUntil(
    async () => (await decisionsIn(env, rig.ns)).every((d) => d.status?.delivery?.state === "Delivered"),
    330_000,
  );
  const final = await decisionsIn(env, rig.ns);
  const ids = new Set(rig.receiver.received.filter((r) => r.signatureOk).map((r) => r.id));
  const lost = final.filter((d) => !ids.has(d.metadata?.uid ?? "") || d.status?.delivery?.state !== "Delivered");
  s.objectsLost = lost.length;
  s.check(
    "every ScalingDecision is reported, signed, and marked Delivered",
    lost.length === 0,
    lost.map((d) => d.metadata?.name).join(" "),
  );
  s.check(
    "every received report has a valid signature",
    rig.receiver.received.every((r) => r.signatureOk),
  );
  s.figures.decisions = final.length;
  s.figures.reportsReceived = rig.receiver.received.length;
  s.figures.duplicateDeliveries = rig.receiver.received.length - ids.size;
  return s.result();
}

// --- leader SIGKILLed during a scale-up -------------------------------------------------------------------------------

export async function leaderKillScaleUp(env: ChaosEnv, opts: { trials: number }): Promise<ScenarioResult> {
  const s = new Scenario("leader-killed-during-scale-up", { trials: opts.trials }, env.log);
  const id = randomBytes(2).toString("hex");
  const tenant = `lk-${id}`;
  const ns = `chaos-lk-${id}`;
  await createTenant(env, ns, tenant);
  await env.client.create(Resources.ClusterScaler, {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: tenant },
    spec: {
      tenantSelector: { matchLabels: { "metapilot.io/tenant": tenant } },
      components: [
        {
          name: "kube-apiserver",
          scalers: [{ name: "oom" }],
          estimators: ["oom-memory"],
          maxAllowed: { memory: "256Gi" },
        },
      ],
      scaleUp: { cooldown: "1s" },
    },
  } as KubeObject);
  const procs: ControllerProcess[] = [];
  const spawnOne = async () => {
    const p = new ControllerProcess(env, {
      identity: `lk-${id}-${procs.length}`,
      controllers: ["clusterscaler"],
      leaseId: `lk-${id}`,
      extraArgs: [`--namespace=${ns}`],
    });
    procs.push(p);
    await p.start();
    return p;
  };
  const since = new Date();
  try {
    let leader = await spawnOne();
    // Start-up, not the scenario: two controllers starting at once took over 60 s at load average 20.
    await leader.waitLeader(180_000);
    let standby = await spawnOne();
    await standby.waitReady();
    s.objectsAtRisk = opts.trials;
    const latencies: number[] = [];
    for (let t = 1; t <= opts.trials; t++) {
      const before = (await decisionsIn(env, ns)).length;
      const killAfter = Math.floor(Math.random() * 400);
      const at = Date.now();
      await oomKill(env, ns, t);
      await sleep(killAfter);
      s.fault(`OOM kill #${t}, leader SIGKILLed ${killAfter} ms later`);
      await leader.kill("SIGKILL");
      await standby.waitLeader(30_000);
      const decided = await waitUntil(async () => (await decisionsIn(env, ns)).length > before, 30_000);
      latencies.push(Date.now() - at);
      s.check(`OOM #${t} answered after the failover`, decided);
      leader = standby;
      standby = await spawnOne();
      await standby.waitReady();
    }
    await sleep(3000); // any late duplicate would be written by now
    const decisions = (await decisionsIn(env, ns)).filter((d) => d.spec?.rootCause?.category === "OOMKilled");
    s.objectsLost = Math.max(0, opts.trials - decisions.length);
    s.check(
      "exactly one decision per OOM kill",
      decisions.length === opts.trials,
      `${decisions.length} decisions for ${opts.trials} OOM kills`,
    );
    const applied = decisions.filter((d) => d.status?.phase === "Applied").length;
    const identities = new Set(procs.map((p) => p.identityFromLog()).filter(Boolean));
    const writes = readAudit(env.state, since).filter(
      (e) =>
        isWrite(e) &&
        e.objectRef?.resource === "deployments" &&
        e.objectRef?.namespace === ns &&
        [...identities].some((i) => e.userAgent?.includes(`instance=${i}`)) &&
        (e.responseStatus?.code ?? 0) < 300,
    );
    s.check(
      "one successful write to the workload per applied decision (audit log)",
      writes.length === applied,
      `${writes.length} writes, ${applied} applied decisions`,
    );
    s.figures.failoverDecisionSecondsMax = Math.round(Math.max(...latencies) / 100) / 10;
    const crashes = procs.flatMap((p) => p.crashLines());
    s.check(
      "no controller crash besides the injected SIGKILLs",
      crashes.length === 0,
      crashes.join("\n").slice(0, 300),
    );
    return s.result();
  } finally {
    for (const p of procs) await p.kill("SIGTERM");
    await env.client.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    await env.client.delete(Resources.Namespace, ns).catch(() => undefined);
  }
}
