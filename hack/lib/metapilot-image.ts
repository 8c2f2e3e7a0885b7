// The image of metapilot itself for real nodes, built as the Dockerfile's runtime stage is but without a Docker
// engine or a registry: the Node.js runtime, dist/src compiled from src/ alone (the Dockerfile's build stage),
// the production node_modules (its deps stage), package.json and the dashboard's static files under /app, run as
// uid 65532 with the Dockerfile's entrypoint, cmd, workdir and environment. Named as the chart asks for it by
// default (values.yaml image.repository, Chart.yaml appVersion as the tag), so `helm install` with
// image.pullPolicy IfNotPresent runs it on a real node where it was imported.
//
// The Node.js runtime is the project's pinned one (hack/versions.env NODE_VERSION, .cache/node/bin/node from
// `make node`): the official build the tests run on, of the major the Dockerfile's node image has (checked at build
// time), with the shared libraries `ldd` lists for it at the same paths, as the Debian base of that image has them.
// Like the Dockerfile's runtime stage, the image has no npm.
//
// Both staging directories are cached under .cache/images: the production node_modules by the hash of
// package.json and package-lock.json, the compiled dist/src by the hash of tsconfig.json, package.json and every
// file under src/.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  distrolessGroup,
  distrolessPasswd,
  imagesDir,
  treeEntries,
  type ImageFile,
  type ImageRecipe,
} from "./images.js";
import { pinnedNodeBinary, pinnedNodeVersion } from "./node-runtime.js";

/** The runtime stage of a Dockerfile: the last FROM and the instructions after it that shape the image. */
export interface DockerfileRuntime {
  /** The last FROM's image, with ARG defaults substituted (node:24-bookworm-slim@sha256:…). */
  from: string;
  env: Record<string, string>;
  workdir?: string;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  /** Destinations of its COPY instructions, absolute (relative ones are resolved against the WORKDIR then). */
  copies: string[];
  /** Its RUN commands, continuation lines joined. */
  runs: string[];
}

/** Reads the runtime stage of a Dockerfile: exec-form ENTRYPOINT/CMD, `ENV k=v`, WORKDIR, USER, COPY, RUN. Pure. */
export function parseDockerfileRuntime(text: string): DockerfileRuntime {
  // Continuation lines joined, comments dropped.
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args: Record<string, string> = {};
  let stage: DockerfileRuntime | undefined;
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const instruction = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    const expand = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args[a ?? b] ?? "");
    const exec = (s: string) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string"))
        throw new Error(`${instruction} is not in exec form: ${s}`);
      return parsed as string[];
    };
    if (instruction === "ARG" && !stage) {
      const [k, v] = rest.split("=", 2);
      if (k && v !== undefined) args[k] = v;
    } else if (instruction === "FROM") {
      stage = { from: expand(rest.split(/\s+/)[0]!), env: {}, copies: [], runs: [] };
    } else if (!stage) {
      continue;
    } else if (instruction === "ENV") {
      for (const pair of rest.split(/\s+/)) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`ENV only in the k=v form here: ${rest}`);
        stage.env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    } else if (instruction === "WORKDIR") {
      stage.workdir = path.posix.resolve(stage.workdir ?? "/", rest);
    } else if (instruction === "USER") {
      stage.user = rest;
    } else if (instruction === "ENTRYPOINT") {
      stage.entrypoint = exec(rest);
    } else if (instruction === "CMD") {
      stage.cmd = exec(rest);
    } else if (instruction === "RUN") {
      stage.runs.push(rest);
    } else if (instruction === "COPY") {
      const words = rest.split(/\s+/).filter((w) => !w.startsWith("--"));
      const dest = words[words.length - 1]!;
      stage.copies.push(path.posix.resolve(stage.workdir ?? "/", dest).replace(/\/$/, "") || "/");
    }
  }
  if (!stage) throw new Error("the Dockerfile has no FROM");
  return stage;
}

