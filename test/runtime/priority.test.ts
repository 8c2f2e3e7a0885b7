// After a (re)start, the initial LIST queues every object; a change that arrives meanwhile must not wait behind
// them. On the real apiserver: 300 ConfigMaps to mirror, one worker, and a change to the last of them made as
// soon as the controller starts working; the change is mirrored long before the backlog is done.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { addMirrorController, hashOf, createMirrorSources } from "../fixtures/mirror.js";
import { adminKubeConfig, eventually, freshNamespace } from "../harness/cluster.js";

const objects = 300;

describe("work queue priority on the real apiserver", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  const stop = new AbortController();

  beforeAll(async () => {
    ns = await freshNamespace(kc, "prio");
    await createMirrorSources(core, ns.name, objects);
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await ns?.cleanup();
  });

  it("reconciles a change before the initial list's backlog", async () => {
    // One worker and a client limited to 20 writes a second: the backlog of 300 mirrors takes about 15 s.
    const manager = new Manager({
      kubeConfig: kc,
      logger: createLogger({ level: "error" }),
      identity: `prio-${ns.name}`,
      qps: 20,
      burst: 1,
    });
    addMirrorController(manager, ns.name, 1);
    void manager.start(stop.signal);
    const mirrors = async () =>
      (await core.listNamespacedConfigMap({ namespace: ns.name, labelSelector: "mirror.metapilot.io/of" })).items;
    await eventually(async () => ((await mirrors()).length > 0 ? true : undefined), 60_000, "the first mirror");
    // The last source in list order (etcd lists by key, so src-99), changed while its initial reconcile waits.
    const last = Array.from({ length: objects }, (_, i) => `src-${i}`)
      .sort()
      .at(-1)!;
    await core.patchNamespacedConfigMap(
      { name: last, namespace: ns.name, body: { data: { v: "1" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const mirroredAt = await eventually(
      async () => {
        const all = await mirrors();
        const m = all.find((c) => c.metadata?.name === `${last}-mirror`);
        return m?.metadata?.annotations?.["mirror.metapilot.io/hash"] === hashOf({ v: "1" }) ? all.length : undefined;
      },
      120_000,
      "the change mirrored",
    );
    console.log(`priority test: the change was mirrored when ${mirroredAt} of ${objects} mirrors existed`);
    // In FIFO order it would be the last of the 300.
    expect(mirroredAt).toBeLessThan(objects / 2);
    await eventually(
      async () => ((await mirrors()).length === objects ? true : undefined),
      120_000,
      "the whole backlog mirrored",
    );
  }, 300_000);
});
