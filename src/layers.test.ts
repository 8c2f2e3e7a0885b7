// The layers of src/, lowest first. A module may import its own layer and any lower one, never a higher one, so
// the contract (src/api) and the runtime (src/kube) can be read, tested and reused without the controllers, and
// the controllers without the servers and the CLI. Tests next to the code obey the same rule: a test that needs a
// higher layer lives in that layer.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const srcDir = path.dirname(fileURLToPath(import.meta.url));

/** Layer of each top-level entry of src/. A file or directory missing here fails the test below. */
export const layers: Readonly<Record<string, number>> = {
  "version.ts": 0,
  api: 1,
  kube: 2,
  pki: 2,
  prometheus: 3,
  "controllers.ts": 4, // the registry's ControllerConfig: what every controller is configured with
  operator: 5,
  scaler: 5,
  recommender: 5,
  nodes: 5,
  "register.ts": 6,
  server: 6,
  backtest: 6, // replays the scaler's engine offline; its HTML report is built from the dashboard's pieces
  cli: 7,
};

function layerOf(relative: string): number | undefined {
  // An import names the compiled file (controllers.js); the table names the source (controllers.ts).
  return layers[(relative.split(path.sep)[0] ?? "").replace(/\.js$/, ".ts")];
}

/** The relative imports of a TypeScript source: static, type-only, re-exports and dynamic import(). */
export function relativeImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) {
    found.push(m[1] as string);
  }
  return found;
}

/**
 * Every import in src/ that points from a lower layer to a higher one, as "from -> to", and every import of a file
 * outside src/ (tests too: the image's build, like the Dockerfile's, compiles a copy of src/ alone).
 */
export function reversedImports(root: string): string[] {
  // This file is left out: its own examples below are import lines in strings.
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter(
    (f) => f.endsWith(".ts") && f !== "layers.test.ts",
  );
  const reversed: string[] = [];
  for (const file of files) {
    const fromLayer = layerOf(file);
    if (fromLayer === undefined) throw new Error(`src/${file}: its top-level entry has no layer in src/layers.test.ts`);
    for (const specifier of relativeImports(readFileSync(path.join(root, file), "utf8"))) {
      const target = path.relative(root, path.resolve(root, path.dirname(file), specifier));
      if (target.startsWith("..")) {
        reversed.push(`src/${file} -> ${specifier} (outside src/)`);
        continue;
      }
      const toLayer = layerOf(target);
      if (toLayer === undefined) throw new Error(`src/${file} imports ${specifier}, which has no layer`);
      if (toLayer > fromLayer) reversed.push(`src/${file} -> src/${target}`);
    }
  }
  return reversed.sort();
}

/** Import cycles among the modules of src/ (tests left out), each as "a.ts -> b.ts -> a.ts". */
export function importCycles(root: string): string[] {
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
  );
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = relativeImports(readFileSync(path.join(root, file), "utf8")).map((specifier) =>
      path.relative(root, path.resolve(root, path.dirname(file), specifier)).replace(/\.js$/, ".ts"),
    );
    graph.set(
      file,
      targets.filter((t) => files.includes(t)),
    );
  }
  const cycles: string[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (file: string, stack: string[]): void => {
    visiting.add(file);
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (visiting.has(next)) cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!done.has(next)) visit(next, stack);
    }
    stack.pop();
    visiting.delete(file);
    done.add(file);
  };
  for (const file of graph.keys()) if (!done.has(file)) visit(file, []);
  return cycles;
}

describe("layers", () => {
  it("finds static, type-only, side-effect and dynamic imports", () => {
    const source = [
      'import { a } from "../api/index.js";',
      'import type { B } from "./b.js";',
      'import "./register.js";',
      'export * from "./c.js";',
      'const d = await import("../cli/main.js");',
      'import { e } from "node:fs";',
    ].join("\n");
    expect(relativeImports(source)).toEqual(["../api/index.js", "./b.js", "./register.js", "./c.js", "../cli/main.js"]);
  });

  it("reports an import into a higher layer or out of src/, and a file outside every layer", () => {
    const root = mkdtempSync(path.join(tmpdir(), "layers-"));
    try {
      mkdirSync(path.join(root, "api"));
      mkdirSync(path.join(root, "cli"));
      writeFileSync(
        path.join(root, "api/a.ts"),
        'import { run } from "../cli/main.js";\nimport { b } from "./b.js";\n',
      );
      writeFileSync(path.join(root, "api/b.ts"), "export const b = 1;\n");
      writeFileSync(path.join(root, "cli/main.ts"), 'import { b } from "../api/b.js";\n');
      expect(reversedImports(root)).toEqual([`src/${path.join("api", "a.ts")} -> src/${path.join("cli", "main.js")}`]);
      writeFileSync(path.join(root, "cli/main.test.ts"), 'import { fleet } from "../../bench/fleet.js";\n');
      expect(reversedImports(root)).toEqual([
        `src/${path.join("api", "a.ts")} -> src/${path.join("cli", "main.js")}`,
        `src/${path.join("cli", "main.test.ts")} -> ../../bench/fleet.js (outside src/)`,
      ]);
      writeFileSync(path.join(root, "stray.ts"), "export {};\n");
      expect(() => reversedImports(root)).toThrow(/stray\.ts: its top-level entry has no layer/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("reports an import cycle within a layer", () => {
    const root = mkdtempSync(path.join(tmpdir(), "layers-"));
    try {
      mkdirSync(path.join(root, "server"));
      writeFileSync(path.join(root, "server/a.ts"), 'import type { B } from "./b.js";\n');
      writeFileSync(path.join(root, "server/b.ts"), 'import { a } from "./a.js";\n');
      writeFileSync(path.join(root, "server/c.ts"), 'import { a } from "./a.js";\n');
      const a = path.join("server", "a.ts");
      const b = path.join("server", "b.ts");
      expect(importCycles(root)).toEqual([`${a} -> ${b} -> ${a}`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("has no import cycle among the modules of src/", () => {
    expect(importCycles(srcDir)).toEqual([]);
  });

  it("has no import from a lower layer into a higher one", () => {
    expect(reversedImports(srcDir)).toEqual([]);
  });
});
