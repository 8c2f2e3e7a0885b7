// The Helm chart on the real meta-cluster: lint, snapshots of `helm template`, `helm install`, and then the
// controller as a local process authenticated as the chart's ServiceAccount (a TokenRequest token) through a full
// scenario. The audit log then proves the RBAC both sufficient (nothing denied) and not broader than needed
// (every granted verb used, apart from the documented allow-list below).
import * as k8s from "@kubernetes/client-node";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import https from "node:https";
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { freePort, repoRoot } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { serviceAccountTokenKubeConfig } from "../harness/tokens.js";
import { rbacAllowList } from "./rbac-allow-list.js";

const helmBin = path.join(repoRoot, ".cache/bin/helm");
const chartDir = path.join(repoRoot, "charts/metapilot");

function helm(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(helmBin, args, { encoding: "utf8", env: { ...process.env, ...env }, stdio: "pipe" });
}

const fullValues = [
  "dryRun=false",
  "prometheus.url=http://prometheus.monitoring.svc:9090",
  "opsCenter.urls[0]=https://ops.example.com/events",
  "opsCenter.hmacSecret.name=ops-center-hmac",
  "serviceMonitor.enabled=true",
  "prometheusRule.enabled=true",
  "grafanaDashboard.enabled=true",
  "webDashboard.enabled=true",
  "webDashboard.authTokenSecret.name=metapilot-dashboard",
  "podDisruptionBudget.enabled=true",
  "networkPolicy.enabled=true",
  "imageRegistry=mirror.example.com:5000/k8s",
  "nodePools.kwok.enabled=true",
  "externalEtcdSecretNamespaces[0]=etcd-certs",
].flatMap((v) => ["--set", v]);

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

/** "group/resource[/sub]:verb" for every rule of the rendered ClusterRoles and Roles (or only of `kinds`). */
function grantedVerbs(docs: KubeObject[], kinds = ["ClusterRole", "Role"]): Set<string> {
  const out = new Set<string>();
  for (const d of docs) {
    if (!kinds.includes(d.kind ?? "")) continue;
    for (const r of (d as { rules?: Rule[] }).rules ?? []) {
      for (const g of r.apiGroups ?? [])
        for (const res of r.resources ?? []) for (const v of r.verbs ?? []) out.add(`${g}/${res}:${v}`);
    }
  }
  return out;
}

