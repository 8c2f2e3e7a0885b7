// Bad input on the real apiserver: mutated objects of every kind (test/fuzz/mutations.ts) are created one by one
// while every controller runs in-process. Each is either rejected by the schema (OpenAPI or CEL) or accepted and
// then given a status by its controller. Meanwhile the process never sees an uncaught error, a valid sentinel of
// each kind keeps being reconciled, and the audit log shows no write by the controllers' identity outside the
// fuzzed objects, the sentinels and what they own. Runs on our own meta-cluster (accepted NodeDrains may cordon).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { down } from "../../hack/lib/metacluster.js";
import { examples } from "../../src/api/examples.js";
import type { KindName } from "../../src/api/kinds.js";
import { availableControllers, controllerFactory } from "../../src/controllers.js";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import "../../src/register.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { chaosDir, chaosUp, ensureNamespace, waitUntil, type ChaosEnv } from "../chaos/lib.js";
import { fuzzCases, fuzzKinds, type FuzzCase } from "./mutations.js";

const count = Number(process.env.FUZZ_COUNT ?? 1000);
const seed = Number(process.env.FUZZ_SEED ?? 20250131);
const controllerKinds: KindName[] = ["TenantControlPlane", "ClusterScaler", "NodeDrain", "NodePool", "WorkloadProfile"];

interface WithStatus extends KubeObject {
  status?: {
    phase?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; message?: string; observedGeneration?: number }>;
  };
}

const statusIsCurrent = (o: WithStatus | undefined) =>
  !!o?.status &&
  (o.status.observedGeneration === o.metadata?.generation ||
    (o.status.conditions ?? []).some((c) => c.observedGeneration === o.metadata?.generation));

