// Least privilege of the chart's ServiceAccount (issue 17), on the real meta-cluster: the chart's RBAC and its
// ValidatingAdmissionPolicy are installed exactly as rendered, and every request below is made with a token of that
// ServiceAccount. It cannot read a Secret in a namespace that is not a tenant's (RBAC: 403); in a namespace
// metapilot created (annotation metapilot.io/owner-uid) it may bind its tenant-secrets ClusterRole to itself and
// then read there; and the policy refuses, with its own message, what RBAC cannot tell apart: a RoleBinding outside
// a tenant namespace or to another subject, a Secret written in its release namespace other than its signing key,
// marking or deleting a namespace it did not create. Nothing of the victim changes.
import * as k8s from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { binDir, repoRoot } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/kube/errors.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { ownerUidAnnotation } from "../../src/operator/namespace.js";
import { tenantSecretsRoleBinding, tenantSecretsRoleBindingName } from "../../src/operator/tenant-secrets.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { serviceAccountTokenKubeConfig } from "../harness/tokens.js";

describe("least privilege of metapilot's ServiceAccount", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const admin = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "platform-admin" });
  const id = randomBytes(3).toString("hex");
  const release = `lp-${id}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  let sa: KubeClient;
  let saName = "";
  let releaseNs = "";
  let victimNs = "";
  let tenantNs = "";
  let role = "";
  const access = () => ({ clusterRole: role, serviceAccount: { namespace: releaseNs, name: saName } });

  /** The request's error; fails the test when it was accepted. */
  const refusal = async (what: string, request: Promise<unknown>): Promise<ApiError> => {
    const err = await request.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${what}: accepted`).toBeInstanceOf(ApiError);
    return err as ApiError;
  };

  beforeAll(async () => {
    const release_ = await freshNamespace(kc, "lp");
    cleanups.push(release_.cleanup);
    releaseNs = release_.name;
    // The chart's ServiceAccount, RBAC and admission policy, rendered for this release namespace.
    const rendered = execFileSync(
      path.join(binDir, "helm"),
      [
        "template",
        release,
        path.join(repoRoot, "charts/metapilot"),
        "-n",
        releaseNs,
        "--show-only",
        "templates/serviceaccount.yaml",
        "--show-only",
        "templates/rbac.yaml",
        "--show-only",
        "templates/least-privilege-policy.yaml",
      ],
      { encoding: "utf8" },
    );
    const objects = parseAllDocuments(rendered)
      .map((d) => d.toJS() as k8s.KubernetesObject | null)
      .filter((o): o is k8s.KubernetesObject => !!o?.kind);
    expect(objects.map((o) => o.kind)).toContain("ValidatingAdmissionPolicy");
    const api = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const o of objects) {
      await api.create(o);
      // Namespaced objects go with the release namespace.
      if (!o.metadata?.namespace) cleanups.push(() => api.delete(o));
    }
    saName = objects.find((o) => o.kind === "ServiceAccount")?.metadata?.name ?? "";
    role = objects.find((o) => o.kind === "ClusterRole" && o.metadata?.name?.endsWith("-tenant-secrets"))?.metadata
      ?.name as string;
    expect(role).toBe(`${release}-metapilot-tenant-secrets`);
    sa = new KubeClient(await serviceAccountTokenKubeConfig(kc, releaseNs, saName), {
      qps: 50,
      burst: 50,
      maxRetries: 0,
      fieldManager: "metapilot",
    });

    // A namespace that is nobody's tenant, with a Secret worth stealing.
    const victim = await freshNamespace(kc, "lp-victim");
    cleanups.push(victim.cleanup);
    victimNs = victim.name;
    await admin.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "payroll-db", namespace: victimNs },
      stringData: { password: "hunter2" },
    } as KubeObject);
    // A namespace as the operator creates it for a TenantControlPlane: marked with its uid from the first request.
    tenantNs = `tcp-lp-${id}`;
    await admin.create(Resources.Namespace, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: tenantNs,
        labels: { "metapilot.io/tenant": `lp-${id}`, "app.kubernetes.io/managed-by": "metapilot" },
        annotations: { [ownerUidAnnotation]: "00000000-0000-0000-0000-000000000000" },
      },
    } as KubeObject);
    cleanups.push(() => admin.delete(Resources.Namespace, tenantNs));
    await admin.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "tenant-ca", namespace: tenantNs, labels: { "metapilot.io/tenant": `lp-${id}` } },
      stringData: { "tls.crt": "not a real certificate" },
    } as KubeObject);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }, 60_000);

  it("cannot read a Secret in a namespace that is not a tenant's, nor any Secret cluster-wide", async () => {
    const get = await refusal("GET of another namespace's Secret", sa.get(Resources.Secret, "payroll-db", victimNs));
    expect(get.statusCode).toBe(403);
    expect(get.message).toContain(`system:serviceaccount:${releaseNs}:${saName}`);
    expect(get.message).toContain(`cannot get resource "secrets"`);
    const list = await refusal("cluster-wide LIST of Secrets", sa.listAll(Resources.Secret));
    expect(list.statusCode).toBe(403);
    const listNs = await refusal("LIST of the victim's Secrets", sa.listAll(Resources.Secret, { namespace: victimNs }));
    expect(listNs.statusCode).toBe(403);
    // Not even in a tenant namespace before metapilot bound its role there.
    expect((await refusal("GET before the binding", sa.get(Resources.Secret, "tenant-ca", tenantNs))).statusCode).toBe(
      403,
    );
  });

  it("may bind its tenant-secrets role to itself in a namespace it created, and then read there", async () => {
    await sa.apply(Resources.RoleBinding, tenantSecretsRoleBinding(tenantNs, `lp-${id}`, access()));
    const secret = await eventually(
      () => sa.get<KubeObject>(Resources.Secret, "tenant-ca", tenantNs).catch(() => undefined),
      30_000,
      "the tenant's Secret readable through the RoleBinding",
    );
    expect(secret.metadata?.name).toBe("tenant-ca");
    // ... and still nothing elsewhere.
    expect((await refusal("GET after the binding", sa.get(Resources.Secret, "payroll-db", victimNs))).statusCode).toBe(
      403,
    );
  });

  it("is refused by the admission policy what RBAC alone would allow it", async () => {
    const policy = `ValidatingAdmissionPolicy '${release}-metapilot-least-privilege'`;
    // The policy takes a moment to load: a dry-run of a forbidden RoleBinding changes nothing while waiting.
    const dryRun = new KubeClient(await serviceAccountTokenKubeConfig(kc, releaseNs, saName), {
      maxRetries: 0,
      fieldManager: "metapilot",
      dryRun: true,
    });
    await eventually(
      async () => {
        const err = await dryRun.create(Resources.RoleBinding, tenantSecretsRoleBinding(victimNs, "x", access())).then(
          () => undefined,
          (e: unknown) => e,
        );
        return err instanceof ApiError && err.message.includes(policy) ? true : undefined;
      },
      30_000,
      "the admission policy loaded",
    );

    // 1. Its tenant-secrets role bound to itself in a namespace it did not create (RBAC's bind allows any).
    const outside = await refusal(
      "RoleBinding in the victim's namespace",
      sa.create(Resources.RoleBinding, tenantSecretsRoleBinding(victimNs, "x", access())),
    );
    expect(outside.statusCode).toBe(403);
    expect(outside.message).toContain(policy);
    expect(outside.message).toContain(
      `may write a RoleBinding only in a namespace it created for a TenantControlPlane (annotation metapilot.io/owner-uid), binding ClusterRole ${role} to itself alone; refused in namespace ${victimNs}`,
    );
    // 2. ... or bound to another subject in a tenant namespace.
    const other = tenantSecretsRoleBinding(tenantNs, "x", access()) as KubeObject & { subjects: unknown[] };
    other.metadata = { ...other.metadata, name: "steal" };
    other.subjects = [{ kind: "ServiceAccount", name: "default", namespace: victimNs }];
    const subject = await refusal("RoleBinding to another subject", sa.create(Resources.RoleBinding, other));
    expect(subject.message).toContain(policy);
    expect(subject.message).toContain(`binding ClusterRole ${role} to itself alone; refused in namespace ${tenantNs}`);
    // 3. A Secret in its release namespace (RBAC: create, which resourceNames cannot narrow) other than its key.
    const secret = await refusal(
      "Secret in the release namespace",
      sa.create(Resources.Secret, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "not-the-key", namespace: releaseNs },
        stringData: { a: "b" },
      } as KubeObject),
    );
    expect(secret.message).toContain(policy);
    expect(secret.message).toContain(
      `may write Secrets only in a namespace it created for a TenantControlPlane (annotation metapilot.io/owner-uid), or create its signing key ${releaseNs}/metapilot-leader-decision-key; refused: ${releaseNs}/not-the-key`,
    );
    // ... while its signing key is allowed.
    await sa.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "metapilot-leader-decision-key", namespace: releaseNs },
      stringData: { key: randomBytes(32).toString("hex") },
    } as KubeObject);
    // 4. Marking a namespace it did not create as a tenant's (RBAC: patch of namespaces), then binding there.
    for (const mark of [
      { annotations: { [ownerUidAnnotation]: "00000000-0000-0000-0000-000000000001" } },
      { labels: { "metapilot.io/tenant": "x", "app.kubernetes.io/managed-by": "metapilot" } },
    ]) {
      const marked = await refusal(
        `marking the victim's namespace with ${JSON.stringify(mark)}`,
        sa.apply(Resources.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: victimNs, ...mark } }),
      );
      expect(marked.message).toContain(policy);
      expect(marked.message).toContain(
        `may not mark a namespace it did not create as a tenant namespace (annotation metapilot.io/owner-uid, labels metapilot.io/tenant, metapilot.io/role, app.kubernetes.io/managed-by), nor delete one: refused for namespace ${victimNs}`,
      );
    }
    // 5. Deleting it (RBAC: delete of namespaces, for tenants' own).
    const deleted = await refusal("deleting the victim's namespace", sa.delete(Resources.Namespace, victimNs));
    expect(deleted.message).toContain(policy);

    // Nothing of the victim changed.
    const ns = await admin.get(Resources.Namespace, victimNs);
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(ns.metadata?.annotations?.[ownerUidAnnotation]).toBeUndefined();
    expect(ns.metadata?.labels?.["metapilot.io/tenant"]).toBeUndefined();
    const bindings = await admin.listAll<KubeObject>(Resources.RoleBinding, { namespace: victimNs });
    expect(bindings.items.map((b) => b.metadata?.name)).not.toContain(tenantSecretsRoleBindingName);
    expect(await admin.getOptional(Resources.RoleBinding, "steal", tenantNs)).toBeUndefined();
    expect(await admin.getOptional(Resources.Secret, "not-the-key", releaseNs)).toBeUndefined();
  });
});
