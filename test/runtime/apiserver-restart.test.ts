// The informer survives an apiserver restart: every change made around the outage is reconciled, and the
// apiserver's own audit log shows at most one paginated LIST per informer afterwards, never a relist loop.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { startComponent, stopComponent } from "../../hack/lib/metacluster.js";
import { addMirrorController, hashOf, createMirrorSources } from "../fixtures/mirror.js";
import { readAudit } from "../harness/audit.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";

const objects = Number(process.env.RUNTIME_TEST_OBJECTS ?? 1000);

describe("informer across an apiserver restart", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let manager: Manager;
  const stop = new AbortController();

  beforeAll(async () => {
    ns = await freshNamespace(kc, "restart");
    await createMirrorSources(core, ns.name, objects);
  }, 300_000);

  afterAll(async () => {
    stop.abort();
    await ns?.cleanup();
  });

  async function mirroredCorrectly(expected: (i: number) => string): Promise<number> {
    const list = await core.listNamespacedConfigMap({ namespace: ns.name, labelSelector: "mirror.metapilot.io/of" });
    const byName = new Map(list.items.map((m) => [m.metadata?.name, m]));
    let ok = 0;
    for (let i = 0; i < objects; i++) {
      const m = byName.get(`src-${i}-mirror`);
      if (m?.metadata?.annotations?.["mirror.metapilot.io/hash"] === hashOf({ v: expected(i) })) ok++;
    }
    return ok;
  }

  it("reconciles every change made during and after the outage, with one LIST per informer", async () => {
    manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "warn" }),
      identity: `restart-${ns.name}`,
      qps: 300,
      burst: 300,
    });
    addMirrorController(manager, ns.name, 8);
    void manager.start(stop.signal);
    await eventually(
      async () => ((await mirroredCorrectly(() => "0")) === objects ? true : undefined),
      240_000,
      "initial mirrors",
    );

    await stopComponent(state, "kube-apiserver");
    const restartAt = new Date();
    await startComponent(state, "kube-apiserver");
    // Changes right after the restart land while the controller's watches are still reconnecting.
    const update = async (from: number, to: number, v: string) => {
      for (let i = from; i < to; i += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, to - i) }, (_, j) =>
            core.patchNamespacedConfigMap(
              { name: `src-${i + j}`, namespace: ns.name, body: { data: { v } } },
              k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
            ),
          ),
        );
      }
    };
    await update(0, Math.floor(objects / 2), "1");
    await new Promise((r) => setTimeout(r, 3000));
    await update(Math.floor(objects / 2), objects, "2");
    const expected = (i: number) => (i < Math.floor(objects / 2) ? "1" : "2");
    await eventually(
      async () => ((await mirroredCorrectly(expected)) === objects ? true : undefined),
      240_000,
      "mirrors after restart",
    );

    const lists = readAudit(state, restartAt).filter(
      (e) =>
        e.verb === "list" &&
        e.userAgent?.includes(`instance=restart-${ns.name}`) &&
        e.objectRef?.resource === "configmaps",
    );
    // Two informers (sources and mirrors); a relist of N objects is ceil(N/500) pages, each page one request.
    const bySelector = new Map<string, number>();
    for (const e of lists) {
      const selector = new URL(e.requestURI, "https://x").searchParams.get("labelSelector") ?? "";
      bySelector.set(selector, (bySelector.get(selector) ?? 0) + 1);
      expect(new URL(e.requestURI, "https://x").searchParams.get("limit")).toBe("500");
    }
    console.log(
      `LIST requests after the restart, by informer selector: ${JSON.stringify(Object.fromEntries(bySelector))}`,
    );
    const pages = Math.ceil(objects / 500) + 1;
    for (const [selector, count] of bySelector)
      expect(count, `LIST requests for ${selector}`).toBeLessThanOrEqual(pages);
    const informers = (manager as unknown as { informers: Map<string, { stats: { lists: number } }> }).informers;
    for (const informer of informers.values()) expect(informer.stats.lists).toBeLessThanOrEqual(2);
  }, 600_000);
});