describe(`bad input: ${count} mutated objects of every kind`, () => {
  let env: ChaosEnv;
  const stop = new AbortController();
  const identity = `fuzz-${Date.now().toString(36)}`;
  const ns = `fuzz-${Date.now().toString(36)}`;
  const prefix = `fz${Date.now().toString(36).slice(-4)}`;
  const uncaught: string[] = [];
  const onError = (e: unknown) => uncaught.push(String(e instanceof Error ? e.stack : e));
  const accepted: FuzzCase[] = [];
  const rejected: Array<{ c: FuzzCase; message: string }> = [];
  const otherErrors: Array<{ c: FuzzCase; message: string }> = [];
  let since: Date;
  // TCPs already there (another file's, still being finalized on a kept cluster) are the controllers' business too.
  let preexisting: string[] = [];
  const sentinelName = (k: KindName) => `${prefix}-sentinel-${k.toLowerCase()}`;

  beforeAll(async () => {
    env = await chaosUp(10, (l) => process.stderr.write(`[fuzz] ${l}\n`));
    await ensureNamespace(env.client, ns);
    preexisting = (await env.client.listAll<KubeObject>(Resources.TenantControlPlane)).items.map(
      (t) => t.metadata?.name ?? "",
    );
    process.on("uncaughtException", onError);
    process.on("unhandledRejection", onError);
    since = new Date();
    const manager = new Manager({
      kubeConfig: env.kc,
      logger: createLogger({ level: "error" }),
      identity,
      qps: 200,
      burst: 400,
    });
    for (const name of availableControllers()) controllerFactory(name)(manager, { workers: 4, dryRun: false });
    void manager.start(stop.signal);
    await waitUntil(() => manager.hasSynced(), 120_000);
    // A valid sentinel of every kind with a controller.
    for (const kind of controllerKinds) {
      const o = examples()[kind] as unknown as KubeObject & { spec: Record<string, unknown> };
      o.metadata = { name: sentinelName(kind), ...(Resources[kind].namespaced ? { namespace: ns } : {}) };
      if (kind === "TenantControlPlane")
        o.spec = { version: "v1.35.4", etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } };
      if (kind === "NodeDrain") o.spec = { nodeNames: ["metacluster-node-9"], dryRun: true };
      if (kind === "NodePool") o.spec = { ...o.spec, minNodes: 0, dryRun: true };
      await env.client.create(Resources[kind], o);
    }
  }, 300_000);

  afterAll(async () => {
    for (const c of accepted)
      await env.client
        .delete(Resources[c.kind], c.object.metadata.name, c.object.metadata.namespace)
        .catch(() => undefined);
    for (const k of controllerKinds)
      await env.client
        .delete(Resources[k], sentinelName(k), Resources[k].namespaced ? ns : undefined)
        .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3000)); // the drain sweep uncordons
    stop.abort();
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onError);
    if (process.env.CHAOS_KEEP !== "1") await down(chaosDir);
  }, 180_000);

  it("rejects or accepts-and-reports every object; the controllers never crash", async () => {
    const cases = fuzzCases(count, seed, ns, prefix);
    for (const c of cases) {
      try {
        await env.client.create(Resources[c.kind], c.object as unknown as KubeObject);
        accepted.push(c);
      } catch (e) {
        const message = String(e);
        // 422 Invalid (OpenAPI or CEL) and 400 BadRequest (undecodable) are the schema saying no.
        if (/422|400|Invalid|BadRequest|is invalid|must be|Unsupported value|should be/i.test(message))
          rejected.push({ c, message });
        else otherErrors.push({ c, message });
      }
    }
    const byKind = Object.fromEntries(
      fuzzKinds.map((k) => [
        k,
        `${accepted.filter((c) => c.kind === k).length} accepted / ${rejected.filter((r) => r.c.kind === k).length} rejected`,
      ]),
    );
    console.log(`fuzz: ${cases.length} objects: ${JSON.stringify(byKind)}`);
    expect(otherErrors.map((o) => `${o.c.object.metadata.name}: ${o.message.slice(0, 200)}`)).toEqual([]);
    // Every accepted object of a kind with a controller gets a status for its current generation.
    const withController = accepted.filter((c) => controllerKinds.includes(c.kind));
    await waitUntil(async () => {
      for (const c of withController) {
        const o = await env.client.getOptional<WithStatus>(
          Resources[c.kind],
          c.object.metadata.name,
          c.object.metadata.namespace,
        );
        if (o && !statusIsCurrent(o)) return false;
      }
      return true;
    }, 180_000);
    const silent: string[] = [];
    for (const c of withController) {
      const o = await env.client.getOptional<WithStatus>(
        Resources[c.kind],
        c.object.metadata.name,
        c.object.metadata.namespace,
      );
      if (o && !statusIsCurrent(o))
        silent.push(`${c.kind}/${c.object.metadata.name} ${JSON.stringify(c.mutations).slice(0, 160)}`);
    }
    expect(silent, "accepted objects without a current status").toEqual([]);
    expect(uncaught).toEqual([]);
  }, 1_200_000);

  it("keeps reconciling a valid sentinel of each kind", async () => {
    const patches: Record<string, Record<string, unknown>> = {
      TenantControlPlane: { spec: { apiServer: { replicas: 3 } } },
      ClusterScaler: { spec: { priority: 11 } },
      NodeDrain: { spec: { timeout: "20m" } },
      NodePool: { spec: { maxNodes: 51 } },
      WorkloadProfile: { spec: { parameters: { targetPercentile: 0.8 } } },
    };
    for (const k of controllerKinds)
      await env.client.patch(
        Resources[k],
        sentinelName(k),
        Resources[k].namespaced ? ns : undefined,
        patches[k]!,
        "merge",
      );
    const stale: string[] = [];
    await waitUntil(async () => {
      stale.length = 0;
      for (const k of controllerKinds) {
        const o = await env.client.get<WithStatus>(
          Resources[k],
          sentinelName(k),
          Resources[k].namespaced ? ns : undefined,
        );
        if (!statusIsCurrent(o)) stale.push(k);
      }
      return stale.length === 0;
    }, 120_000);
    expect(stale).toEqual([]);
    expect(uncaught).toEqual([]);
  }, 180_000);

  it("writes only to the fuzzed objects, the sentinels and what they own (audit log)", async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const names = new Set([...accepted.map((c) => c.object.metadata.name), ...controllerKinds.map(sentinelName)]);
    const tcpNames = [
      ...accepted.filter((c) => c.kind === "TenantControlPlane").map((c) => c.object.metadata.name),
      sentinelName("TenantControlPlane"),
      ...preexisting,
    ];
    const owned = new Set([ns, ...tcpNames.map((n) => `tcp-${n}`)]);
    // A TCP may name its namespace in spec.namespace.
    for (const c of accepted.filter((x) => x.kind === "TenantControlPlane")) {
      const n = (c.object.spec as { namespace?: unknown } | null)?.namespace;
      if (typeof n === "string") owned.add(n);
    }
    const drainsOrPools = accepted.some((c) => c.kind === "NodeDrain" || c.kind === "NodePool");
    const writes = readAudit(env.state, since).filter(
      (e) => isWrite(e) && e.userAgent?.includes(`instance=${identity}`),
    );
    const stray = writes.filter((e) => {
      const r = e.objectRef ?? {};
      if (r.name && names.has(r.name)) return false;
      if (r.namespace && owned.has(r.namespace)) return false;
      if (r.resource === "namespaces" && r.name && owned.has(r.name)) return false;
      if (r.resource === "events" && (r.namespace === "default" || (r.namespace && owned.has(r.namespace))))
        return false;
      if (drainsOrPools && (r.resource === "nodes" || (r.resource === "pods" && r.subresource === "eviction")))
        return false;
      // Objects the controller creates for the tenants it owns carry the tenant's name as prefix (PKI Secrets etc.).
      if (r.name && tcpNames.some((t) => r.name!.startsWith(`${t}-`))) return false;
      return true;
    });
    console.log(`audit: ${writes.length} writes by the controllers, ${stray.length} outside their objects`);
    expect(stray.map((e) => `${e.verb} ${e.requestURI}`).slice(0, 20)).toEqual([]);
  }, 60_000);
});
