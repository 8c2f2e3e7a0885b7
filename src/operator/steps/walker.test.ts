import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Resources } from "../../kube/resources.js";
import { tenantControlPlaneSteps } from "./index.js";
import { cond, type Pending, type Step } from "./step.js";
import { tenantContext, world } from "./testing.js";
import { applySteps, cleanupSteps, describePending } from "./walker.js";

/** A step that logs what the walker asks of it. */
function logged(name: string, log: string[], behaviour: Partial<Step> = {}): Step {
  return {
    name,
    define: () => [],
    apply: () => {
      log.push(`apply ${name}`);
      return Promise.resolve();
    },
    status: () => [cond(`${name}Ready`, true, "Fine", name)],
    cleanup: (_fc, behind) => {
      log.push(`cleanup ${name} behind ${behind.length}`);
      return Promise.resolve([{ what: name }]);
    },
    ...behaviour,
  };
}

describe("the walker", () => {
  it("applies in order, then collects every step's conditions in that order", async () => {
    const log: string[] = [];
    const walked = await applySteps([logged("a", log), logged("b", log)], world().step(tenantContext()));
    expect(log).toEqual(["apply a", "apply b"]);
    expect(walked).toEqual({ conditions: [cond("aReady", true, "Fine", "a"), cond("bReady", true, "Fine", "b")] });
  });

  it("stops at a step that says so: nothing behind it runs and no conditions are collected", async () => {
    const log: string[] = [];
    const stop = { result: { requeueAfterMs: 500 } };
    const walked = await applySteps(
      [logged("a", log, { apply: () => Promise.resolve(stop) }), logged("b", log)],
      world().step(tenantContext()),
    );
    expect(walked).toEqual({ stopped: stop });
    expect(log).toEqual([]);
  });

  it("cleans up in reverse, each step seeing what the steps after it still wait for", async () => {
    const log: string[] = [];
    const pending = await cleanupSteps(
      [logged("a", log), logged("b", log), logged("c", log)],
      world().finalizing(true),
    );
    expect(log).toEqual(["cleanup c behind 0", "cleanup b behind 1", "cleanup a behind 2"]);
    expect(pending).toEqual([{ what: "c" }, { what: "b" }, { what: "a" }]);
  });

  it("describes what a deletion waits for, counts merged by kind", () => {
    const pending: Pending[] = [
      { resource: Resources.Deployment, count: 1 },
      { resource: Resources.PodDisruptionBudget, count: 1 },
      { resource: Resources.Deployment, count: 2 },
      { what: "namespace tcp-a to terminate (3 pods left)" },
    ];
    expect(describePending(pending)).toBe(
      "3 deployments, 1 poddisruptionbudgets, namespace tcp-a to terminate (3 pods left)",
    );
  });
});

describe("the list of steps", () => {
  it("keeps the order that upgrades and certificates need", () => {
    expect(tenantControlPlaneSteps.map((s) => s.name)).toEqual([
      "namespace",
      "network-policy",
      "resource-quota",
      "apiserver-service",
      "pki",
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
  });

  it("holds one step per file of this directory (a new resource is a new file in the list)", () => {
    const shared = new Set([
      "step.ts",
      "walker.ts",
      "apply.ts",
      "workload.ts",
      "resize.ts",
      "rollout.ts",
      "testing.ts",
      "index.ts",
    ]);
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !shared.has(f));
    expect(files).toHaveLength(tenantControlPlaneSteps.length);
  });
});
