// `make demo`: the local meta-cluster, metapilot's controller in dry-run, a small fleet of tenant control planes
// and a scenario that exercises the autopilot: a real OOM kill on a real node, an OOM storm, CPU growth, a 429
// storm, cluster growth, an idle tenant and a node drain. It ends with the dry-run report (a table here, HTML on
// disk).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { readFileSync, readdirSync } from "node:fs";
import { KubeClient } from "../src/kube/client.js";
import { Resources, type KubeObject } from "../src/kube/resources.js";
import { buildDigest, renderDigestTable, type ReportableDecision } from "../src/scaler/reports.js";
import { renderReportHtml } from "../src/server/dashboard/report.js";
import {
  binDir,
  buildBinaries,
  down,
  freePort,
  readState,
  repoRoot,
  setScrapeTargets,
  startComponent,
  stopComponent,
  up,
} from "./lib/metacluster.js";
import { RealTenant } from "./lib/realtenant.js";
import { pinnedNodeBinary } from "./lib/node-runtime.js";
import { writeOpenMetrics } from "../test/recommender/history.js";
import { SyntheticExporter } from "../test/fixtures/exporter.js";

const program = new Command("make demo")
  .description("metapilot demo on the local meta-cluster (dry-run)")
  .option(
    "--keep-running",
    "leave the meta-cluster and controller running, with the dashboard on 127.0.0.1 (its URL and token are printed)",
  )
  .option("--tenants <n>", "tenant control planes to create", "6")
  .option("--nodes <n>", "fake meta-cluster nodes", "20")
  .option("--timeout <seconds>", "give up on a phase after this long", "180")
  .option("--no-real-node", "leave out the real node and its tenant (the real OOM kill)")
  .parse();
const opts = program.opts<{
  keepRunning?: boolean;
  tenants: string;
  nodes: string;
  timeout: string;
  realNode: boolean;
}>();
const phaseTimeoutMs = Number(opts.timeout) * 1000;
const demoDir = path.join(repoRoot, ".cache/demo");
// The demo's meta-cluster lives apart from the one tests use, so `make demo` never disturbs a test run.
const clusterDir = path.join(demoDir, "metacluster");
const dashboardTokenFile = path.join(demoDir, "dashboard-token");
/** The dashboard's address with its token, once it serves (--keep-running only). */
let dashboardUrl: string | undefined;
mkdirSync(demoDir, { recursive: true });

