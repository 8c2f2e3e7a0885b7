// The metapilot command as a process: each bad input fails with exit status 1 and one line on stderr that names the
// flag (or variable) and the form it expects, never a stack. Nothing here needs a cluster: the apiserver of the
// kubeconfig is a port nothing listens on.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      {
        cwd: root,
        // A clean environment: the caller's KUBECONFIG, PROMETHEUS_URL or in-cluster variables change nothing here.
        env: { PATH: process.env.PATH, HOME: dir, ...env },
        timeout: 200_000,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? null) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

let dir: string;
let kubeconfig: string;
let deadPort: number;

/** One line, exit 1, no stack trace. */
function expectOneLineError(r: Run, ...parts: Array<string | RegExp>): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  for (const p of parts) expect(lines[0]).toMatch(p);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "metapilot-cli-"));
  // A port that was free a moment ago and has nothing listening on it.
  deadPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "dead", cluster: { server: `https://127.0.0.1:${deadPort}`, "insecure-skip-tls-verify": true } },
      ],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "meta", context: { cluster: "dead", user: "u" } }],
      "current-context": "meta",
    }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each case starts node and tsx, which takes half a minute on a loaded 2-core machine: the cases run side by side,
// with limits far above that.
describe.concurrent("metapilot errors name the flag and the fix", { timeout: 240_000 }, () => {
  it("--qps abc", async () => {
    const r = await run(["controller", "--kubeconfig", kubeconfig, "--qps", "abc"]);
    expectOneLineError(r, "--qps", "'abc'", "expected a number greater than 0");
  });

  it("--lease-duration 15", async () => {
    const r = await run(["controller", "--kubeconfig", kubeconfig, "--lease-duration", "15"]);
    expectOneLineError(r, "--lease-duration", "'15'", "expected a duration with a unit, e.g. 15s");
  });

  it("--log-level loud", async () => {
    const r = await run(["controller", "--kubeconfig", kubeconfig, "--log-level", "loud"]);
    expectOneLineError(r, "--log-level", "'loud'", /trace, debug, info, warn, error, fatal, silent/);
  });

  it("--log-format yaml", async () => {
    const r = await run(["controller", "--kubeconfig", kubeconfig, "--log-format", "yaml"]);
    expectOneLineError(r, "--log-format", "'yaml'", /json, text/);
  });

  it("--context nope", async () => {
    const r = await run(["report", "--kubeconfig", kubeconfig, "--context", "nope"]);
    expectOneLineError(r, "--context nope: no such context", "pass one of: meta");
  });

  it("a missing --kubeconfig file", async () => {
    const missing = path.join(dir, "missing");
    const r = await run(["controller", "--kubeconfig", missing]);
    expectOneLineError(r, `--kubeconfig ${missing}: no such file`, "pass the path of a kubeconfig file");
  });

  it("a missing $KUBECONFIG file", async () => {
    const missing = path.join(dir, "missing");
    const r = await run(["recommend", "-A", "--prometheus-url", "http://127.0.0.1:1"], { KUBECONFIG: missing });
    expectOneLineError(r, `KUBECONFIG=${missing}: no such file`, "--kubeconfig");
  });

  it("recommend without a Prometheus URL", async () => {
    const r = await run(["recommend", "-A"], { KUBECONFIG: kubeconfig });
    expectOneLineError(r, "--prometheus-url is required", "PROMETHEUS_URL");
  });

  it("recommend against an unreachable apiserver: a bounded wait that says what it waits for", async () => {
    const r = await run(["recommend", "-A", "--apiserver-timeout", "3s"], {
      KUBECONFIG: kubeconfig,
      PROMETHEUS_URL: "http://127.0.0.1:1",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const lines = r.stderr.trimEnd().split("\n");
    const server = `https://127.0.0.1:${deadPort}`;
    expect(lines[0]).toContain(`metapilot: waiting for the apiserver at ${server} (`);
    expect(lines[0]).toMatch(/ECONNREFUSED.*giving up in \ds/);
    expect(lines.at(-1)).toMatch(
      new RegExp(`^metapilot: the apiserver at ${server} did not answer within 3s .*--apiserver-timeout$`),
    );
    // At least one attempt, then the 3 s deadline ended the wait (not the client's own retries).
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it("--apiserver-timeout soon", async () => {
    const r = await run(["report", "--apiserver-timeout", "soon"], { KUBECONFIG: kubeconfig });
    expectOneLineError(r, "--apiserver-timeout", "expected a duration with a unit");
  });
});
