// Security properties, checked on a meta-cluster of our own: no Secret data or token in any log (controller at debug
// level reconciling TenantControlPlanes, plus every meta-cluster log); ops-center signatures that a receiver can
// verify and that break on tampering; tenant namespaces isolated by NetworkPolicy (evaluated by test/security/
// netpol.ts); the dashboard read-only and behind auth; the container non-root. npm advisories are `make audit`'s:
// it needs the registry's advisory endpoint.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { binDir, down, listLogs, repoRoot } from "../../hack/lib/metacluster.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { signBody } from "../../src/scaler/reports.js";
import { chaosDir, chaosUp, ControllerProcess, ensureNamespace, waitUntil, type ChaosEnv } from "../chaos/lib.js";
import { ingressAllowed, type Endpoint, type NetworkPolicy } from "./netpol.js";

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

describe("security", () => {
  let env: ChaosEnv;
  let controller: ControllerProcess;
  const id = randomBytes(3).toString("hex");
  const tenants = [`sec${id}-a`, `sec${id}-b`];
  const extTenant = `sec${id}-ext`;
  const known = `s3cr3t-${randomBytes(12).toString("hex")}`;
  const tokenFile = path.join(chaosDir, `dashboard-token-${id}`);
  const dashboardToken = randomBytes(16).toString("hex");

  beforeAll(async () => {
    env = await chaosUp(10, (l) => process.stderr.write(`[security] ${l}\n`));
    writeFileSync(tokenFile, dashboardToken, { mode: 0o600 });
    controller = await new ControllerProcess(env, {
      identity: `sec-${id}`,
      controllers: ["tenantcontrolplane"],
      leaseId: `sec-${id}`,
      logLevel: "debug",
      extraArgs: ["--dashboard", `--dashboard-auth-token-file=${tokenFile}`],
    }).start();
    await controller.waitLeader(60_000);
    // An external etcd whose client credentials are a Secret with known values: the reconciler reads it.
    const extNs = `tcp-${extTenant}`;
    await ensureNamespace(env.client, extNs);
    await env.client.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "etcd-client", namespace: extNs },
      stringData: { "ca.crt": known, "tls.crt": known, "tls.key": known, password: known },
    } as KubeObject);
    for (const t of tenants)
      await env.client.create(Resources.TenantControlPlane, {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "TenantControlPlane",
        metadata: { name: t },
        spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
      } as KubeObject);
    await env.client.create(Resources.TenantControlPlane, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: extTenant },
      spec: {
        version: "v1.35.4",
        etcd: { external: { endpoints: ["https://etcd.invalid:2379"], secretRef: { name: "etcd-client" } } },
      },
    } as KubeObject);
    await waitUntil(async () => {
      for (const t of tenants) {
        const o = await env.client.get<RawTenantControlPlane>(Resources.TenantControlPlane, t);
        if (o.status?.phase !== "Ready") return false;
      }
      const ext = await env.client.get<RawTenantControlPlane>(Resources.TenantControlPlane, extTenant);
      return (ext.status?.conditions ?? []).length > 0;
    }, 240_000);
  }, 400_000);

  afterAll(async () => {
    await controller?.kill("SIGTERM");
    for (const t of [...tenants, extTenant])
      await env.client.delete(Resources.TenantControlPlane, t).catch(() => undefined);
    if (process.env.CHAOS_KEEP !== "1") await down(chaosDir);
  }, 120_000);

  it("no Secret data, PEM block or service-account token in the controller's or the meta-cluster's logs", async () => {
    // Secret values the controller wrote or read: every data value of every Secret in the tenant namespaces.
    const needles = new Set<string>([known, Buffer.from(known).toString("base64")]);
    for (const t of [...tenants, extTenant]) {
      const list = await env.client.listAll<Secret>(Resources.Secret, { namespace: `tcp-${t}` });
      for (const s of list.items)
        for (const v of Object.values(s.data ?? {})) {
          if (v.length < 16) continue;
          needles.add(v.slice(0, 64)); // base64 as stored
          const decoded = Buffer.from(v, "base64").toString("utf8");
          // A line of the PEM body (base64 of DER), unique to this key or certificate.
          const body = decoded.split("\n").find((l) => l.length >= 60 && !l.startsWith("-----"));
          if (body) needles.add(body);
        }
    }
    const files = [controller.logFile, ...listLogs(env.state)].filter((f) => statSync(f).isFile());
    const findings: string[] = [];
    let bytes = 0;
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      bytes += text.length;
      if (/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/.test(text))
        findings.push(`${path.basename(f)}: PEM block`);
      const jwt = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.exec(text);
      if (jwt) findings.push(`${path.basename(f)}: JWT ${jwt[0].slice(0, 20)}…`);
      for (const n of needles)
        if (text.includes(n)) findings.push(`${path.basename(f)}: Secret value ${n.slice(0, 12)}…`);
    }
    const debugLines = controller.lines.filter((l) => /"level":("debug"|20)/.test(l)).length;
    console.log(
      `scanned ${files.length} log files (${Math.round(bytes / 1024)} KiB, ${debugLines} debug lines) for ${needles.size} secret values`,
    );
    expect(debugLines, "the controller logged at debug level").toBeGreaterThan(0);
    expect(needles.size).toBeGreaterThan(10);
    expect(findings).toEqual([]);
  }, 60_000);

  it("ops-center signatures verify, and break on a changed body, timestamp or key", () => {
    // The live path (the controller signing, a receiver verifying every report) runs in test/scaler/
    // dryrun-reports.test.ts and in the chaos ops-center scenario; here, what a receiver relies on.
    const body = JSON.stringify({ id: "x", specversion: "1.0", data: { after: { memory: "2Gi" } } });
    const sig = signBody("k", "1700000000", body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signBody("k", "1700000000", body)).toBe(sig);
    expect(signBody("k", "1700000000", body.replace("2Gi", "20Gi"))).not.toBe(sig);
    expect(signBody("k", "1700000001", body)).not.toBe(sig);
    expect(signBody("k2", "1700000000", body)).not.toBe(sig);
  });

  it("isolates tenant namespaces: from another tenant only the apiserver port is reachable", async () => {
    const policies: NetworkPolicy[] = [];
    const nsLabels: Record<string, Record<string, string>> = {};
    const pods: Endpoint[] = [];
    for (const t of tenants) {
      const ns = `tcp-${t}`;
      policies.push(
        ...(await env.client.listAll<NetworkPolicy & KubeObject>(Resources.NetworkPolicy, { namespace: ns })).items,
      );
      const nsObj = await env.client.get<KubeObject>(Resources.Namespace, ns);
      nsLabels[ns] = nsObj.metadata?.labels ?? {};
      const list = await env.client.listAll<KubeObject & { status?: { podIP?: string } }>(Resources.Pod, {
        namespace: ns,
      });
      for (const p of list.items)
        pods.push({
          namespace: ns,
          namespaceLabels: nsLabels[ns]!,
          podLabels: p.metadata?.labels ?? {},
          ip: p.status?.podIP ?? "10.244.0.1",
        });
    }
    expect(policies.length).toBeGreaterThanOrEqual(2);
    expect(pods.length).toBeGreaterThanOrEqual(10);
    const component = (e: Endpoint) => e.podLabels["metapilot.io/component"] ?? "";
    const ports: Record<string, number[]> = {
      "kube-apiserver": [6443],
      etcd: [2379, 2380],
      "kube-controller-manager": [10257],
      "kube-scheduler": [10259],
    };
    const wrong: string[] = [];
    for (const src of pods)
      for (const dst of pods)
        for (const port of ports[component(dst)] ?? []) {
          const allowed = ingressAllowed(policies, src, dst, port);
          const sameTenant = src.namespace === dst.namespace;
          const expected = sameTenant || (component(dst) === "kube-apiserver" && port === 6443);
          if (allowed !== expected)
            wrong.push(
              `${src.namespace}/${component(src)} -> ${dst.namespace}/${component(dst)}:${port} ${allowed ? "allowed" : "denied"}`,
            );
        }
    // A namespace that is neither tenant nor system (another team's workload) gets the same treatment.
    const stranger: Endpoint = { namespace: "default", namespaceLabels: {}, podLabels: { app: "x" }, ip: "10.244.9.9" };
    const etcdA = pods.find((p) => component(p) === "etcd")!;
    if (ingressAllowed(policies, stranger, etcdA, 2379)) wrong.push("default/x -> etcd:2379 allowed");
    const system: Endpoint = {
      namespace: "monitoring",
      namespaceLabels: { "metapilot.io/role": "system" },
      podLabels: {},
      ip: "10.244.8.8",
    };
    if (!ingressAllowed(policies, system, etcdA, 2379)) wrong.push("system namespace -> etcd:2379 denied");
    expect(wrong.slice(0, 20)).toEqual([]);
  }, 60_000);

  it("serves the dashboard read-only and only with the token", async () => {
    const base = `http://127.0.0.1:${controller.metricsPort}`;
    const auth = { authorization: `Bearer ${dashboardToken}` };
    for (const p of ["/api/tenants", "/api/decisions", "/api/nodepools", "/api/nodedrains", "/ui/"]) {
      expect((await fetch(base + p)).status, `${p} without a token`).toBe(401);
      expect((await fetch(base + p, { headers: { authorization: "Bearer wrong" } })).status, `${p} wrong token`).toBe(
        401,
      );
    }
    expect((await fetch(`${base}/api/tenants`, { headers: auth })).status).toBe(200);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      for (const p of ["/api/tenants", "/api/decisions", "/ui/", "/metrics", "/healthz"]) {
        const res = await fetch(base + p, {
          method,
          headers: { ...auth, "content-type": "application/json" },
          body: "{}",
        });
        expect(res.status, `${method} ${p}`).toBeGreaterThanOrEqual(400);
        expect([401, 403, 404, 405], `${method} ${p}`).toContain(res.status);
      }
    }
  }, 60_000);

  it("runs the container as non-root (Dockerfile and the chart's rendered Deployment)", () => {
    const docker = readFileSync(path.join(repoRoot, "Dockerfile"), "utf8");
    const finalStage = docker.split(/^FROM /m).at(-1) ?? "";
    const user = /^USER\s+(\S+)/m.exec(finalStage)?.[1];
    expect(user, "USER in the final stage").toBeDefined();
    expect(user!.split(":")[0]).not.toMatch(/^(0|root)$/);
    const rendered = execFileSync(
      path.join(binDir, "helm"),
      ["template", "mp", path.join(repoRoot, "charts/metapilot")],
      {
        encoding: "utf8",
      },
    );
    const docs = parseAllDocuments(rendered).map((d) => d.toJS() as KubeObject & { spec?: Record<string, unknown> });
    const deployments = docs.filter((d) => d?.kind === "Deployment");
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) {
      type Pod = {
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Array<{
          name: string;
          securityContext?: {
            runAsNonRoot?: boolean;
            runAsUser?: number;
            allowPrivilegeEscalation?: boolean;
            privileged?: boolean;
          };
        }>;
      };
      const pod = (d.spec as { template: { spec: Pod } }).template.spec;
      for (const c of pod.containers) {
        const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
        const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        expect(nonRoot, `${c.name} runAsNonRoot`).toBe(true);
        if (uid !== undefined) expect(uid, `${c.name} runAsUser`).not.toBe(0);
        expect(c.securityContext?.allowPrivilegeEscalation, `${c.name} allowPrivilegeEscalation`).toBe(false);
        expect(c.securityContext?.privileged ?? false).toBe(false);
      }
    }
  });
});
