// The README's example object of each metapilot.io kind. Each is kept in a file, examples/<kind>.yaml, and shown in
// README.md as a yaml block whose preceding line links that file. The unit test beside this file keeps the two
// equal; test/api/examples.test.ts applies every README block to a real apiserver (dry-run) and fails on a refusal.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface Example {
  /** The file's path from the repository root, e.g. examples/clusterscaler.yaml. */
  file: string;
  /** The YAML text, ending in a newline. */
  text: string;
}

/** The example files, examples/*.yaml, in name order. */
export function exampleFiles(root = repoRoot): Example[] {
  return readdirSync(path.join(root, "examples"))
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => ({
      file: `examples/${name}`,
      text: readFileSync(path.join(root, "examples", name), "utf8"),
    }));
}

export interface YamlBlock {
  /** The examples/*.yaml file the line before the block links, if it links one. */
  file: string | undefined;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}

const linkedExample = /\]\((examples\/[a-z0-9-]+\.yaml)\)/;

/** Every ```yaml block of a Markdown text, with the example file the last non-empty line before it links. */
export function yamlBlocks(markdown: string): YamlBlock[] {
  const lines = markdown.split("\n");
  const blocks: YamlBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    if (lines[index]?.trim() !== "```yaml") continue;
    let before = index - 1;
    while (before >= 0 && lines[before]?.trim() === "") before--;
    const file = before >= 0 ? linkedExample.exec(lines[before] ?? "")?.[1] : undefined;
    const end = lines.findIndex((text, at) => at > index && text.trim() === "```");
    if (end < 0) throw new Error(`README.md:${index + 1}: the yaml block is not closed`);
    blocks.push({ file, text: lines.slice(index + 1, end).join("\n") + "\n", line: index + 1 });
    index = end;
  }
  return blocks;
}

/** The README's example blocks: the yaml blocks right after a link to an examples/*.yaml file. */
export function readmeExamples(root = repoRoot): Array<Example & { line: number }> {
  return yamlBlocks(readFileSync(path.join(root, "README.md"), "utf8")).flatMap((block) =>
    block.file === undefined ? [] : [{ file: block.file, text: block.text, line: block.line }],
  );
}
