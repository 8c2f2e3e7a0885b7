// Chaos for the master-operator: kube-apiserver or etcd killed while TenantControlPlanes reconcile, and the
// controller SIGKILLed in the middle of an upgrade. Invariants: every TCP converges (Ready, observedGeneration
// current, the right version), exactly one of each workload per tenant (no duplicate actuation), the controller
// never crashes (a lost Lease exits 1 on purpose; anything else is a crash), and an upgrade keeps its order.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { restartKwok, startComponent, stopComponent } from "../../hack/lib/metacluster.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import type { RawTenantControlPlane } from "../../src/operator/reconciler.js";
import { Scenario, Supervisor, waitUntil, type ChaosEnv, type ScenarioResult } from "./lib.js";

const tcp = (name: string, version = "v1.34.4") =>
  ({
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name },
    spec: { version, etcd: { managed: { replicas: 1, deletionPolicy: "Delete" } } },
  }) as KubeObject;

async function converged(env: ChaosEnv, name: string, version: string): Promise<boolean> {
  const t = await env.client.getOptional<RawTenantControlPlane>(Resources.TenantControlPlane, name);
  return (
    t?.status?.phase === "Ready" &&
    t.status.observedGeneration === t.metadata?.generation &&
    (t.status as { version?: string }).version === version
  );
}

interface WorkloadLike extends KubeObject {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number; phase?: string };
}

/**
 * Why a TCP has not converged: its phase, generations and every condition that is not True, then each workload's
 * replicas and generations and each pod's phase, as the apiserver has them. That tells a status that lags its
 * workloads (the operator) from workloads or pods that never caught up (the meta-cluster's controllers or kwok).
 */
async function convergenceReport(env: ChaosEnv, name: string): Promise<string> {
  try {
    const t = await env.client.getOptional<RawTenantControlPlane>(Resources.TenantControlPlane, name);
    if (!t) return `${name}: gone`;
    const notTrue = (t.status?.conditions ?? [])
      .filter((c) => c.status !== "True")
      .map((c) => `${c.type}=${c.status} ${c.reason ?? ""}: ${c.message ?? ""}`);
    const namespace = `tcp-${name}`;
    const list = async (r: typeof Resources.Pod) => (await env.client.listAll<WorkloadLike>(r, { namespace })).items;
    const workloads = [...(await list(Resources.Deployment)), ...(await list(Resources.StatefulSet))].map(
      (w) =>
        `${w.metadata?.name} ${w.status?.readyReplicas ?? 0}/${w.spec?.replicas ?? "-"} ready, ` +
        `${w.status?.updatedReplicas ?? 0} updated, generation ${w.metadata?.generation}/${w.status?.observedGeneration ?? "-"}`,
    );
    const pods = (await list(Resources.Pod)).map((p) => `${p.metadata?.name} ${p.status?.phase ?? "-"}`);
    return (
      `${name}: phase ${t.status?.phase ?? "-"}, generation ${t.metadata?.generation}/observed ` +
      `${t.status?.observedGeneration ?? "-"}; not True: ${notTrue.join("; ") || "none"}; ` +
      `workloads: ${workloads.join(", ") || "none"}; pods: ${pods.join(", ") || "none"}`
    );
  } catch (err) {
    return `${name}: ${String(err)}`;
  }
}

async function workloadCounts(env: ChaosEnv, name: string): Promise<string> {
  const ns = `tcp-${name}`;
  const deps = await env.client.listAll<KubeObject>(Resources.Deployment, { namespace: ns });
  const sts = await env.client.listAll<KubeObject>(Resources.StatefulSet, { namespace: ns });
  return `${deps.items.length}d/${sts.items.length}s`;
}

async function deleteTcps(env: ChaosEnv, names: string[]): Promise<void> {
  for (const n of names) await env.client.delete(Resources.TenantControlPlane, n).catch(() => undefined);
}

