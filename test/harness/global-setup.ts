// Vitest global setup for integration tests: one shared meta-cluster per run. A cluster this run started is torn
// down at the end even when tests fail (unless METACLUSTER_KEEP=1, to reuse it in the next run); one that was
// already running (hack/metacluster up, or kept from an earlier run) is left alone.
import type { TestProject } from "vitest/node";
import {
  down,
  readState,
  up,
  buildBinaries,
  missingBinaries,
  type MetaclusterState,
} from "../../hack/lib/metacluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    metacluster: MetaclusterState;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (l: string) => process.stderr.write(`[harness] ${l}\n`);
  if (missingBinaries().length) buildBinaries(log);
  const wasRunning = readState() !== undefined;
  let state: MetaclusterState;
  try {
    // Real nodes only when asked for: test/realnodes adds the one it needs itself, so other runs never pay for it.
    const realNodes = process.env.METACLUSTER_REAL_NODES;
    state = await up({
      nodes: Number(process.env.METACLUSTER_NODES ?? 20),
      realNodes: realNodes === undefined || realNodes === "" ? undefined : Number(realNodes),
      log,
    });
  } catch (err) {
    await down();
    throw err;
  }
  project.provide("metacluster", state);
  const startedHere = !wasRunning;
  return async () => {
    if (startedHere && process.env.METACLUSTER_KEEP !== "1") {
      log("tearing the meta-cluster down");
      await down();
    }
  };
}
