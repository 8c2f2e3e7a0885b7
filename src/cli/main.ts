#!/usr/bin/env node
import { Command } from "commander";
import { version } from "../version.js";

/**
 * The subcommands, in the order the help lists them, each loaded on demand: a run loads only the one it names (the
 * controllers and their dependencies take seconds to load, which a backtest or a report does not need); the root's
 * help, --version and an unknown command load them all.
 */
const subcommands: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ["controller", async () => (await import("./controller.js")).controllerCommand()],
  ["recommend", async () => (await import("./recommend.js")).recommendCommand()],
  ["report", async () => (await import("./report.js")).reportCommand()],
  ["backtest", async () => (await import("./backtest.js")).backtestCommand()],
];

async function main(argv: string[]): Promise<void> {
  const program = new Command("metapilot")
    .description("Autopilot for the control planes of Kubernetes-in-Kubernetes platforms")
    .version(version, "--version", "print the version");
  const named = subcommands.find(([name]) => name === argv[2]);
  const load = argv[2] === "version" ? [] : named ? [named] : subcommands;
  for (const [, command] of load) program.addCommand(await command());
  program
    .command("version")
    .description("print the version")
    .action(() => console.log(version));
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`metapilot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