/** The major version of Node.js a node image tag names (node:24-bookworm-slim@sha256:… → 24). Pure. */
export function nodeImageMajor(from: string): number {
  const m = /^(?:docker\.io\/(?:library\/)?)?node:(\d+)/.exec(from);
  if (!m?.[1]) throw new Error(`cannot tell the Node.js major of the image ${from}`);
  return Number(m[1]);
}

/** What the chart runs by default: image.repository from values.yaml, tagged with image.tag or the appVersion. */
export function chartImage(repoRoot: string): { repository: string; tag: string } {
  const chartDir = path.join(repoRoot, "charts/metapilot");
  const values = parse(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) as {
    image: { repository: string; tag?: string };
  };
  const chart = parse(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")) as { appVersion: string };
  return { repository: values.image.repository, tag: values.image.tag || String(chart.appVersion) };
}

/** The PATH of the official node images (Debian's default), which the Dockerfile's runtime stage inherits. */
export const nodeImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface MetapilotStaging {
  /** The Node.js binary, and the shared libraries it loads (absolute paths on this machine, kept in the image). */
  node: string;
  nodeVersion: string;
  libraries: string[];
  /** A directory with package.json and the production node_modules. */
  deps: string;
  /** A directory with dist/src and src/server/dashboard/ui, as the Dockerfile's build stage leaves them. */
  build: string;
}

/**
 * The recipe of the metapilot image from staged content: the Dockerfile's runtime stage (entrypoint, cmd, user,
 * workdir, env) over the Node.js runtime at /usr/local/bin/node, as in the node images. Pure but for the
 * Dockerfile and chart it reads.
 */
export function metapilotRecipe(repoRoot: string, staging: MetapilotStaging): ImageRecipe {
  const runtime = parseDockerfileRuntime(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
  const workdir = runtime.workdir ?? "/";
  const { repository, tag } = chartImage(repoRoot);
  const files: ImageFile[] = [
    { target: "/usr/local/bin/node", source: staging.node, mode: 0o755 },
    ...staging.libraries.map((l) => ({ target: l, source: l })),
    { target: "/etc/passwd", content: distrolessPasswd },
    { target: "/etc/group", content: distrolessGroup },
    { target: path.posix.join(workdir, "package.json"), source: path.join(staging.deps, "package.json"), mode: 0o644 },
    { target: path.posix.join(workdir, "node_modules"), tree: path.join(staging.deps, "node_modules") },
    { target: path.posix.join(workdir, "dist/src"), tree: path.join(staging.build, "dist/src") },
    {
      target: path.posix.join(workdir, "src/server/dashboard/ui"),
      tree: path.join(staging.build, "src/server/dashboard/ui"),
    },
  ];
  return {
    name: repository,
    tag,
    files,
    entrypoint: runtime.entrypoint,
    cmd: runtime.cmd,
    user: runtime.user,
    workdir: runtime.workdir,
    env: { PATH: nodeImagePath, NODE_VERSION: staging.nodeVersion.replace(/^v/, ""), ...runtime.env },
  };
}

/** The shared libraries and the ELF interpreter `ldd` lists for a binary, as absolute paths. Pure. */
export function lddLibraries(lddOutput: string): string[] {
  const out: string[] = [];
  for (const line of lddOutput.split("\n")) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) out.push(m[1]);
  }
  return [...new Set(out)].sort();
}

function hashOf(parts: Array<string | Buffer>): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** Makes `dir` by `fill`ing a temporary sibling and renaming it, unless it is there; concurrent callers are safe. */
function staged(dir: string, fill: (tmp: string) => void): string {
  if (existsSync(dir)) {
    // Its mtime says when it was last used, which prune() goes by.
    const now = new Date();
    utimesSync(dir, now, now);
    return dir;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir)) throw err;
  }
  return dir;
}

/**
 * Removes the finished staging directories under `parent` other than `current` that nobody used for an hour:
 * another process may still be copying from one into its image.
 */
