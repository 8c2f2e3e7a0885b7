import { describe, expect, it } from "vitest";
import {
  awaitingPath,
  pathAtDecision,
  pathFromOperator,
  recordOperatorPath,
  sizeOfResourcesText,
} from "./apply-path.js";
import type { DecisionObject } from "./decisions.js";
import type { Size, WorkloadRef } from "./types.js";

const now = Date.parse("2026-12-06T06:00:00Z");
const Mi = 2 ** 20;
const small: Size = { replicas: 2, cpuRequest: 0.25, memoryRequest: 512 * Mi, memoryLimit: 1024 * Mi };
const large: Size = { replicas: 2, cpuRequest: 0.5, memoryRequest: 1024 * Mi, memoryLimit: 2048 * Mi };
const largeText = "requests cpu=500m memory=1Gi, limits memory=2Gi";

const ref: WorkloadRef = {
  kind: "Deployment",
  name: "kube-apiserver",
  namespace: "tcp-a",
  tenant: "a",
  component: "kube-apiserver",
  container: "kube-apiserver",
  ownedByTenantControlPlane: true,
};

const block = (s: Size) => ({
  replicas: s.replicas,
  resources: {
    requests: {
      ...(s.cpuRequest !== undefined ? { cpu: `${s.cpuRequest * 1000}m` } : {}),
      ...(s.memoryRequest !== undefined ? { memory: `${s.memoryRequest / Mi}Mi` } : {}),
    },
    limits: s.memoryLimit !== undefined ? { memory: `${s.memoryLimit / Mi}Mi` } : {},
  },
});

function decision(
  name: string,
  o: { at: string; before?: Size; after?: Size; phase?: string; dryRun?: boolean; path?: object },
) {
  return {
    metadata: { name, namespace: "tcp-a" },
    spec: {
      target: { name: "kube-apiserver", namespace: "tcp-a" },
      dryRun: o.dryRun ?? false,
      decidedAt: o.at,
      before: block(o.before ?? small),
      after: block(o.after ?? large),
    },
    status: { phase: o.phase ?? "Applied", ...(o.path ? { applyPath: o.path } : {}) },
  } as DecisionObject;
}

describe("the operator's resize text", () => {
  it("reads back into a size, by value", () => {
    expect(sizeOfResourcesText(largeText, 2)).toEqual(large);
    expect(sizeOfResourcesText("requests cpu=0.5 memory=1024Mi, limits memory=2048Mi", 2)).toEqual(large);
    expect(sizeOfResourcesText("none")).toEqual({ replicas: 1 });
    expect(sizeOfResourcesText("garbage=1")).toBeUndefined();
  });
});

describe("pathFromOperator", () => {
  it("takes the operator's method, reason and state when its resize is of the decision's size", () => {
    expect(
      pathFromOperator(
        {
          method: "Rolling",
          state: "InProgress",
          reason: "KubeletCannotResize",
          message: "no resources",
          resources: largeText,
        },
        large,
        now,
      ),
    ).toEqual({
      method: "Rolling",
      reason: "KubeletCannotResize",
      state: "InProgress",
      message: "no resources",
      observedAt: "2026-12-06T06:00:00.000Z",
    });
    expect(
      pathFromOperator({ method: "InPlace", state: "Done", reason: "Resized", resources: largeText }, large, now),
    ).toMatchObject({ method: "InPlace", state: "Done", reason: "Resized" });
  });

  it("says nothing of a resize to another size (an older or later change)", () => {
    const other = { method: "InPlace", state: "Done", reason: "Resized", resources: "requests cpu=250m" };
    expect(pathFromOperator(other, large, now)).toBeUndefined();
    expect(pathFromOperator(undefined, large, now)).toBeUndefined();
  });
});

