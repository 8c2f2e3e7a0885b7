// Shared by the chaos tests (small size) and bench/reliability.ts (full size): a meta-cluster of our own that may be
// broken at will, metapilot controllers as child processes with leader election, and the bookkeeping of a scenario
// (faults injected, invariant checks, objects at risk and lost). No vitest import, so the bench can use it.
import * as k8s from "@kubernetes/client-node";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, repoRoot, up, type MetaclusterState } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { serviceAccountTokenKubeConfig } from "../harness/tokens.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { parse, parseAllDocuments } from "yaml";
import { readFileSync, readdirSync } from "node:fs";

export const chaosDir = path.join(repoRoot, ".cache/chaos-metacluster");

export interface ChaosEnv {
  state: MetaclusterState;
  kc: k8s.KubeConfig;
  client: KubeClient;
  logDir: string;
  log: (line: string) => void;
}

/** Our own meta-cluster (never the shared one): its apiserver and etcd may be killed. Idempotent. */
export async function chaosUp(nodes = 10, log: (l: string) => void = () => {}, dir = chaosDir): Promise<ChaosEnv> {
  const state = await up({ dir, nodes, log });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  await installCrds(kc);
  const client = new KubeClient(kc, { qps: 200, burst: 400, fieldManager: "chaos-test" });
  const logDir = path.join(dir, "controller-logs");
  mkdirSync(logDir, { recursive: true });
  await ensureNamespace(client, "chaos-system");
  return { state, kc, client, logDir, log };
}

export async function ensureNamespace(client: KubeClient, name: string, labels: Record<string, string> = {}) {
  await client
    .create(Resources.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } } as KubeObject)
    .catch((e: unknown) => {
      if (!/already exists|409/.test(String(e))) throw e;
    });
}

/**
 * A kubeconfig file for a ServiceAccount with exactly the chart's RBAC (its ClusterRole and Role, rendered by
 * `helm template` for chaos-system, the Role naming the Lease `leaseName`), as the controller runs in production.
 * Unlike the admin identity (system:masters), it is subject to the apiserver's inflight limits, so a 429 storm
 * reaches it. `args` are the chart's flags that go with that RBAC: the operator binds the chart's tenant-secrets
 * ClusterRole to this ServiceAccount in each tenant namespace (it has no Secret access cluster-wide).
 */
export async function chartServiceAccountKubeconfig(
  env: ChaosEnv,
  name: string,
  leaseName: string,
): Promise<{ kubeconfig: string; args: string[] }> {
  const rendered = execFileSync(
    path.join(repoRoot, ".cache/bin/helm"),
    [
      "template",
      name,
      path.join(repoRoot, "charts/metapilot"),
      "-n",
      "chaos-system",
      "--set",
      `fullnameOverride=${name}`,
      "--set",
      `leaderElection.leaseName=${leaseName}`,
    ],
    { encoding: "utf8" },
  );
  const kinds = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
  const objects = parseAllDocuments(rendered)
    .map((d) => d.toJSON() as k8s.KubernetesObject | null)
    .filter((o): o is k8s.KubernetesObject => !!o && kinds.has(o.kind ?? ""));
  const api = k8s.KubernetesObjectApi.makeApiClient(env.kc);
  for (const o of objects) {
    // Replaced when it exists: an earlier run may have rendered another Lease name.
    await api.create(o).catch((e: unknown) => {
      if (!/already exists|409/.test(String(e))) throw e;
      return api.replace(o);
    });
  }
  const sa = objects.find((o) => o.kind === "ServiceAccount")?.metadata?.name;
  if (!sa) throw new Error("the chart rendered no ServiceAccount");
  const out = await serviceAccountTokenKubeConfig(env.kc, "chaos-system", sa, 12 * 3600);
  const file = path.join(env.logDir, `${name}.kubeconfig`);
  writeFileSync(file, out.exportConfig(), { mode: 0o600 });
  const role = objects.find((o) => o.kind === "ClusterRole" && o.metadata?.name?.endsWith("-tenant-secrets"));
  if (!role) throw new Error("the chart rendered no tenant-secrets ClusterRole");
  return {
    kubeconfig: file,
    args: [`--tenant-secrets-cluster-role=${role.metadata?.name}`, `--service-account=chaos-system/${sa}`],
  };
}

// --- scenario bookkeeping ---------------------------------------------------------------------------------------

export interface Check {
  invariant: string;
  passed: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  size: Record<string, number>;
  faults: string[];
  checks: Check[];
  invariantChecksPassed: number;
  invariantChecksRun: number;
  objectsAtRisk: number;
  objectsLost: number;
  figures: Record<string, number | string>;
  durationSeconds: number;
}

