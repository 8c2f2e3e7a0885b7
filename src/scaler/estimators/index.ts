// Estimators turn a fired scaler into a new size. Each is a pure function in a registry by name; the policy
// lists which ones a component uses, and unknown names are rejected when the policy is resolved.
//
// What the list means (also in the CRD's text of spec.components[].estimators):
// - oom-memory answers OOM kills (the oom scaler). Without it in the list, OOM kills are not answered.
// - cluster-size and fleet-regression size a tenant by its size (the cluster-size scaler, on a fresh node count):
//   they are tried in list order and the first that gives an answer sets the size (sizeByTenant, Estimator.bySize).
// - for scale-downs, every listed profile, cluster-size and fleet-regression answer is a floor: no recommendation
//   goes below what the WorkloadProfile, the ladder step or the fleet fit says the tenant needs (Estimator.floor).
import type { Evidence } from "../../api/index.js";
import type { EngineOptions } from "../engine-options.js";
import { fresh } from "../freshness.js";
import type { ClusterSizeStep, DecisionInput, OomEvent, Size } from "../types.js";
import { formatCpu, formatMemory, MiB } from "../quantity.js";
import { describeFleetFit, leastSquares, predictFleet, type FleetFitResult } from "./fleet.js";

export interface EstimatorResult {
  size: Partial<Size>;
  note: string;
  /** What the estimate rests on, for the decision's evidence. */
  evidence?: Evidence[];
}

/** The headroom an estimate of usage is sized with: the engine's own (src/scaler/engine.ts). */
export interface Headroom {
  /** CPU utilisation of the request aimed for. */
  cpuTargetUtilization: number;
  /** Memory over the expected working set. */
  memoryHeadroom: number;
}

export const defaultHeadroom: Headroom = { cpuTargetUtilization: 0.6, memoryHeadroom: 1.3 };

/** The least a workload needs by one estimator, for scale-downs (cores, bytes); a field it says nothing of is absent. */
export interface Floor {
  cpu?: number;
  memory?: number;
}

export interface Estimator {
  name: string;
  estimate(input: DecisionInput, headroom?: Headroom): EstimatorResult | undefined;
  /**
   * Sizes a tenant by its size (nodes, objects): the cluster-size scaler tries every listed estimator that does, in
   * list order, and the first answer wins (sizeByTenant). `whyNone` says why `estimate` gave nothing.
   */
  bySize?: { whyNone(input: DecisionInput): string };
  /**
   * The floor it puts under every scale-down recommendation, or "unknown" when a signal it needs is not fresh (no
   * recommendation at all then, so no scale-down).
   */
  floor?(input: DecisionInput, o: EngineOptions): Floor | "unknown" | undefined;
}

export interface OomBumpOptions {
  /** The least a bump adds. */
  bumpBytes: number;
  /** The factor of a first kill (VPA's 1.2). */
  bumpRatio: number;
  /**
   * The factor of a kill at the size the last OOM bump set, within loopWindowMs of it: an OOM loop (a container
   * that cannot even start, in CrashLoopBackOff). VPA's 1.2 per kill needs 13 kills to get from 256Mi to 3Gi; 2
   * gets there in 5, so a loop ends within a few rounds, and overshoots the need by at most 2×.
   */
  loopRatio: number;
  loopWindowMs: number;
}

export const defaultOomBump: OomBumpOptions = {
  bumpBytes: 100 * MiB,
  bumpRatio: 1.2,
  loopRatio: 2,
  loopWindowMs: 10 * 60_000,
};

/**
 * OOM kills still to answer: not handled before, and not of a pod that its workload's rollout replaces and that was
 * killed at a smaller limit than the workload now has. While a raised size rolls out, the old pod can be killed
 * again (the kubelet restarts it at its old limit); that kill is answered by the rollout, not by another raise.
 */
export function unansweredOoms(input: Pick<DecisionInput, "signals" | "history" | "current" | "observed">): OomEvent[] {
  const { signals, history } = input;
  const rollingTo = (input.observed ?? input.current).memoryLimit;
  return signals.oom.filter(
    (e) =>
      !history.handledOomIds.has(e.id) &&
      !(e.replaceable && e.limitBytes !== undefined && rollingTo !== undefined && e.limitBytes < rollingTo),
  );
}

