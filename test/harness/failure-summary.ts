// A vitest reporter that ends the run with one compact line per failure (test or hook), after the default
// reporter's long output: where a log keeps only its tail (CI's), the first error of a failed run is still there.
import type { Reporter, TestCase, TestModule, TestSuite } from "vitest/node";

interface ErrorLike {
  name?: string;
  message?: string;
  stack?: string;
}

export function summarize(where: string, err: ErrorLike): string {
  const message = `${err.name ?? "Error"}: ${err.message ?? ""}`.replace(/\s+/g, " ").slice(0, 400);
  // The first frame in this repository's sources, not vitest's or node's.
  const frame = (err.stack ?? "")
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("at ") && !l.includes("node_modules") && !l.includes("node:"));
  const at = frame?.slice(3).replace(`${process.cwd()}/`, "").slice(0, 200);
  return `  ${where}: ${message}${at ? ` (${at})` : ""}`;
}

export default class FailureSummary implements Reporter {
  // The default reporter prints its summary in its own onTestRunEnd; this one is listed after it, so its lines come
  // last.
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<ErrorLike>): void {
    const lines: string[] = [];
    const visit = (node: TestModule | TestSuite, path: string) => {
      for (const err of node.errors()) lines.push(summarize(`${path} (hook or collection)`, err));
      for (const child of node.children) {
        if (child.type === "suite") visit(child, `${path} > ${child.name}`);
        else report(child, `${path} > ${child.name}`);
      }
    };
    const report = (test: TestCase, path: string) => {
      const r = test.result();
      if (r.state === "failed") for (const err of r.errors) lines.push(summarize(path, err));
    };
    for (const m of modules) visit(m, m.moduleId.replace(`${process.cwd()}/`, ""));
    for (const err of unhandled) lines.push(summarize("unhandled", err));
    if (lines.length === 0) return;
    const shown = lines.slice(0, 15).join("\n");
    process.stdout.write(`\n[failures] ${lines.length}, first ones first:\n${shown}\n`);
  }
}