export class Scenario {
  readonly faults: string[] = [];
  readonly checks: Check[] = [];
  readonly figures: Record<string, number | string> = {};
  objectsAtRisk = 0;
  objectsLost = 0;
  private readonly started = Date.now();
  constructor(
    readonly name: string,
    readonly size: Record<string, number>,
    private readonly log: (l: string) => void,
  ) {}
  fault(what: string): void {
    this.faults.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
    this.log(`[${this.name}] fault: ${what}`);
  }
  check(invariant: string, passed: boolean, detail = ""): void {
    this.checks.push({ invariant, passed, detail });
    this.log(`[${this.name}] ${passed ? "ok  " : "FAIL"} ${invariant}${detail ? `: ${detail}` : ""}`);
  }
  result(): ScenarioResult {
    return {
      scenario: this.name,
      size: this.size,
      faults: this.faults,
      checks: this.checks,
      invariantChecksPassed: this.checks.filter((c) => c.passed).length,
      invariantChecksRun: this.checks.length,
      objectsAtRisk: this.objectsAtRisk,
      objectsLost: this.objectsLost,
      figures: this.figures,
      durationSeconds: Math.round((Date.now() - this.started) / 1000),
    };
  }
}

export function failedChecks(r: ScenarioResult): string[] {
  return r.checks.filter((c) => !c.passed).map((c) => `${c.invariant}: ${c.detail}`);
}

// --- metapilot as a child process ---------------------------------------------------------------------------------

export interface ControllerProcessOptions {
  identity: string;
  controllers: string[];
  leaseId: string;
  extraArgs?: string[];
  logLevel?: string;
  /** The kubeconfig the controller runs with; the meta-cluster's admin one when unset. */
  kubeconfig?: string;
  /**
   * Lease timings. Unset: 4 s / 3 s / 500 ms, so that the scenarios that measure failover see it within seconds.
   * "default": the controller's own 15 s / 10 s / 2 s, for scenarios that measure convergence, not failover:
   * with the fast timings a loaded 2-core machine, where one apiserver request can take seconds, costs a step-down
   * and a restart per late renewal, which tests the test machine's speed and not the controller.
   */
  leaseTimings?: "default";
}

/** Every controller child still running: a bench or test that exits, or is stopped, takes them along. */
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of liveChildren) c.kill("SIGKILL");
});

/**
 * `node --import tsx src/cli/main.ts controller ...` with leader election on a short Lease (4 s), its output in a log
 * file of its own. node --import tsx, not the tsx CLI: the CLI forks a child that a SIGKILL of the parent would orphan.
 */
export class ControllerProcess {
  child?: ChildProcess;
  leaderAt?: number;
  exitCode?: number | null;
  exitSignal?: NodeJS.Signals | null;
  metricsPort = 0;
  readonly logFile: string;
  private out?: WriteStream;
  readonly lines: string[] = [];

  constructor(
    private readonly env: ChaosEnv,
    readonly opts: ControllerProcessOptions,
  ) {
    this.logFile = path.join(env.logDir, `${opts.identity}.log`);
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  async start(): Promise<this> {
    this.metricsPort = await freePort();
    this.out = createWriteStream(this.logFile, { flags: "a" });
    const args = [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "controller",
      `--kubeconfig=${this.opts.kubeconfig ?? this.env.state.kubeconfig}`,
      `--controllers=${this.opts.controllers.join(",")}`,
      "--leader-election-namespace=chaos-system",
      `--leader-election-id=${this.opts.leaseId}`,
      ...(this.opts.leaseTimings === "default"
        ? []
        : ["--lease-duration=4s", "--renew-deadline=3s", "--retry-period=500ms"]),
      `--metrics-address=127.0.0.1:${this.metricsPort}`,
      `--log-level=${this.opts.logLevel ?? "info"}`,
      "--qps=100",
      "--burst=200",
      ...(this.opts.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, METAPILOT_INSTANCE: this.opts.identity, HOSTNAME: this.opts.identity },
    });
    this.child = child;
    liveChildren.add(child);
    this.leaderAt = undefined;
    this.exitCode = undefined;
    const onLine = (line: string) => {
      this.out?.write(`${line}\n`);
      this.lines.push(line);
      if (line.includes('"became leader"')) this.leaderAt = Date.now();
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    child.on("exit", (code, signal) => {
      liveChildren.delete(child);
      this.exitCode = code;
      this.exitSignal = signal;
    });
    return this;
  }

  /** The identity the manager actually uses (its user agent carries `instance=<id>`), read from the start-up log. */
  identityFromLog(): string | undefined {
    for (const l of this.lines) {
      const m = /"identity":"([^"]+)"/.exec(l);
      if (m) return m[1];
    }
    return undefined;
  }

  async waitLeader(timeoutMs = 60_000): Promise<number> {
    return eventually(async () => this.leaderAt, timeoutMs, `${this.opts.identity} leads`);
  }

  /**
   * Waits until the process answers /readyz with 200: serving, caches synced, its Lease readable. A standby in that
   * state takes over within one Lease duration of the leader's death; one still starting (tsx took over 40 s at load
   * 15) does not, which is start-up, not failover.
   */
  async waitReady(timeoutMs = 180_000): Promise<void> {
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      `${this.opts.identity} ready (/readyz 200)`,
    );
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const c = this.child;
    if (!c || this.exitCode !== undefined) return;
    await new Promise<void>((r) => {
      c.once("exit", () => r());
      c.kill(signal);
    });
    this.out?.end();
  }

  /** Lines that show a crash rather than an orderly exit: uncaught errors, unhandled rejections, fatal logs. */
  crashLines(): string[] {
    return this.lines.filter((l) =>
      /Uncaught|UnhandledPromiseRejection|unhandledRejection|"level":60|FATAL|TypeError|ReferenceError/.test(l),
    );
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    return res.text();
  }
}

