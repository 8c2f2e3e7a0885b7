// The README's example objects cannot drift from examples/*.yaml, and there is one for every kind in crds/.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findKind, parseObject, type KindName } from "../src/api/index.js";
import { exampleFiles, readmeExamples, repoRoot, yamlBlocks } from "./readme-examples.js";

const crdKinds = readdirSync(path.join(repoRoot, "crds"))
  .filter((name) => name.endsWith(".yaml"))
  .map(
    (name) =>
      (parse(readFileSync(path.join(repoRoot, "crds", name), "utf8")) as { spec: { names: { kind: string } } }).spec
        .names.kind,
  )
  .sort();

const kindOf = (text: string) => (parse(text) as { kind?: string }).kind;

describe("README examples", () => {
  const files = exampleFiles();
  const inReadme = readmeExamples();

  it("has one example file for every kind in crds/", () => {
    expect(crdKinds.length).toBeGreaterThanOrEqual(6);
    expect(files.map((example) => kindOf(example.text)).sort()).toEqual(crdKinds);
  });

  it("shows every example file in README.md exactly once, byte for byte", () => {
    for (const example of files) {
      const shown = inReadme.filter((block) => block.file === example.file);
      expect(shown.length, `${example.file} in README.md`).toBe(1);
      expect(shown[0]?.text, `README.md:${shown[0]?.line} against ${example.file}`).toBe(example.text);
    }
    expect(inReadme.map((block) => block.file).sort()).toEqual(files.map((example) => example.file));
  });

  it("has no metapilot.io object in README.md outside the checked examples", () => {
    const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const unchecked = yamlBlocks(readme).filter(
      (block) => block.file === undefined && block.text.includes("apiVersion: metapilot.io/"),
    );
    expect(unchecked.map((block) => `README.md:${block.line}`)).toEqual([]);
  });

  it("parses every example with the kind's schema, with no unknown field", () => {
    for (const example of files) {
      const object = parse(example.text) as unknown;
      const info = findKind(kindOf(example.text) ?? "");
      expect(info, example.file).toBeDefined();
      const result = parseObject(info?.kind as KindName, object, { strict: true });
      expect(result.ok ? [] : result.errors, example.file).toEqual([]);
    }
  });

  it("finds the linked block and only that one", () => {
    const markdown = [
      "Some text.",
      "",
      "```yaml",
      "kind: NotAnExample",
      "```",
      "",
      "The ClusterScaler ([examples/clusterscaler.yaml](examples/clusterscaler.yaml)):",
      "",
      "```yaml",
      "kind: ClusterScaler",
      "```",
    ].join("\n");
    expect(yamlBlocks(markdown)).toEqual([
      { file: undefined, text: "kind: NotAnExample\n", line: 3 },
      { file: "examples/clusterscaler.yaml", text: "kind: ClusterScaler\n", line: 9 },
    ]);
  });
});
