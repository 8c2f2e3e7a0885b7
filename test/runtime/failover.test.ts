// Leader failover between two real controller processes. SIGTERM: the leader releases its Lease (the audit log
// shows its write after the signal) and the standby takes over. SIGKILL: the standby takes over, never before the
// Lease could have expired. In both cases the audit log shows no write by the old leader after the new leader's
// first write. The takeover times are printed, not asserted: on a loaded machine they measure the machine.
// Lease timings (test/fixtures/mirror-process.ts): duration 15 s, renew deadline 10 s, retry 2 s.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../hack/lib/metacluster.js";
import { isWrite, readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";

interface Replica {
  identity: string;
  child: ChildProcess;
  leaderAt?: number;
  exited?: number | null;
}

describe("leader election failover", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  const replicas: Replica[] = [];
  let churn: NodeJS.Timeout | undefined;

  function startReplica(identity: string): Replica {
    // node --import tsx, not the tsx CLI: the CLI forks a child that a SIGKILL of the parent would orphan.
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/mirror-process.ts", state.kubeconfig, ns.name, identity],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const replica: Replica = { identity, child };
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"became leader"')) replica.leaderAt = Date.now();
    });
    child.on("exit", (code) => (replica.exited = code));
    replicas.push(replica);
    return replica;
  }

  beforeAll(async () => {
    ns = await freshNamespace(kc, "failover");
    for (let i = 0; i < 20; i++) {
      await core.createNamespacedConfigMap({
        namespace: ns.name,
        body: { metadata: { name: `src-${i}`, labels: { "mirror.metapilot.io/source": "true" } }, data: { v: "0" } },
      });
    }
    // Keep the controllers busy writing throughout, so a write by a deposed leader would show up.
    let n = 0;
    churn = setInterval(() => {
      n++;
      void core
        .patchNamespacedConfigMap(
          { name: `src-${n % 20}`, namespace: ns.name, body: { data: { v: String(n) } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        )
        .catch(() => undefined);
    }, 100);
  });

  afterAll(async () => {
    clearInterval(churn);
    for (const r of replicas) if (r.exited === undefined) r.child.kill("SIGKILL");
    await ns?.cleanup();
  });

  function checkNoWriteAfterHandover(oldId: string, newId: string, since: Date): void {
    const writes = readAudit(state, since).filter(
      (e) =>
        isWrite(e) &&
        e.objectRef?.namespace === ns.name &&
        e.objectRef?.resource !== "leases" &&
        e.userAgent?.includes("instance="),
    );
    const firstNew = writes.find((e) => e.userAgent?.includes(`instance=${newId}`));
    expect(firstNew, "the new leader wrote").toBeDefined();
    const late = writes.filter(
      (e) =>
        e.userAgent?.includes(`instance=${oldId}`) &&
        Date.parse(e.stageTimestamp) >= Date.parse(firstNew!.requestReceivedTimestamp),
    );
    expect(late.map((e) => `${e.verb} ${e.requestURI} at ${e.stageTimestamp}`)).toEqual([]);
  }

  const leaseDurationMs = 15_000;
  const renewDeadlineMs = 10_000;
  /**
   * A leader whose last renewal is older than the renew deadline steps down by itself, so its Lease, if not
   * released, expires at least this long after the leader dies: the earliest a standby may take over without a
   * release.
   */
  const earliestExpiryMs = leaseDurationMs - renewDeadlineMs;

  it("hands over on SIGTERM by releasing the Lease", async () => {
    const a = startReplica(`a-${ns.name}`);
    await eventually(async () => a.leaderAt, 60_000, "a leads");
    const b = startReplica(`b-${ns.name}`);
    // b is a warm standby: give it time to sync its caches.
    await new Promise((r) => setTimeout(r, 5000));
    expect(b.leaderAt).toBeUndefined();
    const since = new Date();
    const termAt = Date.now();
    a.child.kill("SIGTERM");
    await eventually(async () => b.leaderAt, 60_000, "b leads");
    const takeover = b.leaderAt! - termAt;
    console.log(`SIGTERM failover: standby led ${takeover} ms after the signal`);
    const released = readAudit(state, since).filter(
      (e) =>
        isWrite(e) &&
        e.objectRef?.resource === "leases" &&
        e.objectRef.namespace === ns.name &&
        e.userAgent?.includes(`instance=${a.identity}`),
    );
    expect(released.length, "the leader's Lease write after SIGTERM (the release)").toBeGreaterThanOrEqual(1);
    await eventually(async () => (a.exited !== undefined ? true : undefined), 10_000, "a exits");
    expect(a.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    checkNoWriteAfterHandover(a.identity, b.identity, since);
  }, 120_000);

  it("takes over on SIGKILL once the Lease has expired, never before", async () => {
    const b = replicas.find((r) => r.identity.startsWith("b-"))!;
    const c = startReplica(`c-${ns.name}`);
    await new Promise((r) => setTimeout(r, 5000));
    const since = new Date();
    const killAt = Date.now();
    b.child.kill("SIGKILL");
    await eventually(async () => c.leaderAt, 90_000, "c leads");
    const takeover = c.leaderAt! - killAt;
    console.log(`SIGKILL failover: standby led ${takeover} ms after the kill (lease 15 s)`);
    // Safety, not speed: two leaders at once would be a takeover before the dead leader's Lease expired.
    expect(takeover).toBeGreaterThanOrEqual(earliestExpiryMs);
    await new Promise((r) => setTimeout(r, 2000));
    checkNoWriteAfterHandover(b.identity, c.identity, since);
    c.child.kill("SIGTERM");
  }, 120_000);
});
