import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { etcdVersionFor } from "../../src/operator/manifests.js";
import {
  binaryVersionOf,
  controlPlaneImageTag,
  controlPlaneRecipe,
  distrolessPasswd,
  recipeDigest,
  recipeStatKey,
  refOf,
  treeEntries,
  versionOutput,
  umociConfigArgs,
  type ImageRecipe,
} from "./images.js";

const recipe: ImageRecipe = {
  name: "localhost/metapilot/pause",
  tag: "3.10.1",
  files: [],
  entrypoint: ["/pause"],
  user: "65535:65535",
};

describe("image recipes", () => {
  it("are referenced as name:tag, as ctr imports them with --base-name", () => {
    expect(refOf(recipe)).toBe("localhost/metapilot/pause:3.10.1");
  });

  it("become umoci config flags that replace entrypoint and cmd rather than add to them", () => {
    expect(
      umociConfigArgs({
        ...recipe,
        cmd: ["-v", "x"],
        env: { PATH: "/bin", HOME: "/" },
        workdir: "/app",
      }),
    ).toEqual([
      "--clear=config.entrypoint",
      "--config.entrypoint=/pause",
      "--clear=config.cmd",
      "--config.cmd=-v",
      "--config.cmd=x",
      "--config.user=65535:65535",
      "--config.env=PATH=/bin",
      "--config.env=HOME=/",
      "--config.workingdir=/app",
    ]);
    expect(umociConfigArgs({ name: "n", tag: "t", files: [] })).toEqual([]);
  });

  it("are fingerprinted by their fields and the bytes of their files, so a changed binary rebuilds the image", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "images-test-"));
    const file = path.join(dir, "pause");
    writeFileSync(file, "one");
    const withFile: ImageRecipe = { ...recipe, files: [{ target: "/pause", source: file }] };
    const first = recipeDigest(withFile);
    expect(recipeDigest(withFile)).toBe(first);
    writeFileSync(file, "two");
    expect(recipeDigest(withFile)).not.toBe(first);
    expect(recipeDigest({ ...withFile, user: "0:0" })).not.toBe(recipeDigest(withFile));
  });

  it("fingerprint a copied tree by every file's path, mode and bytes and every symlink's target", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "images-test-"));
    mkdirSync(path.join(dir, "lib/deep"), { recursive: true });
    writeFileSync(path.join(dir, "lib/deep/a.js"), "one");
    symlinkSync("deep/a.js", path.join(dir, "lib/link"));
    expect(treeEntries(dir)).toEqual(["lib/deep/a.js", "lib/link"]);
    const tree: ImageRecipe = { ...recipe, files: [{ target: "/app/lib", tree: path.join(dir, "lib") }] };
    const digests = [recipeDigest(tree)];
    const statKeys = [recipeStatKey(tree)];
    const changes = [
      () => writeFileSync(path.join(dir, "lib/deep/a.js"), "two"),
      () => chmodSync(path.join(dir, "lib/deep/a.js"), 0o755),
      () => {
        unlinkSync(path.join(dir, "lib/link"));
        symlinkSync("deep/b.js", path.join(dir, "lib/link"));
      },
      () => writeFileSync(path.join(dir, "lib/new.js"), ""),
    ];
    for (const change of changes) {
      change();
      digests.push(recipeDigest(tree));
      statKeys.push(recipeStatKey(tree));
    }
    expect(new Set(digests).size).toBe(digests.length);
    expect(new Set(statKeys).size).toBe(statKeys.length);
  });
});

