// Installs the generated CRDs (crds/*.yaml) into the meta-cluster and waits until they are Established.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { KubeClient } from "../../src/kube/client.js";
import { Resources, type KubeObject } from "../../src/kube/resources.js";
import { repoRoot } from "../../hack/lib/metacluster.js";
import type * as k8s from "@kubernetes/client-node";
import { eventually } from "./eventually.js";

interface Crd extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

export async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const client = new KubeClient(kc, { qps: 50, burst: 50, fieldManager: "metapilot-test" });
  const dir = path.join(repoRoot, "crds");
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