const tty = process.stdout.isTTY;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const step = (msg: string) => console.log(`${tty ? "\x1b[1m" : ""}[${elapsed()}] ${msg}${tty ? "\x1b[0m" : ""}`);
const detail = (msg: string) => console.log(`         ${msg}`);

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = phaseTimeoutMs): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let dots = 0;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) {
      if (tty && dots) process.stdout.write("\n");
      return v;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (tty) process.stdout.write(dots++ % 10 === 0 ? `         waiting for ${what} .` : ".");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Pod extends KubeObject {
  status?: { phase?: string; containerStatuses?: Array<{ name: string; restartCount?: number }> };
}
interface Profile extends KubeObject {
  status?: {
    confidence?: number;
    containers?: Array<{ name: string; target?: Record<string, string>; upperBound?: Record<string, string> }>;
  };
}
interface Tcp extends KubeObject {
  status?: { phase?: string };
}
interface RealPod extends KubeObject {
  spec?: { nodeName?: string };
  status?: {
    containerStatuses?: Array<{
      name: string;
      restartCount?: number;
      lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
    }>;
  };
}

/**
 * The real node's tenant: its kube-apiserver's memory limit is below what an apiserver needs to start, so the kernel
 * kills it and the kubelet reports OOMKilled, like a tenant that outgrew its limit. With the GOMEMLIMIT the operator
 * derives (90% of the limit) the Go runtime collects harder near the limit: 128Mi, killed without it, was then enough
 * to run. 100Mi (GOMEMLIMIT=90MiB) is below the apiserver's live heap: test/realnodes/gomemlimit.test.ts saw 2 kills
 * within 20 s there.
 */
const realTenantApiServerMemoryLimit = "100Mi";

let controller: ChildProcess | undefined;
let recommender: ChildProcess | undefined;
const exporter = new SyntheticExporter();

async function main(): Promise<void> {
  step("building the pinned upstream binaries (cached after the first run)");
  buildBinaries();
  step(`starting the local meta-cluster (${opts.nodes} kwok nodes)`);
  const state = await up({ dir: clusterDir, nodes: Number(opts.nodes), log: detail, scrapeInterval: "2s" });
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "metapilot-demo" });

  step("installing the chart's CRDs");
  const crdDir = path.join(repoRoot, "charts/metapilot/crds");
  for (const f of readdirSync(crdDir).filter((x) => x.endsWith(".yaml"))) {
    await client.apply(
      Resources.CustomResourceDefinition,
      parse(readFileSync(path.join(crdDir, f), "utf8")) as KubeObject,
    );
  }
  await until("CRDs established", async () => {
    const crd = await client.getOptional<
      KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }
    >(Resources.CustomResourceDefinition, "scalingdecisions.metapilot.io");
    return crd?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
  });
  await client.apply(Resources.Namespace, {
    metadata: { name: "metapilot-system", labels: { "metapilot.io/role": "system" } },
  });

  step("starting a synthetic metrics exporter that Prometheus scrapes");
  const target = await exporter.start();
  setScrapeTargets(state, "demo-exporter", [target], { job: "demo" });

  step("starting metapilot's controller in dry-run");
  const metricsPort = await freePort();
  const log = openSync(path.join(demoDir, "controller.log"), "w");
  // To browse after the run: the dashboard on the loopback address, behind a fresh token all the same.
  const dashboard: string[] = [];
  if (opts.keepRunning) {
    writeFileSync(dashboardTokenFile, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
    dashboard.push("--dashboard", `--dashboard-auth-token-file=${dashboardTokenFile}`);
  }
  // The controllers run on the project's pinned Node.js (hack/versions.env), whatever node started the demo.
  controller = spawn(
    pinnedNodeBinary(repoRoot),
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "controller",
      "--dry-run",
      `--kubeconfig=${state.kubeconfig}`,
      "--leader-election-namespace=metapilot-system",
      `--metrics-address=127.0.0.1:${metricsPort}`,
      `--prometheus-url=${state.prometheusUrl}`,
      "--poll-interval=3s",
      "--stale-after=30s",
      "--cluster-name=demo",
      // The recommender starts later, once Prometheus holds the backfilled history of the tenants' pods.
      "--controllers=tenantcontrolplane,clusterscaler,nodepool,nodedrain",
      ...dashboard,
    ],
    { cwd: repoRoot, stdio: ["ignore", log, log] },
  );
  await until("controller ready (/readyz)", async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
    return res?.ok ? true : undefined;
  });
  if (opts.keepRunning) {
    const token = readFileSync(dashboardTokenFile, "utf8").trim();
    await until("the dashboard (/ui/)", async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/ui/`, {
        headers: { authorization: `Bearer ${token}` },
      }).catch(() => undefined);
      return res?.ok ? true : undefined;
    });
    dashboardUrl = `http://127.0.0.1:${metricsPort}/ui/?token=${token}`;
  }
  detail(
    `metrics and health on http://127.0.0.1:${metricsPort}, logs in ${path.relative(repoRoot, demoDir)}/controller.log`,
  );

  const count = Math.max(6, Number(opts.tenants));
  const names = Array.from({ length: count }, (_, i) => `tenant-${String.fromCharCode(97 + i)}`);
  const roles: Record<string, string> = {
    "tenant-a": "oom-storm",
    "tenant-b": "cpu-growth",
    "tenant-c": "cluster-growth",
    "tenant-d": "429-storm",
    "tenant-e": "idle",
  };
  step(`creating ${count} TenantControlPlanes`);
  for (const name of names) {
    await client.apply(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: {
        name,
        labels: { "demo.metapilot.io/role": roles[name] ?? "steady", tier: name === "tenant-e" ? "dev" : "prod" },
      },
      spec: {
        version: "v1.34.4",
        apiServer: { replicas: 2, resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } } },
        etcd: { managed: { replicas: 3, deletionPolicy: "Delete" } },
      },
    } as KubeObject);
  }
  await until(`${count} control planes Ready`, async () => {
    const list = await Promise.all(names.map((n) => client.get<Tcp>(Resources.TenantControlPlane, n)));
    const ready = list.filter((t) => t.status?.phase === "Ready").length;
    return ready === count ? ready : undefined;
  });
  detail(`${count} control planes Ready (etcd 3 members, apiserver 2, controller-manager, scheduler each)`);

  let realTenant: RealTenant | undefined;
  if (opts.realNode) {
    step("adding a real node (kubelet and containerd that really run pods), and a tenant on it");
    realTenant = new RealTenant({
      prefix: "tenant-real-",
      log: detail,
      state,
      // The controller process runs the operator.
      operator: false,
      spec: (spec) => ({
        ...spec,
        apiServer: {
          replicas: 1,
          resources: {
            requests: { cpu: "100m", memory: realTenantApiServerMemoryLimit },
            limits: { memory: realTenantApiServerMemoryLimit },
          },
        },
      }),
    });
    await realTenant.setUp();
    await client.apply(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: realTenant.name, labels: { "demo.metapilot.io/role": "real-oom", tier: "prod" } },
      spec: realTenant.spec(),
    } as KubeObject);
    detail(
      `${realTenant.name} on ${realTenant.node.name}: etcd, kube-apiserver (memory limit ${realTenantApiServerMemoryLimit}), controller-manager and scheduler as real pods`,
    );
  }

  step(
    "backfilling 8 days of usage history for every control-plane pod (promtool tsdb create-blocks-from openmetrics)",
  );
  const tenantPods = (
    await client.listAll<Pod & { metadata?: { labels?: Record<string, string> } }>(Resources.Pod, {
      labelSelector: "metapilot.io/tenant",
    })
  ).items;
  const day = 86_400_000;
  const historyEnd = Date.now() - 3 * 3_600_000;
  // apiserver and etcd: the components the ClusterScaler sizes from profiles.
  // The real tenant's history is its own, from nothing: no synthetic past for it.
  const sized = tenantPods.filter(
    (p) =>
      ["kube-apiserver", "etcd"].includes(p.metadata?.labels?.["metapilot.io/component"] ?? "") &&
      p.metadata?.namespace !== (realTenant && `tcp-${realTenant.name}`),
  );
  const containers = sized.map((p) => {
    const component = p.metadata?.labels?.["metapilot.io/component"] ?? "";
    // tenant-e is the idle dev tenant: a tenth of the others' usage, so its profile supports a scale-down.
    const idle = p.metadata?.namespace === "tcp-tenant-e" ? 0.1 : 1;
    const base = (component === "kube-apiserver" ? 0.3 : component === "etcd" ? 0.15 : 0.05) * idle;
    const mem =
      (component === "kube-apiserver" ? 700 : component === "etcd" ? 400 : 150) * 2 ** 20 * (idle < 1 ? 0.3 : 1);
    // A daily cycle with a busier afternoon, like a real tenant.
    const daily = (t: number) => 1 + 0.5 * Math.sin(((t % day) / day) * 2 * Math.PI);
    return {
      namespace: p.metadata?.namespace ?? "",
      pod: p.metadata?.name ?? "",
      container: component,
      cpu: (t: number) => base * daily(t),
      memory: (t: number) => mem * (0.8 + 0.2 * daily(t)),
    };
  });
  const omFile = path.join(demoDir, "history.om");
  // Two-minute samples: the recommender's rate() looks back five minutes, so it always finds two or more.
  const { samples } = await writeOpenMetrics(omFile, containers, historyEnd - 8 * day, historyEnd, 120);
  execFileSync(
    path.join(binDir, "promtool"),
    ["tsdb", "create-blocks-from", "openmetrics", omFile, path.join(state.dir, "prometheus/data")],
    { stdio: "ignore" },
  );
  // The real node was added through its own copy of the state (RealTenant.setUp): take it over, or the restart
  // writes state.json without it and `down` at the end leaves that node running (seen: kubelet, containerd and
  // kube-proxy still up after "the meta-cluster is stopped").
  Object.assign(state, readState(state.dir));
  await stopComponent(state, "prometheus");
  await startComponent(state, "prometheus");
  detail(`${samples} samples for ${containers.length} containers; Prometheus restarted on the new blocks`);

  step("starting the recommender (a second controller process, its own Lease): WorkloadProfiles from that history");
  const recLog = openSync(path.join(demoDir, "recommender.log"), "w");
  recommender = spawn(
    pinnedNodeBinary(repoRoot),
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "controller",
      "--dry-run",
      `--kubeconfig=${state.kubeconfig}`,
      "--leader-election-namespace=metapilot-system",
      "--leader-election-id=metapilot-recommender",
      "--metrics-address=",
      `--prometheus-url=${state.prometheusUrl}`,
      "--controllers=recommender",
    ],
    { cwd: repoRoot, stdio: ["ignore", recLog, recLog] },
  );
  const profiles = await until("WorkloadProfiles with recommendations for every tenant's apiserver", async () => {
    const list = (
      await client.listAll<Profile>(Resources.WorkloadProfile, {
        labelSelector: "metapilot.io/component=kube-apiserver",
      })
    ).items;
    const ready = list.filter((p) => p.status?.containers?.some((c) => c.target?.cpu));
    return ready.length >= names.length ? ready : undefined;
  });
  for (const p of profiles.filter((x) => ["tcp-tenant-a", "tcp-tenant-e"].includes(x.metadata?.namespace ?? ""))) {
    const c = p.status?.containers?.find((x) => x.target?.cpu);
    detail(
      `${p.metadata?.namespace}/${p.metadata?.name}: target cpu ${c?.target?.cpu}, memory ${c?.target?.memory} (upper ${c?.upperBound?.memory}), confidence ${p.status?.confidence?.toFixed(2) ?? "?"}`,
    );
  }

  step("creating the ClusterScalers (dry-run): one for the fleet, a stricter one for dev tenants");
  const components = (ladder: boolean) => [
    {
      name: "kube-apiserver",
      scalers: [
        { name: "oom" },
        { name: "cpu", threshold: 0.8, window: "10s" },
        { name: "memory", threshold: 0.9, window: "10s" },
        { name: "throttling", threshold: 5, window: "10s" },
        { name: "cluster-size" },
      ],
      estimators: ladder ? ["oom-memory", "profile", "cluster-size"] : ["oom-memory", "profile"],
      minAllowed: { cpu: "100m", memory: "256Mi" },
      maxAllowed: { cpu: "8", memory: "32Gi" },
      replicas: { min: 2, max: 6 },
      clusterSizeLadder: ladder
        ? [
            { nodes: 0, cpu: "500m", memory: "1Gi", replicas: 2 },
            { nodes: 250, cpu: "2", memory: "4Gi", replicas: 3 },
            { nodes: 750, cpu: "4", memory: "8Gi", replicas: 4 },
          ]
        : undefined,
    },
    { name: "etcd", scalers: [{ name: "oom" }], estimators: ["oom-memory"], maxAllowed: { memory: "16Gi" } },
  ];
  await client.apply(Resources.ClusterScaler, {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "fleet" },
    spec: {
      tenantSelector: { matchExpressions: [{ key: "tier", operator: "In", values: ["prod"] }] },
      priority: 0,
      components: components(true),
      scaleUp: { cooldown: "20s" },
      scaleDown: { enabled: true, stabilizationWindow: "3h", maxStepPercent: 20 },
      dryRun: true,
      fleetBudget: { maxChangesPerInterval: 20, interval: "1m" },
    },
  } as KubeObject);
  await client.apply(Resources.ClusterScaler, {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name: "dev-tenants" },
    spec: {
      tenantSelector: { matchLabels: { tier: "dev" } },
      priority: 10,
      components: components(false),
      scaleUp: { cooldown: "20s" },
      // Dev tenants are scaled down quickly, to show a scale-down within the demo.
      scaleDown: { enabled: true, stabilizationWindow: "30s", maxStepPercent: 25 },
      dryRun: true,
    },
  } as KubeObject);

  const podsOf = async (tenant: string, component = "kube-apiserver") =>
    (
      await client.listAll<Pod>(Resources.Pod, {
        namespace: `tcp-${tenant}`,
        labelSelector: `metapilot.io/tenant=${tenant},metapilot.io/component=${component}`,
      })
    ).items.filter((p) => p.status?.phase === "Running");
  const series = (tenant: string, pod: string) => ({ namespace: `tcp-${tenant}`, pod, container: "kube-apiserver" });

  step("steady usage for every tenant (Prometheus scrapes the exporter every 2s)");
  for (const name of names) {
    for (const p of await podsOf(name)) {
      const low = name === "tenant-e";
      exporter.setRate("container_cpu_usage_seconds_total", series(name, p.metadata?.name ?? ""), low ? 0.02 : 0.15);
      exporter.setGauge(
        "container_memory_working_set_bytes",
        series(name, p.metadata?.name ?? ""),
        (low ? 200 : 600) * 2 ** 20,
      );
      exporter.setRate("container_cpu_cfs_periods_total", series(name, p.metadata?.name ?? ""), 10);
      exporter.setRate("container_cpu_cfs_throttled_periods_total", series(name, p.metadata?.name ?? ""), 0);
    }
    exporter.setGauge("apiserver_storage_objects", { namespace: `tcp-${name}`, resource: "nodes" }, 50);
    exporter.setRate("apiserver_request_total", { namespace: `tcp-${name}`, code: "429" }, 0);
  }

  step("scenario 1/5: an OOM storm on tenant-a (three apiserver OOM kills)");
  const victims = await podsOf("tenant-a");
  for (let i = 0; i < 3; i++) {
    const pod = victims[i % victims.length];
    if (!pod?.metadata?.name) break;
    await client.patch(
      Resources.Pod,
      pod.metadata.name,
      "tcp-tenant-a",
      {
        status: {
          containerStatuses: [
            {
              name: "kube-apiserver",
              image: "registry.k8s.io/kube-apiserver:v1.34.4",
              imageID: "",
              ready: true,
              restartCount: i + 1,
              state: { running: { startedAt: new Date().toISOString() } },
              lastState: { terminated: { reason: "OOMKilled", exitCode: 137, finishedAt: new Date().toISOString() } },
            },
          ],
        },
      },
      "strategic",
      "status",
    );
    await new Promise((r) => setTimeout(r, 500));
  }

  step("scenario 2/5: CPU growth on tenant-b (usage climbs to 95% of the request)");
  for (const p of await podsOf("tenant-b"))
    exporter.setRate("container_cpu_usage_seconds_total", series("tenant-b", p.metadata?.name ?? ""), 0.475);

  step("scenario 3/5: tenant-c grows from 50 to 800 nodes");
  exporter.setGauge("apiserver_storage_objects", { namespace: "tcp-tenant-c", resource: "nodes" }, 800);

  step("scenario 4/5: a 429 storm on tenant-d's apiserver (40 rejected requests/s)");
  exporter.setRate("apiserver_request_total", { namespace: "tcp-tenant-d", code: "429" }, 40);

  step("scenario 5/5: a node drain of the busiest meta-cluster node, dry-run");
  const allPods = await client.listAll<Pod & { spec?: { nodeName?: string } }>(Resources.Pod, {
    labelSelector: "metapilot.io/tenant",
  });
  const perNode = new Map<string, number>();
  for (const p of allPods.items)
    if (p.spec?.nodeName && p.spec.nodeName !== realTenant?.node.name)
      perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
  const busiest = [...perNode.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "metacluster-node-0";
  await client.apply(Resources.NodeDrain, {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "NodeDrain",
    metadata: { name: "demo-drain" },
    spec: { nodeNames: [busiest], dryRun: true, timeout: "5m" },
  } as KubeObject);
  detail(`NodeDrain demo-drain planned for ${busiest} (${perNode.get(busiest) ?? 0} control-plane pods)`);

  step("a NodePool of big kwok nodes, and two pods too big for today's nodes (the pool would grow, dry-run)");
  await client.apply(Resources.NodePool, {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "NodePool",
    metadata: { name: "big-nodes" },
    spec: {
      provider: "kwok",
      minNodes: 0,
      maxNodes: 8,
      shape: { cpu: "64", memory: "256Gi" },
      labels: { "demo.metapilot.io/pool": "big" },
      scaleDown: { enabled: true, strategy: "empty-first" },
    },
  } as KubeObject);
  await client.apply(Resources.Namespace, { metadata: { name: "demo-batch" } });
  for (const i of [0, 1]) {
    await client.apply(Resources.Pod, {
      metadata: { name: `big-job-${i}`, namespace: "demo-batch" },
      spec: {
        containers: [
          { name: "job", image: "registry.invalid/job:1", resources: { requests: { cpu: "48", memory: "64Gi" } } },
        ],
      },
    } as KubeObject);
  }

  if (realTenant) {
    const name = realTenant.name;
    step(`the real OOM kill: ${name}'s kube-apiserver on ${realTenant.node.name}`);
    const killed = await until(
      `the kubelet's OOMKilled report of ${name}'s kube-apiserver`,
      async () =>
        (
          await client.listAll<RealPod>(Resources.Pod, {
            namespace: `tcp-${name}`,
            labelSelector: `metapilot.io/component=kube-apiserver`,
          })
        ).items.find((p) => p.status?.containerStatuses?.some((c) => c.lastState?.terminated?.reason === "OOMKilled")),
      Math.max(phaseTimeoutMs, 300_000),
    );
    const terminated = killed.status?.containerStatuses?.find((c) => c.lastState?.terminated?.reason === "OOMKilled")
      ?.lastState?.terminated;
    detail(
      `${killed.metadata?.name} on ${killed.spec?.nodeName}: OOMKilled by the kernel, exit ${terminated?.exitCode}, at ${terminated?.finishedAt} (from the kubelet)`,
    );
  }

  const expected = ["OOMKilled", "CPUSaturation", "ClusterGrowth", "Throttling", "Underutilized"];
  step(`waiting for the autopilot's decisions (${expected.join(", ")})`);
  const decisions = await until(
    "a decision of every scenario's root cause",
    async () => {
      const list = (await client.listAll<ReportableDecision>(Resources.ScalingDecision)).items;
      const seen = new Set(
        list.map((d) => (d.spec as { rootCause?: { category?: string } } | undefined)?.rootCause?.category),
      );
      const realDecided =
        !realTenant ||
        list.some(
          (d) =>
            d.metadata?.namespace === `tcp-${realTenant.name}` &&
            (d.spec as { rootCause?: { category?: string } } | undefined)?.rootCause?.category === "OOMKilled",
        );
      return expected.every((c) => seen.has(c)) && realDecided ? list : undefined;
    },
    Math.max(phaseTimeoutMs, 150_000),
  );
  const drain = await client.getOptional<
    KubeObject & { status?: { phase?: string; plan?: unknown[]; pods?: unknown[]; message?: string } }
  >(Resources.NodeDrain, "demo-drain");

  const pool = await client.getOptional<
    KubeObject & {
      status?: {
        conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
        desiredNodes?: number;
        pendingPods?: number;
      };
    }
  >(Resources.NodePool, "big-nodes");
  step("dry-run report");
  const digest = buildDigest(decisions, new Date(started - 60_000), new Date(), { dryRunOnly: true });
  console.log("");
  console.log(renderDigestTable(digest));
  const htmlPath = path.join(demoDir, "report.html");
  writeFileSync(htmlPath, renderReportHtml(digest, decisions, "metapilot demo: dry-run decisions"));
  writeFileSync(path.join(demoDir, "report.json"), JSON.stringify(digest, null, 2));
  const scaling = pool?.status?.conditions?.find((c) => c.type === "ScalingUp");
  if (scaling) detail(`NodePool big-nodes: ${scaling.reason}, ${scaling.message}`);
  if (drain?.status) {
    detail(
      `NodeDrain demo-drain: phase ${drain.status.phase ?? "?"}${drain.status.message ? `, ${drain.status.message}` : ""}`,
    );
  }
  detail(`HTML report: ${path.relative(process.cwd(), htmlPath)}  (JSON beside it)`);
  detail(`every decision is a ScalingDecision: KUBECONFIG=${state.kubeconfig} .cache/bin/kubectl get sd -A`);
}

async function cleanup(): Promise<void> {
  if (opts.keepRunning) {
    step(
      `keeping everything running (--keep-running); Ctrl-C stops the controller; the meta-cluster stays until: hack/metacluster down --dir ${path.relative(repoRoot, clusterDir)}`,
    );
    if (dashboardUrl) {
      detail(`dashboard (loopback only): ${dashboardUrl}`);
      detail(
        `the token is in ${path.relative(process.cwd(), dashboardTokenFile)}; the first visit with ?token= sets a ` +
          "session cookie, or send Authorization: Bearer <token> to /api/",
      );
    }
    return;
  }
  controller?.kill("SIGTERM");
  recommender?.kill("SIGTERM");
  await exporter.stop();
  await down(clusterDir);
  step("demo finished; the meta-cluster is stopped");
}

main()
  .then(cleanup, async (err: unknown) => {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`controller log: ${path.join(demoDir, "controller.log")}`);
    await cleanup().catch(() => undefined);
    process.exit(1);
  })
  .then(() => {
    if (!opts.keepRunning) process.exit(0);
  });