describe("control-plane image recipes", () => {
  it("read the version each static binary reports", () => {
    expect(binaryVersionOf("kube-apiserver", "Kubernetes v1.35.4\n")).toBe("1.35.4");
    expect(binaryVersionOf("kube-scheduler", "Kubernetes v1.36.0-rc.1\n")).toBe("1.36.0-rc.1");
    expect(
      binaryVersionOf(
        "etcd",
        "etcd Version: 3.6.16\nGit SHA: Not provided\nGo Version: go1.26.8\nGo OS/Arch: linux/amd64\n",
      ),
    ).toBe("3.6.16");
    expect(() => binaryVersionOf("etcd", "Kubernetes v1.35.4")).toThrow(/cannot read the version of etcd/);
    expect(() => binaryVersionOf("kube-apiserver", "etcd Version: 3.6.16")).toThrow(/kube-apiserver/);
  });

  it.each([
    ["kube-apiserver", "1.35.4", "v1.35.4"],
    ["kube-controller-manager", "v1.35.4", "v1.35.4"],
    ["kube-scheduler", "1.35.4", "v1.35.4"],
    ["etcd", "3.6.16", "3.6.16-0"],
    ["etcd", "v3.6.16", "3.6.16-0"],
  ] as const)("tag %s %s as upstream does: %s", (component, version, tag) => {
    expect(controlPlaneImageTag(component, version)).toBe(tag);
  });

  it("are named as the operator asks for them: <registry>/<component>:<version>, etcd <etcd version>-0", () => {
    const apiserver = controlPlaneRecipe("kube-apiserver", "/bin/kube-apiserver", "1.35.4");
    expect(refOf(apiserver)).toBe("registry.k8s.io/kube-apiserver:v1.35.4");
    // The operator's etcd image for a TCP that pins spec.etcd.managed.version to the built etcd.
    const pinned = { spec: { etcd: { managed: { version: "3.6.16" } } } } as Parameters<typeof etcdVersionFor>[0];
    const etcd = controlPlaneRecipe("etcd", "/bin/etcd", "3.6.16", "mirror.local:5000/k8s");
    expect(refOf(etcd)).toBe(`mirror.local:5000/k8s/etcd:${etcdVersionFor(pinned, "v1.35.4")}-0`);
  });

  it("put the binary on PATH in /usr/local/bin, with distroless's users, and keep upstream's root user", () => {
    const r = controlPlaneRecipe("kube-controller-manager", "/x/kube-controller-manager", "1.35.4");
    expect(r.files).toContainEqual({
      target: "/usr/local/bin/kube-controller-manager",
      source: "/x/kube-controller-manager",
      mode: 0o755,
    });
    expect(r.env?.PATH?.split(":")).toContain("/usr/local/bin");
    expect(r.entrypoint).toEqual(["/usr/local/bin/kube-controller-manager"]);
    // Upstream's images run as root; the operator's pods set runAsUser 65532, which has a name in /etc/passwd.
    expect(r.user).toBeUndefined();
    expect(distrolessPasswd).toMatch(/^nonroot:x:65532:65532:/m);
    expect(r.files.find((f) => f.target === "/etc/passwd")?.content).toBe(distrolessPasswd);
  });

  it("are rebuilt when the text of a generated file changes", () => {
    const r = controlPlaneRecipe("etcd", "/dev/null", "3.6.16");
    const changed: ImageRecipe = {
      ...r,
      files: r.files.map((f) => (f.target === "/etc/group" ? { ...f, content: "root:x:0:\n" } : f)),
    };
    expect(recipeDigest(changed)).not.toBe(recipeDigest(r));
  });
});

describe("image build caches", () => {
  it("key a recipe by its source files' size and mtime, so an unchanged binary is not hashed again", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "images-test-"));
    const file = path.join(dir, "etcd");
    writeFileSync(file, "one");
    const r = controlPlaneRecipe("etcd", file, "3.6.16");
    const first = recipeStatKey(r);
    expect(recipeStatKey(r)).toBe(first);
    utimesSync(file, new Date(1_000_000), new Date(2_000_000));
    expect(recipeStatKey(r)).not.toBe(first);
    const touched = recipeStatKey(r);
    writeFileSync(file, "three");
    expect(recipeStatKey(r)).not.toBe(touched);
    expect(recipeStatKey({ ...r, tag: "3.6.17-0" })).not.toBe(recipeStatKey(r));
  });

  it("run a binary's --version once per version of the file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "images-test-"));
    const binary = path.join(dir, "kube-apiserver");
    const calls = path.join(dir, "calls");
    const script = (version: string) => `#!/bin/sh\necho run >> ${calls}\necho "Kubernetes ${version}"\n`;
    writeFileSync(binary, script("v1.35.4"));
    chmodSync(binary, 0o755);
    expect(versionOutput(binary)).toBe("Kubernetes v1.35.4\n");
    expect(versionOutput(binary)).toBe("Kubernetes v1.35.4\n");
    expect(readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(1);
    writeFileSync(binary, script("v1.36.0"));
    utimesSync(binary, new Date(), new Date(Date.now() + 5000));
    expect(versionOutput(binary)).toBe("Kubernetes v1.36.0\n");
    expect(readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(2);
  });
});
