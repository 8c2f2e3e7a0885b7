// Writes the CRDs generated from src/api to crds/ and charts/metapilot/crds/ (identical copies).
//   npx tsx hack/generate-crds.ts           write the files
//   npx tsx hack/generate-crds.ts --check   exit 1 with a summary of the differences when a file is stale
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GROUP, renderAllCrds, structuralProblems, allKinds } from "../src/api/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CRD_DIRS = ["crds", "charts/metapilot/crds"];

/** Files in `dir` that a previous run generated (they end in .<group>.yaml). */
function generatedFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(`.${GROUP}.yaml`));
}

/** Where two texts first differ, and how many lines differ, for the --check summary. */
export function diffSummary(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  let first = -1;
  let changed = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      changed++;
      if (first < 0) first = i;
    }
  }
  if (first < 0) return "identical";
  const clip = (s: string | undefined) => (s === undefined ? "<end of file>" : s.trim().slice(0, 100));
  return (
    `${changed} line(s) differ, first at line ${first + 1}:\n` +
    `      expected: ${clip(a[first])}\n` +
    `      found:    ${clip(b[first])}`
  );
}

export interface Drift {
  file: string;
  problem: string;
}

/** Compares the generated CRDs with the files on disk. */
export function checkGenerated(root: string, files: Map<string, string>): Drift[] {
  const drift: Drift[] = [];
  for (const dir of CRD_DIRS) {
    const abs = path.join(root, dir);
    for (const [name, text] of files) {
      const file = path.join(dir, name);
      const target = path.join(abs, name);
      if (!existsSync(target)) drift.push({ file, problem: "missing" });
      else {
        const actual = readFileSync(target, "utf8");
        if (actual !== text) drift.push({ file, problem: `stale: ${diffSummary(text, actual)}` });
      }
    }
    for (const name of generatedFilesIn(abs)) {
      if (!files.has(name)) drift.push({ file: path.join(dir, name), problem: "no longer generated (delete it)" });
    }
  }
  return drift;
}

export function writeGenerated(root: string, files: Map<string, string>): string[] {
  const written: string[] = [];
  for (const dir of CRD_DIRS) {
    const abs = path.join(root, dir);
    mkdirSync(abs, { recursive: true });
    for (const name of generatedFilesIn(abs)) if (!files.has(name)) rmSync(path.join(abs, name));
    for (const [name, text] of files) {
      const target = path.join(abs, name);
      if (existsSync(target) && readFileSync(target, "utf8") === text) continue;
      writeFileSync(target, text);
      written.push(path.join(dir, name));
    }
  }
  return written;
}

function main(argv: string[]): number {
  const problems = allKinds.flatMap((k) => structuralProblems(k.openAPISchema).map((p) => `${k.kind}: ${p}`));
  if (problems.length) {
    console.error(`generate-crds: the schemas are not structural:\n  ${problems.join("\n  ")}`);
    return 1;
  }
  const files = renderAllCrds();
  if (argv.includes("--check")) {
    const drift = checkGenerated(repoRoot, files);
    if (drift.length === 0) {
      console.log(`generate-crds: ${files.size * CRD_DIRS.length} CRD files are up to date`);
      return 0;
    }
    console.error("generate-crds: generated CRDs are out of date (run `npm run generate`):");
    for (const d of drift) console.error(`  ${d.file}: ${d.problem}`);
    return 1;
  }
  const written = writeGenerated(repoRoot, files);
  console.log(
    written.length
      ? `generate-crds: wrote ${written.join(", ")}`
      : "generate-crds: every CRD file was already up to date",
  );
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
