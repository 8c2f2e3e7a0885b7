import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { recipeDigest, refOf, umociConfigArgs, type ImageRecipe } from "./images.js";

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
});
