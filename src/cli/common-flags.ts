// The flags and environment variables every subcommand shares, defined once so that `controller`, `recommend` and
// `report` spell them alike: after `eval "$(hack/metacluster env)"` (KUBECONFIG, PROMETHEUS_URL) each of them finds
// the meta-cluster and its Prometheus without a flag. A name that shipped before (in the README or the chart) and
// was replaced stays as a deprecated alias that still works and says, once, what to use instead.
import { Option, type Command } from "commander";
import type { KubeConfig } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.js";
import type { PrometheusOptions } from "../prometheus/client.js";
import { waitForApiserver } from "./apiserver.js";
import { byteSize, duration } from "./args.js";
import { parseQuantity } from "../api/common.js";
import { parseDuration } from "../api/common.js";

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface PrometheusFlags {
  prometheusUrl?: string;
  prometheusBearerTokenFile?: string;
  prometheusCaFile?: string;
  prometheusInsecureSkipTlsVerify?: boolean;
  prometheusMaxResponseSize?: string;
}

/** --kubeconfig, --context and -n/--namespace (with `namespaceHelp` saying what the namespace limits). */
export function addKubeFlags(cmd: Command, namespaceHelp: string): Command {
  return cmd
    .option(
      "--kubeconfig <path>",
      "kubeconfig file (default: $KUBECONFIG, else the in-cluster service account, else ~/.kube/config)",
    )
    .option("--context <name>", "kubeconfig context to use (default: the kubeconfig's current context)")
    .addOption(new Option("-n, --namespace <namespace>", namespaceHelp).env("METAPILOT_NAMESPACE"));
}

/** Replaced names that still work, and what replaced them. */
export const deprecatedEnv: Readonly<Record<string, { replacement: string; option: string }>> = {
  // The chart (up to this version) set it for the recommender.
  METAPILOT_PROMETHEUS_URL: { replacement: "PROMETHEUS_URL", option: "prometheusUrl" },
};

/** --prometheus-url and how to reach it: the same names in every subcommand that reads Prometheus. */
export function addPrometheusFlags(cmd: Command, urlHelp: string): Command {
  return cmd
    .addOption(new Option("--prometheus-url <url>", urlHelp).env("PROMETHEUS_URL"))
    .addOption(
      new Option("--prometheus-bearer-token-file <path>", "bearer token for Prometheus").env(
        "PROMETHEUS_BEARER_TOKEN_FILE",
      ),
    )
    .addOption(
      new Option("--prometheus-ca-file <path>", "CA bundle for a Prometheus served over TLS").env("PROMETHEUS_CA_FILE"),
    )
    .option("--prometheus-insecure-skip-tls-verify", "do not verify Prometheus' certificate (tests only)")
    .addOption(
      new Option(
        "--prometheus-max-response-size <size>",
        "largest Prometheus answer read, as a quantity; a larger one is refused before it is parsed",
      )
        .env("PROMETHEUS_MAX_RESPONSE_SIZE")
        .default("32Mi")
        .argParser(byteSize),
    )
    .hook("preAction", (thisCommand) => applyDeprecatedEnv(thisCommand));
}

/**
 * Takes a deprecated environment variable's value for its option when neither the flag nor the new variable is
 * set, and warns once on stderr either way, so the old name keeps working until it is gone.
 */
export function applyDeprecatedEnv(
  cmd: Command,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => process.stderr.write(`metapilot: warning: ${line}\n`),
): void {
  for (const [name, { replacement, option }] of Object.entries(deprecatedEnv)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const source = cmd.getOptionValueSource(option);
    const current: unknown = cmd.getOptionValue(option);
    // An empty PROMETHEUS_URL is unset, as it is for the controller ("unset: only OOM kills are acted on").
    if ((source === "cli" || source === "env") && current !== undefined && current !== "") {
      warn(`${name} is deprecated and ignored here: ${replacement} or the flag is set; unset ${name}`);
      continue;
    }
    cmd.setOptionValueWithSource(option, value, "env");
    warn(`${name} is deprecated: set ${replacement} instead`);
  }
}

/** The Prometheus client options of the shared flags, or undefined when no URL is given. */
export function prometheusOptions(flags: PrometheusFlags): PrometheusOptions | undefined {
  if (!flags.prometheusUrl) return undefined;
  return {
    url: flags.prometheusUrl,
    bearerTokenFile: flags.prometheusBearerTokenFile,
    caFile: flags.prometheusCaFile,
    insecureSkipVerify: flags.prometheusInsecureSkipTlsVerify,
    maxResponseBytes: flags.prometheusMaxResponseSize
      ? Math.floor(parseQuantity(flags.prometheusMaxResponseSize))
      : undefined,
  };
}

/** --apiserver-timeout of the one-shot commands (recommend, report). */
export function addApiserverTimeoutFlag(cmd: Command): Command {
  return cmd.option(
    "--apiserver-timeout <duration>",
    "how long to wait for the apiserver to answer before giving up (progress is written to stderr)",
    duration,
    "30s",
  );
}

/** Waits for the apiserver as --apiserver-timeout says, with a line on stderr per failed attempt. */
export function waitForApiserverFlag(client: KubeClient, kc: KubeConfig, flags: { apiserverTimeout: string }) {
  return waitForApiserver(client, kc, {
    timeoutMs: parseDuration(flags.apiserverTimeout),
    progress: (line) => process.stderr.write(`metapilot: ${line}\n`),
  });
}
