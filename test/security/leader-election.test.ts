// Exploit 8 of the tenant-isolation issue: a controller that can never lead but says it is ready. Against a
// meta-cluster without its leader-election namespace, `metapilot controller` must stop at once with one error that
// names the namespace and the flags, and exit non-zero; while its Lease cannot be read (here RBAC refuses it),
// /readyz must not answer 200. Both run the real CLI as a child process against the real apiserver.
import * as k8s from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, repoRoot } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { Resources } from "../../src/kube/resources.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { serviceAccountTokenKubeConfig } from "../harness/tokens.js";

interface Child {
  lines: string[];
  exit: Promise<number | null>;
  kill: () => void;
}

function controller(args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "controller", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => lines.push(l));
  createInterface({ input: child.stderr }).on("line", (l) => lines.push(l));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { lines, exit, kill: () => child.kill("SIGTERM") };
}

const dir = mkdtempSync(path.join(tmpdir(), "mp-leader-"));

describe("leader election without its namespace or its Lease", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const client = new KubeClient(kc, { qps: 50, burst: 50, fieldManager: "test-user" });
  const children: Child[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(() => installCrds(kc), 60_000);

  afterAll(async () => {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exit));
    for (const f of cleanups) await f().catch(() => undefined);
  }, 60_000);

  it("exits non-zero with one error naming the namespace and the flags, and creates nothing", async () => {
    const missing = `mp-missing-${randomBytes(3).toString("hex")}`;
    const since = new Date();
    const started = Date.now();
    const c = controller([
      `--kubeconfig=${state.kubeconfig}`,
      "--controllers=nodedrain",
      `--leader-election-namespace=${missing}`,
      `--metrics-address=127.0.0.1:${await freePort()}`,
    ]);
    children.push(c);
    const code = await Promise.race([c.exit, new Promise<"hung">((r) => setTimeout(() => r("hung"), 60_000))]);
    const elapsed = Date.now() - started;
    console.log(`missing namespace: exit ${String(code)} after ${elapsed} ms`);
    expect(code, c.lines.join("\n")).toBe(1);
    const errors = c.lines.filter((l) => l.includes(`namespace "${missing}" does not exist`));
    expect(errors, c.lines.join("\n")).toHaveLength(1);
    expect(errors[0]).toContain("--leader-election-namespace");
    expect(errors[0]).toContain("--no-leader-elect");
    // No retry storm: not one failed attempt logged, no Lease 404 repeated.
    expect(c.lines.filter((l) => /acquire attempt failed|leases/.test(l))).toEqual([]);
    // Nothing was created: not the namespace, and no write of any kind succeeded.
    expect(await client.getOptional(Resources.Namespace, missing)).toBeUndefined();
    const writes = readAudit(state, since).filter(
      (e) => isWrite(e) && e.userAgent?.startsWith("metapilot/") && (e.responseStatus?.code ?? 0) < 300,
    );
    expect(writes.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  }, 90_000);

  it("is not ready while RBAC refuses its Lease, and ready once it leads", async () => {
    const ns = await freshNamespace(kc, "mp-le");
    cleanups.push(ns.cleanup);
    const name = `mp-le-${randomBytes(3).toString("hex")}`;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name } } });
    // What the nodedrain controller's caches read, and Events: everything but the Lease. The ClusterScalers,
    // TenantControlPlanes and ScalingDecisions are the disruption budgets' (reason Drain): without them its caches
    // never sync, and /readyz would fail for that instead of for the Lease.
    await rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [
          { apiGroups: [""], resources: ["nodes", "pods"], verbs: ["get", "list", "watch"] },
          { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["get", "list", "watch"] },
          {
            apiGroups: ["metapilot.io"],
            resources: ["nodedrains", "nodepools", "clusterscalers", "tenantcontrolplanes", "scalingdecisions"],
            verbs: ["get", "list", "watch"],
          },
          { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
        ],
      },
    });
    cleanups.push(() => rbac.deleteClusterRole({ name }));
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [{ kind: "ServiceAccount", name, namespace: ns.name }],
      },
    });
    cleanups.push(() => rbac.deleteClusterRoleBinding({ name }));
    const kubeconfig = path.join(dir, `${name}.kubeconfig`);
    writeFileSync(kubeconfig, (await serviceAccountTokenKubeConfig(kc, ns.name, name)).exportConfig(), {
      mode: 0o600,
    });
    const port = await freePort();
    const c = controller([
      `--kubeconfig=${kubeconfig}`,
      "--controllers=nodedrain",
      `--leader-election-namespace=${ns.name}`,
      `--leader-election-id=${name}`,
      "--retry-period=500ms",
      "--renew-deadline=3s",
      "--lease-duration=4s",
      `--metrics-address=127.0.0.1:${port}`,
    ]);
    children.push(c);
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz?verbose`);
      return { status: res.status, body: await res.text() };
    };
    // Caches synced (the informers check passes) while the Lease is refused: still 503, with the reason.
    const refused = await eventually(
      async () => {
        const r = await readyz().catch(() => undefined);
        return r?.body.includes("[+]informers ok") ? r : undefined;
      },
      60_000,
      "/readyz with synced caches",
    );
    expect(refused.status, refused.body).toBe(503);
    expect(refused.body).toMatch(/\[-\]leaderElection failed: cannot read or create the Lease .*forbidden/i);
    // Five seconds later: still not ready, still running, and the refusal logged once, not every retry.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await readyz()).status).toBe(503);
    expect(c.lines.filter((l) => l.includes("acquire attempt failed")).length).toBe(1);
    // The Lease allowed: it leads, and /readyz answers 200.
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name },
        rules: [
          {
            apiGroups: ["coordination.k8s.io"],
            resources: ["leases"],
            verbs: ["get", "list", "watch", "create", "update"],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [{ kind: "ServiceAccount", name, namespace: ns.name }],
      },
    });
    await eventually(
      async () => ((await readyz().catch(() => undefined))?.status === 200 ? true : undefined),
      60_000,
      "/readyz 200 once the Lease can be taken",
    );
    expect(c.lines.some((l) => l.includes('"became leader"'))).toBe(true);
  }, 180_000);
});
