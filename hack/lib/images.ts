// OCI images for the real nodes of the local meta-cluster, built without a registry or a Docker engine: Debian's
// umoci writes an OCI layout, which is packed as an OCI archive and imported into a node's containerd with
// `ctr images import`. Pods on real nodes use them with imagePullPolicy Never or IfNotPresent; nothing is pulled.
//
// Each image is described by an ImageRecipe (files to put in, entrypoint, user). The archive is cached under
// .cache/images and rebuilt only when the recipe or the content of its files changes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
  statSync,
  renameSync,
  lstatSync,
  readdirSync,
  readlinkSync,
} from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DEFAULT_IMAGE_REGISTRY } from "../../src/api/scheduling.js";

const run = promisify(execFile);

export interface ImageFile {
  /** Absolute path in the image. */
  target: string;
  /** A file on this machine to copy, or a symlink target, or the file's text. */
  source?: string;
  symlink?: string;
  content?: string;
  /** A directory on this machine copied whole (files, modes and symlinks as they are), as a Dockerfile's COPY. */
  tree?: string;
  mode?: number;
}

/** Every file and symlink below `dir`, as paths relative to it, sorted; directories only through what they hold. */
export function treeEntries(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[])
    .filter((rel) => !lstatSync(path.join(dir, rel)).isDirectory())
    .sort();
}

export interface ImageRecipe {
  /** Repository, e.g. localhost/metapilot/busybox. */
  name: string;
  tag: string;
  files: ImageFile[];
  entrypoint?: string[];
  cmd?: string[];
  /** uid:gid as the Dockerfile's USER gives it. */
  user?: string;
  env?: Record<string, string>;
  workdir?: string;
}

export interface BuiltImage {
  /** name:tag, the reference pods use. */
  ref: string;
  /** The OCI archive for `ctr images import`. */
  archive: string;
}

/** Where built archives and the pause binary are cached. */
export function imagesDir(repoRoot: string): string {
  return path.join(repoRoot, ".cache/images");
}

/** The reference of an image; ctr imports an OCI archive as `<base name>:<ref.name annotation>`. */
export function refOf(recipe: Pick<ImageRecipe, "name" | "tag">): string {
  return `${recipe.name}:${recipe.tag}`;
}

