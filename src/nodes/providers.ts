// Node-pool providers, a registry by name (cluster-autoscaler's cloud providers, in small): how a pool's target
// size is read, raised and lowered. `kwok` creates and deletes fake Nodes that kwok brings to Ready (simulation and
// demo); `clusterapi` sets the replicas of a Cluster API MachineDeployment. Names are validated at start-up.
import { randomBytes } from "node:crypto";
import type { NodePoolSpec } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import { isNotFound } from "../kube/errors.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { formatCpu, formatMemory } from "../scaler/quantity.js";
import type { Node } from "./model.js";
import type { PoolTemplate } from "./scaleup.js";
import { boundedName } from "./drain/plan.js";

export interface ProviderContext {
  client: KubeClient;
  poolName: string;
  spec: NodePoolSpec;
  template: PoolTemplate;
  /** Registered nodes of the pool (from the cache). */
  nodes: readonly Node[];
  now: number;
}

export interface NodeProvider {
  readonly name: string;
  /** Problems with the pool's spec for this provider; empty when fine. */
  validate(spec: NodePoolSpec): string[];
  /** Nodes the provider is running or bringing up. */
  targetSize(ctx: ProviderContext): Promise<number>;
  /** Adds `count` nodes; returns what it did, for the event. */
  scaleUp(ctx: ProviderContext, count: number): Promise<string>;
  /** Removes exactly these (drained) nodes. */
  removeNodes(ctx: ProviderContext, names: readonly string[]): Promise<string>;
}

export type ProviderFactory = () => NodeProvider;

const registry = new Map<string, ProviderFactory>();

export function registerNodeProvider(name: string, factory: ProviderFactory): void {
  if (registry.has(name)) throw new Error(`node provider ${name} registered twice`);
  registry.set(name, factory);
}

export function availableNodeProviders(): string[] {
  return [...registry.keys()].sort();
}