/** kube-apiserver or etcd SIGKILLed `kills` times while `tcps` TenantControlPlanes are being reconciled. */
export async function controlPlaneKill(
  env: ChaosEnv,
  opts: { component: "kube-apiserver" | "etcd"; tcps: number; kills: number; downMs: number; convergeMs: number },
): Promise<ScenarioResult> {
  const s = new Scenario(
    `${opts.component}-killed-during-tcp-reconciles`,
    { tcps: opts.tcps, kills: opts.kills },
    env.log,
  );
  const id = randomBytes(2).toString("hex");
  const names = Array.from({ length: opts.tcps }, (_, i) => `ck${opts.component === "etcd" ? "e" : "a"}${id}-${i}`);
  const sup = new Supervisor(env, {
    identity: `tcp-${id}`,
    controllers: ["tenantcontrolplane"],
    leaseId: `tcp-${id}`,
    leaseTimings: "default",
    // As the chart runs it: a standby takes over when a leader cut off by the outage steps down.
    replicas: 2,
  });
  await sup.start();
  try {
    // Start-up, not the scenario: two controllers loading at once took over 60 s at load average 15.
    await sup.waitLeader(180_000);
    await Promise.all(names.map((n) => env.client.create(Resources.TenantControlPlane, tcp(n))));
    s.objectsAtRisk = names.length;
    for (let k = 0; k < opts.kills; k++) {
      await sleep(k === 0 ? 1500 : 4000); // mid-reconcile: namespaces, PKI and workloads are being written
      s.fault(`SIGKILL ${opts.component} (down ${opts.downMs} ms)`);
      await stopComponent(env.state, opts.component, "SIGKILL");
      await sleep(opts.downMs);
      await startComponent(env.state, opts.component);
      s.fault(`${opts.component} restarted`);
    }
    // kwok stands in for the nodes' kubelets, which resync after an outage; kwok itself drops a pod's stage whose
    // PATCH failed with a 500 during it, and that pod would stay Pending (seen in CI: a tenant's etcd-0, and an
    // apiserver replica, never Ready). A kwok restart is that resync (see restartKwok).
    await restartKwok(env.state);
    const started = Date.now();
    await waitUntil(async () => {
      for (const n of names) if (!(await converged(env, n, "v1.34.4"))) return false;
      return true;
    }, opts.convergeMs);
    s.figures.convergeSecondsAfterLastFault = Math.round((Date.now() - started) / 1000);
    const notConverged: string[] = [];
    for (const n of names) if (!(await converged(env, n, "v1.34.4").catch(() => false))) notConverged.push(n);
    s.objectsLost = notConverged.length;
    s.check(
      "every TCP converges (Ready, observedGeneration current)",
      notConverged.length === 0,
      (await Promise.all(notConverged.map((n) => convergenceReport(env, n)))).join(" | "),
    );
    const counts = await Promise.all(names.map((n) => workloadCounts(env, n)));
    const odd = names.map((n, i) => `${n}:${counts[i]}`).filter((_, i) => counts[i] !== "3d/1s");
    s.check(
      "exactly 3 Deployments and 1 StatefulSet per tenant (no duplicate actuation)",
      odd.length === 0,
      odd.join(" "),
    );
    const crashes = [...sup.exits.filter((e) => e.code !== 1 && e.signal !== "SIGTERM"), ...sup.crashLines()];
    s.check(
      "the controller never crashes (exits only on a lost Lease, code 1, and is replaced)",
      crashes.length === 0,
      `${sup.exits.length} lease-loss exits; ${JSON.stringify(crashes).slice(0, 300)}`,
    );
    s.figures.controllerExits = sup.exits.length;
    return s.result();
  } finally {
    await sup.stop();
    await deleteTcps(env, names);
  }
}