describe("Helm chart", () => {
  it("passes helm lint with the default and the full values", () => {
    expect(helm(["lint", chartDir])).toContain("0 chart(s) failed");
    expect(helm(["lint", chartDir, ...fullValues])).toContain("0 chart(s) failed");
  });

  it("ships the generated CRDs unchanged", () => {
    const files = readdirSync(path.join(repoRoot, "crds")).filter((f) => f.endsWith(".yaml"));
    expect(readdirSync(path.join(chartDir, "crds")).sort()).toEqual(files.sort());
    for (const f of files) {
      expect(readFileSync(path.join(chartDir, "crds", f), "utf8"), f).toBe(
        readFileSync(path.join(repoRoot, "crds", f), "utf8"),
      );
    }
  });

  it("rejects unknown values and an ops center without an HMAC secret", () => {
    expect(() => helm(["template", "x", chartDir, "--set", "bogus=1"])).toThrow(/additional properties/);
    expect(() => helm(["template", "x", chartDir, "--set", "opsCenter.urls[0]=https://ops"])).toThrow(
      /hmacSecret.name/,
    );
    expect(() => helm(["template", "x", chartDir, "--set", "webDashboard.enabled=true"])).toThrow(
      /authTokenSecret.name/,
    );
    for (const registry of ["mirror.example.com/k8s:v1", "https://mirror.example.com", "mirror.example.com/"])
      expect(() => helm(["template", "x", chartDir, "--set", `imageRegistry=${registry}`]), registry).toThrow(
        /imageRegistry/,
      );
  });

  it("leaves the PodDisruptionBudget out for a single replica, which it would keep from ever being drained", () => {
    const kinds = (args: string[]) =>
      parseAllDocuments(helm(["template", "x", chartDir, ...args])).map((d) => (d.toJS() as KubeObject | null)?.kind);
    expect(kinds([])).toContain("PodDisruptionBudget");
    expect(kinds(["--set", "replicaCount=1", "--set", "leaderElection.enabled=false"])).not.toContain(
      "PodDisruptionBudget",
    );
  });

  it("renders the defaults (snapshot)", async () => {
    const out = helm(["template", "metapilot", chartDir, "-n", "metapilot-system"]);
    await expect(out).toMatchFileSnapshot("__snapshots__/default.yaml");
    const deploy = parseAllDocuments(out)
      .map((d) => d.toJS() as KubeObject & Record<string, never>)
      .find((d) => d?.kind === "Deployment") as unknown as {
      spec: { replicas: number; template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    expect(deploy.spec.replicas).toBe(2);
    expect(deploy.spec.template.spec.containers[0]?.args).toContain("--dry-run");
    // Least privilege by default: no Secret and no node create/delete in any ClusterRole bound cluster-wide.
    const granted = grantedVerbs(
      parseAllDocuments(out)
        .map((d) => d.toJS() as KubeObject)
        .filter((d) => d && !(d.kind === "ClusterRole" && d.metadata?.name?.endsWith("-tenant-secrets"))),
      ["ClusterRole"],
    );
    expect([...granted].filter((g) => g.startsWith("/secrets:") || /^\/nodes:(create|delete)$/.test(g))).toEqual([]);
  });

  it("renders live mode with ops center, ServiceMonitor, PrometheusRule, dashboard, PDB, NetworkPolicy (snapshot)", async () => {
    const out = helm(["template", "metapilot", chartDir, "-n", "metapilot-system", ...fullValues]);
    await expect(out).toMatchFileSnapshot("__snapshots__/full.yaml");
    expect(out).not.toContain("--dry-run");
    expect(out).toContain("--ops-center-hmac-secret-file=/etc/metapilot/ops-center/hmac-key");
    expect(out).toContain("- --image-registry=mirror.example.com:5000/k8s\n");
  });

  it("tells in NOTES.txt how to reach the dashboard and read its token, and how to turn it on", async () => {
    const kubeconfig = metacluster().kubeconfig;
    const notes = (values: string[]) => {
      const out = helm(["install", "metapilot", chartDir, "-n", "metapilot-system", "--dry-run=client", ...values], {
        KUBECONFIG: kubeconfig,
      });
      return out.slice(out.indexOf("NOTES:"));
    };
    expect(notes([])).toMatch(/Dashboard: off\. .*\n.*create secret generic metapilot-dashboard/);
    const on = notes(["--set", "webDashboard.enabled=true", "--set", "webDashboard.authTokenSecret.name=dash"]);
    expect(on).toContain("kubectl -n metapilot-system port-forward svc/metapilot 8080\n");
    expect(on).toContain("http://127.0.0.1:8080/ui/?token=$TOKEN");
    // The printed command reads the token back from a real Secret.
    const tokenLine = /^\s*TOKEN=\$\((kubectl .*)\)$/m.exec(on)?.[1];
    expect(tokenLine).toBeDefined();
    const kc = adminKubeConfig();
    const ns = await freshNamespace(kc, "notes");
    try {
      await kc.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({
        namespace: ns.name,
        body: { metadata: { name: "dash" }, stringData: { token: "s3cret-token" } },
      });
      const command = (tokenLine ?? "").replace("-n metapilot-system", `-n ${ns.name}`);
      const token = execFileSync("bash", ["-c", command], {
        encoding: "utf8",
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
          PATH: `${path.join(repoRoot, ".cache/bin")}:${process.env.PATH}`,
        },
      });
      expect(token).toBe("s3cret-token");
    } finally {
      await ns.cleanup();
    }
  });

  // The audit-log check below sees only the requests its scenario happens to make; a call on a rare path (a
  // conflict, a provider not used on kwok) can go unseen there. This reads every call in src/ that names its
  // resource (client.<method>(Resources.X, ...)) and checks that the chart grants the verb it needs.
  it("grants every resource and verb the source calls by name", () => {
    const granted = grantedVerbs(
      parseAllDocuments(helm(["template", "metapilot", chartDir, "-n", "metapilot-system", ...fullValues]))
        .map((d) => d.toJS() as KubeObject)
        .filter(Boolean),
    );
    const verbsOf: Record<string, Array<[verb: string, subresource?: string]>> = {
      get: [["get"]],
      getOptional: [["get"]],
      list: [["list"]],
      listPage: [["list"]],
      watch: [["watch"]],
      create: [["create"]],
      update: [["update"]],
      patch: [["patch"]],
      delete: [["delete"]],
      apply: [["patch"]],
      applyStatus: [["patch", "status"]],
    };
    const call = new RegExp(`\\.(${Object.keys(verbsOf).join("|")})(?:<[^>]*>)?\\(\\s*Resources\\.([A-Za-z]+)\\b`, "g");
    const files = readdirSync(path.join(repoRoot, "src"), { recursive: true, encoding: "utf8" }).filter(
      // metapilot backtest runs with the kubeconfig of the person who runs it, never as the chart's ServiceAccount.
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !runByPeople.includes(f),
    );
    // A patch or update whose last argument is a string literal names a subresource ("resize", "status"):
    // client.patch(t, name, namespace, body, type, subresource), client.update(t, obj, subresource).
    const subresourceArity: Record<string, number> = { patch: 6, update: 3 };
    const needed = new Map<string, string>();
    for (const f of files) {
      const text = readFileSync(path.join(repoRoot, "src", f), "utf8");
      for (const m of text.matchAll(call)) {
        const t = Resources[m[2] as keyof typeof Resources];
        expect(t, `${f}: Resources.${m[2]}`).toBeDefined();
        const arity = subresourceArity[m[1] ?? ""];
        if (arity) {
          const args = callArguments(text, text.indexOf("(", m.index + m[1]!.length) + 1);
          const literal = /^"([a-z]+)"$/.exec(args.at(-1) ?? "");
          if (literal && args.length === arity) {
            needed.set(
              `${t.group}/${t.plural}/${literal[1]}:${m[1]}`,
              `${f}: .${m[1]}(Resources.${m[2]}, …"${literal[1]}")`,
            );
            continue;
          }
        }
        for (const [verb, sub] of verbsOf[m[1] ?? ""] ?? []) {
          needed.set(`${t.group}/${t.plural}${sub ? `/${sub}` : ""}:${verb}`, `${f}: .${m[1]}(Resources.${m[2]}`);
        }
      }
    }
    expect(needed.size).toBeGreaterThan(20);
    // The operator's in-place resize (src/operator/steps/resize.ts) is read as the subresource it patches.
    expect(needed.get("/pods/resize:patch")).toContain("resize.ts");
    const missing = [...needed].filter(([k]) => !granted.has(k)).map(([k, where]) => `${k} (${where})`);
    expect(missing).toEqual([]);
  });
});

/** Files of src/ whose requests are made with a person's credentials (a CLI command), not the controller's. */
const runByPeople = ["cli/backtest.ts"];

/** The arguments, as text, of a call whose argument list starts at `from` (just after its opening parenthesis). */
function callArguments(text: string, from: number): string[] {
  const args: string[] = [];
  let depth = 1;
  let start = from;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0) {
        args.push(text.slice(start, i));
        break;
      }
    } else if (c === "," && depth === 1) {
      args.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return args.map((a) => a.trim()).filter(Boolean); // a trailing comma leaves an empty one
}