/**
 * Whether a kill repeats the last OOM bump's answer: it came within loopWindowMs of that bump, at (or above) the
 * memory the bump set. A kill of the same container at the size it was just given is an OOM loop.
 */
export function inOomLoop(
  input: Pick<DecisionInput, "history" | "current" | "now">,
  kills: readonly OomEvent[],
  options: OomBumpOptions = defaultOomBump,
): boolean {
  const last = input.history.lastOomBump;
  if (!last || input.now - last.at > options.loopWindowMs) return false;
  return kills.some((e) => {
    const at = e.limitBytes ?? input.current.memoryLimit;
    if (last.memoryLimit !== undefined && at !== undefined) return at >= last.memoryLimit - MiB;
    return e.finishedAt >= last.at && (input.current.memoryRequest ?? 0) >= (last.memoryRequest ?? 0) - MiB;
  });
}

/**
 * VPA's OOM bump: the new memory is max(base + 100 MiB, base × 1.2), where base is the larger of the limit the
 * container was killed at, the peak working set and the request; the request keeps its ratio to the limit. It
 * needs no usage sample: a container killed while starting, before Prometheus saw it, is bumped from its limit (or
 * its request without a limit, or minAllowed without either). A kill in an OOM loop (inOomLoop) is bumped by × 2 instead. The bump rests on kills
 * only, never on an earlier bump: the base is what the container had when it was killed, and the engine bounds the
 * answer by maxAllowed.
 */
export function oomMemory(input: DecisionInput, options: OomBumpOptions = defaultOomBump): EstimatorResult | undefined {
  const { current, signals } = input;
  const fresh = unansweredOoms(input);
  if (fresh.length === 0) return undefined;
  const killedAt = Math.max(0, ...fresh.map((e) => e.limitBytes ?? 0), current.memoryLimit ?? 0);
  const peak = signals.memoryWorkingSet?.value ?? 0;
  // A container with neither limit nor request (killed by the node's OOM killer) starts from minAllowed.
  const base = Math.max(killedAt, peak, current.memoryRequest ?? 0, input.policy.minAllowed.memory ?? 0);
  const loop = inOomLoop(input, fresh, options);
  const ratio = loop ? options.loopRatio : options.bumpRatio;
  const bumped = Math.max(base + options.bumpBytes, base * ratio);
  const share = current.memoryLimit && current.memoryRequest ? current.memoryRequest / current.memoryLimit : 1;
  return {
    size: {
      memoryLimit: current.memoryLimit !== undefined ? bumped : undefined,
      memoryRequest: Math.max(current.memoryRequest ?? 0, current.memoryLimit !== undefined ? bumped * share : bumped),
    },
    note:
      `OOM bump${loop ? " (OOM loop: killed again at the size the last bump set)" : ""}: ` +
      `max(${fmtMi(base)} + ${fmtMi(options.bumpBytes)}, ${fmtMi(base)} × ${ratio}) = ${fmtMi(bumped)}`,
  };
}

/** The WorkloadProfile recommendation: target as the request, upper bound as the memory limit. */
export function profileEstimate(input: DecisionInput): EstimatorResult | undefined {
  const p = input.profile;
  if (!p?.target) return undefined;
  return {
    size: {
      cpuRequest: p.target.cpu,
      memoryRequest: p.target.memory,
      memoryLimit: input.current.memoryLimit !== undefined ? (p.upperBound?.memory ?? p.target.memory) : undefined,
    },
    note: "WorkloadProfile target and upper bound",
  };
}

/** The ladder step that applies at `nodes`: the one with the most nodes not above it. */
export function ladderStep(ladder: readonly ClusterSizeStep[], nodes: number): ClusterSizeStep | undefined {
  let best: ClusterSizeStep | undefined;
  for (const step of ladder) if (step.nodes <= nodes && (!best || step.nodes > best.nodes)) best = step;
  return best;
}

/** addon-resizer's linear form: base + perNode × nodes, for components that have no ladder. */
export interface LinearSize {
  cpuBase: number;
  cpuPerNode: number;
  memoryBase: number;
  memoryPerNode: number;
}

