// `metapilot backtest` end to end without a cluster: a tenants file, ClusterScaler files, and a canned Prometheus
// (nock) that fails mid-way; and, as a process, the one-line errors of bad input.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cannedPrometheus, promUrl } from "../backtest/testing.js";
import { MiB } from "../scaler/quantity.js";
import { inventoryOf } from "../backtest/inventory.js";
import { Backtest } from "../backtest/run.js";
import {
  backtestCommand,
  backtest as runBatches,
  failIfExitCode,
  namespaceBatches,
  parseWhen,
  readPolicyFile,
  runBacktestCommand,
  type BacktestFlags,
} from "./backtest.js";
import { parseFailIf } from "../backtest/fail-if.js";

const root = path.resolve(import.meta.dirname, "../..");
let dir: string;
const podLabels = { namespace: "tcp-a", pod: "kube-apiserver-5d9f-abcde", container: "kube-apiserver" };

const clusterScaler = (name: string, window: string) =>
  [
    "apiVersion: metapilot.io/v1alpha1",
    "kind: ClusterScaler",
    `metadata: { name: ${name} }`,
    "spec:",
    "  components: [{ name: kube-apiserver, replicas: { min: 1, max: 1 } }]",
    `  scaleDown: { enabled: true, stabilizationWindow: ${window}, maxStepPercent: 20 }`,
    "",
  ].join("\n");

const tenants = {
  apiVersion: "v1",
  kind: "List",
  items: [
    {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: "a" },
      status: { namespace: "tcp-a" },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "kube-apiserver",
        namespace: "tcp-a",
        labels: { "metapilot.io/tenant": "a", "metapilot.io/component": "kube-apiserver" },
      },
      spec: {
        replicas: 1,
        template: {
          spec: {
            containers: [
              {
                name: "kube-apiserver",
                resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
              },
            ],
          },
        },
      },
    },
  ],
};

beforeAll(() => {
  nock.disableNetConnect();
  dir = mkdtempSync(path.join(tmpdir(), "metapilot-backtest-"));
  writeFileSync(path.join(dir, "fast.yaml"), clusterScaler("fast", "5m"));
  writeFileSync(path.join(dir, "slow.yaml"), clusterScaler("slow", "30m"));
  writeFileSync(
    path.join(dir, "bad.yaml"),
    clusterScaler("bad", "5m").replace("maxStepPercent: 20", "maxStepPercent: lots"),
  );
  writeFileSync(path.join(dir, "tenants.json"), JSON.stringify(tenants));
});
afterEach(() => nock.cleanAll());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flags = (extra: Partial<BacktestFlags> = {}): BacktestFlags => ({
  file: [path.join(dir, "fast.yaml"), path.join(dir, "slow.yaml")],
  from: "2026-12-01T00:00:00Z",
  to: "2026-12-01T02:00:00Z",
  step: "30s",
  tenantsFile: path.join(dir, "tenants.json"),
  output: "json",
  failIf: [],
  apiserverTimeout: "1s",
  prometheusUrl: promUrl,
  ...extra,
});

async function backtest(f: BacktestFlags, run?: Parameters<typeof runBacktestCommand>[4]) {
  let out = "";
  let err = "";
  const code = await runBacktestCommand(
    f,
    (s) => (out += s),
    (s) => (err += s),
    Date.now(),
    run,
  );
  return { code, out, err };
}

