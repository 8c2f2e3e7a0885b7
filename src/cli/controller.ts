import { Command, InvalidArgumentError, Option } from "commander";
import { createLogger, logFormats, type LogFormat } from "../kube/logger.js";
import { Manager } from "../kube/manager.js";
import { availableControllers, controllerFactory, type ControllerConfig } from "../controllers.js";
// Every controller registers itself with controllers.ts when its module loads.
import "../register.js";
import { addDashboard } from "../server/dashboard/index.js";
import { loadKubeConfig } from "./kubeconfig.js";
import {
  addKubeFlags,
  addPrometheusFlags,
  prometheusOptions,
  type KubeFlags,
  type PrometheusFlags,
} from "./common-flags.js";
import { parseDuration } from "../api/common.js";
import { DisruptionBudget } from "../api/clusterscaler.js";
import { z } from "zod";
import { duration, durationOrZero, percent, positiveInteger, positiveNumber } from "./args.js";
import { readSigningKeyFile } from "../scaler/signing-key.js";
import { imageRegistryError } from "../api/scheduling.js";
import { parseServiceAccount, type TenantSecretAccess } from "../operator/tenant-secrets.js";

/** --image-registry: a registry host with an optional port and path, no scheme, tag or digest. */
export function parseImageRegistry(value: string): string {
  if (value === "") return value; // an empty METAPILOT_IMAGE_REGISTRY is unset: registry.k8s.io
  const error = imageRegistryError(value);
  if (error) throw new InvalidArgumentError(`"${value}" ${error}`);
  return value;
}

interface ControllerFlags extends KubeFlags, PrometheusFlags {
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  metricsAddress: string;
  logLevel: string;
  logFormat: LogFormat;
  concurrency: string;
  qps: string;
  burst: string;
  dryRun: boolean;
  controllers: string;
  pollInterval: string;
  probeInterval: string;
  probeTimeout: string;
  allowInsecureExtraArgs?: boolean;
  nodeName?: string;
  maxDrainNodes: string;
  maxDrainPercent: string;
  probeAllowedHosts?: string;
  staleAfter: string;
  opsCenterUrl?: string[];
  opsCenterHmacSecretFile?: string;
  opsCenterCaFile?: string;
  clusterName: string;
  decisionRetention: string;
  defaultDisruptionBudgets: DisruptionBudget[];
  externalEtcdSecretNamespaces?: string;
  tenantSecretsClusterRole?: string;
  serviceAccount?: string;
  imageRegistry?: string;
  decisionSigningKeyFile?: string;
  dashboard?: boolean;
  dashboardAuthTokenFile?: string;
}

