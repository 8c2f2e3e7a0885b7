// The Node.js the project runs on: NODE_VERSION of hack/versions.env, installed by `make node`
// (hack/install-node.sh) as .cache/node/bin/node. The Makefile puts it first on PATH; what starts node itself (the
// demo's controllers, the image for real nodes) takes it from here, so that it never runs on whatever `node` the
// shell had.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** NODE_VERSION from the text of hack/versions.env, without a leading v (24.22.3). Pure. */
export function nodeVersionOf(versionsEnv: string): string {
  const version = /^NODE_VERSION=(\S+)\s*$/m.exec(versionsEnv)?.[1];
  if (!version || !/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`hack/versions.env has no NODE_VERSION=<major>.<minor>.<patch> (${version ?? "none"})`);
  return version;
}

/** The pinned Node.js version of the repository at repoRoot. */
export function pinnedNodeVersion(repoRoot: string): string {
  return nodeVersionOf(readFileSync(path.join(repoRoot, "hack/versions.env"), "utf8"));
}

/** The pinned Node.js binary, .cache/node/bin/node: fails unless it is installed and answers the pinned version. */
export function pinnedNodeBinary(repoRoot: string): string {
  const version = pinnedNodeVersion(repoRoot);
  const binary = path.join(repoRoot, ".cache/node/bin/node");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: \`make node\` installs Node.js ${version} there`);
  const answer = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
  if (answer !== `v${version}`)
    throw new Error(`${binary} is ${answer}, hack/versions.env pins ${version}: \`make node\` installs it`);
  return binary;
}
