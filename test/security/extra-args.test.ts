// Exploit 6 of the tenant-isolation issue: extraArgs that switch a tenant control plane's security off. On the real
// meta-cluster: the CRD's CEL rules (generated from src/api/extraargs.ts) refuse the deny-listed flags with a 422
// that names them; the escape hatch (spec.allowInsecureExtraArgs) is refused to a tenant by the chart's
// ValidatingAdmissionPolicy and open to a platform admin; and the operator deploys nothing for a hatch it was not
// started to honour (--allow-insecure-extra-args off), saying why in a condition.
import * as k8s from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { binDir, repoRoot } from "../../hack/lib/metacluster.js";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/kube/errors.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { addTenantControlPlaneController } from "../../src/operator/controller.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { serviceAccountTokenKubeConfig } from "../harness/tokens.js";

type Spec = Record<string, unknown>;

describe("extraArgs that switch security off", () => {
  const state = metacluster();
  const kc = adminKubeConfig(state);
  const admin = new KubeClient(kc, { qps: 100, burst: 100, fieldManager: "platform-admin" });
  let tenant: KubeClient;
  const id = randomBytes(3).toString("hex");
  const created = new Set<string>();
  const cleanups: Array<() => Promise<unknown>> = [];
  let n = 0;

  const tcp = (name: string, spec: Spec) =>
    ({
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name },
      spec: { version: "v1.35.4", etcd: { managed: { replicas: 1 } }, ...spec },
    }) as KubeObject;
  const create = async (client: KubeClient, spec: Spec) => {
    const name = `xa-${id}-${n++}`;
    created.add(name);
    await client.create(Resources.TenantControlPlane, tcp(name, spec));
    return name;
  };
  const refused = async (client: KubeClient, spec: Spec): Promise<ApiError> => {
    const name = `xa-${id}-${n++}`;
    const err = await client.create(Resources.TenantControlPlane, tcp(name, spec)).then(
      () => {
        created.add(name);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err, `accepted: ${JSON.stringify(spec)}`).toBeInstanceOf(ApiError);
    expect(await admin.getOptional(Resources.TenantControlPlane, name)).toBeUndefined();
    return err as ApiError;
  };

  beforeAll(async () => {
    await installCrds(kc);
    // A tenant: a ServiceAccount that may create and edit TenantControlPlanes, and nothing else.
    const ns = await freshNamespace(kc, "xa");
    cleanups.push(ns.cleanup);
    const name = `xa-tenant-${id}`;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [
          {
            apiGroups: ["metapilot.io"],
            resources: ["tenantcontrolplanes"],
            verbs: ["get", "list", "create", "update", "patch"],
          },
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
    tenant = new KubeClient(await serviceAccountTokenKubeConfig(kc, ns.name, name), {
      qps: 50,
      burst: 50,
      fieldManager: "tenant",
    });
  }, 120_000);

  afterAll(async () => {
    for (const name of created) await admin.delete(Resources.TenantControlPlane, name).catch(() => undefined);
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  }, 60_000);

  it("the CRD refuses every deny-listed flag, by name, and accepts harmless ones", async () => {
    const cases: Array<[Spec, string]> = [
      [{ apiServer: { extraArgs: { "authorization-mode": "Node,RBAC,AlwaysAllow" } } }, "authorization-mode"],
      [{ apiServer: { extraArgs: { "anonymous-auth": "true" } } }, "anonymous-auth"],
      [{ apiServer: { extraArgs: { anonymous_auth: "1" } } }, "keys must be flag names"],
      [{ apiServer: { extraArgs: { "insecure-port": "8080" } } }, "insecure-port"],
      [{ apiServer: { extraArgs: { "token-auth-file": "/etc/tokens.csv" } } }, "token-auth-file"],
      [{ apiServer: { extraArgs: { "enable-admission-plugins": "AlwaysAdmit" } } }, "enable-admission-plugins"],
      [{ apiServer: { extraArgs: { "requestheader-allowed-names": "" } } }, "requestheader-*"],
      [{ apiServer: { extraArgs: { "etcd-servers": "https://etcd.tcp-other.svc:2379" } } }, "etcd-servers"],
      [{ apiServer: { extraArgs: { "--anonymous-auth": "true" } } }, "keys must be flag names"],
      [{ apiServer: { extraArgs: { "anonymous-auth=true,x": "" } } }, "keys must be flag names"],
      [{ controllerManager: { extraArgs: { kubeconfig: "" } } }, "kubeconfig"],
      [{ controllerManager: { extraArgs: { "use-service-account-credentials": "false" } } }, "use-service-account"],
      [{ controllerManager: { extraArgs: { "cluster-signing-cert-file": "/x" } } }, "cluster-signing-*"],
      [{ scheduler: { extraArgs: { "authorization-always-allow-paths": "/metrics" } } }, "always-allow-paths"],
    ];
    for (const [spec, flag] of cases) {
      const err = await refused(admin, spec);
      expect(err.statusCode, flag).toBe(422);
      expect(err.message).toContain(flag);
      if (flag !== "keys must be flag names") {
        expect(err.message).toContain("extraArgs would switch security off: ");
        expect(err.message).toContain("a platform admin can allow a flag in spec.allowInsecureExtraArgs");
      }
    }
    // Harmless flags, and deny-listed flags with safe values, are fine.
    await create(admin, {
      apiServer: {
        extraArgs: {
          v: "2",
          "max-requests-inflight": "800",
          "anonymous-auth": "false",
          "authorization-mode": "Node,RBAC",
          "enable-admission-plugins": "NodeRestriction,PodSecurity",
        },
      },
      controllerManager: { extraArgs: { "use-service-account-credentials": "true", v: "3" } },
    });
  });

  it("the escape hatch lets a named flag through the CRD, and only that flag", async () => {
    await create(admin, {
      allowInsecureExtraArgs: ["anonymous-auth", "requestheader-*"],
      apiServer: { extraArgs: { "anonymous-auth": "true", "requestheader-allowed-names": "" } },
    });
    const err = await refused(admin, {
      allowInsecureExtraArgs: ["anonymous-auth"],
      apiServer: { extraArgs: { "anonymous-auth": "true", "insecure-port": "8080" } },
    });
    expect(err.message).toContain("insecure-port");
    expect(err.message).not.toContain("switch security off: anonymous-auth");
  });

  describe("with the chart's admission policy", () => {
    const policyDocs = () => {
      const rendered = execFileSync(
        path.join(binDir, "helm"),
        [
          "template",
          `xa-${id}`,
          path.join(repoRoot, "charts/metapilot"),
          "--set",
          "tenantSecurity.allowInsecureExtraArgs=true",
          "--show-only",
          "templates/tenant-admission-policy.yaml",
        ],
        { encoding: "utf8" },
      );
      return parseAllDocuments(rendered).map((d) => d.toJS() as KubeObject);
    };

    beforeAll(async () => {
      const [policy, binding] = policyDocs();
      expect(policy?.kind).toBe("ValidatingAdmissionPolicy");
      expect(binding?.kind).toBe("ValidatingAdmissionPolicyBinding");
      const api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
      await api.createValidatingAdmissionPolicy({ body: policy as k8s.V1ValidatingAdmissionPolicy });
      cleanups.push(() => api.deleteValidatingAdmissionPolicy({ name: policy!.metadata!.name! }));
      await api.createValidatingAdmissionPolicyBinding({ body: binding as k8s.V1ValidatingAdmissionPolicyBinding });
      cleanups.push(() => api.deleteValidatingAdmissionPolicyBinding({ name: binding!.metadata!.name! }));
    }, 60_000);

    it("refuses the hatch to a tenant, lets a platform admin set it, and guards extraArgs while it is set", async () => {
      const hatch = {
        allowInsecureExtraArgs: ["anonymous-auth"],
        apiServer: { extraArgs: { "anonymous-auth": "true" } },
      };
      // The policy takes a moment to load: wait for the first refusal.
      const denied = await eventually(
        async () => {
          const name = `xa-${id}-${n++}`;
          const err = await tenant.create(Resources.TenantControlPlane, tcp(name, hatch)).then(
            () => {
              created.add(name);
              return undefined;
            },
            (e: unknown) => e,
          );
          return err instanceof ApiError && err.statusCode === 403 ? err : undefined;
        },
        30_000,
        "the tenant's hatch refused by the admission policy",
      );
      expect(denied.message).toContain("spec.allowInsecureExtraArgs is an escape hatch for platform admins");
      expect(denied.message).toContain("system:masters");
      // Without the hatch the tenant still meets the CRD's rules.
      expect((await refused(tenant, { apiServer: { extraArgs: { "anonymous-auth": "true" } } })).statusCode).toBe(422);
      // The admin sets the hatch; the tenant may change other fields, not extraArgs and not the hatch.
      const name = await create(admin, hatch);
      const since = new Date();
      const edit = async (mutate: (spec: Spec) => void) => {
        const cur = await tenant.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
        const spec = structuredClone(cur.spec) as Spec;
        mutate(spec);
        return tenant.update(Resources.TenantControlPlane, { ...cur, spec } as KubeObject).then(
          () => undefined,
          (e: unknown) => e as ApiError,
        );
      };
      const addArg = await edit((s) => {
        (s.apiServer as { extraArgs: Record<string, string> }).extraArgs.v = "4";
      });
      expect(addArg?.statusCode).toBe(403);
      const widen = await edit((s) => {
        s.allowInsecureExtraArgs = ["anonymous-auth", "insecure-port"];
      });
      expect(widen?.statusCode).toBe(403);
      const stored = await admin.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
      expect(stored.spec).toMatchObject(hatch);
      expect((stored.spec as { apiServer?: { extraArgs?: Record<string, string> } }).apiServer?.extraArgs).toEqual({
        "anonymous-auth": "true",
      });
      const tenantWrites = readAudit(state, since).filter(
        (e) => isWrite(e) && e.user.username.includes(`xa-tenant-${id}`),
      );
      expect(tenantWrites.map((e) => e.responseStatus?.code)).toEqual([403, 403]);
      // Other fields stay the tenant's; so does taking the hatch and its flag away.
      expect(
        await edit((s) => {
          s.paused = true;
        }),
      ).toBeUndefined();
      expect(
        await edit((s) => {
          delete s.allowInsecureExtraArgs;
          (s.apiServer as { extraArgs: Record<string, string> }).extraArgs = {};
        }),
      ).toBeUndefined();
    });
  });

  it("the operator deploys nothing for a hatch it was not started to honour", async () => {
    const name = await create(admin, {
      allowInsecureExtraArgs: ["anonymous-auth"],
      apiServer: { extraArgs: { "anonymous-auth": "true" } },
    });
    const identity = `xa-op-${id}`;
    const since = new Date();
    const stop = new AbortController();
    const manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: "warn" }), identity, qps: 100 });
    addTenantControlPlaneController(manager, { workers: 2, dryRun: false });
    void manager.start(stop.signal);
    try {
      const ready = await eventually(
        async () => {
          const o = await admin.get<RawTenantControlPlane>(Resources.TenantControlPlane, name);
          return o.status?.conditions?.find((c) => c.type === "Ready");
        },
        60_000,
        "a Ready condition",
      );
      expect(ready).toMatchObject({ status: "False", reason: "InsecureExtraArgsNotAllowed" });
      expect(ready.message).toContain("--allow-insecure-extra-args");
      const writes = readAudit(state, since).filter(
        (e) =>
          isWrite(e) &&
          e.userAgent?.includes(`instance=${identity}`) &&
          e.objectRef?.name !== undefined &&
          (e.objectRef.name === name || e.objectRef.namespace === `tcp-${name}`),
      );
      // Its own status and an Event: no namespace, no Secret, no Deployment, not even a finalizer.
      expect(
        writes.filter(
          (e) => !(e.objectRef?.resource === "tenantcontrolplanes" && e.objectRef.subresource === "status"),
        ),
      ).toEqual([]);
      expect(await admin.getOptional(Resources.Namespace, `tcp-${name}`)).toBeUndefined();
    } finally {
      stop.abort();
    }
  }, 90_000);
});