export const defaultLinear: Record<string, LinearSize> = {
  "kube-apiserver": { cpuBase: 0.25, cpuPerNode: 0.002, memoryBase: 512 * MiB, memoryPerNode: 4 * MiB },
  etcd: { cpuBase: 0.2, cpuPerNode: 0.001, memoryBase: 512 * MiB, memoryPerNode: 2 * MiB },
  "kube-controller-manager": { cpuBase: 0.1, cpuPerNode: 0.001, memoryBase: 256 * MiB, memoryPerNode: 1 * MiB },
  "kube-scheduler": { cpuBase: 0.05, cpuPerNode: 0.0005, memoryBase: 128 * MiB, memoryPerNode: 0.5 * MiB },
};

export function linearSize(l: LinearSize, nodes: number): { cpu: number; memory: number } {
  return { cpu: l.cpuBase + l.cpuPerNode * nodes, memory: l.memoryBase + l.memoryPerNode * nodes };
}

export function clusterSizeEstimate(input: DecisionInput): EstimatorResult | undefined {
  const nodes = input.signals.clusterNodes?.value;
  if (nodes === undefined) return undefined;
  const step = ladderStep(input.policy.ladder, nodes);
  if (step) {
    return {
      size: { cpuRequest: step.cpu, memoryRequest: step.memory, replicas: step.replicas },
      note: `cluster-size ladder step from ${step.nodes} nodes (tenant has ${nodes})`,
    };
  }
  if (input.policy.ladder.length > 0) return undefined;
  const linear = defaultLinear[input.workload.component];
  if (!linear) return undefined;
  const s = linearSize(linear, nodes);
  return { size: { cpuRequest: s.cpu, memoryRequest: s.memory }, note: `linear size for ${nodes} nodes` };
}

/** A least-squares line y = a + b·x over (x, y) points, fitted with mathjs; undefined with fewer than 3 points. */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): { a: number; b: number } | undefined {
  if (points.length < 3) return undefined;
  if (new Set(points.map(([x]) => x)).size < 2) return undefined;
  const solved = leastSquares(
    points.map(([x]) => [1, x]),
    points.map(([, y]) => y),
  );
  const [a, b] = solved?.beta ?? [];
  return a === undefined || b === undefined ? undefined : { a, b };
}

/**
 * Sizes a tenant by what the fleet uses at its size: the fit of each resource's usage against size across the
 * ClusterScaler's tenants (DecisionInput.fleet), at the tenant's node (and object) count, with the engine's
 * headroom: CPU for its target utilisation, memory with its margin. Gives nothing for a resource without a fit
 * (too few tenants, too low an R²), and nothing at all when neither resource has one.
 */
export function fleetRegressionEstimate(
  input: DecisionInput,
  headroom: Headroom = defaultHeadroom,
): EstimatorResult | undefined {
  const nodes = input.signals.clusterNodes?.value;
  if (nodes === undefined || !input.fleet) return undefined;
  const size = { nodes, objects: input.signals.storedObjects?.value };
  const at = (r: FleetFitResult | undefined) => (r?.ok ? predictFleet(r.fit, size) : undefined);
  const cpu = at(input.fleet.cpu);
  const memory = at(input.fleet.memory);
  const cpuRequest = cpu !== undefined && cpu > 0 ? cpu / headroom.cpuTargetUtilization : undefined;
  const memoryRequest = memory !== undefined && memory > 0 ? memory * headroom.memoryHeadroom : undefined;
  if (cpuRequest === undefined && memoryRequest === undefined) return undefined;
  const evidence: Evidence[] = [];
  const parts: string[] = [];
  if (cpuRequest !== undefined && input.fleet.cpu?.ok) {
    const fit = describeFleetFit(input.fleet.cpu.fit, (v) => v.toPrecision(3));
    evidence.push({
      signal: "fleet_fit_cpu_cores",
      value: fit,
      threshold: formatCpu(cpu ?? 0),
      source: "fleet-regression",
    });
    parts.push(`CPU ${formatCpu(cpu ?? 0)} expected → request ${formatCpu(cpuRequest)}`);
  }
  if (memoryRequest !== undefined && input.fleet.memory?.ok) {
    const fit = describeFleetFit(input.fleet.memory.fit, (v) => `${(v / MiB).toPrecision(4)}Mi`);
    evidence.push({
      signal: "fleet_fit_memory_bytes",
      value: fit,
      threshold: formatMemory(memory ?? 0),
      source: "fleet-regression",
    });
    parts.push(`memory ${formatMemory(memory ?? 0)} expected → request ${formatMemory(memoryRequest)}`);
  }
  const objects = size.objects !== undefined ? ` and ${size.objects} objects` : "";
  return {
    size: { cpuRequest, memoryRequest },
    note: `fleet regression at ${nodes} nodes${objects}: ${parts.join(", ")}`,
    evidence,
  };
}

