import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../kube/client.js";
import { testKubeConfig, testServer, silentLogger } from "../kube/testing.js";
import { parseServiceAccount, tenantSecretsRoleBinding, TenantSecrets } from "./tenant-secrets.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const client = () => new KubeClient(testKubeConfig(), { qps: 1000, burst: 1000, maxRetries: 0, logger: silentLogger });
const access = { clusterRole: "mp-tenant-secrets", serviceAccount: { namespace: "metapilot-system", name: "mp" } };
const secretsPath = "/api/v1/namespaces/tcp-a/secrets";
const list = (names: string[]) => ({
  metadata: { resourceVersion: "7" },
  items: names.map((name) => ({ metadata: { name, namespace: "tcp-a", managedFields: [{}] } })),
});

describe("parseServiceAccount", () => {
  it.each([
    ["metapilot-system/metapilot", { namespace: "metapilot-system", name: "metapilot" }],
    ["ns/sa.with.dots", { namespace: "ns", name: "sa.with.dots" }],
  ])("%s", (value, want) => expect(parseServiceAccount(value)).toEqual(want));
  it.each(["metapilot", "ns/", "/sa", "NS/sa", "ns/sa/x", "system:serviceaccount:ns:sa"])("refuses %s", (value) =>
    expect(() => parseServiceAccount(value)).toThrow(/<namespace>\/<name>/),
  );
});

describe("tenantSecretsRoleBinding", () => {
  it("binds the ClusterRole to metapilot's own ServiceAccount alone", () => {
    expect(tenantSecretsRoleBinding("tcp-a", "a", access)).toMatchObject({
      metadata: { name: "metapilot-tenant-secrets", namespace: "tcp-a", labels: { "metapilot.io/tenant": "a" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "mp-tenant-secrets" },
      subjects: [{ kind: "ServiceAccount", name: "mp", namespace: "metapilot-system" }],
    });
  });
});

describe("TenantSecrets", () => {
  it("reads a namespace once while its snapshot is young, sees its own writes, and reads again when it is old", async () => {
    let now = 0;
    const scope = nock(testServer)
      .get(secretsPath)
      .query({ labelSelector: "metapilot.io/tenant=a", limit: 500 })
      .reply(200, list(["a-ca"]));
    const secrets = new TenantSecrets(client(), { maxAgeMs: 60_000, now: () => now });
    expect((await secrets.list("tcp-a", "a")).map((s) => s.metadata?.name)).toEqual(["a-ca"]);
    expect(secrets.get("tcp-a/a-ca")?.metadata?.managedFields).toBeUndefined();
    secrets.remember({ metadata: { name: "a-etcd", namespace: "tcp-a" } });
    now = 59_000;
    expect((await secrets.list("tcp-a", "a")).map((s) => s.metadata?.name)).toEqual(["a-ca", "a-etcd"]);
    scope.done();
    nock(testServer)
      .get(secretsPath)
      .query(true)
      .reply(200, list(["a-ca"]));
    now = 60_000;
    expect((await secrets.list("tcp-a", "a")).map((s) => s.metadata?.name)).toEqual(["a-ca"]);
    expect(secrets.stats.lists).toBe(2);
  });

  it("binds only where it may not read yet, once per namespace uid, and waits until the binding is in effect", async () => {
    const binding = `/apis/rbac.authorization.k8s.io/v1/namespaces/tcp-a/rolebindings/metapilot-tenant-secrets`;
    const review = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    const asks = (b: { spec?: unknown }) =>
      JSON.stringify(b.spec) ===
      JSON.stringify({ resourceAttributes: { namespace: "tcp-a", verb: "list", resource: "secrets" } });
    const verdict = (allowed: boolean) => ({ status: { allowed } });
    nock(testServer)
      .post(review, asks)
      .query(true)
      .reply(201, verdict(false))
      .patch(binding)
      .query(true)
      .reply(200, {})
      .post(review, asks)
      .query(true)
      .reply(201, verdict(false))
      .post(review, asks)
      .query(true)
      .reply(201, verdict(true));
    const secrets = new TenantSecrets(client(), { access });
    expect(await secrets.ensureAccess("tcp-a", "uid-1", "a")).toBe(false); // bound, not yet in effect
    expect(await secrets.ensureAccess("tcp-a", "uid-1", "a")).toBe(true); // in effect: no second write
    expect(await secrets.ensureAccess("tcp-a", "uid-1", "a")).toBe(true); // no request at all
    expect(nock.isDone()).toBe(true);
    // A 403 (the binding was removed) checks and binds again at the next attempt.
    nock(testServer).get(secretsPath).query(true).reply(403, { kind: "Status", reason: "Forbidden", message: "no" });
    await expect(secrets.list("tcp-a", "a")).rejects.toThrow(/403/);
    nock(testServer)
      .post(review)
      .query(true)
      .reply(201, verdict(false))
      .patch(binding)
      .query(true)
      .reply(200, {})
      .post(review)
      .query(true)
      .reply(201, verdict(true));
    expect(await secrets.ensureAccess("tcp-a", "uid-1", "a")).toBe(true);
    expect(nock.isDone()).toBe(true);
    // Another namespace of the same name (deleted and created again) is checked again.
    nock(testServer).post(review).query(true).reply(201, verdict(true));
    expect(await secrets.ensureAccess("tcp-a", "uid-2", "a")).toBe(true);
    expect(nock.isDone()).toBe(true);
  });

  it("remembers a binding it removed, until it binds there again", async () => {
    const binding = `/apis/rbac.authorization.k8s.io/v1/namespaces/tcp-a/rolebindings/metapilot-tenant-secrets`;
    nock(testServer).delete(binding).query(true).reply(200, {});
    const secrets = new TenantSecrets(client(), { access });
    await secrets.unbind("tcp-a");
    expect(secrets.isUnbound("tcp-a")).toBe(true);
    expect(nock.isDone()).toBe(true);
    nock(testServer)
      .post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
      .query(true)
      .reply(201, { status: { allowed: true } });
    expect(await secrets.ensureAccess("tcp-a", "uid-3", "a")).toBe(true);
    expect(secrets.isUnbound("tcp-a")).toBe(false);
  });

  it("binds nothing without --tenant-secrets-cluster-role (an admin's own rights)", async () => {
    expect(await new TenantSecrets(client()).ensureAccess("tcp-a", "uid-1", "a")).toBe(true);
  });
});
