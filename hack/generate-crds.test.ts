import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { renderAllCrds } from "../src/api/index.js";
import { CRD_DIRS, checkGenerated, diffSummary, writeGenerated } from "./generate-crds.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("generate-crds", () => {
  const dirs: string[] = [];
  const tempRoot = () => {
    const d = mkdtempSync(path.join(tmpdir(), "crds-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("writes one file per kind into crds/ and the chart, identical copies", () => {
    const root = tempRoot();
    const files = renderAllCrds();
    writeGenerated(root, files);
    const [a, b] = CRD_DIRS.map((d) => readdirSync(path.join(root, d)).sort());
    expect(a).toEqual([
      "clusterscalers.metapilot.io.yaml",
      "nodedrains.metapilot.io.yaml",
      "nodepools.metapilot.io.yaml",
      "scalingdecisions.metapilot.io.yaml",
      "tenantcontrolplanes.metapilot.io.yaml",
      "workloadprofiles.metapilot.io.yaml",
    ]);
    expect(b).toEqual(a);
    for (const name of a ?? []) {
      expect(readFileSync(path.join(root, "crds", name), "utf8")).toBe(
        readFileSync(path.join(root, "charts/metapilot/crds", name), "utf8"),
      );
    }
    expect(checkGenerated(root, files)).toEqual([]);
    expect(writeGenerated(root, files)).toEqual([]);
  });

  it("--check reports stale, missing and leftover files", () => {
    const root = tempRoot();
    const files = renderAllCrds();
    writeGenerated(root, files);
    const stale = path.join(root, "crds/nodepools.metapilot.io.yaml");
    writeFileSync(stale, readFileSync(stale, "utf8").replace("minNodes", "minimumNodes"));
    rmSync(path.join(root, "charts/metapilot/crds/nodedrains.metapilot.io.yaml"));
    writeFileSync(path.join(root, "crds/old.metapilot.io.yaml"), "kind: CustomResourceDefinition\n");
    const drift = checkGenerated(root, files);
    expect(drift.map((d) => [d.file, d.problem.split(":")[0]])).toEqual([
      ["crds/nodepools.metapilot.io.yaml", "stale"],
      ["crds/old.metapilot.io.yaml", "no longer generated (delete it)"],
      ["charts/metapilot/crds/nodedrains.metapilot.io.yaml", "missing"],
    ]);
    expect(drift[0]?.problem).toMatch(/line\(s\) differ, first at line \d+:\n\s+expected: .*minNodes/);
    writeGenerated(root, files);
    expect(checkGenerated(root, files)).toEqual([]);
  });

  it("summarizes differences", () => {
    expect(diffSummary("a\nb\nc", "a\nb\nc")).toBe("identical");
    expect(diffSummary("a\nb\nc", "a\nx\nc")).toBe(
      "1 line(s) differ, first at line 2:\n      expected: b\n      found:    x",
    );
    expect(diffSummary("a\nb", "a")).toMatch(/found: {4}<end of file>/);
  });

  it("the committed CRDs are up to date (npm run generate)", () => {
    expect(checkGenerated(repoRoot, renderAllCrds())).toEqual([]);
  });
});
