// Shared by the node tests: the manifests, a PDB sampler, and the Cluster API CRDs.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { repoRoot } from "../../hack/lib/metacluster.js";
import type { KubeClient } from "../../src/kube/client.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import type { PodDisruptionBudget } from "../../src/nodes/model.js";
import { eventually } from "../harness/cluster.js";

export * from "./manifests.js";

export interface PdbSample {
  at: number;
  name: string;
  currentHealthy: number;
  desiredHealthy: number;
}

/** Lists the namespace's PDBs every `everyMs` until stopped; returns every sample where health was below minimum. */
export function samplePdbs(client: KubeClient, namespace: string, everyMs = 100) {
  let running = true;
  const violations: PdbSample[] = [];
  let samples = 0;
  const done = (async () => {
    while (running) {
      const list = await client.listAll<PodDisruptionBudget>(Resources.PodDisruptionBudget, { namespace });
      for (const p of list.items) {
        const s = p.status;
        if (!s || s.observedGeneration !== p.metadata?.generation) continue;
        samples++;
        if ((s.currentHealthy ?? 0) < (s.desiredHealthy ?? 0)) {
          violations.push({
            at: Date.now(),
            name: p.metadata?.name ?? "",
            currentHealthy: s.currentHealthy ?? 0,
            desiredHealthy: s.desiredHealthy ?? 0,
          });
        }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { samples, violations };
    },
  };
}

interface Crd extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** The real Cluster API CRDs of CLUSTER_API_VERSION (hack/fetch-cluster-api-crds.sh), installed and Established. */
export async function installClusterApiCrds(client: KubeClient): Promise<void> {
  const dir = execFileSync(path.join(repoRoot, "hack/fetch-cluster-api-crds.sh"), { encoding: "utf8" }).trim();
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => parse(readFileSync(path.join(dir, f), "utf8")) as Crd);
  for (const crd of crds) await client.apply(Resources.CustomResourceDefinition, crd);
  for (const crd of crds) {
    await eventually(
      async () => {
        const got = await client.get<Crd>(Resources.CustomResourceDefinition, crd.metadata?.name ?? "");
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      30_000,
      `CRD ${crd.metadata?.name} Established`,
    );
  }
}