describe("runBacktestCommand", () => {
  it("gives a partial report, saying what is missing, when Prometheus fails mid-way; --fail-if exits 3", async () => {
    const prom = cannedPrometheus(
      ["tcp-a"],
      {
        cpu: [{ labels: podLabels, at: () => 0.1 }],
        memory: [{ labels: podLabels, at: () => 300 * MiB }],
      },
      // The memory query fails (the others answer); fetchHistory's chunk-by-chunk failures are in signals.test.ts.
      (metric) => (metric === "memory" ? 503 : undefined),
    );
    const r = await backtest(flags({ failIf: [parseFailIf("heldForData>0"), parseFailIf("oomLost>0")] }));
    prom.done();
    const report = JSON.parse(r.out);
    expect(report.partial).toBe(true);
    expect(report.missing.length).toBeGreaterThan(0);
    expect(report.missing.every((m: { metric: string }) => m.metric === "memory")).toBe(true);
    // One range query per metric for this short range; the failing one was sent three times (the client's retries).
    expect(report.queries).toBe(16);
    expect(prom.asked).toHaveLength(18);
    expect(report.coverage.memoryWorkingSet.percent).toBe(0);
    expect(report.coverage.cpuUsage.percent).toBe(100);
    expect(report.policies.map((p: { name: string }) => p.name)).toEqual(["fast", "slow"]);
    // Idle CPU all along, but no scale-down without memory: every one held for data.
    for (const p of report.policies) expect(p.summary).toMatchObject({ scaleDowns: 0, heldForData: 241 });
    expect(r.err).toMatch(/warning: partial report: \d+ queries failed/);
    expect(r.err).toMatch(/--fail-if heldForData>0 holds for fast: heldForData is 241/);
    expect(r.err).not.toMatch(/oomLost/);
    expect(r.code).toBe(failIfExitCode);
  });

  it("exits 0 with a table when no threshold holds", async () => {
    cannedPrometheus(["tcp-a"], {
      cpu: [{ labels: podLabels, at: () => 0.1 }],
      memory: [{ labels: podLabels, at: () => 300 * MiB }],
    });
    const r = await backtest(flags({ output: "table", failIf: [parseFailIf("oomLost>0")] }));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^Backtest 2026-12-01T00:00:00.000Z → 2026-12-01T02:00:00.000Z, 241 steps of 30s, \d+ Prometheus queries\n/,
    );
    expect(r.out).toMatch(/\s+fast\s+slow\n/);
  });

  it("replays only the workloads of --namespace", async () => {
    cannedPrometheus(["tcp-a"], { cpu: [{ labels: podLabels, at: () => 0.1 }] });
    const r = await backtest(flags({ namespace: "tcp-b" }));
    const report = JSON.parse(r.out);
    expect(report.queries).toBe(0);
    expect(report.policies.map((p: { summary: { workloads: number } }) => p.summary.workloads)).toEqual([0, 0]);
    expect(r.err).toMatch(/no tenant control-plane workloads to replay/);
  });

  it("says so when the range has no usage history at all", async () => {
    cannedPrometheus(["tcp-a"], {});
    const r = await backtest(flags());
    expect(r.code).toBe(0);
    expect(r.err).toContain("no usage history in the range for any workload: every scale-down was held for data");
    expect(JSON.parse(r.out).partial).toBe(false);
  });

  it("replays on the threads --workers asks for", async () => {
    const parsed = (args: string[]) => {
      let flags: BacktestFlags | undefined;
      const cmd = backtestCommand()
        .exitOverride()
        .configureOutput({ writeErr: () => {} })
        .action((f: BacktestFlags) => void (flags = f));
      cmd.parse(["-f", "x.yaml", "--from", "-1d", ...args], { from: "user" });
      return flags;
    };
    expect(parsed(["--workers", "3"])?.workers).toBe("3");
    expect(parsed([])?.workers).toBeUndefined();
    expect(() => parsed(["--workers", "0"])).toThrow(/--workers <n>' argument '0' is invalid/);
    // The run gets the number: here at once with a replay too small for threads (replayThreads' rule).
    const runs: Array<Parameters<typeof runBatches>[0]> = [];
    cannedPrometheus(["tcp-a"], { cpu: [{ labels: podLabels, at: () => 0.1 }] });
    const started = vi.spyOn(Backtest.prototype, "startWorkers");
    try {
      const r = await backtest(flags({ workers: "3" }), (run) => (runs.push(run), runBatches(run)));
      expect(r.code).toBe(0);
      expect(runs.map((run) => run.workers)).toEqual([3]);
      expect(started).not.toHaveBeenCalled();
    } finally {
      started.mockRestore();
    }
  });

  it("names the field of a malformed ClusterScaler file", async () => {
    await expect(backtest(flags({ file: [path.join(dir, "bad.yaml")] }))).rejects.toThrow(
      /bad\.yaml: invalid ClusterScaler: spec\.scaleDown\.maxStepPercent/,
    );
  });
});