describe("Helm chart on the meta-cluster: the controller as the chart's ServiceAccount", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const admin = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const run = Date.now().toString(36).slice(-5);
  const release = "mp";
  const tenant = `chart-${run}`;
  const tenantNs = `tcp-${tenant}`;
  const kept = `chart-keep-${run}`;
  const keptNs = `tcp-${kept}`;
  const pool = `chart-${run}`;
  const work = mkdtempSync(path.join(tmpdir(), "metapilot-chart-"));
  const logFile = path.join(work, "controller.log");
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let rendered: KubeObject[] = [];
  let child: ChildProcess | undefined;
  let saUser = "";
  let started = new Date();
  let port = 0;

  const tail = () => {
    try {
      return readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
    } catch {
      return "";
    }
  };

  // A local ops center: the controller reports every ScalingDecision it sees here, signed with the chart's HMAC key.
  const received: Array<{ signature?: string; body: string }> = [];
  let opsCenter: Server;
  let opsCenterUrl = "";

  beforeAll(async () => {
    opsCenter = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({ signature: req.headers["x-metapilot-signature"] as string | undefined, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => opsCenter.listen(0, "127.0.0.1", resolve));
    const addr = opsCenter.address();
    opsCenterUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/events`;
    // The CRDs stay installed for every other test: install them like the other tests do and keep helm off them.
    await installCrds(kc);
    ns = await freshNamespace(kc, "chart");
    helm(
      [
        "install",
        release,
        chartDir,
        "-n",
        ns.name,
        "--skip-crds",
        "--set",
        "dryRun=false",
        "--set",
        `prometheus.url=${state.prometheusUrl ?? ""}`,
        "--set",
        "logLevel=debug",
        "--set",
        `opsCenter.urls[0]=${opsCenterUrl}`,
        "--set",
        "opsCenter.hmacSecret.name=ops-center-hmac",
        // Step 5's kwok NodePool creates and deletes Nodes.
        "--set",
        "nodePools.kwok.enabled=true",
      ],
      { KUBECONFIG: state.kubeconfig },
    );
    rendered = parseAllDocuments(helm(["get", "manifest", release, "-n", ns.name], { KUBECONFIG: state.kubeconfig }))
      .map((d) => d.toJS() as KubeObject)
      .filter(Boolean);
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    opsCenter?.close();
    await admin.delete(Resources.TenantControlPlane, tenant).catch(() => undefined);
    await admin.delete(Resources.TenantControlPlane, kept).catch(() => undefined);
    await admin.delete(Resources.Namespace, keptNs).catch(() => undefined);
    await admin.delete(Resources.NodePool, pool).catch(() => undefined);
    for (const d of [`chart-dry-${run}`, `chart-live-${run}`])
      await admin.delete(Resources.NodeDrain, d).catch(() => undefined);
    await admin.delete(Resources.ClusterScaler, tenant).catch(() => undefined);
    const nodes = await admin.listAll<KubeObject>(Resources.Node, { labelSelector: `metapilot.io/nodepool=${pool}` });
    for (const n of nodes.items) await admin.delete(Resources.Node, n.metadata?.name ?? "").catch(() => undefined);
    try {
      helm(["uninstall", release, "-n", ns.name], { KUBECONFIG: state.kubeconfig });
    } catch {
      // best effort
    }
    await ns?.cleanup();
  }, 120_000);

  it("installs every object of the chart into the apiserver", async () => {
    const kinds = rendered.map((o) => o.kind).sort();
    expect(kinds).toEqual([
      "ClusterRole",
      "ClusterRole",
      "ClusterRoleBinding",
      "Deployment",
      "FlowSchema",
      "PodDisruptionBudget",
      "Role",
      "Role",
      "RoleBinding",
      "RoleBinding",
      "Service",
      "ServiceAccount",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
    ]);
    for (const o of rendered) {
      const t = Object.values(Resources).find((r) => r.kind === o.kind);
      if (t) await admin.get(t, o.metadata?.name ?? "", t.namespaced ? ns.name : undefined);
    }
    const flowSchema = rendered.find((o) => o.kind === "FlowSchema")?.metadata?.name ?? "";
    const fs = await kc.makeApiClient(k8s.FlowcontrolApiserverV1Api).readFlowSchema({ name: flowSchema });
    expect(fs.spec?.priorityLevelConfiguration.name).toBe("leader-election");
    // The Deployment's pods land on kwok nodes (they never really execute the image).
    const pods = await eventually(
      async () => {
        const list = await core.listNamespacedPod({ namespace: ns.name });
        return list.items.length === 2 && list.items.every((p) => p.spec?.nodeName) ? list.items : undefined;
      },
      60_000,
      "two metapilot pods scheduled",
    );
    expect(pods[0]?.spec?.securityContext?.runAsNonRoot).toBe(true);
    expect(pods[0]?.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it("runs the scenario as the chart's ServiceAccount", async () => {
    const sa = rendered.find((o) => o.kind === "ServiceAccount")?.metadata?.name ?? "";
    saUser = `system:serviceaccount:${ns.name}:${sa}`;
    const saKc = await serviceAccountTokenKubeConfig(kc, ns.name, sa);
    const cluster = saKc.getCurrentCluster()!;
    const hmacFile = path.join(work, "hmac-key");
    writeFileSync(hmacFile, "chart-test-hmac-key\n", { mode: 0o600 });
    const kubeconfig = path.join(work, "kubeconfig");
    writeFileSync(kubeconfig, saKc.exportConfig(), { mode: 0o600 });

    // The exact args and env of the chart's container, with a local metrics port.
    const deploy = rendered.find((o) => o.kind === "Deployment") as unknown as {
      spec: {
        template: { spec: { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }> }> } };
      };
    };
    const container = deploy.spec.template.spec.containers[0]!;
    port = await freePort();
    const args = container.args
      .slice(1)
      .map((a) => (a.startsWith("--metrics-address=") ? `--metrics-address=127.0.0.1:${port}` : a))
      // The chart mounts the Secret's key as a file; the local process reads the same key from a local file.
      .map((a) => (a.startsWith("--ops-center-hmac-secret-file=") ? `--ops-center-hmac-secret-file=${hmacFile}` : a));
    expect(args).toContain(`--ops-center-url=${opsCenterUrl}`);
    const env: NodeJS.ProcessEnv = { ...process.env, POD_NAMESPACE: ns.name };
    delete env.KUBECONFIG;
    for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
    started = new Date();
    const log = createWriteStream(logFile);
    child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "controller", "--kubeconfig", kubeconfig, ...args],
      { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const alive = () => {
      if (child?.exitCode !== null) throw new Error(`controller exited (${child?.exitCode}):\n${tail()}`);
    };

    try {
      await eventually(
        async () => {
          alive();
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          return res.ok ? true : undefined;
        },
        90_000,
        "controller /readyz",
      );
      const lease = await eventually(
        async () => {
          alive();
          const l = await admin.getOptional<KubeObject & { spec?: { holderIdentity?: string } }>(
            Resources.Lease,
            "metapilot-leader",
            ns.name,
          );
          return l?.spec?.holderIdentity ? l : undefined;
        },
        60_000,
        "the leader Lease in the release namespace",
      );
      expect(lease.spec?.holderIdentity).toBeTruthy();
      // The apiserver classes the ServiceAccount's Lease requests by the chart's FlowSchema into the leader-election
      // priority level (API Priority and Fairness names both in the headers of every answer).
      const leaseUrl = new URL(
        `${cluster.server}/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases/metapilot-leader`,
      );
      const opts: https.RequestOptions = { hostname: leaseUrl.hostname, port: leaseUrl.port, path: leaseUrl.pathname };
      await saKc.applyToHTTPSOptions(opts);
      const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) =>
        https
          .get(opts, (res) => {
            res.resume();
            resolve(res.headers);
          })
          .on("error", reject),
      );
      const flowcontrol = kc.makeApiClient(k8s.FlowcontrolApiserverV1Api);
      const fsName = rendered.find((o) => o.kind === "FlowSchema")?.metadata?.name ?? "";
      expect(headers["x-kubernetes-pf-flowschema-uid"]).toBe(
        (await flowcontrol.readFlowSchema({ name: fsName })).metadata?.uid,
      );
      expect(headers["x-kubernetes-pf-prioritylevel-uid"]).toBe(
        (await flowcontrol.readPriorityLevelConfiguration({ name: "leader-election" })).metadata?.uid,
      );

      // 1. A TenantControlPlane reaches Ready.
      const labels = { "metapilot.io/tenant": tenant };
      await admin.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name: tenant, labels },
        spec: { version: "v1.34.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
      } as KubeObject);
      type Tcp = KubeObject & { status?: { phase?: string; observedGeneration?: number } };
      await eventually(
        async () => {
          alive();
          const t = await admin.get<Tcp>(Resources.TenantControlPlane, tenant);
          return t.status?.phase === "Ready" && t.status.observedGeneration === t.metadata?.generation ? t : undefined;
        },
        240_000,
        `${tenant} Ready`,
      );
      // Its Secrets were read and written through the RoleBinding the operator gave itself in the tenant namespace.
      const binding = await admin.get<KubeObject & { roleRef?: { name?: string }; subjects?: unknown[] }>(
        Resources.RoleBinding,
        "metapilot-tenant-secrets",
        tenantNs,
      );
      expect(binding.roleRef?.name).toBe(`${release}-metapilot-tenant-secrets`);
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: sa, namespace: ns.name }]);

      // 2. A ClusterScaler and an OOM-killed apiserver pod produce an applied ScalingDecision.
      await admin.create(Resources.ClusterScaler, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ClusterScaler",
        metadata: { name: tenant },
        spec: {
          tenantSelector: { matchLabels: labels },
          components: [
            {
              name: "kube-apiserver",
              scalers: [{ name: "oom" }],
              estimators: ["oom-memory"],
              minAllowed: { cpu: "100m", memory: "128Mi" },
              maxAllowed: { cpu: "4", memory: "16Gi" },
              replicas: { min: 1, max: 5 },
            },
          ],
          scaleUp: { cooldown: "2s" },
        },
      } as KubeObject);
      const victim = await eventually(
        async () => {
          const list = await core.listNamespacedPod({
            namespace: tenantNs,
            labelSelector: "metapilot.io/component=kube-apiserver",
          });
          return list.items.find((p) => p.status?.phase === "Running");
        },
        60_000,
        "a running kube-apiserver pod",
      );
      await new Promise((r) => setTimeout(r, 1000)); // the ClusterScaler reaches the controller's cache
      const container0 = victim.spec?.containers[0]?.name ?? "kube-apiserver";
      await core.patchNamespacedPodStatus(
        {
          name: victim.metadata?.name ?? "",
          namespace: tenantNs,
          body: {
            status: {
              containerStatuses: [
                {
                  name: container0,
                  image: victim.spec?.containers[0]?.image ?? "",
                  imageID: "",
                  ready: true,
                  started: true,
                  restartCount: 1,
                  state: { running: { startedAt: new Date() } },
                  lastState: {
                    terminated: {
                      reason: "OOMKilled",
                      exitCode: 137,
                      finishedAt: new Date(),
                      startedAt: new Date(Date.now() - 60_000),
                    },
                  },
                },
              ],
            },
          },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
      );
      type Decision = KubeObject & { spec?: { rootCause?: { category?: string } }; status?: { phase?: string } };
      const decision = await eventually(
        async () => {
          alive();
          const list = await admin.listAll<Decision>(Resources.ScalingDecision, { namespace: tenantNs });
          return list.items.find((d) => d.spec?.rootCause?.category === "OOMKilled" && d.status?.phase);
        },
        60_000,
        "a ScalingDecision for the OOM kill",
      );
      expect(decision.status?.phase).toBe("Applied");
      // ... and reported to the ops center, signed; the delivery state is written back to the decision's status.
      await eventually(
        async () => {
          alive();
          const d = await admin.get<Decision & { status?: { delivery?: { state?: string } } }>(
            Resources.ScalingDecision,
            decision.metadata?.name ?? "",
            tenantNs,
          );
          return d.status?.delivery?.state === "Delivered" ? d : undefined;
        },
        60_000,
        "the decision delivered to the ops center",
      );
      expect(received.some((r) => r.body.includes(decision.metadata?.name ?? "") && r.signature)).toBe(true);

      // 3. The recommender profiles the tenant's workloads.
      await eventually(
        async () => {
          alive();
          const list = await admin.listAll<KubeObject & { status?: unknown }>(Resources.WorkloadProfile, {
            namespace: tenantNs,
          });
          return list.items.some((p) => p.status) ? true : undefined;
        },
        90_000,
        "a WorkloadProfile with status",
      );

      // 4. A NodeDrain in dry-run on the victim's node plans and changes nothing.
      type Drain = KubeObject & { status?: { phase?: string } };
      await admin.create(Resources.NodeDrain, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "NodeDrain",
        metadata: { name: `chart-dry-${run}` },
        spec: { nodeNames: [victim.spec?.nodeName ?? ""], dryRun: true },
      } as KubeObject);
      const dry = await eventually(
        async () => {
          alive();
          const d = await admin.get<Drain>(Resources.NodeDrain, `chart-dry-${run}`);
          return d.status?.phase === "DryRun" || d.status?.phase === "Succeeded" ? d : undefined;
        },
        60_000,
        "the dry-run NodeDrain done",
      );
      expect(dry.status?.phase).toBe("DryRun");

      // 5. A kwok NodePool adds one node of its own (tainted, so nobody else's pods land there); a live NodeDrain
      // with createMissingPDBs evicts a tenant-labelled pod from it.
      await admin.create(Resources.NodePool, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "NodePool",
        metadata: { name: pool },
        spec: {
          provider: "kwok",
          minNodes: 1,
          maxNodes: 1,
          shape: { cpu: "4", memory: "8Gi" },
          labels: { "metapilot.io/chart-test": pool },
          taints: [{ key: "metapilot.io/chart-test", value: pool, effect: "NoSchedule" }],
        },
      } as KubeObject);
      const node = await eventually(
        async () => {
          alive();
          const list = await admin.listAll<
            KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }
          >(Resources.Node, { labelSelector: `metapilot.io/nodepool=${pool}` });
          return list.items.find((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        },
        60_000,
        "a Ready node of the NodePool",
      );
      const app = { "metapilot.io/tenant": `drain-${run}`, "metapilot.io/component": "kube-scheduler", app: "drain" };
      await admin.create(Resources.Deployment, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "drain-me", namespace: ns.name, labels: app },
        spec: {
          replicas: 1,
          selector: { matchLabels: app },
          template: {
            metadata: { labels: app },
            spec: {
              nodeSelector: { "metapilot.io/chart-test": pool },
              tolerations: [{ key: "metapilot.io/chart-test", operator: "Equal", value: pool, effect: "NoSchedule" }],
              terminationGracePeriodSeconds: 0,
              containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }],
            },
          },
        },
      } as KubeObject);
      await eventually(
        async () => {
          const list = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=drain" });
          return list.items.some((p) => p.status?.phase === "Running" && p.spec?.nodeName === node.metadata?.name)
            ? true
            : undefined;
        },
        60_000,
        "the drain-me pod Running on the pool's node",
      );
      await admin.create(Resources.NodeDrain, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "NodeDrain",
        metadata: { name: `chart-live-${run}` },
        spec: { nodeNames: [node.metadata?.name ?? ""], createMissingPDBs: true, timeout: "2m" },
      } as KubeObject);
      const live = await eventually(
        async () => {
          alive();
          const d = await admin.get<Drain>(Resources.NodeDrain, `chart-live-${run}`);
          return ["Succeeded", "Failed", "Aborted"].includes(d.status?.phase ?? "") ? d : undefined;
        },
        120_000,
        "the live NodeDrain done",
      );
      expect(live.status?.phase).toBe("Succeeded");

      // 6. Deleting the TenantControlPlane takes its namespace with it (deletionPolicy Delete).
      await admin.delete(Resources.TenantControlPlane, tenant);
      await eventually(
        async () => {
          alive();
          return (await admin.getOptional(Resources.TenantControlPlane, tenant)) ? undefined : true;
        },
        120_000,
        `${tenant} deleted`,
      );

      // 7. A TenantControlPlane deleted with deletionPolicy Retain: metapilot empties the namespace it keeps, its
      // Secrets through its own RoleBinding there, and then removes that RoleBinding, last.
      await admin.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name: kept },
        spec: { version: "v1.34.4", etcd: { managed: { replicas: 1, deletionPolicy: "Retain" } } },
      } as KubeObject);
      const tenantSecrets = async () =>
        (
          await admin.listAll<KubeObject>(Resources.Secret, {
            namespace: keptNs,
            labelSelector: `metapilot.io/tenant=${kept}`,
          })
        ).items;
      // Ready: every object the deletion must remove exists (Deployments, the etcd StatefulSet, Services, policy).
      await eventually(
        async () => {
          alive();
          const t = await admin.get<Tcp>(Resources.TenantControlPlane, kept);
          return t.status?.phase === "Ready" && (await tenantSecrets()).length > 0 ? true : undefined;
        },
        240_000,
        `${kept} Ready`,
      );
      await admin.delete(Resources.TenantControlPlane, kept);
      await eventually(
        async () => {
          alive();
          return (await admin.getOptional(Resources.TenantControlPlane, kept)) ? undefined : true;
        },
        120_000,
        `${kept} deleted`,
      );
      expect((await admin.get(Resources.Namespace, keptNs)).metadata?.deletionTimestamp).toBeUndefined();
      expect(await tenantSecrets()).toEqual([]);
      expect(await admin.getOptional(Resources.RoleBinding, "metapilot-tenant-secrets", keptNs)).toBeUndefined();
    } catch (err) {
      console.error(`controller log tail:\n${tail()}`);
      throw err;
    } finally {
      // A clean stop releases the Lease (an update).
      child.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        if (child?.exitCode !== null) resolve();
        else child.once("exit", () => resolve());
      });
    }
  }, 900_000);

  it("was never denied, and used every verb its RBAC grants (audit log)", async () => {
    expect(saUser).not.toBe("");
    await new Promise((r) => setTimeout(r, 2000)); // the audit log is written asynchronously
    const events = readAudit(state, started).filter((e) => e.user.username === saUser);
    expect(events.length).toBeGreaterThan(0);
    // RBAC denials carry the authorizer's "forbid"; other 403s come from admission (e.g. NamespaceLifecycle:
    // writing into a namespace that is being terminated), which no RBAC rule can change.
    const decision = (e: (typeof events)[number]) =>
      (e as { annotations?: Record<string, string> }).annotations?.["authorization.k8s.io/decision"];
    const denied = events
      .filter((e) => e.responseStatus?.code === 403 && decision(e) !== "allow")
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(denied).toEqual([]);
    const used = new Set<string>();
    for (const e of events) {
      const r = e.objectRef;
      if (!r?.resource) continue;
      const key = `${r.apiGroup ?? ""}/${r.resource}${r.subresource ? `/${r.subresource}` : ""}`;
      used.add(`${key}:${e.verb}`);
      // Server-side apply of an object that did not exist is authorized as create too, and answers 201.
      if (e.verb === "patch" && e.responseStatus?.code === 201) used.add(`${key}:create`);
    }
    const granted = grantedVerbs(rendered);
    const unused = [...granted].filter((g) => !used.has(g) && !(g in rbacAllowList)).sort();
    const allowedButUsed = Object.keys(rbacAllowList).filter((k) => used.has(k));
    const notGranted = Object.keys(rbacAllowList).filter((k) => !granted.has(k));
    console.log(
      `audit: ${events.length} requests by ${saUser}; ${used.size} resource+verb pairs used; ` +
        `allow-listed but used in this run: ${allowedButUsed.join(", ") || "none"}`,
    );
    expect(notGranted, "allow-list entries the chart does not grant").toEqual([]);
    expect(unused, "granted but never used (remove them, or add them to the allow-list with a reason)").toEqual([]);
    // Used but not granted would have been denied; double-check the mapping of audit events to rules.
    const ungranted = [...used].filter((u) => !granted.has(u)).sort();
    expect(ungranted).toEqual([]);
  });
});
