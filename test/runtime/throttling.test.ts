// With the apiserver's inflight limits set very low, the controller gets 429s, backs off (honouring
// Retry-After) and converges, without amplifying load: retries stay a small multiple of the work.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kube/logger.js";
import { Manager } from "../../src/kube/manager.js";
import { restartApiserver } from "../../hack/lib/metacluster.js";
import { addMirrorController, hashOf, createMirrorSources } from "../fixtures/mirror.js";
import {
  adminKubeConfig,
  eventually,
  freshNamespace,
  metacluster,
  serviceAccountKubeConfig,
} from "../harness/cluster.js";

const objects = 200;

describe("429 handling", () => {
  const state = metacluster();
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let controllerKc: k8s.KubeConfig;
  const stop = new AbortController();

  beforeAll(async () => {
    ns = await freshNamespace(kc, "throttle");
    await createMirrorSources(core, ns.name, objects);
    // system:masters is exempt from inflight limits, so the controller runs as a ServiceAccount.
    controllerKc = await serviceAccountKubeConfig(kc, ns.name, "mirror", [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "patch", "update"] },
    ]);
    await restartApiserver(state, 2);
  }, 180_000);

  afterAll(async () => {
    stop.abort();
    await restartApiserver(state, undefined);
    await ns?.cleanup();
  }, 180_000);

  it("backs off and converges under max-requests-inflight=2", async () => {
    const manager = new Manager({
      kubeConfig: controllerKc,
      logger: createLogger({ level: "error" }),
      identity: `throttle-${ns.name}`,
      qps: 500,
      burst: 500,
    });
    addMirrorController(manager, ns.name, 16);
    // Other tenants' writes keep the one mutating slot busy (as on a loaded apiserver), so the controller meets
    // 429s whatever the speed of this machine. The noise client does not retry; its failures are expected.
    const noise = controllerKc.makeApiClient(k8s.CoreV1Api);
    let noisy = true;
    const noiseLoop = (async () => {
      let n = 0;
      while (noisy) {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            noise
              .createNamespacedConfigMap({
                namespace: ns.name,
                body: { metadata: { name: `noise-${n}-${i}` }, data: { v: String(n) } },
              })
              .catch(() => undefined),
          ),
        );
        n++;
      }
    })();
    const started = Date.now();
    void manager.start(stop.signal);
    await eventually(
      async () => {
        const list = await core.listNamespacedConfigMap({
          namespace: ns.name,
          labelSelector: "mirror.metapilot.io/of",
        });
        const ok = list.items.filter(
          (m) => m.metadata?.annotations?.["mirror.metapilot.io/hash"] === hashOf({ v: "0" }),
        ).length;
        return ok === objects ? true : undefined;
      },
      240_000,
      "all mirrors under throttling",
    );
    noisy = false;
    await noiseLoop;
    const requests = (await manager.metrics.apiRequests.get()).values;
    const sum = (pred: (l: Record<string, string | number>) => boolean) =>
      requests.filter((v) => pred(v.labels)).reduce((a, v) => a + v.value, 0);
    const applies = sum((l) => l.verb === "apply");
    const throttled = sum((l) => String(l.code) === "429");
    const applied = sum((l) => l.verb === "apply" && /^2\d\d$/.test(String(l.code)));
    console.log(
      `429 test: ${objects} objects in ${Date.now() - started} ms; apply requests ${applies} (${applied} ok), 429s ${throttled}`,
    );
    expect(applied).toBe(objects);
    expect(throttled, "the apiserver really throttled").toBeGreaterThan(0);
    // No amplification: on average fewer than 4 attempts per object, all paced by the rate limiter and backoff.
    expect(applies / objects).toBeLessThan(4);
  }, 300_000);
});
