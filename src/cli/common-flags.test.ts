// Every subcommand takes the shared flags and environment variables under the same names. The commands are parsed
// in-process with their action replaced, so this checks the parsing alone, for each subcommand alike.
import type { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyDeprecatedEnv } from "./common-flags.js";
import { controllerCommand } from "./controller.js";
import { recommendCommand } from "./recommend.js";
import { reportCommand } from "./report.js";

async function parse(cmd: Command, args: string[]): Promise<Record<string, unknown>> {
  let seen: Record<string, unknown> = {};
  cmd.exitOverride().action((flags: Record<string, unknown>) => {
    seen = flags;
  });
  await cmd.parseAsync(args, { from: "user" });
  return seen;
}

const commands: Array<[string, () => Command]> = [
  ["controller", controllerCommand],
  ["recommend", recommendCommand],
  ["report", reportCommand],
];
const prometheusCommands = commands.filter(([name]) => name !== "report");

describe("shared flags", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it.each(commands)("%s: --kubeconfig, --context, -n", async (_name, make) => {
    vi.stubEnv("METAPILOT_NAMESPACE", "");
    const flags = await parse(make(), ["--kubeconfig", "/k", "--context", "c", "-n", "tcp-a"]);
    expect(flags).toMatchObject({ kubeconfig: "/k", context: "c", namespace: "tcp-a" });
  });

  it.each(commands)("%s: METAPILOT_NAMESPACE is the namespace", async (_name, make) => {
    vi.stubEnv("METAPILOT_NAMESPACE", "tcp-b");
    expect(await parse(make(), [])).toMatchObject({ namespace: "tcp-b" });
  });

  it.each(prometheusCommands)("%s: PROMETHEUS_* environment and --prometheus-* flags", async (_name, make) => {
    vi.stubEnv("METAPILOT_PROMETHEUS_URL", "");
    vi.stubEnv("PROMETHEUS_URL", "http://prom:9090");
    vi.stubEnv("PROMETHEUS_CA_FILE", "/ca.crt");
    vi.stubEnv("PROMETHEUS_BEARER_TOKEN_FILE", "");
    expect(await parse(make(), [])).toMatchObject({ prometheusUrl: "http://prom:9090", prometheusCaFile: "/ca.crt" });
    const flags = await parse(make(), [
      "--prometheus-url",
      "http://other:9090",
      "--prometheus-bearer-token-file",
      "/token",
      "--prometheus-insecure-skip-tls-verify",
    ]);
    expect(flags).toMatchObject({
      prometheusUrl: "http://other:9090",
      prometheusBearerTokenFile: "/token",
      prometheusInsecureSkipTlsVerify: true,
    });
  });

  it.each(prometheusCommands)(
    "%s: METAPILOT_PROMETHEUS_URL (the chart's) still works, with a warning",
    async (_n, make) => {
      vi.stubEnv("PROMETHEUS_URL", "");
      vi.stubEnv("METAPILOT_PROMETHEUS_URL", "http://old:9090");
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      expect(await parse(make(), [])).toMatchObject({ prometheusUrl: "http://old:9090" });
      expect(stderr).toHaveBeenCalledWith(
        "metapilot: warning: METAPILOT_PROMETHEUS_URL is deprecated: set PROMETHEUS_URL instead\n",
      );
    },
  );
});

describe("applyDeprecatedEnv", () => {
  it("leaves a flag or the new variable in charge, and still warns", async () => {
    const warnings: string[] = [];
    const cmd = recommendCommand().exitOverride();
    cmd.action(() => undefined);
    await cmd.parseAsync(["--prometheus-url", "http://new:9090"], { from: "user" });
    applyDeprecatedEnv(cmd, { METAPILOT_PROMETHEUS_URL: "http://old:9090" }, (w) => warnings.push(w));
    expect(cmd.opts().prometheusUrl).toBe("http://new:9090");
    expect(warnings).toEqual([
      "METAPILOT_PROMETHEUS_URL is deprecated and ignored here: PROMETHEUS_URL or the flag is set; unset METAPILOT_PROMETHEUS_URL",
    ]);
  });
});