describe("pathAtDecision", () => {
  const pod = (o: { resources?: boolean; ready?: boolean; qos?: string } = {}) => ({
    status: {
      phase: "Running",
      qosClass: o.qos ?? "Burstable",
      containerStatuses: [
        {
          name: "kube-apiserver",
          ready: o.ready ?? true,
          ...(o.resources === false ? {} : { resources: {} }),
        },
      ],
    },
  });
  const facts = (o: Partial<Parameters<typeof pathAtDecision>[0]> = {}) => ({
    ownedByTenantControlPlane: true,
    container: "kube-apiserver",
    pods: [pod()],
    ...o,
  });

  it("knows a workload no TenantControlPlane owns rolls (its template changes), live or dry-run", () => {
    expect(pathAtDecision(facts({ ownedByTenantControlPlane: false }), small, large, false, now)).toMatchObject({
      method: "Rolling",
      reason: "TemplateChange",
    });
    expect(pathAtDecision(facts({ ownedByTenantControlPlane: false }), small, large, true, now)).toMatchObject({
      reason: "TemplateChange",
      predicted: true,
    });
  });

  it("leaves a live decision on a TenantControlPlane to the operator's report", () => {
    expect(pathAtDecision(facts({ strategy: "Restart" }), small, large, false, now)).toBeUndefined();
  });

  it("predicts for a dry-run decision what the operator would surely do, and nothing where the kubelet decides", () => {
    const predict = (f: ReturnType<typeof facts>, after = large) => pathAtDecision(f, small, after, true, now);
    expect(predict(facts({ strategy: "Restart" }))).toMatchObject({ reason: "Restart", predicted: true });
    expect(predict(facts({ pods: [pod(), pod({ resources: false })] }))).toMatchObject({
      reason: "KubeletCannotResize",
    });
    expect(predict(facts({ pods: [pod({ ready: false })] }))).toMatchObject({ reason: "NotReady" });
    const guaranteed = { replicas: 2, cpuRequest: 1, cpuLimit: 1, memoryRequest: 1024 * Mi, memoryLimit: 1024 * Mi };
    expect(predict(facts(), guaranteed)).toMatchObject({ reason: "QoSClassChange" });
    expect(predict(facts())).toBeUndefined(); // in place if the kubelet agrees: not known yet
  });

  it("has no path for a change of replicas alone", () => {
    expect(
      pathAtDecision(facts({ ownedByTenantControlPlane: false }), small, { ...small, replicas: 3 }, false, now),
    ).toBeUndefined();
  });
});

describe("the decision the operator's report belongs to", () => {
  it("is the latest live Applied one that resizes, while its path is missing or in progress", () => {
    const older = decision("older", { at: "2026-12-06T05:00:00Z" });
    const latest = decision("latest", { at: "2026-12-06T05:30:00Z" });
    const replicasOnly = decision("replicas", { at: "2026-12-06T05:40:00Z", after: { ...small, replicas: 3 } });
    const dry = decision("dry", { at: "2026-12-06T05:50:00Z", dryRun: true });
    const blocked = decision("blocked", { at: "2026-12-06T05:55:00Z", phase: "Blocked" });
    expect(awaitingPath([older, latest, replicasOnly, dry, blocked], ref)?.metadata?.name).toBe("latest");
    const inProgress = decision("latest", {
      at: "2026-12-06T05:30:00Z",
      path: { method: "Rolling", state: "InProgress" },
    });
    expect(awaitingPath([older, inProgress], ref)?.metadata?.name).toBe("latest");
    const done = decision("latest", { at: "2026-12-06T05:30:00Z", path: { method: "Rolling", state: "Done" } });
    expect(awaitingPath([older, done], ref)).toBeUndefined();
  });

  it("gets the report by a merge patch of its status, once per change of it", async () => {
    const patches: unknown[] = [];
    const client = { patch: async (...args: unknown[]) => (patches.push(args), {}) as never };
    const resize = { method: "Rolling", state: "InProgress", reason: "KubeletCannotResize", resources: largeText };
    const d = decision("latest", { at: "2026-12-06T05:30:00Z" });
    const cache = (list: DecisionObject[]) => ({ listNamespace: () => list });
    expect(await recordOperatorPath(client, cache([d]), ref, resize, now)).toMatchObject({ state: "InProgress" });
    expect(patches).toEqual([
      [
        expect.objectContaining({ kind: "ScalingDecision" }),
        "latest",
        "tcp-a",
        { status: { applyPath: expect.objectContaining({ method: "Rolling", reason: "KubeletCannotResize" }) } },
        "merge",
        "status",
      ],
    ]);
    // The same report again writes nothing; its Done state does.
    const recorded = decision("latest", {
      at: "2026-12-06T05:30:00Z",
      path: { method: "Rolling", reason: "KubeletCannotResize", state: "InProgress" },
    });
    expect(await recordOperatorPath(client, cache([recorded]), ref, resize, now)).toBeUndefined();
    expect(await recordOperatorPath(client, cache([recorded]), ref, { ...resize, state: "Done" }, now)).toMatchObject({
      state: "Done",
    });
    expect(patches).toHaveLength(2);
    // Not for a workload no TenantControlPlane owns: its path was known when it was applied.
    expect(
      await recordOperatorPath(client, cache([d]), { ...ref, ownedByTenantControlPlane: false }, resize, now),
    ).toBeUndefined();
  });
});