/**
 * Keeps one controller running, as a Deployment would: when it exits (a lost Lease exits 1 on purpose), a new one
 * starts. Every exit is recorded, so a crash (any other code) is visible.
 */
/**
 * Keeps `replicas` controller processes running (1 unless set), replacing each one that exits, as a Deployment
 * does. With 2, a standby is already running when the leader steps down, as with the chart's two replicas: the
 * failover then costs the Lease expiry, not a process start (tens of seconds on a loaded machine).
 */
export class Supervisor {
  readonly exits: Array<{ code: number | null | undefined; signal: NodeJS.Signals | null | undefined }> = [];
  readonly generations: ControllerProcess[] = [];
  private stopped = false;
  private loop?: Promise<void>;
  constructor(
    private readonly env: ChaosEnv,
    private readonly opts: ControllerProcessOptions & { replicas?: number },
  ) {}
  /** The running process that became leader last, or the newest running one. */
  get current(): ControllerProcess | undefined {
    const running = this.generations.filter((g) => g.exitCode === undefined);
    const leading = running.filter((g) => g.leaderAt !== undefined).sort((a, b) => a.leaderAt! - b.leaderAt!);
    return leading.at(-1) ?? running.at(-1) ?? this.generations.at(-1);
  }
  /** Waits until one of the running processes leads; returns it. */
  async waitLeader(timeoutMs = 60_000): Promise<ControllerProcess> {
    return eventually(
      async () => this.generations.find((g) => g.exitCode === undefined && g.leaderAt !== undefined),
      timeoutMs,
      `a ${this.opts.identity} replica leads`,
    );
  }
  async start(): Promise<void> {
    const replicas = this.opts.replicas ?? 1;
    for (let i = 0; i < replicas; i++) await this.spawnOne();
    const counted = new Set<ControllerProcess>();
    this.loop = (async () => {
      while (!this.stopped) {
        for (const g of this.generations) {
          if (g.exitCode === undefined || counted.has(g)) continue;
          counted.add(g);
          this.exits.push({ code: g.exitCode, signal: g.exitSignal });
          if (!this.stopped) await this.spawnOne();
        }
        await sleep(200);
      }
    })();
  }
  private async spawnOne(): Promise<void> {
    const n = this.generations.length;
    const p = new ControllerProcess(this.env, { ...this.opts, identity: `${this.opts.identity}-${n}` });
    this.generations.push(p);
    await p.start();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    for (const g of this.generations) await g.kill("SIGTERM");
  }
  crashLines(): string[] {
    return this.generations.flatMap((g) => g.crashLines());
  }
}

// --- invariant samplers ---------------------------------------------------------------------------------------------

interface Pdb extends KubeObject {
  status?: { currentHealthy?: number; desiredHealthy?: number; observedGeneration?: number };
}

/** Samples every PDB in the namespaces continuously; a sample below its minimum is a violation. */
export function samplePdbs(client: KubeClient, namespaces: () => string[], everyMs = 250) {
  let running = true;
  let samples = 0;
  const violations: string[] = [];
  const done = (async () => {
    while (running) {
      for (const ns of namespaces()) {
        const list = await client.listAll<Pdb>(Resources.PodDisruptionBudget, { namespace: ns }).catch(() => undefined);
        for (const p of list?.items ?? []) {
          const s = p.status;
          if (!s || s.observedGeneration !== p.metadata?.generation) continue;
          samples++;
          if ((s.currentHealthy ?? 0) < (s.desiredHealthy ?? 0))
            violations.push(`${ns}/${p.metadata?.name} ${s.currentHealthy}<${s.desiredHealthy}`);
        }
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { samples, violations };
    },
  };
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return true;
    await sleep(250);
  }
  return false;
}

/** Polls until `check` returns a value (not undefined); like test/harness's, without importing vitest. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** crds/*.yaml applied and Established (test/harness/crds.ts imports vitest, which the bench cannot). */
export async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const client = new KubeClient(kc, { qps: 50, burst: 50, fieldManager: "chaos-test" });
  const crdDir = path.join(repoRoot, "crds");
  type Crd = KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } };
  const crds = readdirSync(crdDir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => parse(readFileSync(path.join(crdDir, f), "utf8")) as Crd);
  for (const crd of crds) await client.apply(Resources.CustomResourceDefinition, crd);
  for (const crd of crds)
    await eventually(
      async () => {
        const got = await client.get<Crd>(Resources.CustomResourceDefinition, crd.metadata?.name ?? "");
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      30_000,
      `CRD ${crd.metadata?.name} Established`,
    );
}