/** A TCP upgrade v1.34.4 → v1.35.4 with the controller SIGKILLed while the phase is Upgrading, then replaced. */
export async function restartMidUpgrade(
  env: ChaosEnv,
  opts: { tcps: number; convergeMs: number },
): Promise<ScenarioResult> {
  const s = new Scenario("controller-killed-mid-tcp-upgrade", { tcps: opts.tcps }, env.log);
  const id = randomBytes(2).toString("hex");
  const names = Array.from({ length: opts.tcps }, (_, i) => `up${id}-${i}`);
  const sup = new Supervisor(env, {
    identity: `upg-${id}`,
    controllers: ["tenantcontrolplane"],
    leaseId: `upg-${id}`,
    leaseTimings: "default",
  });
  await sup.start();
  const samples: Array<{ at: number; tenant: string; component: string; version?: string; available?: number }> = [];
  let sampling = true;
  try {
    await sup.current!.waitLeader(180_000); // start-up, not the scenario
    await Promise.all(names.map((n) => env.client.create(Resources.TenantControlPlane, tcp(n))));
    s.objectsAtRisk = names.length;
    const ready = await waitUntil(async () => {
      for (const n of names) if (!(await converged(env, n, "v1.34.4"))) return false;
      return true;
    }, opts.convergeMs);
    s.check("every TCP Ready before the upgrade", ready);
    const sampler = (async () => {
      while (sampling) {
        for (const n of names) {
          const ns = `tcp-${n}`;
          type W = KubeObject & { status?: { availableReplicas?: number; readyReplicas?: number } };
          const deps = await env.client.listAll<W>(Resources.Deployment, { namespace: ns }).catch(() => undefined);
          const sts = await env.client.listAll<W>(Resources.StatefulSet, { namespace: ns }).catch(() => undefined);
          for (const d of [...(deps?.items ?? []), ...(sts?.items ?? [])])
            samples.push({
              at: Date.now(),
              tenant: n,
              component: d.metadata?.name ?? "",
              version: d.metadata?.labels?.["metapilot.io/version"],
              available: d.status?.availableReplicas ?? d.status?.readyReplicas,
            });
        }
        await sleep(200);
      }
    })();
    for (const n of names)
      await env.client.patch(Resources.TenantControlPlane, n, undefined, { spec: { version: "v1.35.4" } }, "merge");
    const upgrading = await waitUntil(async () => {
      const t = await env.client.get<RawTenantControlPlane>(Resources.TenantControlPlane, names[0]!);
      return t.status?.phase === "Upgrading";
    }, 30_000);
    s.fault(`SIGKILL the leading controller ${upgrading ? "while Upgrading" : "(Upgrading phase not seen)"}`);
    await sup.current!.kill("SIGKILL");
    const done = await waitUntil(async () => {
      for (const n of names) if (!(await converged(env, n, "v1.35.4"))) return false;
      return true;
    }, opts.convergeMs);
    sampling = false;
    await sampler;
    const lost: string[] = [];
    for (const n of names) if (!(await converged(env, n, "v1.35.4").catch(() => false))) lost.push(n);
    s.objectsLost = lost.length;
    s.check("every TCP converges to Ready at v1.35.4 after the restart", done && lost.length === 0, lost.join(" "));
    const outOfOrder: string[] = [];
    for (const n of names) {
      const first = (c: string) =>
        samples.find((x) => x.tenant === n && x.component === c && x.version === "v1.35.4")?.at ?? Infinity;
      // The etcd StatefulSet keeps its label when the etcd image does not change between minors, so the order
      // checked is the one visible on every upgrade: the apiserver before the controller-manager and scheduler.
      const api = first("kube-apiserver");
      if (!(api <= first("kube-controller-manager") && api <= first("kube-scheduler"))) outOfOrder.push(n);
    }
    s.check(
      "upgrade order apiserver → controller-manager, scheduler kept across the restart",
      outOfOrder.length === 0,
      outOfOrder.join(" "),
    );
    const apiserverMin = Math.min(
      ...samples.filter((x) => x.component === "kube-apiserver" && x.available !== undefined).map((x) => x.available!),
    );
    s.figures.apiserverMinAvailableDuringUpgrade = apiserverMin;
    s.check(
      "the apiserver keeps its 2 replicas available throughout (maxUnavailable 0)",
      apiserverMin >= 2,
      `min ${apiserverMin}`,
    );
    const crashes = [...sup.exits.filter((e) => e.code !== 1 && e.signal !== "SIGKILL"), ...sup.crashLines()];
    s.check("no crash besides the injected SIGKILL", crashes.length === 0, JSON.stringify(crashes).slice(0, 300));
    return s.result();
  } finally {
    sampling = false;
    await sup.stop();
    await deleteTcps(env, names);
  }
}