export function nodeProvider(name: string): ProviderFactory {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown node provider "${name}"; available: ${availableNodeProviders().join(", ")}`);
  return f;
}

/** Fails at start-up when the API offers a provider that has no implementation. */
export function validateNodeProviders(names: readonly string[] = ["clusterapi", "kwok"]): void {
  for (const n of names) nodeProvider(n);
}

// --- kwok ---------------------------------------------------------------------------------------------------

export const kwokNodeAnnotation = "kwok.x-k8s.io/node";

/** A fake Node of the pool's template; kwok adopts any Node with the kwok annotation and makes it Ready. */
export function kwokNodeManifest(name: string, template: PoolTemplate): Node & Record<string, unknown> {
  const allocatable = {
    cpu: formatCpu(template.shape.cpu),
    memory: formatMemory(template.shape.memory),
    pods: String(template.shape.pods),
    ...(template.shape.gpu ? { "nvidia.com/gpu": String(template.shape.gpu) } : {}),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: { ...template.labels, "kubernetes.io/hostname": name, type: "kwok" },
    },
    spec: { taints: template.taints },
    status: {
      allocatable,
      capacity: allocatable,
      nodeInfo: {
        architecture: template.labels["kubernetes.io/arch"] ?? "amd64",
        operatingSystem: "linux",
        kubeletVersion: "fake",
        kubeProxyVersion: "fake",
      },
      phase: "Running",
    } as Node["status"] & Record<string, unknown>,
  };
}

class KwokProvider implements NodeProvider {
  readonly name = "kwok";
  /** Nodes created but not yet in the cache, per pool: counted so that no node is ever asked for twice. */
  private readonly inFlight = new Map<string, Map<string, number>>();

  validate(): string[] {
    return [];
  }

  private pending(ctx: ProviderContext): Map<string, number> {
    let m = this.inFlight.get(ctx.poolName);
    if (!m) this.inFlight.set(ctx.poolName, (m = new Map()));
    const seen = new Set(ctx.nodes.map((n) => n.metadata?.name));
    for (const [name, at] of m) if (seen.has(name) || ctx.now - at > 120_000) m.delete(name);
    return m;
  }

  targetSize(ctx: ProviderContext): Promise<number> {
    const live = ctx.nodes.filter((n) => !n.metadata?.deletionTimestamp).length;
    return Promise.resolve(live + this.pending(ctx).size);
  }

  async scaleUp(ctx: ProviderContext, count: number): Promise<string> {
    const pending = this.pending(ctx);
    const names = Array.from({ length: count }, () => boundedName(`${ctx.poolName}-${randomBytes(3).toString("hex")}`));
    for (const n of names) pending.set(n, ctx.now);
    const results = await Promise.allSettled(
      names.map((n) => ctx.client.create(Resources.Node, kwokNodeManifest(n, ctx.template))),
    );
    const failed = results.filter((r) => r.status === "rejected");
    names.forEach((n, i) => {
      if (results[i]?.status === "rejected") pending.delete(n);
    });
    if (failed.length) throw (failed[0] as PromiseRejectedResult).reason;
    return `created kwok nodes ${names.join(", ")}`;
  }

  async removeNodes(ctx: ProviderContext, names: readonly string[]): Promise<string> {
    await Promise.all(names.map((n) => ctx.client.delete(Resources.Node, n)));
    return `deleted kwok nodes ${names.join(", ")}`;
  }
}

// --- Cluster API --------------------------------------------------------------------------------------------

export const machineAnnotation = "cluster.x-k8s.io/machine";
export const deleteMachineAnnotation = "cluster.x-k8s.io/delete-machine";

interface MachineDeployment extends KubeObject {
  spec?: { replicas?: number };
}

class ClusterAPIProvider implements NodeProvider {
  readonly name = "clusterapi";

  validate(spec: NodePoolSpec): string[] {
    return spec.clusterAPI ? [] : ["spec.clusterAPI.machineDeploymentRef is required for provider clusterapi"];
  }

  private ref(ctx: ProviderContext): { name: string; namespace: string } {
    const ref = ctx.spec.clusterAPI?.machineDeploymentRef;
    if (!ref) throw new Error("spec.clusterAPI.machineDeploymentRef is required for provider clusterapi");
    return ref;
  }

  private async get(ctx: ProviderContext): Promise<MachineDeployment> {
    const ref = this.ref(ctx);
    return ctx.client.get<MachineDeployment>(Resources.MachineDeployment, ref.name, ref.namespace);
  }

  async targetSize(ctx: ProviderContext): Promise<number> {
    return (await this.get(ctx)).spec?.replicas ?? 0;
  }

  private async setReplicas(ctx: ProviderContext, replicas: number, resourceVersion?: string): Promise<void> {
    const ref = this.ref(ctx);
    // The resourceVersion makes this a compare-and-swap: a concurrent change (a human, the CAPI autoscaler)
    // fails with 409 and the reconcile starts over from what is there now.
    await ctx.client.patch(Resources.MachineDeployment, ref.name, ref.namespace, {
      metadata: { resourceVersion },
      spec: { replicas },
    });
  }

  async scaleUp(ctx: ProviderContext, count: number): Promise<string> {
    const md = await this.get(ctx);
    const from = md.spec?.replicas ?? 0;
    await this.setReplicas(ctx, from + count, md.metadata?.resourceVersion);
    return `MachineDeployment ${this.ref(ctx).namespace}/${this.ref(ctx).name} replicas ${from} → ${from + count}`;
  }

  async removeNodes(ctx: ProviderContext, names: readonly string[]): Promise<string> {
    const ref = this.ref(ctx);
    // Mark exactly these Machines, so the MachineSet deletes them and not others when replicas go down.
    for (const name of names) {
      const node = ctx.nodes.find((n) => n.metadata?.name === name);
      const machine = node?.metadata?.annotations?.[machineAnnotation];
      if (!machine) continue;
      try {
        await ctx.client.patch(Resources.Machine, machine, ref.namespace, {
          metadata: { annotations: { [deleteMachineAnnotation]: "yes" } },
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const md = await this.get(ctx);
    const from = md.spec?.replicas ?? 0;
    const to = Math.max(ctx.spec.minNodes, from - names.length);
    await this.setReplicas(ctx, to, md.metadata?.resourceVersion);
    return `MachineDeployment ${ref.namespace}/${ref.name} replicas ${from} → ${to}`;
  }
}

registerNodeProvider("kwok", () => new KwokProvider());
registerNodeProvider("clusterapi", () => new ClusterAPIProvider());