/** The default disruption budgets: a JSON list in the form of a ClusterScaler's spec.disruption.budgets. */
export function disruptionBudgets(value: string): DisruptionBudget[] {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected a JSON list of budgets, e.g. [{"limit":"10","interval":"5m"}]');
  }
  const r = z.array(DisruptionBudget).min(1).max(50).safeParse(json);
  if (!r.success)
    throw new InvalidArgumentError(
      r.error.issues.map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`).join("; "),
    );
  return r.data;
}

export function controllerCommand(): Command {
  const cmd = addKubeFlags(
    new Command("controller").description("run metapilot's controllers against a meta-cluster"),
    "watch only this namespace for namespaced kinds (default: all)",
  );
  return addPrometheusFlags(cmd, "Prometheus HTTP API for usage signals (unset: only OOM kills are acted on)")
    .addOption(new Option("--no-leader-elect", "run without leader election (single replica only)"))
    .addOption(
      new Option(
        "--leader-election-namespace <ns>",
        "namespace of the leader Lease; it must exist (otherwise the controller exits with an error)",
      )
        .env("POD_NAMESPACE")
        .default("metapilot-system"),
    )
    .option("--leader-election-id <name>", "name of the leader Lease", "metapilot-leader")
    .option("--lease-duration <duration>", "how long a Lease is valid without renewal", duration, "15s")
    .option("--renew-deadline <duration>", "the leader stops acting if it cannot renew within this", duration, "10s")
    .option("--retry-period <duration>", "interval between renewals", duration, "2s")
    .addOption(
      new Option(
        "--metrics-address <host:port>",
        "address for /metrics, /healthz and /readyz (empty disables)",
      ).default(":8080"),
    )
    .addOption(
      new Option("--log-level <level>", "how much to log")
        .choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
        .env("METAPILOT_LOG_LEVEL")
        .default("info"),
    )
    .addOption(
      new Option("--log-format <format>", "json: one pino JSON object per line; text: one readable line per entry")
        .choices(logFormats)
        .env("METAPILOT_LOG_FORMAT")
        .default("json"),
    )
    .option("--concurrency <n>", "workers per controller", positiveInteger, "4")
    .option("--qps <n>", "client-side apiserver request rate (requests per second)", positiveNumber, "20")
    .option("--burst <n>", "client-side apiserver burst", positiveInteger, "40")
    .addOption(
      new Option("--dry-run", "global dry-run: plans and decisions are recorded, targets are never changed").env(
        "METAPILOT_DRY_RUN",
      ),
    )
    .option(
      "--controllers <names>",
      `comma-separated controllers to run (available: ${availableControllers().join(", ") || "none"})`,
      "all",
    )
    .option(
      "--poll-interval <duration>",
      "how often usage signals are read from Prometheus (one batched query per metric)",
      duration,
      "15s",
    )
    .option(
      "--stale-after <duration>",
      "a signal older than this is stale: it never causes a scale-down",
      duration,
      "90s",
    )
    .option(
      "--probe-interval <duration>",
      "how often each governed tenant apiserver's /readyz is probed through its Service (0 turns the probe off)",
      durationOrZero,
      "10s",
    )
    .option("--probe-timeout <duration>", "a /readyz probe without an answer by then counts as failed", duration, "3s")
    .option(
      "--allow-insecure-extra-args",
      "honour spec.allowInsecureExtraArgs, the escape hatch that lets a TenantControlPlane set extraArgs that switch " +
        "security off; set it only where an admission policy lets only platform admins write that field",
    )
    .addOption(
      new Option(
        "--node-name <name>",
        "the node this process runs on (in a pod: the downward API's spec.nodeName); a NodeDrain takes it last",
      ).env("NODE_NAME"),
    )
    .option(
      "--max-drain-nodes <n>",
      "a NodeDrain that selects more nodes than this is refused (also see --max-drain-percent)",
      positiveInteger,
      "50",
    )
    .option(
      "--max-drain-percent <percent>",
      "a NodeDrain that selects more than this share of the cluster's nodes (at least one node) is refused",
      percent,
      "34",
    )
    .option(
      "--probe-allowed-hosts <hosts>",
      "comma-separated hosts a metapilot.io/probe-url annotation may name besides the tenant's own Service and " +
        "status.endpoint: exact names or IPs, or *.suffix (the URL must be https in every case)",
    )
    .addOption(
      new Option("--ops-center-url <url...>", "endpoints that receive every ScalingDecision as a CloudEvent").env(
        "METAPILOT_OPS_CENTER_URL",
      ),
    )
    .addOption(
      new Option("--ops-center-hmac-secret-file <path>", "HMAC-SHA256 key for the X-Metapilot-Signature header").env(
        "METAPILOT_OPS_CENTER_HMAC_SECRET_FILE",
      ),
    )
    .option("--ops-center-ca-file <path>", "CA bundle for ops-center endpoints served over TLS")
    .addOption(
      new Option("--cluster-name <name>", "name of this meta-cluster, the CloudEvent source")
        .env("METAPILOT_CLUSTER_NAME")
        .default("meta-cluster"),
    )
    .option(
      "--decision-retention <duration>",
      "delivered ScalingDecisions older than this are deleted",
      duration,
      "168h",
    )
    .addOption(
      new Option(
        "--default-disruption-budgets <json>",
        "disruption budgets of every ClusterScaler that sets neither spec.disruption.budgets nor spec.fleetBudget: " +
          "a JSON list in the form of spec.disruption.budgets (limit as a count or a percentage of the tenants it " +
          'governs, interval, optional reasons, schedule in UTC and duration), e.g. [{"limit":"10%","interval":"10m",' +
          '"reasons":["ScaleDown"]},{"limit":"0","interval":"1h","schedule":"0 8 * * 1-5","duration":"10h"}]',
      )
        .argParser(disruptionBudgets)
        .default([{ limit: "10", interval: "5m" }], '[{"limit":"10","interval":"5m"}]'),
    )
    .option(
      "--decision-signing-key-file <path>",
      "HMAC key (at least 32 bytes) metapilot signs its ScalingDecisions with, shared by all replicas; only a " +
        "signed decision is finished after a restart (default: Secret <leader-election-id>-decision-key in the " +
        "leader-election namespace, created when missing)",
    )
    .option(
      "--external-etcd-secret-namespaces <namespaces>",
      "comma-separated namespaces besides the tenant's own that a TenantControlPlane's " +
        "spec.etcd.external.secretRef may copy its etcd client Secret from (default: none)",
    )
    .addOption(
      new Option(
        "--tenant-secrets-cluster-role <name>",
        "ClusterRole (Secrets: get, list, create, patch, delete) that metapilot binds to its own ServiceAccount " +
          "(--service-account) in each tenant namespace it creates, so that it needs no Secret access cluster-wide " +
          "(the chart sets both); unset: metapilot uses the rights of its kubeconfig and binds nothing",
      ).env("METAPILOT_TENANT_SECRETS_CLUSTER_ROLE"),
    )
    .addOption(
      new Option(
        "--service-account <namespace/name>",
        "metapilot's own ServiceAccount, the subject of the RoleBindings of --tenant-secrets-cluster-role",
      ).env("METAPILOT_SERVICE_ACCOUNT"),
    )
    .addOption(
      new Option(
        "--image-registry <host/path>",
        "registry of the tenant component images (kube-apiserver, kube-controller-manager, kube-scheduler, etcd), " +
          "e.g. an air-gapped mirror such as mirror.example.com/k8s; a TenantControlPlane's spec.imageRegistry " +
          "takes precedence (default: registry.k8s.io)",
      )
        .env("METAPILOT_IMAGE_REGISTRY")
        .argParser(parseImageRegistry),
    )
    .option("--dashboard", "serve the read-only web dashboard on /ui/ and its JSON API on /api/ (off by default)")
    .option(
      "--dashboard-auth-token-file <path>",
      "require this file's token on /ui and /api: Authorization: Bearer <token>, or /ui/?token=<token> once (sets a cookie)",
    )
    .action(async (flags: ControllerFlags) => {
      const logger = createLogger({ level: flags.logLevel, format: flags.logFormat });
      const names =
        flags.controllers === "all"
          ? availableControllers()
          : flags.controllers
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean);
      const factories = names.map((n) => [n, controllerFactory(n)] as const);
      const workers = Number(flags.concurrency);
      if (!Number.isInteger(workers) || workers < 1)
        throw new Error(`--concurrency must be a positive integer, got ${flags.concurrency}`);
      // A missing, empty or short key file fails here, at start, not at the first decision.
      if (flags.decisionSigningKeyFile) readSigningKeyFile(flags.decisionSigningKeyFile);
      const maxDrainNodes = Number(flags.maxDrainNodes);
      if (!Number.isInteger(maxDrainNodes) || maxDrainNodes < 1)
        throw new Error(`--max-drain-nodes must be a positive integer, got ${flags.maxDrainNodes}`);
      const maxDrainPercent = Number(flags.maxDrainPercent);
      if (!Number.isFinite(maxDrainPercent) || maxDrainPercent <= 0 || maxDrainPercent > 100)
        throw new Error(`--max-drain-percent must be in (0, 100], got ${flags.maxDrainPercent}`);
      let tenantSecretAccess: TenantSecretAccess | undefined;
      if (!flags.tenantSecretsClusterRole !== !flags.serviceAccount)
        throw new Error("--tenant-secrets-cluster-role and --service-account go together: set both or neither");
      if (flags.tenantSecretsClusterRole && flags.serviceAccount)
        tenantSecretAccess = {
          clusterRole: flags.tenantSecretsClusterRole,
          serviceAccount: parseServiceAccount(flags.serviceAccount),
        };
      const kubeConfig = loadKubeConfig(flags);
      const address = flags.metricsAddress.startsWith(":") ? `0.0.0.0${flags.metricsAddress}` : flags.metricsAddress;
      const manager = new Manager({
        kubeConfig,
        logger,
        qps: Number(flags.qps),
        burst: Number(flags.burst),
        metricsAddress: address,
        leaderElection: {
          enabled: flags.leaderElect,
          namespace: flags.leaderElectionNamespace,
          name: flags.leaderElectionId,
          leaseDurationMs: parseDuration(flags.leaseDuration),
          renewDeadlineMs: parseDuration(flags.renewDeadline),
          retryPeriodMs: parseDuration(flags.retryPeriod),
        },
      });
      const opsCenterUrls = typeof flags.opsCenterUrl === "string" ? [flags.opsCenterUrl] : (flags.opsCenterUrl ?? []);
      const config: ControllerConfig = {
        workers,
        dryRun: flags.dryRun ?? false,
        namespace: flags.namespace,
        prometheus: prometheusOptions(flags),
        pollIntervalMs: parseDuration(flags.pollInterval),
        staleAfterMs: parseDuration(flags.staleAfter),
        probeIntervalMs: flags.probeInterval === "0" ? 0 : parseDuration(flags.probeInterval),
        probeTimeoutMs: parseDuration(flags.probeTimeout),
        allowInsecureExtraArgs: flags.allowInsecureExtraArgs ?? false,
        nodeName: flags.nodeName || undefined,
        maxDrainNodes,
        maxDrainPercent,
        probeAllowedHosts: (flags.probeAllowedHosts ?? "")
          .split(",")
          .map((h) => h.trim())
          .filter(Boolean),
        opsCenter: opsCenterUrls.map((url) => ({
          url,
          hmacSecretFile: flags.opsCenterHmacSecretFile,
          caFile: flags.opsCenterCaFile,
        })),
        clusterName: flags.clusterName,
        decisionRetentionMs: parseDuration(flags.decisionRetention),
        defaultDisruptionBudgets: flags.defaultDisruptionBudgets,
        // The Lease's namespace is metapilot's own: no TenantControlPlane may take it over.
        ownNamespaces: [flags.leaderElectionNamespace],
        externalEtcdSecretNamespaces: (flags.externalEtcdSecretNamespaces ?? "")
          .split(",")
          .map((n) => n.trim())
          .filter(Boolean),
        imageRegistry: flags.imageRegistry || undefined,
        tenantSecretAccess,
        decisionSigningKeyFile: flags.decisionSigningKeyFile,
        decisionSigningKeySecret: {
          namespace: flags.leaderElectionNamespace,
          name: `${flags.leaderElectionId}-decision-key`,
        },
      };
      for (const [, factory] of factories) factory(manager, config);
      if (flags.dashboard)
        addDashboard(manager, {
          namespace: flags.namespace,
          prometheus: config.prometheus,
          authTokenFile: flags.dashboardAuthTokenFile,
          listenAddress: flags.metricsAddress,
          opsCenter: (config.opsCenter ?? []).length > 0,
        });
      const stop = new AbortController();
      for (const sig of ["SIGTERM", "SIGINT"] as const) {
        process.once(sig, () => {
          logger.info({ signal: sig }, "shutting down");
          stop.abort();
        });
      }
      logger.info(
        { identity: manager.identity, controllers: names, dryRun: flags.dryRun ?? false },
        "metapilot controller starting",
      );
      const outcome = await manager.start(stop.signal);
      logger.info({ outcome }, "metapilot controller stopped");
      // Lost leadership: exit non-zero so the pod restarts with fresh caches, as client-go controllers do.
      process.exit(outcome === "lost" ? 1 : 0);
    });
}
