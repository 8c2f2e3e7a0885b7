import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  chartImage,
  lddLibraries,
  metapilotRecipe,
  nodeImageMajor,
  parseDockerfileRuntime,
  type MetapilotStaging,
} from "./metapilot-image.js";
import { pinnedNodeVersion } from "./node-runtime.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const dockerfile = readFileSync(path.join(repoRoot, "Dockerfile"), "utf8");

const staging: MetapilotStaging = {
  node: "/repo/.cache/node/bin/node",
  nodeVersion: "v24.22.3",
  libraries: ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"],
  deps: "/stage/deps",
  build: "/stage/build",
};

describe("parseDockerfileRuntime", () => {
  it("reads the last stage only, with ARG defaults, continuation lines, and COPY destinations against WORKDIR", () => {
    const runtime = parseDockerfileRuntime(
      [
        "ARG BASE=node:22-slim",
        "FROM ${BASE} AS build",
        "WORKDIR /build",
        'USER 1000\nENTRYPOINT ["make"]',
        "RUN make \\",
        "  && echo done",
        "FROM $BASE",
        "# a comment",
        "RUN rm -rf /usr/local/lib/node_modules \\",
        "  /usr/local/bin/npm",
        "ENV A=1 B=two",
        "WORKDIR /srv",
        "WORKDIR app",
        "COPY --chown=0:0 package.json ./",
        "COPY --from=build /build/out /opt/out/",
        "USER 65532:65532",
        'ENTRYPOINT ["node", "main.js"]',
        'CMD ["serve"]',
      ].join("\n"),
    );
    expect(runtime).toEqual({
      from: "node:22-slim",
      env: { A: "1", B: "two" },
      workdir: "/srv/app",
      user: "65532:65532",
      entrypoint: ["node", "main.js"],
      cmd: ["serve"],
      copies: ["/srv/app", "/opt/out"],
      runs: ["rm -rf /usr/local/lib/node_modules    /usr/local/bin/npm"],
    });
  });

  it("refuses a shell-form ENTRYPOINT, which the recipe could not reproduce", () => {
    expect(() => parseDockerfileRuntime("FROM node:20\nENTRYPOINT node main.js")).toThrow(/exec form/);
  });

  it("tells the Node.js major of a node image", () => {
    expect(nodeImageMajor("node:20-bookworm-slim")).toBe(20);
    expect(nodeImageMajor("docker.io/library/node:24")).toBe(24);
    expect(nodeImageMajor(`node:24.21.0-bookworm-slim@sha256:${"0".repeat(64)}`)).toBe(24);
    expect(() => nodeImageMajor("debian:bookworm")).toThrow(/Node.js major/);
  });
});

describe("the metapilot image recipe", () => {
  const runtime = parseDockerfileRuntime(dockerfile);
  const recipe = metapilotRecipe(repoRoot, staging);

  it("has the Dockerfile's entrypoint, cmd, user, workdir and environment, so the two cannot drift", () => {
    expect(runtime.user).toBe("65532:65532");
    expect(runtime.entrypoint).toEqual(["node", "dist/src/cli/main.js"]);
    expect(recipe.entrypoint).toEqual(runtime.entrypoint);
    expect(recipe.cmd).toEqual(runtime.cmd);
    expect(recipe.user).toBe(runtime.user);
    expect(recipe.workdir).toBe(runtime.workdir);
    expect(recipe.env).toMatchObject(runtime.env);
    // `node` in the entrypoint is found on the node image's PATH.
    expect(recipe.env?.PATH?.split(":")).toContain("/usr/local/bin");
    expect(recipe.files.find((f) => f.target === "/usr/local/bin/node")?.source).toBe("/repo/.cache/node/bin/node");
  });

  it("puts something at every path the Dockerfile's runtime stage copies to", () => {
    expect(runtime.copies).toEqual(["/app", "/app/node_modules", "/app/dist/src", "/app/src/server/dashboard/ui"]);
    const targets = recipe.files.map((f) => f.target);
    for (const dest of runtime.copies.filter((c) => c !== runtime.workdir)) expect(targets, dest).toContain(dest);
    // `COPY package.json ./`: the file lands in the WORKDIR.
    expect(targets).toContain("/app/package.json");
    expect(recipe.files.find((f) => f.target === "/app/node_modules")?.tree).toBe("/stage/deps/node_modules");
    expect(recipe.files.find((f) => f.target === "/app/dist/src")?.tree).toBe("/stage/build/dist/src");
  });

  it("runs the Node.js major of the Dockerfile's base image, the one hack/versions.env pins", () => {
    expect(nodeImageMajor(runtime.from)).toBe(Number(pinnedNodeVersion(repoRoot).split(".")[0]));
    expect(recipe.env?.NODE_VERSION).toBe("24.22.3");
  });

  it("has a base image pinned by digest", () => {
    expect(runtime.from).toMatch(/^node:[^@\s]+@sha256:[0-9a-f]{64}$/);
  });

  it("has no npm, npx, corepack or yarn, in the Dockerfile's runtime stage as in the recipe", () => {
    const removed = runtime.runs.flatMap((run) => (/^rm -rf (.*?)(?:&&|$)/.exec(run)?.[1] ?? "").split(/\s+/));
    for (const tool of ["/usr/local/lib/node_modules", "/usr/local/bin/npm", "/usr/local/bin/npx"])
      expect(removed, tool).toContain(tool);
    expect(removed).toEqual(expect.arrayContaining(["/usr/local/bin/corepack", "/usr/local/bin/yarn"]));
    const targets = recipe.files.map((f) => f.target);
    expect(targets.filter((t) => t.startsWith("/usr/local/") && t !== "/usr/local/bin/node")).toEqual([]);
  });

  it("is named as the chart's default image: values.yaml image.repository, tagged with the appVersion", () => {
    const chartDir = path.join(repoRoot, "charts/metapilot");
    const values = parse(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) as {
      image: { repository: string; tag: string };
    };
    const chart = parse(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")) as { appVersion: string };
    expect(chartImage(repoRoot)).toEqual({
      repository: values.image.repository,
      tag: values.image.tag || chart.appVersion,
    });
    expect(`${recipe.name}:${recipe.tag}`).toBe(`${values.image.repository}:${values.image.tag || chart.appVersion}`);
  });
});

describe("lddLibraries", () => {
  it("lists every library and the ELF interpreter, not the vDSO", () => {
    const out = [
      "\tlinux-vdso.so.1 (0x00007f16e617e000)",
      "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f16e6167000)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f16e5e00000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f16e5c1e000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f16e6180000)",
    ].join("\n");
    expect(lddLibraries(out)).toEqual([
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });
});