describe("batches of tenants", () => {
  it("reads all tenants at once unless the history would be too large", () => {
    const namespaces = Array.from({ length: 500 }, (_, i) => `tcp-${i}`);
    expect(namespaceBatches(namespaces.slice(0, 50), 24 * 120)).toHaveLength(1);
    expect(namespaceBatches(namespaces, 24 * 120)).toHaveLength(3);
    // 14 days at 30 s: 13 namespaces a batch (32 Mi values of 64 per namespace and step).
    const batches = namespaceBatches(namespaces, 14 * 24 * 120);
    expect(batches).toHaveLength(39);
    expect(batches.flat()).toEqual(namespaces);
  });

  it("gives the same figures batch by batch as all at once, with more queries", async () => {
    const second = JSON.parse(
      JSON.stringify(tenants.items[1])
        .replaceAll('"tcp-a"', '"tcp-b"')
        .replace('"metapilot.io/tenant":"a"', '"metapilot.io/tenant":"b"'),
    ) as unknown;
    const inventory = inventoryOf([...tenants.items, second] as Parameters<typeof inventoryOf>[0]);
    const policies = [path.join(dir, "fast.yaml"), path.join(dir, "slow.yaml")].flatMap((f) => readPolicyFile(f));
    const podB = { ...podLabels, namespace: "tcp-b" };
    let asked: readonly string[] = [];
    const run = async (namespacesPerBatch?: number, workers?: number) => {
      ({ asked } = cannedPrometheus(namespacesPerBatch === 1 ? [["tcp-a"], ["tcp-b"]] : ["tcp-a", "tcp-b"], {
        cpu: [
          { labels: podLabels, at: () => 0.1 },
          { labels: podB, at: () => 0.3 },
        ],
        memory: [
          { labels: podLabels, at: () => 300 * MiB },
          { labels: podB, at: () => 200 * MiB },
        ],
      }));
      const report = await runBatches({
        policies,
        inventory,
        prometheus: { url: promUrl, retries: 0 },
        from: Date.parse("2026-12-01T00:00:00Z"),
        to: Date.parse("2026-12-01T02:00:00Z"),
        stepMs: 30_000,
        namespacesPerBatch,
        // Threads even for this small run.
        ...(workers ? { workers, minStepsForWorkers: 0 } : {}),
      });
      nock.cleanAll();
      return report;
    };
    const together = await run();
    const apart = await run(1);
    expect(together.queries).toBe(16);
    expect(apart.queries).toBe(32);
    expect(apart.policies).toEqual(together.policies);
    expect(apart.coverage).toEqual(together.coverage);
    expect(together.policies[0]?.summary.workloads).toBe(2);
    expect(together.coverage.cpuUsage.percent).toBe(100);
    expect(Object.keys(together.policies[0]?.timeline ?? {})).toEqual(["a", "b"]);
    // On two threads, batch by batch: the same report. The second batch's history is read while the first one
    // replays: the first replay is held until every query of both batches was answered (without the read ahead,
    // it would wait forever, and the test time out).
    const started = vi.spyOn(Backtest.prototype, "startWorkers");
    const addOn = Backtest.prototype.addOn;
    let held = 0;
    const replays = vi.spyOn(Backtest.prototype, "addOn").mockImplementation(async function (this: Backtest, ...args) {
      if (held++ === 0) while (asked.length < 32) await new Promise((r) => setTimeout(r, 5));
      return addOn.apply(this, args);
    });
    try {
      const threaded = await run(1, 2);
      expect(started).toHaveBeenCalledTimes(1);
      expect(started).toHaveBeenCalledWith(2);
      expect(replays).toHaveBeenCalledTimes(2);
      expect(threaded).toEqual(apart);
    } finally {
      started.mockRestore();
      replays.mockRestore();
    }
  });
});

describe("parseWhen", () => {
  it("takes RFC 3339 or a duration back from now, with or without a minus", () => {
    const now = Date.parse("2026-12-15T00:00:00Z");
    expect(parseWhen("-14d", now, "--from")).toBe(Date.parse("2026-12-01T00:00:00Z"));
    expect(parseWhen("36h", now, "--from")).toBe(now - 36 * 3_600_000);
    expect(parseWhen("2026-12-01T00:00:00Z", now, "--from")).toBe(Date.parse("2026-12-01T00:00:00Z"));
    expect(() => parseWhen("yesterday", now, "--from")).toThrow(/--from: "yesterday" is neither a duration/);
  });
});

describe("metapilot backtest (process)", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "backtest", ...args],
        { cwd: root, env: { PATH: process.env.PATH, HOME: dir }, timeout: 60_000 },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      ),
    );

  it("refuses an unknown --fail-if metric in one line that lists the known ones", { timeout: 60_000 }, async () => {
    const r = await run(["-f", "x.yaml", "--from", "-1d", "--fail-if", "reboots>1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--fail-if "reboots>1": unknown metric reboots; known: tenants, workloads, oomKills/);
  });
});
