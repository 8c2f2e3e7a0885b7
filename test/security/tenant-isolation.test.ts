// Tenant isolation on the real meta-cluster (issue 17, exploits 1 to 4): each attack is tried as a user would try
// it, and must fail with a condition or Event that says why, while the audit log shows that metapilot wrote
// nothing of the victim's.
//   1. A TenantControlPlane whose spec.namespace names an existing namespace, another tenant's, metapilot's own or
//      a system one neither takes it over nor deletes it; a namespace an earlier version created is adopted.
//   2. spec.etcd.external.secretRef cannot copy another namespace's Secret (unless the controller allows it).
//   3. A Deployment labelled with another tenant's name, outside that tenant's namespace, changes nothing of it.
//   4. A ScalingDecision without a phase is applied after a restart only if metapilot signed it, it is fresh,
//      within the current policy and its target is not paused.
import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControllerConfig } from "../../src/controllers.js";
import { KubeClient } from "../../src/kube/client.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import { ownerUidAnnotation } from "../../src/operator/namespace.js";
import { pkiSecretName } from "../../src/operator/pki/secrets.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { addClusterScalerController } from "../../src/scaler/controller.js";
import { signDecision } from "../../src/scaler/signature.js";
import { readSigningKeyFile, signingKeyLoader } from "../../src/scaler/signing-key.js";
import { createApiserver, markOomKilled } from "../fixtures/tenant.js";
import { isWrite, readAudit, type AuditEvent } from "../harness/audit.js";
import { adminKubeConfig, eventually, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { blockedByAnnotation, heldByBudgetAnnotation, signatureAnnotation } from "../../src/api/labels.js";

interface Event extends KubeObject {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { kind?: string; name?: string; namespace?: string };
}
interface Decision extends KubeObject {
  spec?: Record<string, unknown>;
  status?: { phase?: string; message?: string };
}
interface Workload extends KubeObject {
  spec?: { template?: { spec?: { containers?: Array<{ resources?: { limits?: Record<string, string> } }> } } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tenant isolation (issue 17, exploits 1-4)", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const client = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "test-user" });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const id = randomBytes(3).toString("hex");
  const identity = `isolation-${id}`;
  const stop = new AbortController();
  const victim = `iso${id}-victim`;
  const victimNs = `tcp-${victim}`;
  const payroll = `payroll-${id}`;
  const ownNs = `mp-own-${id}`;
  const certsNs = `etcd-certs-${id}`;
  const attackerNs = `attacker-${id}`;
  const handTenant = `iso${id}-hand`;
  const handNs = `hand-${id}`;
  const keyDir = mkdtempSync(path.join(tmpdir(), "isolation-"));
  const keyFile = path.join(keyDir, "decision-key");
  const created: string[] = [];
  const namespaces = [payroll, ownNs, certsNs, attackerNs, handNs];

  const tcp = (name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name, labels },
    spec: { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } }, ...spec },
  });
  const createTcp = async (...args: Parameters<typeof tcp>) => {
    created.push(args[0]);
    await client.create(Resources.TenantControlPlane, tcp(...args) as KubeObject);
  };
  const get = (name: string) => client.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
  const condition = (t: RawTenantControlPlane, type: string) => t.status?.conditions?.find((c) => c.type === type);
  const waitCondition = (name: string, type: string, reason: string, timeoutMs = 60_000) =>
    eventually(
      async () => {
        const t = await get(name);
        const c = condition(t, type);
        return c?.reason === reason && c.observedGeneration === t.metadata?.generation ? t : undefined;
      },
      timeoutMs,
      `${name} ${type} ${reason}`,
    );
  const waitReady = (name: string) =>
    eventually(
      async () => {
        const t = await get(name);
        return t.status?.phase === "Ready" ? t : undefined;
      },
      240_000,
      `${name} Ready`,
    );
  const events = async (namespace: string, name: string, reason: string) =>
    (await client.listAll<Event>(Resources.Event, { namespace })).items.filter(
      (e) => e.regarding?.name === name && e.reason === reason,
    );
  const waitEvent = (namespace: string, name: string, reason: string) =>
    eventually(
      async () => {
        const list = await events(namespace, name, reason);
        return list.length ? list[0] : undefined;
      },
      60_000,
      `Event ${reason} about ${namespace}/${name}`,
    );
  const ensureNamespace = async (name: string, labels: Record<string, string> = {}) => {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  };
  /** The audit log's completed requests by this test's controller since `since`, settled for a moment first. */
  const controllerRequests = async (since: Date): Promise<AuditEvent[]> => {
    await sleep(2000); // the audit log is written asynchronously
    return readAudit(state, since).filter((e) => e.userAgent?.includes(`instance=${identity}`));
  };
  /** Writes of the controller that touch `namespace` (the namespace itself or anything in it), Events aside. */
  const writesTo = (audit: AuditEvent[], namespace: string) =>
    audit
      .filter(isWrite)
      .filter((e) => e.objectRef?.resource !== "events")
      .filter(
        (e) =>
          e.objectRef?.namespace === namespace ||
          (e.objectRef?.resource === "namespaces" && e.objectRef.name === namespace),
      )
      .map((e) => `${e.verb} ${e.requestURI}`);

  beforeAll(async () => {
    await installCrds(kc);
    writeFileSync(keyFile, randomBytes(32).toString("hex"), { mode: 0o600 });
    for (const ns of [ownNs, certsNs, attackerNs, handNs]) await ensureNamespace(ns);
    const config: ControllerConfig = {
      workers: 4,
      dryRun: false,
      ownNamespaces: [ownNs],
      externalEtcdSecretNamespaces: [certsNs],
      decisionSigningKeyFile: keyFile,
    };
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity,
      qps: 100,
      burst: 100,
    });
    addTenantControlPlaneController(manager, config);
    addClusterScalerController(manager, config);
    void manager.start(stop.signal);
    await eventually(async () => (manager.hasSynced() ? true : undefined), 60_000, "caches synced");
    // The victim: a tenant metapilot provisioned, steady and Ready before any attack.
    await createTcp(victim, {}, { "metapilot.io/tenant": victim });
    await waitReady(victim);
  }, 400_000);

  afterAll(async () => {
    for (const t of created) await client.delete(Resources.TenantControlPlane, t).catch(() => undefined);
    await client.delete(Resources.ClusterScaler, `iso${id}`).catch(() => undefined);
    await sleep(5000);
    stop.abort();
    for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }, 120_000);

  it("1: never takes over or deletes a namespace it did not create", async () => {
    const v = await get(victim);
    const victimNamespace = await core.readNamespace({ name: victimNs });
    expect(victimNamespace.metadata?.annotations?.[ownerUidAnnotation]).toBe(v.metadata?.uid);
    // The namespace of someone else, with data in it.
    await ensureNamespace(payroll);
    await core.createNamespacedConfigMap({
      namespace: payroll,
      body: { metadata: { name: "salaries" }, data: { alice: "100" } },
    });
    const before = await core.readNamespace({ name: payroll });
    const since = new Date();

    // The schema refuses system namespaces outright.
    for (const ns of ["default", "kube-system"]) {
      const err = await client
        .create(Resources.TenantControlPlane, tcp(`iso${id}-sys`, { namespace: ns }) as KubeObject)
        .catch((e: unknown) => e);
      expect(String(err), ns).toMatch(/must not be default or a kube-\* namespace/);
    }
    // The controller refuses the rest, with a condition that says what to do.
    const attacks: Array<[string, string, string]> = [
      [`iso${id}-takeover`, payroll, "NamespaceNotCreatedByMetapilot"],
      [`iso${id}-steal`, victimNs, "NamespaceHeldByAnotherTenant"],
      [`iso${id}-own`, ownNs, "ProtectedNamespace"],
    ];
    for (const [name, namespace] of attacks) await createTcp(name, { namespace });
    for (const [name, namespace, reason] of attacks) {
      const t = await waitCondition(name, "NamespaceReady", reason);
      expect(t.status?.phase, name).not.toBe("Ready");
      expect(condition(t, "Ready")?.status, name).toBe("False");
      expect(condition(t, "NamespaceReady")?.message, name).toMatch(
        new RegExp(`[Nn]othing was written to ${namespace}`),
      );
      expect(t.status?.namespace, name).toBeUndefined();
      const event = await waitEvent("default", name, reason);
      expect(event.type).toBe("Warning");
    }
    expect(condition(await get(`iso${id}-steal`), "NamespaceReady")?.message).toContain(`TenantControlPlane ${victim}`);

    // Deleting them (deletionPolicy Delete) deletes nothing of anyone.
    for (const [name] of attacks) await client.delete(Resources.TenantControlPlane, name);
    for (const [name] of attacks)
      await eventually(
        async () => ((await client.getOptional(Resources.TenantControlPlane, name)) ? undefined : true),
        60_000,
        `${name} gone`,
      );
    await sleep(3000);
    const after = await core.readNamespace({ name: payroll });
    expect(after.metadata?.deletionTimestamp).toBeUndefined();
    expect(after.metadata?.labels).toEqual(before.metadata?.labels);
    expect(after.metadata?.annotations).toEqual(before.metadata?.annotations);
    expect((await core.readNamespacedConfigMap({ name: "salaries", namespace: payroll })).data).toEqual({
      alice: "100",
    });
    expect((await core.readNamespace({ name: victimNs })).metadata?.deletionTimestamp).toBeUndefined();
    expect((await core.readNamespace({ name: ownNs })).metadata?.deletionTimestamp).toBeUndefined();
    expect((await get(victim)).status?.phase).toBe("Ready");

    const audit = await controllerRequests(since);
    for (const ns of [payroll, victimNs, ownNs]) expect(writesTo(audit, ns), ns).toEqual([]);
    // The refused TenantControlPlanes themselves were written (finalizer, status): the controller did run.
    expect(audit.filter((e) => isWrite(e) && e.objectRef?.name === `iso${id}-takeover`).length).toBeGreaterThan(0);
  }, 300_000);

  it("1: adopts a namespace an earlier version created for the tenant, and no namespace made before it", async () => {
    const legacy = `iso${id}-legacy`;
    const legacyLabels = {
      "metapilot.io/tenant": legacy,
      "app.kubernetes.io/managed-by": "metapilot",
      "metapilot.io/role": "tenant",
    };
    // As an earlier version left it: the namespace created after its TenantControlPlane, with the labels, no uid.
    await createTcp(legacy, { paused: true });
    await sleep(1100); // creation times have a resolution of one second
    await ensureNamespace(`tcp-${legacy}`, legacyLabels);
    namespaces.push(`tcp-${legacy}`);
    await client.patch(Resources.TenantControlPlane, legacy, undefined, { spec: { paused: false } }, "merge");
    const t = await waitCondition(legacy, "NamespaceReady", "NamespaceOwned");
    expect((await core.readNamespace({ name: `tcp-${legacy}` })).metadata?.annotations?.[ownerUidAnnotation]).toBe(
      t.metadata?.uid,
    );
    expect((await waitEvent("default", legacy, "NamespaceAdopted")).note).toMatch(/earlier metapilot version/);

    // The same labels on a namespace that existed before the TenantControlPlane prove nothing.
    const forged = `iso${id}-forged`;
    await ensureNamespace(`tcp-${forged}`, { ...legacyLabels, "metapilot.io/tenant": forged });
    namespaces.push(`tcp-${forged}`);
    await sleep(1100);
    await createTcp(forged);
    await waitCondition(forged, "NamespaceReady", "NamespaceNotCreatedByMetapilot");
    expect(
      (await core.readNamespace({ name: `tcp-${forged}` })).metadata?.annotations?.[ownerUidAnnotation],
    ).toBeUndefined();
  }, 120_000);

  it("2: copies an external etcd Secret only from the tenant's namespace or an allowed one", async () => {
    const thief = `iso${id}-thief`;
    const allowed = `iso${id}-allowed`;
    const stolen = pkiSecretName(victim, "frontProxyClient");
    expect(await client.getOptional(Resources.Secret, stolen, victimNs)).toBeDefined();
    // A real certificate (the victim's CA, which is public), so the copy is a Secret the PKI step can read.
    const ca = await client.get<KubeObject & { data?: Record<string, string> }>(
      Resources.Secret,
      pkiSecretName(victim, "ca"),
      victimNs,
    );
    const pem = Buffer.from(ca.data?.["tls.crt"] ?? "", "base64").toString();
    await client.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "etcd-client", namespace: certsNs },
      stringData: { "ca.crt": pem, "tls.crt": pem, "tls.key": "key" },
    } as KubeObject);
    const since = new Date();
    const external = (name: string, namespace: string) => ({
      etcd: { external: { endpoints: ["https://etcd.invalid:2379"], secretRef: { name, namespace } } },
    });
    await createTcp(thief, external(stolen, victimNs));
    await createTcp(allowed, external("etcd-client", certsNs));
    const t = await waitCondition(thief, "EtcdReady", "SecretNamespaceNotAllowed");
    expect(condition(t, "EtcdReady")?.message).toMatch(
      new RegExp(`namespace ${victimNs} is not allowed.*--external-etcd-secret-namespaces.*it was not read`),
    );
    expect(condition(t, "Ready")?.status).toBe("False");
    await waitEvent("default", thief, "SecretNamespaceNotAllowed");
    // The allowed namespace is copied from, so the flag does what it says.
    const copy = await eventually(
      () =>
        client.getOptional<KubeObject & { data?: Record<string, string> }>(
          Resources.Secret,
          "external-etcd-client",
          `tcp-${allowed}`,
        ),
      60_000,
      "the allowed Secret copied",
    );
    expect(Buffer.from(copy.data?.["tls.key"] ?? "", "base64").toString()).toBe("key");
    expect(await client.getOptional(Resources.Secret, "external-etcd-client", `tcp-${thief}`)).toBeUndefined();

    const audit = await controllerRequests(since);
    const victimSecretReads = audit
      .filter((e) => e.objectRef?.resource === "secrets" && e.objectRef.namespace === victimNs)
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(victimSecretReads).toEqual([]);
    expect(writesTo(audit, victimNs)).toEqual([]);
  }, 120_000);

  it("3: a Deployment labelled with another tenant's name outside its namespace changes nothing of it", async () => {
    await client.create(Resources.ClusterScaler, {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: `iso${id}` },
      spec: {
        tenantSelector: {
          matchExpressions: [{ key: "metapilot.io/tenant", operator: "In", values: [victim, handTenant] }],
        },
        components: [
          {
            name: "kube-apiserver",
            scalers: [{ name: "oom" }],
            minAllowed: { memory: "256Mi" },
            maxAllowed: { memory: "4Gi" },
            replicas: { min: 1, max: 3 },
          },
        ],
        scaleUp: { cooldown: "1h" },
      },
    } as KubeObject);
    const victimBefore = await get(victim);
    const since = new Date();
    // The forged control plane: the victim's labels, even "managed by metapilot", in the attacker's namespace.
    await createApiserver(client, attackerNs, victim, { victim: true });
    await client.patch(
      Resources.Deployment,
      "kube-apiserver",
      attackerNs,
      { metadata: { labels: { "app.kubernetes.io/managed-by": "metapilot" } } },
      "merge",
    );
    await eventually(
      async () =>
        (await core.readNamespacedPod({ name: "victim", namespace: attackerNs })).status?.phase === "Running"
          ? true
          : undefined,
      60_000,
      "forged pod Running",
    );
    for (let kill = 1; kill <= 3; kill++) {
      await markOomKilled(client, attackerNs, kill);
      await sleep(1500);
    }
    const event = await waitEvent(attackerNs, "kube-apiserver", "ForeignTenantLabel");
    expect(event.type).toBe("Warning");
    expect(event.note).toContain(`TenantControlPlane ${victim} runs in namespace ${victimNs}, not ${attackerNs}`);
    await sleep(5000);

    const victimAfter = await get(victim);
    expect(victimAfter.metadata?.generation).toBe(victimBefore.metadata?.generation);
    expect(victimAfter.spec).toEqual(victimBefore.spec);
    for (const ns of [attackerNs, victimNs])
      expect((await client.listAll<Decision>(Resources.ScalingDecision, { namespace: ns })).items, ns).toEqual([]);
    const audit = await controllerRequests(since);
    const tcpWrites = audit
      .filter((e) => isWrite(e) && e.objectRef?.resource === "tenantcontrolplanes" && e.objectRef.name === victim)
      .filter((e) => e.objectRef?.subresource !== "status")
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(tcpWrites).toEqual([]);
    expect(writesTo(audit, victimNs)).toEqual([]);
    expect(writesTo(audit, attackerNs)).toEqual([]);
  }, 180_000);

  it("4: finishes an interrupted decision only if metapilot signed it, fresh, within policy, not paused", async () => {
    const key = readSigningKeyFile(keyFile);
    await createApiserver(client, handNs, handTenant, { cpu: null });
    const size = (memory: string, limit: string, replicas = 1) => ({
      replicas,
      resources: { requests: { memory }, limits: { memory: limit } },
    });
    let n = 0;
    const decision = async (o: {
      after: ReturnType<typeof size>;
      decidedAt: Date;
      sign?: boolean;
      copyFrom?: Decision;
      annotations?: Record<string, string>;
    }) => {
      const d: Decision = {
        apiVersion: "metapilot.io/v1alpha1",
        kind: "ScalingDecision",
        metadata: {
          name: `kube-apiserver-up-test${++n}`,
          namespace: handNs,
          labels: { "metapilot.io/tenant": handTenant, "metapilot.io/component": "kube-apiserver" },
          annotations: { ...o.annotations },
        },
        spec: {
          target: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: "kube-apiserver",
            namespace: handNs,
            tenant: handTenant,
          },
          component: "kube-apiserver",
          direction: "Up",
          dryRun: false,
          rootCause: { category: "OOMKilled", summary: "an OOM kill" },
          before: size("512Mi", "1Gi"),
          after: o.after,
          clusterScaler: `iso${id}`,
          decidedAt: o.decidedAt.toISOString(),
        },
      };
      if (o.sign) d.metadata!.annotations![signatureAnnotation] = signDecision(key, d);
      if (o.copyFrom)
        d.metadata!.annotations![signatureAnnotation] = o.copyFrom.metadata!.annotations![signatureAnnotation]!;
      return client.create<Decision>(Resources.ScalingDecision, d);
    };
    const phaseOf = (name: string) =>
      client.get<Decision>(Resources.ScalingDecision, name, handNs).then((d) => d.status);
    const waitFinished = (name: string) =>
      eventually(async () => ((await phaseOf(name))?.phase ? phaseOf(name) : undefined), 60_000, `${name} finished`);
    /** A change of the workload is what wakes the scaler for it. */
    const touch = (annotations: Record<string, string | null>) =>
      client.patch(Resources.Deployment, "kube-apiserver", handNs, { metadata: { annotations } }, "merge");
    const memoryLimit = async () =>
      (await client.get<Workload>(Resources.Deployment, "kube-apiserver", handNs)).spec?.template?.spec?.containers?.[0]
        ?.resources?.limits?.memory;

    const since = new Date();
    const now = new Date();
    const signedStale = await decision({
      after: size("1Gi", "2Gi"),
      decidedAt: new Date(now.getTime() - 3600_000),
      sign: true,
    });
    const signedTooBig = await decision({
      after: size("16Gi", "32Gi", 3),
      decidedAt: new Date(now.getTime() - 60_000),
      sign: true,
    });
    const unsigned = await decision({ after: size("64Gi", "64Gi", 3), decidedAt: now });
    const copied = await decision({ after: size("32Gi", "32Gi"), decidedAt: now, copyFrom: signedTooBig });
    await sleep(3500); // past the grace period a decision gets before it counts as interrupted
    await touch({ "test.metapilot.io/wake": "1" });
    expect(await waitFinished(signedStale.metadata!.name!)).toMatchObject({ phase: "Failed" });
    expect((await phaseOf(signedStale.metadata!.name!))?.message).toMatch(/too old to apply/);
    expect((await waitFinished(signedTooBig.metadata!.name!))?.message).toMatch(
      /outside the ClusterScaler's current bounds/,
    );
    for (const forged of [unsigned, copied]) {
      const event = await waitEvent(handNs, forged.metadata!.name!, "UnverifiedDecision");
      expect(event.note).toMatch(/not recorded by metapilot/);
      expect((await phaseOf(forged.metadata!.name!))?.phase).toBeUndefined();
    }
    expect(await memoryLimit()).toBe("1Gi");

    // Signed, fresh and within bounds, but the target is paused.
    await touch({ "metapilot.io/paused": "true" });
    const whilePaused = await decision({ after: size("1Gi", "2Gi"), decidedAt: new Date(), sign: true });
    await sleep(3500);
    await touch({ "test.metapilot.io/wake": "2" });
    expect((await waitFinished(whilePaused.metadata!.name!))?.message).toMatch(/paused/);
    expect(await memoryLimit()).toBe("1Gi");

    // Signed, fresh, within bounds and not paused, but recorded as held back by a disruption budget (a leader
    // stopped or killed between creating it and writing its Blocked phase): finished as Blocked, never applied.
    await touch({ "metapilot.io/paused": null });
    const heldBack = await decision({
      after: size("1Gi", "2Gi"),
      decidedAt: new Date(),
      sign: true,
      annotations: { [blockedByAnnotation]: "fleet-budget", [heldByBudgetAnnotation]: "default[0]" },
    });
    await sleep(3500);
    await touch({ "test.metapilot.io/wake": "held" });
    expect(await waitFinished(heldBack.metadata!.name!)).toMatchObject({
      phase: "Blocked",
      reason: "FleetBudget",
      message: "held back by disruption budget default[0] (finished after a controller restart): not applied",
    });
    expect(await memoryLimit()).toBe("1Gi");
    const audit = await controllerRequests(since);
    const workloadWrites = audit
      .filter((e) => isWrite(e) && e.objectRef?.resource === "deployments")
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(workloadWrites).toEqual([]);

    // And the one metapilot would really finish: signed, fresh, within bounds, not paused.
    await touch({ "metapilot.io/paused": null });
    const genuine = await decision({ after: size("1Gi", "2Gi"), decidedAt: new Date(), sign: true });
    await sleep(3500);
    await touch({ "test.metapilot.io/wake": "3" });
    expect(await waitFinished(genuine.metadata!.name!)).toMatchObject({
      phase: "Applied",
      message: "applied after a controller restart interrupted it",
    });
    expect(await memoryLimit()).toBe("2Gi");
  }, 180_000);

  it("4: replicas without a key file share one signing key, the Secret the first of them creates", async () => {
    const secret = { namespace: ownNs, name: `iso${id}-leader-decision-key` };
    const logger = createLogger({ level: "silent" });
    // Two replicas start at once: one creates the Secret, the other gets a conflict and reads it.
    const [a, b] = await Promise.all([
      signingKeyLoader(new KubeClient(kc, { fieldManager: "metapilot" }), { secret }, logger)(),
      signingKeyLoader(new KubeClient(kc, { fieldManager: "metapilot" }), { secret }, logger)(),
    ]);
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(true);
    const stored = await client.get<KubeObject & { data?: Record<string, string> }>(
      Resources.Secret,
      secret.name,
      secret.namespace,
    );
    expect(Buffer.from(stored.data?.key ?? "", "base64").equals(a)).toBe(true);
    // A later replica reads the same key.
    const c = await signingKeyLoader(new KubeClient(kc, { fieldManager: "metapilot" }), { secret }, logger)();
    expect(c.equals(a)).toBe(true);
  }, 60_000);
});