/**
 * The size of a tenant by its size: the listed estimators that size by it (cluster-size, fleet-regression) in list
 * order, the first that gives an answer; `misses` says why each one before it (or every one, without an answer)
 * gave none.
 */
export function sizeByTenant(
  input: DecisionInput,
  headroom: Headroom = defaultHeadroom,
): { answer?: EstimatorResult & { estimator: string }; misses: string[] } {
  const misses: string[] = [];
  for (const name of input.policy.estimators) {
    const e = estimator(name);
    if (!e.bySize) continue;
    const result = e.estimate(input, headroom);
    if (result) return { answer: { ...result, estimator: name }, misses };
    misses.push(`${name}: ${e.bySize.whyNone(input)}`);
  }
  return { misses };
}

function whyNoFleetFit(input: DecisionInput): string {
  const f = input.fleet;
  const why = (r: FleetFitResult | undefined) => (r === undefined ? "no fit" : r.ok ? "no prediction" : r.message);
  return `no fit (cpu: ${why(f?.cpu)}; memory: ${why(f?.memory)})`;
}

/** The WorkloadProfile's target (CPU) and upper bound (memory) are the least a scale-down goes to. */
function profileFloor(input: DecisionInput): Floor | undefined {
  const target = input.profile?.target;
  if (!target) return undefined;
  return { cpu: target.cpu, memory: input.profile?.upperBound?.memory ?? target.memory };
}

/** The ladder step at the tenant's fresh node count; with a ladder and no fresh count, nothing is known. */
function clusterSizeFloor(input: DecisionInput, o: EngineOptions): Floor | "unknown" {
  const nodes = fresh(input.signals.clusterNodes, input.now, o);
  if (!nodes && input.policy.ladder.length > 0) return "unknown";
  const step = nodes ? ladderStep(input.policy.ladder, nodes.value) : undefined;
  return { cpu: step?.cpu, memory: step?.memory };
}

/** What the fleet's fit says the tenant needs at its fresh node count. */
function fleetRegressionFloor(input: DecisionInput, o: EngineOptions): Floor | undefined {
  const nodes = fresh(input.signals.clusterNodes, input.now, o);
  const fleet = nodes
    ? fleetRegressionEstimate({ ...input, signals: { ...input.signals, clusterNodes: nodes } }, o)
    : undefined;
  return { cpu: fleet?.size.cpuRequest, memory: fleet?.size.memoryRequest };
}

const registry = new Map<string, Estimator>();

export function registerEstimator(e: Estimator): void {
  if (registry.has(e.name)) throw new Error(`estimator ${e.name} registered twice`);
  registry.set(e.name, e);
}

for (const e of [
  { name: "oom-memory", estimate: (i: DecisionInput) => oomMemory(i) },
  { name: "profile", estimate: profileEstimate, floor: profileFloor },
  {
    name: "cluster-size",
    estimate: clusterSizeEstimate,
    bySize: { whyNone: () => "no ladder step or linear size for this component" },
    floor: clusterSizeFloor,
  },
  {
    name: "fleet-regression",
    estimate: (i: DecisionInput, h?: Headroom) => fleetRegressionEstimate(i, h),
    bySize: { whyNone: whyNoFleetFit },
    floor: fleetRegressionFloor,
  },
] satisfies Estimator[])
  registerEstimator(e);

/** A listed estimator's floor under scale-down recommendations (none for a name without one). */
export function estimatorFloor(name: string, input: DecisionInput, o: EngineOptions): Floor | "unknown" | undefined {
  return registry.get(name)?.floor?.(input, o);
}

export function availableEstimators(): string[] {
  return [...registry.keys()];
}

export function estimator(name: string): Estimator {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown estimator "${name}"; available: ${availableEstimators().join(", ")}`);
  return e;
}

function fmtMi(b: number): string {
  return `${Math.round(b / MiB)}Mi`;
}
