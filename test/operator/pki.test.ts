// The tenant PKI, proven on real processes: a 3-member etcd cluster with client and peer TLS (client-cert-auth on)
// and a kube-apiserver, both configured only from files laid out exactly as the PKI Secrets would be mounted.
// Then the CAs roll in three phases (trust old + new, reissue, drop the old) with no client cut off on the way; and a
// hard cut-over (what the operator does today) restarts both on new material, where the old admin kubeconfig fails.
// This file starts its own processes on free ports and ignores the shared meta-cluster.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binDir, freePort } from "../../hack/lib/metacluster.js";
import { parseKubeconfig, renderKubeconfig } from "../../src/pki/kubeconfig.js";
import {
  bundleCertificates,
  componentsAffectedBy,
  generateTenantPki,
  issuePki,
  pkiFromSecrets,
  pkiSecretName,
  pkiToSecrets,
  planPki,
  secretsMountedBy,
  trustBundle,
  type PkiPart,
  type SecretObject,
  type TenantPki,
  type TenantPkiSpec,
} from "../../src/operator/pki/index.js";

const spec: TenantPkiSpec = {
  tenantName: "pki-it",
  namespace: "tcp-pki-it",
  serviceName: "kube-apiserver",
  certSANs: ["pki-it.example.test"],
  etcdServiceName: "etcd",
  etcdReplicas: 3,
  validityDays: 365,
  caValidityDays: 3650,
  now: new Date(),
};
const issuer = "https://kubernetes.default.svc.cluster.local";

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: boolean;
}

