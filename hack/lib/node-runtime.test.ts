import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeVersionOf, pinnedNodeBinary, pinnedNodeVersion } from "./node-runtime.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");

/** [major, minor, patch] of 24.22.3. */
const parts = (version: string) => version.split(".").map(Number);
const compareVersions = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;

describe("the pinned Node.js", () => {
  it("is NODE_VERSION of hack/versions.env, a full version", () => {
    expect(nodeVersionOf("A=1\nNODE_VERSION=24.22.3\nB=2\n")).toBe("24.22.3");
    expect(() => nodeVersionOf("NODE_VERSION=24\n")).toThrow(/NODE_VERSION/);
    expect(() => nodeVersionOf("NODE_IMAGE=node:24\n")).toThrow(/NODE_VERSION/);
  });

  it("is inside the range package.json declares in engines", () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { engines: { node: string } };
    const range = /^>=(\d+\.\d+\.\d+) <(\d+)$/.exec(pkg.engines.node);
    expect(range, pkg.engines.node).not.toBeNull();
    const pinned = parts(pinnedNodeVersion(repoRoot));
    expect(compareVersions(pinned, parts(range![1]!))).toBeGreaterThanOrEqual(0);
    expect(pinned[0]).toBeLessThan(Number(range![2]));
  });

  it("is installed in .cache/node and answers its version", () => {
    expect(pinnedNodeBinary(repoRoot)).toBe(path.join(repoRoot, ".cache/node/bin/node"));
  });

  it("runs these tests, and the node, tsx and npx tsx that tests start", { timeout: 60_000 }, () => {
    const version = `v${pinnedNodeVersion(repoRoot)}`;
    const hint = "run the tests through make, or with .cache/node/bin first on PATH";
    expect(process.version, hint).toBe(version);
    const run = (file: string, args: string[]) =>
      execFileSync(file, args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    const print = "console.log(process.version)";
    expect(run("node", ["-e", print]), `node on PATH: ${hint}`).toBe(version);
    expect(run(path.join(repoRoot, "node_modules/.bin/tsx"), ["-e", print]), "node_modules/.bin/tsx").toBe(version);
    expect(run("npx", ["--no-install", "tsx", "-e", print]), "npx tsx").toBe(version);
  });
});
