// Template sync of one node under conflicting writers. A real apiserver answers 409 only when another writer
// wins the race, which a test cannot arrange on demand, so the conflicts here come from nock.
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../kube/client.js";
import { silentLogger, testKubeConfig, testServer } from "../../kube/testing.js";
import type { Node } from "../model.js";
import type { PoolTemplate } from "../scaleup.js";
import { syncNodeToTemplate, templatePatch } from "./reconciler.js";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

const client = () =>
  new KubeClient(testKubeConfig(), { retryBaseMs: 1, retryCapMs: 5, qps: 1000, burst: 1000, logger: silentLogger });
const template: PoolTemplate = {
  labels: { tier: "gold" },
  taints: [{ key: "pool", value: "p", effect: "NoSchedule" }],
  shape: { cpu: 4, memory: 16 * 2 ** 30, pods: 110, gpu: 0 },
};
const node = (rv: string, extra: Partial<Node["spec"]> = {}): Node => ({
  metadata: { name: "n1", resourceVersion: rv, labels: {} },
  spec: { ...extra },
});
const conflict = { kind: "Status", code: 409, reason: "Conflict", message: "the object has been modified" };

describe("syncNodeToTemplate", () => {
  it("reads the node afresh after a conflict and patches on top of what the other writer did", async () => {
    const stale = node("1");
    // Meanwhile the node lifecycle controller added a taint of its own, which must survive.
    const fresh = node("2", { taints: [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }] });
    const bodies: Array<{ metadata?: { resourceVersion?: string }; spec?: { taints?: Array<{ key: string }> } }> = [];
    const scope = nock(testServer)
      .patch("/api/v1/nodes/n1", (b) => (bodies.push(b), true))
      .query(true)
      .reply(409, conflict)
      .get("/api/v1/nodes/n1")
      .reply(200, fresh)
      .patch("/api/v1/nodes/n1", (b) => (bodies.push(b), true))
      .query(true)
      .reply(200, fresh);
    await syncNodeToTemplate(client(), stale, templatePatch(stale, template)!, template);
    scope.done();
    expect(bodies.map((b) => b.metadata?.resourceVersion)).toEqual(["1", "2"]);
    expect(bodies[1]?.spec?.taints?.map((t) => t.key).sort()).toEqual(["node.kubernetes.io/unreachable", "pool"]);
  });

  it("stops when the fresh node is already in line, or gone", async () => {
    const stale = node("1");
    const inLine = {
      ...node("2", { taints: template.taints }),
      metadata: {
        name: "n1",
        resourceVersion: "2",
        labels: { tier: "gold" },
        annotations: { "metapilot.io/managed-labels": "tier", "metapilot.io/managed-taints": "pool:NoSchedule" },
      },
    };
    expect(templatePatch(inLine, template)).toBeUndefined();
    const scope = nock(testServer)
      .patch("/api/v1/nodes/n1")
      .query(true)
      .reply(409, conflict)
      .get("/api/v1/nodes/n1")
      .reply(200, inLine)
      .patch("/api/v1/nodes/n2")
      .query(true)
      .reply(409, conflict)
      .get("/api/v1/nodes/n2")
      .reply(404, { kind: "Status", code: 404, reason: "NotFound" });
    await syncNodeToTemplate(client(), stale, templatePatch(stale, template)!, template);
    const gone = { ...stale, metadata: { ...stale.metadata, name: "n2" } };
    await syncNodeToTemplate(client(), gone, templatePatch(gone, template)!, template);
    scope.done();
  });

  it("gives up after three conflicts without an error (the reconcile is requeued) and rethrows anything else", async () => {
    const stale = node("1");
    const scope = nock(testServer)
      .patch("/api/v1/nodes/n1")
      .query(true)
      .times(3)
      .reply(409, conflict)
      .get("/api/v1/nodes/n1")
      .times(2)
      .reply(200, node("9"));
    await syncNodeToTemplate(client(), stale, templatePatch(stale, template)!, template);
    scope.done();
    nock(testServer)
      .patch("/api/v1/nodes/n1")
      .query(true)
      .reply(403, { kind: "Status", code: 403, reason: "Forbidden" });
    await expect(syncNodeToTemplate(client(), stale, templatePatch(stale, template)!, template)).rejects.toThrow();
  });
});