function prune(parent: string, current: string): void {
  for (const entry of readdirSync(parent)) {
    const full = path.join(parent, entry);
    if (full === current || entry.includes(".tmp-")) continue;
    if (Date.now() - statSync(full).mtimeMs > 3_600_000) rmSync(full, { recursive: true, force: true });
  }
}

/** The production node_modules: `npm ci --omit=dev` of package.json and package-lock.json, as the deps stage. */
export function stageProductionDeps(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const inputs = ["package.json", "package-lock.json"].map((f) => readFileSync(path.join(repoRoot, f)));
  const parent = path.join(imagesDir(repoRoot), "metapilot-deps");
  const dir = path.join(parent, hashOf(inputs));
  staged(dir, (tmp) => {
    for (const f of ["package.json", "package-lock.json"]) cpSync(path.join(repoRoot, f), path.join(tmp, f));
    execFileSync("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: tmp,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
  });
  prune(parent, dir);
  return dir;
}

/**
 * dist/src compiled by `npm run build` from a copy of tsconfig.json, package.json and src/ alone (the build
 * stage's inputs; test/, hack/ and bench/ are left out as the Dockerfile leaves them out), against the repository's
 * node_modules.
 */
export function stageBuild(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const src = path.join(repoRoot, "src");
  const sources = treeEntries(src);
  const inputs: Array<string | Buffer> = [
    readFileSync(path.join(repoRoot, "tsconfig.json")),
    readFileSync(path.join(repoRoot, "package.json")),
    readFileSync(path.join(repoRoot, "package-lock.json")),
  ];
  for (const rel of sources) inputs.push(rel, readFileSync(path.join(src, rel)));
  const parent = path.join(imagesDir(repoRoot), "metapilot-build");
  const dir = path.join(parent, hashOf(inputs));
  staged(dir, (tmp) => {
    for (const f of ["tsconfig.json", "package.json", "package-lock.json"])
      cpSync(path.join(repoRoot, f), path.join(tmp, f));
    cpSync(src, path.join(tmp, "src"), { recursive: true });
    symlinkSync(path.join(repoRoot, "node_modules"), path.join(tmp, "node_modules"));
    try {
      execFileSync("npm", ["run", "build"], { cwd: tmp, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`npm run build of the image's dist/src failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
    mkdirSync(path.join(tmp, "src/server/dashboard/ui"), { recursive: true });
    // Only what the runtime stage copies is kept.
    rmSync(path.join(tmp, "node_modules"));
  });
  prune(parent, dir);
  return dir;
}

/**
 * Stages everything and returns the recipe of the metapilot image, on the pinned Node.js (.cache/node/bin/node).
 * Fails when that binary is not the version hack/versions.env pins, or not of the major the Dockerfile's node image
 * has: the local image would then run another runtime than the real one.
 */
export function stageMetapilotImage(repoRoot: string, nodeBinary: string = pinnedNodeBinary(repoRoot)): ImageRecipe {
  const runtime = parseDockerfileRuntime(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
  const node = realpathSync(nodeBinary);
  const nodeVersion = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  const pinned = pinnedNodeVersion(repoRoot);
  if (nodeVersion !== `v${pinned}`)
    throw new Error(
      `${node} is Node.js ${nodeVersion}, hack/versions.env pins ${pinned}: the image runs the pinned one`,
    );
  const major = Number(/^v(\d+)\./.exec(nodeVersion)?.[1]);
  if (major !== nodeImageMajor(runtime.from))
    throw new Error(
      `${node} is Node.js ${nodeVersion}, the Dockerfile's runtime is ${runtime.from}: the local metapilot image must run the same major`,
    );
  const libraries = lddLibraries(execFileSync("ldd", [node], { encoding: "utf8" }));
  // npm, and the tsc that `npm run build` starts, run on that same node whatever the caller's PATH.
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ""}` };
  return metapilotRecipe(repoRoot, {
    node,
    nodeVersion,
    libraries,
    deps: stageProductionDeps(repoRoot, env),
    build: stageBuild(repoRoot, env),
  });
}
