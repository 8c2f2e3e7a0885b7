// Runs the benchmarks: `npx tsx bench/run.ts [--quick] [--cold-build] [name ...]` (all of them when no name is
// given). Each writes bench/results/<name>.json (or <name>.quick.json with --quick, which is not committed).
import os from "node:os";
import { machineInfo, round, writeResults, type Benchmark, type BenchOptions } from "./lib.js";
import { backtestBenchmark } from "./backtest.js";
import { fleetBenchmark } from "./fleet.js";
import { metaclusterBenchmark } from "./metacluster.js";
import { nodesBenchmark } from "./nodes.js";
import { recommenderBenchmark } from "./recommender.js";
import { reliabilityBenchmark } from "./reliability.js";
import { runtimeBenchmark } from "./runtime.js";

const benchmarks: Benchmark[] = [
  metaclusterBenchmark,
  runtimeBenchmark,
  fleetBenchmark,
  recommenderBenchmark,
  nodesBenchmark,
  reliabilityBenchmark,
  backtestBenchmark,
];

function usage(): string {
  const names = benchmarks.map((b) => `  ${b.name.padEnd(12)} ${b.description}`).join("\n");
  return `usage: tsx bench/run.ts [--quick] [--cold-build] [name ...]\n\nbenchmarks:\n${names}\n`;
}

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const names = argv.filter((a) => !a.startsWith("--"));
  if (flags.has("--help")) {
    process.stdout.write(usage());
    return 0;
  }
  const unknownFlags = [...flags].filter((f) => !["--quick", "--cold-build"].includes(f));
  const unknownNames = names.filter((n) => !benchmarks.some((b) => b.name === n));
  if (unknownFlags.length || unknownNames.length) {
    process.stderr.write(`unknown: ${[...unknownFlags, ...unknownNames].join(" ")}\n${usage()}`);
    return 2;
  }
  const selected = names.length ? benchmarks.filter((b) => names.includes(b.name)) : benchmarks;
  let failed = 0;
  for (const bench of selected) {
    const log = (line: string) =>
      process.stderr.write(`[${new Date().toISOString().slice(11, 19)} ${bench.name}] ${line}\n`);
    const opts: BenchOptions = { quick: flags.has("--quick"), coldBuild: flags.has("--cold-build"), log };
    const machineAtStart = machineInfo();
    const started = performance.now();
    try {
      const figures = await bench.run(opts);
      const write = bench.write ?? ((quick, body) => writeResults(bench.name, quick, body));
      const file = write(opts.quick, {
        benchmark: bench.name,
        description: bench.description,
        quick: opts.quick,
        machine: machineAtStart,
        loadAverage1mAtEnd: round(os.loadavg()[0] ?? 0, 2),
        durationSeconds: Math.round((performance.now() - started) / 1000),
        ...figures,
      });
      log(`wrote ${file}`);
    } catch (err) {
      failed++;
      log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
