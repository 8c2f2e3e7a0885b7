// hack/metacluster up|down|status|env|restart: the local meta-cluster from the command line.
import path from "node:path";
import { Command, Option } from "commander";
import {
  buildBinaries,
  componentNames,
  down,
  envOf,
  missingBinaries,
  readState,
  startComponent,
  statusOf,
  stopComponent,
  up,
  type ComponentName,
  defaultDir,
} from "./lib/metacluster.js";
import { isProcess } from "./lib/realnodes.js";

const log = (l: string) => process.stderr.write(`[metacluster] ${l}\n`);
const program = new Command("hack/metacluster").description(
  "Local meta-cluster: real etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Prometheus on 127.0.0.1.\n" +
    "Optional real nodes (--real-nodes): each its own containerd with runc and its own kubelet, pods on a private\n" +
    "bridge network inside this machine, labelled and tainted metapilot.io/node-kind=real (NoSchedule), with one\n" +
    "kube-proxy (ClusterIPs in pods and on this machine) and one CoreDNS (cluster.local names in pods).\n" +
    "State, logs and data live under --dir ($METACLUSTER_DIR, default .cache/metacluster/).",
);

program.addOption(
  new Option(
    "--dir <path>",
    "state directory of the meta-cluster (a relative path is taken from the current directory)",
  )
    .env("METACLUSTER_DIR")
    .default(defaultDir),
);
// Absolute: the processes run with other working directories and their flags name files under it.
const dir = () => path.resolve(program.opts<{ dir: string }>().dir);

program
  .command("up")
  .description("start every process (idempotent: a healthy cluster is left running)")
  .addOption(new Option("--nodes <n>", "fake kwok nodes").env("METACLUSTER_NODES").default("20"))
  .addOption(
    new Option("--prometheus-target <host:port...>", "extra static scrape targets").env("METACLUSTER_PROM_TARGETS"),
  )
  .addOption(new Option("--scrape-interval <duration>", "Prometheus scrape interval").default("5s"))
  .addOption(
    new Option(
      "--real-nodes <n>",
      "real nodes (containerd + kubelet, root only; needs 'make realnodes-deps'); pods must tolerate the taint " +
        "metapilot.io/node-kind=real:NoSchedule to land there. Default 0 for a new cluster; a running one keeps its count",
    ).env("METACLUSTER_REAL_NODES"),
  )
  .option("--no-build", "do not run hack/build-binaries.sh first")
  .action(
    async (o: {
      nodes: string;
      prometheusTarget?: string[] | string;
      scrapeInterval: string;
      realNodes?: string;
      build: boolean;
    }) => {
      if (o.build || missingBinaries().length) buildBinaries(log);
      const targets = typeof o.prometheusTarget === "string" ? o.prometheusTarget.split(",") : o.prometheusTarget;
      const started = Date.now();
      const state = await up({
        nodes: Number(o.nodes),
        prometheusTargets: targets,
        scrapeInterval: o.scrapeInterval,
        realNodes: o.realNodes === undefined ? undefined : nonNegativeInteger("--real-nodes", o.realNodes),
        dir: dir(),
        log,
      });
      log(`up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      for (const [k, v] of Object.entries(envOf(state))) console.log(`export ${k}=${v}`);
    },
  );

function nonNegativeInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number >= 0, not '${value}'`);
  return n;
}

program
  .command("down")
  .description(
    "stop every process by its own pid; real nodes leave no mount, network namespace, bridge, iptables chain or cgroup",
  )
  .action(async () => {
    await down(dir());
    log("down");
  });

program
  .command("status")
  .description("show each process and its health")
  .action(async () => {
    const state = readState(dir());
    if (!state) {
      console.log("meta-cluster: not created (run hack/metacluster up)");
      process.exitCode = 1;
      return;
    }
    const status: Record<string, string> = await statusOf(state);
    for (const node of state.realNodes ?? []) {
      for (const [binary, pid] of Object.entries(node.pids)) {
        status[`${node.name} ${binary}`] = isProcess(pid, binary) ? `running (pid ${pid})` : "stopped";
      }
    }
    const services = state.realNodeServices;
    if (services) {
      status.coredns = isProcess(services.pids.coredns, "coredns")
        ? `running (pid ${services.pids.coredns}, ${services.dnsAddress}:53)`
        : "stopped";
      status["kube-proxy"] = isProcess(services.pids.kubeProxy, "kube-proxy")
        ? `running (pid ${services.pids.kubeProxy})`
        : services.kubeProxyBlockedBy
          ? `not started: ${services.kubeProxyBlockedBy}`
          : "stopped";
    }
    for (const [name, s] of Object.entries(status)) console.log(`${name.padEnd(32)} ${s}`);
    if (Object.values(status).some((s) => !s.startsWith("running"))) process.exitCode = 1;
  });

program
  .command("env")
  .description("print KUBECONFIG, PROMETHEUS_URL and friends as shell exports")
  .action(() => {
    const state = readState(dir());
    if (!state) throw new Error("meta-cluster not created; run hack/metacluster up");
    for (const [k, v] of Object.entries(envOf(state))) console.log(`export ${k}=${v}`);
  });

program
  .command("restart <component>")
  .description(`restart one process (${componentNames.join(", ")})`)
  .action(async (component: string) => {
    if (!(componentNames as readonly string[]).includes(component)) throw new Error(`unknown component ${component}`);
    const state = readState(dir());
    if (!state) throw new Error("meta-cluster not created; run hack/metacluster up");
    await stopComponent(state, component as ComponentName);
    await startComponent(state, component as ComponentName);
  });

program.parseAsync().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
