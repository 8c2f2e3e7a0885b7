#!/usr/bin/env node
import { Command } from "commander";
import { version } from "../version.js";
import { backtestCommand } from "./backtest.js";
import { controllerCommand } from "./controller.js";
import { recommendCommand } from "./recommend.js";
import { reportCommand } from "./report.js";
import "../register.js";

const program = new Command("metapilot")
  .description("Autopilot for the control planes of Kubernetes-in-Kubernetes platforms")
  .version(version, "--version", "print the version");

program.addCommand(controllerCommand());
program.addCommand(recommendCommand());
program.addCommand(reportCommand());
program.addCommand(backtestCommand());
program
  .command("version")
  .description("print the version")
  .action(() => console.log(version));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`metapilot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