/** A fingerprint of everything that goes into the image: the recipe and each source file's bytes. */
export function recipeDigest(recipe: ImageRecipe): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ ...recipe, files: recipe.files.map((f) => ({ ...f })) }));
  for (const f of recipe.files) {
    if (f.source) hash.update(readFileSync(f.source));
    if (f.tree) {
      for (const rel of treeEntries(f.tree)) {
        const full = path.join(f.tree, rel);
        const st = lstatSync(full);
        hash.update(`\0${rel}\0${st.mode}\0`);
        hash.update(st.isSymbolicLink() ? readlinkSync(full) : readFileSync(full));
      }
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/** The arguments of `umoci config` that give the image its entrypoint, cmd, user, env and workdir. */
export function umociConfigArgs(recipe: ImageRecipe): string[] {
  const args: string[] = [];
  if (recipe.entrypoint) {
    args.push("--clear=config.entrypoint");
    for (const e of recipe.entrypoint) args.push(`--config.entrypoint=${e}`);
  }
  if (recipe.cmd) {
    args.push("--clear=config.cmd");
    for (const c of recipe.cmd) args.push(`--config.cmd=${c}`);
  }
  if (recipe.user) args.push(`--config.user=${recipe.user}`);
  for (const [k, v] of Object.entries(recipe.env ?? {})) args.push(`--config.env=${k}=${v}`);
  if (recipe.workdir) args.push(`--config.workingdir=${recipe.workdir}`);
  return args;
}

/**
 * What identifies a recipe's inputs without reading them: the recipe and each source file's size, mtime and inode.
 * Equal stat keys mean the bytes hashed for the archive's digest are unchanged, so the control-plane binaries
 * (hundreds of MB) are not hashed again on every call.
 */
export function recipeStatKey(recipe: ImageRecipe): string {
  const stats = recipe.files.map((f) => {
    if (f.tree)
      return treeEntries(f.tree).map((rel) => {
        const st = lstatSync(path.join(f.tree!, rel));
        return [rel, st.size, st.mtimeMs, st.ino, st.mode];
      });
    if (!f.source) return null;
    const st = statSync(f.source);
    return [st.size, st.mtimeMs, st.ino];
  });
  return JSON.stringify({ recipe, stats });
}

/** Builds the OCI archive of `recipe` with umoci, unless the cached one was built from the same inputs. */
export function buildImage(repoRoot: string, recipe: ImageRecipe): BuiltImage {
  const dir = imagesDir(repoRoot);
  const base = recipe.name.replace(/[^a-zA-Z0-9.-]+/g, "_");
  const archive = path.join(dir, `${base}_${recipe.tag}.tar`);
  const stampFile = `${archive}.digest`;
  const statFile = `${archive}.stat`;
  const statKey = recipeStatKey(recipe);
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, "utf8") : undefined;
  if (existsSync(archive) && stamp && existsSync(statFile)) {
    const cached = JSON.parse(readFileSync(statFile, "utf8")) as { key?: string; digest?: string };
    if (cached.key === statKey && cached.digest === stamp) return { ref: refOf(recipe), archive };
  }
  const digest = recipeDigest(recipe);
  const writeStatFile = () => {
    writeFileSync(`${statFile}.${process.pid}`, JSON.stringify({ key: statKey, digest }));
    renameSync(`${statFile}.${process.pid}`, statFile);
  };
  if (existsSync(archive) && stamp === digest) {
    writeStatFile();
    return { ref: refOf(recipe), archive };
  }
  const work = path.join(dir, `${base}_${recipe.tag}.build`);
  rmSync(work, { recursive: true, force: true });
  const rootfs = path.join(work, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  for (const f of recipe.files) {
    const dest = path.join(rootfs, f.target);
    mkdirSync(path.dirname(dest), { recursive: true });
    if (f.symlink) symlinkSync(f.symlink, dest);
    else if (f.tree) {
      mkdirSync(dest, { recursive: true });
      // -a keeps modes and symlinks; the layer's owner is root, as the Dockerfile's COPY --chown=0:0 gives.
      execFileSync("cp", ["-a", "--no-preserve=ownership", `${f.tree}/.`, `${dest}/`]);
    } else if (f.content !== undefined) {
      writeFileSync(dest, f.content);
      execFileSync("chmod", [(f.mode ?? 0o644).toString(8), dest]);
    } else if (f.source) {
      copyFileSync(f.source, dest);
      execFileSync("chmod", [(f.mode ?? statSync(f.source).mode & 0o7777).toString(8), dest]);
    } else throw new Error(`image ${refOf(recipe)}: ${f.target} has neither source, content, tree nor symlink`);
  }
  const layout = path.join(work, "oci");
  const image = `${layout}:${recipe.tag}`;
  const umoci = (...args: string[]) => execFileSync("umoci", args, { stdio: ["ignore", "pipe", "pipe"] });
  umoci("init", "--layout", layout);
  umoci("new", "--image", image);
  // One layer with the whole root file system, owned by root as in a Dockerfile's COPY.
  umoci(
    "insert",
    "--image",
    image,
    "--history.created_by",
    `metapilot hack/lib/images.ts ${refOf(recipe)}`,
    rootfs,
    "/",
  );
  umoci(
    "config",
    "--image",
    image,
    "--history.created_by",
    "metapilot hack/lib/images.ts config",
    ...umociConfigArgs(recipe),
  );
  umoci("gc", "--layout", layout);
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-C", layout, "-cf", `${archive}.tmp`, "."]);
  execFileSync("mv", [`${archive}.tmp`, archive]);
  writeFileSync(stampFile, digest);
  writeStatFile();
  rmSync(work, { recursive: true, force: true });
  return { ref: refOf(recipe), archive };
}

/**
 * The sandbox image: Kubernetes' own pause.c from the pinned k8s.io/kubernetes module, compiled static as its
 * build/pause Makefile does, with the upstream image's entrypoint and user.
 */
export function pauseRecipe(repoRoot: string, kubernetesVersion: string): ImageRecipe {
  const tag = "3.10.1";
  const binary = path.join(imagesDir(repoRoot), `pause-${tag}-${kubernetesVersion}`);
  if (!existsSync(binary)) {
    mkdirSync(imagesDir(repoRoot), { recursive: true });
    const gomodcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
    let source = path.join(gomodcache, `k8s.io/kubernetes@${kubernetesVersion}/build/pause/linux/pause.c`);
    if (!existsSync(source)) {
      execFileSync("go", ["mod", "download", `k8s.io/kubernetes@${kubernetesVersion}`], {
        cwd: imagesDir(repoRoot),
        env: { ...process.env, GOFLAGS: "-mod=mod", GO111MODULE: "on" },
        stdio: "ignore",
      });
      source = path.join(gomodcache, `k8s.io/kubernetes@${kubernetesVersion}/build/pause/linux/pause.c`);
    }
    execFileSync("gcc", [
      "-Os",
      "-Wall",
      "-Werror",
      "-static",
      `-DVERSION=v${tag}-metapilot`,
      "-o",
      `${binary}.tmp`,
      source,
    ]);
    execFileSync("mv", [`${binary}.tmp`, binary]);
  }
  return {
    name: "localhost/metapilot/pause",
    tag,
    files: [{ target: "/pause", source: binary, mode: 0o755 }],
    entrypoint: ["/pause"],
    user: "65535:65535",
  };
}

/** The applets the busybox test image links; enough for shell scripts that sleep, print and allocate memory. */
export const busyboxApplets = [
  "sh",
  "ash",
  "cat",
  "date",
  "dd",
  "echo",
  "env",
  "head",
  "hostname",
  "httpd",
  "ls",
  "mkdir",
  "nc",
  "ping",
  "ps",
  "rm",
  "seq",
  "sleep",
  "tail",
  "tr",
  "true",
  "false",
  "wc",
  "wget",
  "yes",
  "ip",
  "nslookup",
  "id",
];

/** A small image with Debian's busybox-static, for test pods. Its tag is the Debian package's version. */
export function busyboxRecipe(): ImageRecipe {
  const binary = "/bin/busybox";
  const version = /BusyBox v([0-9.]+)/.exec(execFileSync(binary, ["--help"], { encoding: "utf8" }))?.[1] ?? "unknown";
  return {
    name: "localhost/metapilot/busybox",
    tag: version,
    files: [
      { target: "/bin/busybox", source: binary, mode: 0o755 },
      ...busyboxApplets.map((a) => ({ target: `/bin/${a}`, symlink: "busybox" })),
    ],
    cmd: ["sh"],
    env: { PATH: "/bin" },
  };
}

/** The control-plane components whose images are built from the static binaries in .cache/bin. */
export const controlPlaneComponents = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"] as const;
export type ControlPlaneImageComponent = (typeof controlPlaneComponents)[number];

/** The registry the operator asks for unless told otherwise. */
export const upstreamRegistry = DEFAULT_IMAGE_REGISTRY;

/** distroless/static's PATH, which the upstream images inherit. */
const distrolessPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** distroless/static's users: root, nobody and nonroot (65532), so a uid in a pod's securityContext has a name. */
export const distrolessPasswd = [
  "root:x:0:0:root:/root:/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
  "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
  "",
].join("\n");
export const distrolessGroup = ["root:x:0:", "nobody:x:65534:", "nonroot:x:65532:", ""].join("\n");

/**
 * The tag of a control-plane image as upstream publishes it and the operator asks for it: Kubernetes components
 * are tagged with the release (v1.35.4), etcd with its version without the v and a `-0` image revision (3.6.16-0).
 */
export function controlPlaneImageTag(component: ControlPlaneImageComponent, binaryVersion: string): string {
  const bare = binaryVersion.replace(/^v/, "");
  return component === "etcd" ? `${bare}-0` : `v${bare}`;
}

/** The version a static binary reports: `Kubernetes v1.35.4`, or etcd's `etcd Version: 3.6.16`. */
export function binaryVersionOf(component: ControlPlaneImageComponent, versionOutput: string): string {
  const m =
    component === "etcd"
      ? /etcd Version:\s*v?([0-9]+\.[0-9]+\.[0-9]+\S*)/.exec(versionOutput)
      : /Kubernetes v([0-9]+\.[0-9]+\.[0-9]+\S*)/.exec(versionOutput);
  if (!m?.[1]) throw new Error(`cannot read the version of ${component} from ${JSON.stringify(versionOutput)}`);
  return m[1];
}

/**
 * A control-plane image as registry.k8s.io publishes it: the static binary in /usr/local/bin on distroless/static's
 * users and PATH. Upstream's user is root (kubeadm sets the non-root user in the pod, as metapilot does), and so it
 * is here. Upstream's entrypoint is go-runner from its base image; pods give the command, so the binary itself is
 * the entrypoint here. `binaryVersion` is what the binary reports, so the tag never names another version.
 */
export function controlPlaneRecipe(
  component: ControlPlaneImageComponent,
  binary: string,
  binaryVersion: string,
  registry: string = upstreamRegistry,
): ImageRecipe {
  const target = `/usr/local/bin/${component}`;
  return {
    name: `${registry}/${component}`,
    tag: controlPlaneImageTag(component, binaryVersion),
    files: [
      { target, source: binary, mode: 0o755 },
      { target: "/etc/passwd", content: distrolessPasswd },
      { target: "/etc/group", content: distrolessGroup },
    ],
    entrypoint: [target],
    env: { PATH: distrolessPath },
  };
}

/**
 * `<binary> --version`, remembered per file (size, mtime, inode) in `<binDir>/.versions.json`: starting
 * kube-apiserver only to print its version takes seconds on a loaded machine, and every real-node test asks.
 */
export function versionOutput(binary: string): string {
  const st = statSync(binary);
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const cacheFile = path.join(path.dirname(binary), ".versions.json");
  let cache: Record<string, { key: string; output: string }> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as typeof cache;
  } catch {
    // absent or half-written by another process: asked again below
  }
  const hit = cache[path.basename(binary)];
  if (hit?.key === key) return hit.output;
  const output = execFileSync(binary, ["--version"], { encoding: "utf8" });
  cache[path.basename(binary)] = { key, output };
  writeFileSync(`${cacheFile}.${process.pid}`, JSON.stringify(cache));
  renameSync(`${cacheFile}.${process.pid}`, cacheFile);
  return output;
}

/** The recipes of the four control-plane images, from the binaries in `binDir` and the versions they report. */
export function controlPlaneRecipes(binDir: string, registry: string = upstreamRegistry): ImageRecipe[] {
  return controlPlaneComponents.map((component) => {
    const binary = path.join(binDir, component);
    return controlPlaneRecipe(component, binary, binaryVersionOf(component, versionOutput(binary)), registry);
  });
}

/** Imports an archive into a containerd (its `k8s.io` namespace, where the CRI plugin looks) under `ref`. */
export async function importImage(containerdSocket: string, image: BuiltImage): Promise<void> {
  const { stdout } = await run("ctr", ["--address", containerdSocket, "-n", "k8s.io", "images", "ls", "-q"]);
  const digestFile = `${image.archive}.digest`;
  const label = existsSync(digestFile) ? readFileSync(digestFile, "utf8") : "";
  const present = stdout.split("\n").includes(image.ref);
  if (present && label) {
    const { stdout: labels } = await run("ctr", ["--address", containerdSocket, "-n", "k8s.io", "images", "ls"]);
    if (labels.split("\n").some((l) => l.startsWith(`${image.ref} `) && l.includes(`metapilot.io/recipe=${label}`)))
      return;
  }
  const name = image.ref.slice(0, image.ref.lastIndexOf(":"));
  await run("ctr", [
    "--address",
    containerdSocket,
    "-n",
    "k8s.io",
    "images",
    "import",
    "--base-name",
    name,
    image.archive,
  ]);
  if (label)
    await run("ctr", [
      "--address",
      containerdSocket,
      "-n",
      "k8s.io",
      "images",
      "label",
      image.ref,
      `metapilot.io/recipe=${label}`,
    ]);
}