const workDir = mkdtempSync(path.join(tmpdir(), "metapilot-pki-"));
const procs: Proc[] = [];

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function start(name: string, binary: string, args: string[]): Proc {
  const logFile = path.join(workDir, `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(path.join(binDir, binary), args, { stdio: ["ignore", fd, fd], cwd: workDir });
  closeSync(fd);
  const proc: Proc = { name, child, logFile, exited: false };
  child.on("exit", () => (proc.exited = true));
  procs.push(proc);
  return proc;
}

async function stop(proc: Proc): Promise<void> {
  if (!proc.exited && proc.child.pid) {
    proc.child.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while (!proc.exited && Date.now() < deadline) await sleep(50);
    if (!proc.exited) proc.child.kill("SIGKILL");
    while (!proc.exited) await sleep(20);
  }
  procs.splice(procs.indexOf(proc), 1);
}

/** Writes every Secret as a directory of files, the way a Secret volume appears in a pod. */
function mountSecrets(dir: string, secrets: SecretObject[]): (part: PkiPart, key: string) => string {
  for (const secret of secrets) {
    const secretDir = path.join(dir, secret.metadata.name);
    mkdirSync(secretDir, { recursive: true });
    for (const [key, value] of Object.entries(secret.data)) {
      writeFileSync(path.join(secretDir, key), Buffer.from(value, "base64"), { mode: 0o600 });
    }
  }
  return (part, key) => path.join(dir, pkiSecretName(spec.tenantName, part), key);
}

interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}

function httpsCall(
  url: string,
  tls: Tls,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpsRequest(
      url,
      {
        method: options.method ?? "GET",
        ...tls,
        timeout: 5000,
        headers: { ...(data ? { "content-type": "application/json" } : {}), ...options.headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}

async function waitFor(proc: Proc, what: string, check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited while waiting for ${what}:\n${tail(proc.logFile)}`);
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${proc.name}: ${what} not reached in ${timeoutMs} ms:\n${tail(proc.logFile)}`);
}

interface Ports {
  etcdClient: number[];
  etcdPeer: number[];
  apiserver: number;
}

/** Starts the etcd members `indices` (default: all) and waits until each is healthy. */
async function startEtcd(
  file: ReturnType<typeof mountSecrets>,
  ports: Ports,
  fresh: boolean,
  indices: number[] = ports.etcdClient.map((_, i) => i),
): Promise<Proc[]> {
  const names = ports.etcdClient.map((_, i) => `etcd-${i}`);
  const initialCluster = names.map((n, i) => `${n}=https://127.0.0.1:${ports.etcdPeer[i]}`).join(",");
  const members = indices.map((i) => {
    const name = `etcd-${i}`;
    return start(name, "etcd", [
      `--name=${name}`,
      `--data-dir=${path.join(workDir, name)}`,
      `--listen-client-urls=https://127.0.0.1:${ports.etcdClient[i]}`,
      `--advertise-client-urls=https://127.0.0.1:${ports.etcdClient[i]}`,
      `--listen-peer-urls=https://127.0.0.1:${ports.etcdPeer[i]}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${ports.etcdPeer[i]}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${fresh ? "new" : "existing"}`,
      "--initial-cluster-token=pki-it",
      `--cert-file=${file("etcdServer", "tls.crt")}`,
      `--key-file=${file("etcdServer", "tls.key")}`,
      `--trusted-ca-file=${file("etcdServer", "ca.crt")}`,
      "--client-cert-auth=true",
      `--peer-cert-file=${file("etcdPeer", "tls.crt")}`,
      `--peer-key-file=${file("etcdPeer", "tls.key")}`,
      `--peer-trusted-ca-file=${file("etcdPeer", "ca.crt")}`,
      "--peer-client-cert-auth=true",
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
  });
  // The apiserver's etcd client identity, from its own Secret: proves the client certificate too.
  const client: Tls = {
    ca: readFileSync(file("apiserverEtcdClient", "ca.crt"), "utf8"),
    cert: readFileSync(file("apiserverEtcdClient", "tls.crt"), "utf8"),
    key: readFileSync(file("apiserverEtcdClient", "tls.key"), "utf8"),
  };
  // /health is true only with a leader, which needs the members to talk over peer TLS.
  await Promise.all(
    members.map((m, k) =>
      waitFor(m, "healthy", async () => {
        const res = await httpsCall(`https://127.0.0.1:${ports.etcdClient[indices[k]!]}/health`, client);
        return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === "true";
      }),
    ),
  );
  return members;
}

async function startApiserver(file: ReturnType<typeof mountSecrets>, ports: Ports): Promise<Proc> {
  const proc = start("kube-apiserver", "kube-apiserver", [
    `--etcd-servers=${ports.etcdClient.map((p) => `https://127.0.0.1:${p}`).join(",")}`,
    `--etcd-cafile=${file("apiserverEtcdClient", "ca.crt")}`,
    `--etcd-certfile=${file("apiserverEtcdClient", "tls.crt")}`,
    `--etcd-keyfile=${file("apiserverEtcdClient", "tls.key")}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${file("apiserver", "tls.crt")}`,
    `--tls-private-key-file=${file("apiserver", "tls.key")}`,
    `--client-ca-file=${file("apiserver", "ca.crt")}`,
    `--kubelet-client-certificate=${file("apiserverKubeletClient", "tls.crt")}`,
    `--kubelet-client-key=${file("apiserverKubeletClient", "tls.key")}`,
    `--requestheader-client-ca-file=${file("frontProxyClient", "ca.crt")}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${file("frontProxyClient", "tls.crt")}`,
    `--proxy-client-key-file=${file("frontProxyClient", "tls.key")}`,
    `--service-account-key-file=${file("serviceAccount", "sa.pub")}`,
    `--service-account-signing-key-file=${file("serviceAccount", "sa.key")}`,
    `--service-account-issuer=${issuer}`,
    `--api-audiences=${issuer}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    "--authorization-mode=Node,RBAC",
    "--profiling=false",
    "--v=1",
  ]);
  const readyz = `https://127.0.0.1:${ports.apiserver}/readyz`;
  const admin = parseKubeconfig(readFileSync(file("adminKubeconfig", "kubeconfig"), "utf8"));
  const tls = { ca: admin.caPem, cert: admin.clientCertificatePem, key: admin.clientKeyPem };
  await waitFor(proc, "/readyz", async () => (await httpsCall(readyz, tls)).status === 200, 90_000);
  return proc;
}

/** A client from a generated kubeconfig, with only its server replaced (the PKI points at the in-namespace URL). */
function kubeConfigFor(kubeconfigYaml: string, server: string): k8s.KubeConfig {
  const loaded = new k8s.KubeConfig();
  loaded.loadFromString(kubeconfigYaml);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: loaded.clusters.map((c) => ({ ...c, server })),
    users: loaded.users,
    contexts: loaded.contexts,
    currentContext: loaded.getCurrentContext(),
  });
  return kc;
}

async function whoAmI(
  url: string,
  tls: Tls,
  headers: Record<string, string> = {},
): Promise<{ status: number; username?: string; groups?: string[] }> {
  const res = await httpsCall(`${url}/apis/authentication.k8s.io/v1/selfsubjectreviews`, tls, {
    method: "POST",
    headers,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  if (res.status !== 201) return { status: res.status };
  const info = (JSON.parse(res.body) as { status: { userInfo: { username: string; groups?: string[] } } }).status
    .userInfo;
  return { status: res.status, username: info.username, groups: info.groups ?? [] };
}

function kubeconfigTls(yaml: string): Tls {
  const parsed = parseKubeconfig(yaml);
  return { ca: parsed.caPem, cert: parsed.clientCertificatePem, key: parsed.clientKeyPem };
}

describe("tenant PKI on real etcd and kube-apiserver", () => {
  let ports: Ports;
  let server: string;
  let pki0: TenantPki;
  let secrets0: SecretObject[];
  let etcd: Proc[] = [];
  let apiserver: Proc | undefined;
  let saToken = "";

  beforeAll(async () => {
    ports = {
      etcdClient: [await freePort(), await freePort(), await freePort()],
      etcdPeer: [await freePort(), await freePort(), await freePort()],
      apiserver: await freePort(),
    };
    server = `https://127.0.0.1:${ports.apiserver}`;
    pki0 = await generateTenantPki(spec);
    secrets0 = pkiToSecrets(pki0, spec);
    const file = mountSecrets(path.join(workDir, "gen0"), secrets0);
    etcd = await startEtcd(file, ports, true);
    apiserver = await startApiserver(file, ports);
  });

  afterAll(async () => {
    // Every process this file started, whatever happened above.
    await Promise.all([...procs].map((p) => stop(p)));
    rmSync(workDir, { recursive: true, force: true });
  });

  it("configures each process only from the Secrets its component mounts", () => {
    const args = (p: Proc) => p.child.spawnargs.join(" ");
    const used = (p: Proc) => secrets0.map((s) => s.metadata.name).filter((name) => args(p).includes(`/gen0/${name}/`));
    expect(used(apiserver!).sort()).toEqual(secretsMountedBy("kube-apiserver", spec.tenantName).sort());
    expect(used(etcd[0]!).sort()).toEqual(secretsMountedBy("etcd", spec.tenantName).sort());
  });

  it("lists namespaces with the generated admin kubeconfig (server overridden to 127.0.0.1)", async () => {
    expect(parseKubeconfig(pki0.adminKubeconfig).server).toBe("https://kube-apiserver.tcp-pki-it.svc:6443");
    const core = kubeConfigFor(pki0.adminKubeconfig, server).makeApiClient(k8s.CoreV1Api);
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).toEqual(expect.arrayContaining(["default", "kube-system"]));
    await core.createNamespace({ body: { metadata: { name: "before-rotation" } } });
  });

  it("authenticates the controller-manager and scheduler kubeconfigs as their system users", async () => {
    const kcm = await whoAmI(server, kubeconfigTls(pki0.controllerManagerKubeconfig));
    expect(kcm.username).toBe("system:kube-controller-manager");
    const scheduler = await whoAmI(server, kubeconfigTls(pki0.schedulerKubeconfig));
    expect(scheduler.username).toBe("system:kube-scheduler");
    const admin = await whoAmI(server, kubeconfigTls(pki0.adminKubeconfig));
    expect(admin).toMatchObject({ username: "kubernetes-admin", groups: expect.arrayContaining(["system:masters"]) });
  });

  it("trusts the front-proxy client certificate for request-header authentication", async () => {
    const headers = { "X-Remote-User": "alice", "X-Remote-Group": "tenant-devs" };
    const viaProxy = await whoAmI(
      server,
      {
        ca: pki0.ca.certificatePem,
        cert: pki0.frontProxyClient.certificatePem,
        key: pki0.frontProxyClient.privateKeyPem,
      },
      headers,
    );
    expect(viaProxy).toMatchObject({ username: "alice", groups: expect.arrayContaining(["tenant-devs"]) });
    // The same headers from a client certificate of the cluster CA are not request-header authentication.
    const notProxy = await whoAmI(
      server,
      {
        ca: pki0.ca.certificatePem,
        cert: pki0.apiserverKubeletClient.certificatePem,
        key: pki0.apiserverKubeletClient.privateKeyPem,
      },
      headers,
    );
    expect(notProxy.username).toBe("kube-apiserver-kubelet-client");
  });

  it("signs and verifies service-account tokens with the generated key pair", async () => {
    const core = kubeConfigFor(pki0.adminKubeconfig, server).makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "probe" } } });
    const token = await core.createNamespacedServiceAccountToken({
      name: "probe",
      namespace: "default",
      body: { spec: { audiences: [issuer], expirationSeconds: 3600 } },
    });
    saToken = token.status?.token ?? "";
    const who = await whoAmI(server, { ca: pki0.ca.certificatePem }, { authorization: `Bearer ${saToken}` });
    expect(who.username).toBe("system:serviceaccount:default:probe");
  });

  it("etcd refuses clients without a certificate from its CA", async () => {
    const url = `https://127.0.0.1:${ports.etcdClient[0]}/health`;
    await expect(httpsCall(url, { ca: pki0.etcdCA.certificatePem })).rejects.toThrow();
    const foreign = {
      ca: pki0.etcdCA.certificatePem,
      cert: pki0.frontProxyClient.certificatePem,
      key: pki0.frontProxyClient.privateKeyPem,
    };
    await expect(httpsCall(url, foreign)).rejects.toThrow();
  });

  it("rolls the CAs without cutting a client off: old and new trusted side by side, reissued, then dropped", async () => {
    // The material of each phase as pkiToSecrets writes it (see src/operator/pki/rotation.ts); the processes roll
    // one at a time, etcd member by member, the way the pods would.
    const fresh = await issuePki(planPki(pki0, spec, { renewBeforeDays: 30, rotateCAGeneration: 1 }, new Date()), pki0);
    const cas = (pki: TenantPki) => ({
      ca: [pki.ca.certificatePem],
      frontProxyCA: [pki.frontProxyCA.certificatePem],
      etcdCA: [pki.etcdCA.certificatePem],
    });
    const roll = async (dir: string, secrets: SecretObject[]) => {
      const file = mountSecrets(path.join(workDir, dir), secrets);
      for (let i = 0; i < etcd.length; i++) {
        await stop(etcd[i]!);
        etcd[i] = (await startEtcd(file, ports, false, [i]))[0]!;
      }
      await stop(apiserver!);
      apiserver = await startApiserver(file, ports);
    };
    const bundle = (signer: "ca" | "frontProxyCA" | "etcdCA") =>
      trustBundle([pki0[signer].certificatePem, fresh[signer].certificatePem]);
    // Clients as they exist during the roll: old certificate and new certificate, each trusting both CAs.
    const oldAdmin: Tls = { ...kubeconfigTls(pki0.adminKubeconfig), ca: bundle("ca") };
    const newAdmin: Tls = { ...kubeconfigTls(fresh.adminKubeconfig), ca: bundle("ca") };
    const etcdClient = (pki: TenantPki): Tls => ({
      ca: bundle("etcdCA"),
      cert: pki.apiserverEtcdClient.certificatePem,
      key: pki.apiserverEtcdClient.privateKeyPem,
    });
    const etcdHealthy = async (tls: Tls) => {
      for (const port of ports.etcdClient) {
        const res = await httpsCall(`https://127.0.0.1:${port}/health`, tls);
        expect(res.status).toBe(200);
      }
    };
    const headers = { "X-Remote-User": "alice", "X-Remote-Group": "tenant-devs" };
    const viaProxy = (pki: TenantPki) =>
      whoAmI(
        server,
        { ca: bundle("ca"), cert: pki.frontProxyClient.certificatePem, key: pki.frontProxyClient.privateKeyPem },
        headers,
      );

    // Trust: leaves still from the old CAs, every trust file holds old + new.
    const trust = pkiToSecrets(pki0, spec, cas(fresh));
    await roll("rotate-trust", trust);
    const trustAdmin = kubeconfigTls(
      Buffer.from(
        trust.find((x) => x.metadata.name === pkiSecretName(spec.tenantName, "adminKubeconfig"))!.data.kubeconfig!,
        "base64",
      ).toString(),
    );
    expect(bundleCertificates(trustAdmin.ca!)).toHaveLength(2);
    // Every client that existed before still works, as is: its CA still signs the serving certificate.
    expect((await whoAmI(server, kubeconfigTls(pki0.adminKubeconfig))).username).toBe("kubernetes-admin");
    expect((await whoAmI(server, trustAdmin)).username).toBe("kubernetes-admin");
    expect((await whoAmI(server, newAdmin)).username).toBe("kubernetes-admin");
    expect((await viaProxy(pki0)).username).toBe("alice");
    expect((await viaProxy(fresh)).username).toBe("alice");
    await etcdHealthy(etcdClient(pki0));
    await etcdHealthy(etcdClient(fresh));

    // Reissue: every leaf from the new CAs (etcd peers too, member by member), trust still old + new.
    const reissue = pkiToSecrets(fresh, spec, cas(pki0));
    await roll("rotate-reissue", reissue);
    // The kubeconfig handed out during Trust (old certificate, both CAs) keeps working across the switch.
    expect((await whoAmI(server, trustAdmin)).username).toBe("kubernetes-admin");
    expect((await whoAmI(server, oldAdmin)).username).toBe("kubernetes-admin");
    expect((await whoAmI(server, newAdmin)).username).toBe("kubernetes-admin");
    expect((await viaProxy(pki0)).username).toBe("alice");
    expect((await viaProxy(fresh)).username).toBe("alice");
    await etcdHealthy(etcdClient(pki0));
    await etcdHealthy(etcdClient(fresh));
    const core = kubeConfigFor(fresh.adminKubeconfig, server).makeApiClient(k8s.CoreV1Api);
    expect((await core.listNamespace()).items.map((n) => n.metadata?.name)).toContain("before-rotation");

    // Drop: the new CAs alone. Only now are old client certificates refused.
    await roll("rotate-drop", pkiToSecrets(fresh, spec));
    expect((await whoAmI(server, kubeconfigTls(fresh.adminKubeconfig))).username).toBe("kubernetes-admin");
    expect((await whoAmI(server, oldAdmin)).status).toBe(401);
    expect((await viaProxy(fresh)).username).toBe("alice");
    expect((await viaProxy(pki0)).username).not.toBe("alice");
    await etcdHealthy(etcdClient(fresh));
    await expect(httpsCall(`https://127.0.0.1:${ports.etcdClient[0]}/health`, etcdClient(pki0))).rejects.toThrow();
    // Three rolls of four processes, each waited for by its own health check: generous on a loaded machine.
  }, 900_000);

  it("rotates the CAs: the new admin kubeconfig works, the old one is refused", async () => {
    // Round-trip through the Secrets, as the operator would read them back from the meta-cluster.
    const loaded = pkiFromSecrets(spec.tenantName, secrets0);
    expect(loaded.problems).toEqual([]);
    const plan = planPki(loaded.pki, spec, { renewBeforeDays: 30, rotateCAGeneration: 1 }, new Date());
    expect(plan.keep).toEqual(["serviceAccount"]);
    expect(componentsAffectedBy(plan).sort()).toEqual(
      ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"].sort(),
    );
    const pki1 = await issuePki(plan, loaded.pki);
    expect(pki1.serviceAccount).toEqual(pki0.serviceAccount);
    expect(pki1.ca.certificatePem).not.toBe(pki0.ca.certificatePem);
    const file = mountSecrets(path.join(workDir, "gen1"), pkiToSecrets(pki1, spec));

    await stop(apiserver!);
    await Promise.all(etcd.map((m) => stop(m)));
    etcd = await startEtcd(file, ports, false);
    apiserver = await startApiserver(file, ports);

    // New admin kubeconfig: works, and etcd kept its data across the CA change.
    const core = kubeConfigFor(pki1.adminKubeconfig, server).makeApiClient(k8s.CoreV1Api);
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).toContain("before-rotation");

    // Old admin kubeconfig as is: its CA does not verify the new serving certificate.
    const oldCore = kubeConfigFor(pki0.adminKubeconfig, server).makeApiClient(k8s.CoreV1Api);
    const tlsFailure = await oldCore.listNamespace().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(tlsFailure).toBeInstanceOf(Error);
    expect(String((tlsFailure as Error).message) + String((tlsFailure as Error & { cause?: unknown }).cause)).toMatch(
      /certificate|verify|signature/i,
    );

    // Old client certificate with the new CA trusted: the apiserver no longer accepts it.
    const oldParsed = parseKubeconfig(pki0.adminKubeconfig);
    const oldCredsNewTrust = renderKubeconfig({
      clusterName: oldParsed.clusterName,
      server,
      caPem: pki1.ca.certificatePem,
      userName: oldParsed.userName,
      clientCertificatePem: oldParsed.clientCertificatePem,
      clientKeyPem: oldParsed.clientKeyPem,
    });
    const refused = await kubeConfigFor(oldCredsNewTrust, server)
      .makeApiClient(k8s.CoreV1Api)
      .listNamespace()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<unknown>).code).toBe(401);

    // The service-account key was not rotated, so tokens issued before still verify.
    const who = await whoAmI(server, { ca: pki1.ca.certificatePem }, { authorization: `Bearer ${saToken}` });
    expect(who.username).toBe("system:serviceaccount:default:probe");

    // Old etcd client certificate against the rotated etcd: refused.
    const etcdUrl = `https://127.0.0.1:${ports.etcdClient[0]}/health`;
    const oldEtcdClient = {
      ca: pki1.etcdCA.certificatePem,
      cert: pki0.apiserverEtcdClient.certificatePem,
      key: pki0.apiserverEtcdClient.privateKeyPem,
    };
    await expect(httpsCall(etcdUrl, oldEtcdClient)).rejects.toThrow();
  });
});
