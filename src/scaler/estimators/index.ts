// Estimators turn a fired scaler into a new size. Each is a pure function in a registry by name; the policy
// lists which ones a component uses, and unknown names are rejected when the policy is resolved.
import { lusolve, matrix, multiply, transpose, type Matrix } from "mathjs";
import type { ClusterSizeStep, DecisionInput, OomEvent, Size } from "../types.js";
import { MiB } from "../quantity.js";

export interface EstimatorResult {
  size: Partial<Size>;
  note: string;
}

export interface Estimator {
  name: string;
  estimate(input: DecisionInput): EstimatorResult | undefined;
}

export interface OomBumpOptions {
  bumpBytes: number;
  bumpRatio: number;
}

export const defaultOomBump: OomBumpOptions = { bumpBytes: 100 * MiB, bumpRatio: 1.2 };

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
 * VPA's OOM bump: the new memory is max(base + 100 MiB, base × 1.2), where base is the larger of the limit the
 * container was killed at and the peak working set. The request keeps its ratio to the limit.
 */
export function oomMemory(input: DecisionInput, options: OomBumpOptions = defaultOomBump): EstimatorResult | undefined {
  const { current, signals } = input;
  const fresh = unansweredOoms(input);
  if (fresh.length === 0) return undefined;
  const killedAt = Math.max(0, ...fresh.map((e) => e.limitBytes ?? 0), current.memoryLimit ?? 0);
  const peak = signals.memoryWorkingSet?.value ?? 0;
  const base = Math.max(killedAt, peak, current.memoryRequest ?? 0);
  if (base <= 0) return undefined;
  const bumped = Math.max(base + options.bumpBytes, base * options.bumpRatio);
  const ratio = current.memoryLimit && current.memoryRequest ? current.memoryRequest / current.memoryLimit : 1;
  return {
    size: {
      memoryLimit: current.memoryLimit !== undefined ? bumped : undefined,
      memoryRequest: Math.max(current.memoryRequest ?? 0, current.memoryLimit !== undefined ? bumped * ratio : bumped),
    },
    note: `OOM bump: max(${fmtMi(base)} + ${fmtMi(options.bumpBytes)}, ${fmtMi(base)} × ${options.bumpRatio}) = ${fmtMi(bumped)}`,
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
  const xs = new Set(points.map(([x]) => x));
  if (xs.size < 2) return undefined;
  const X = matrix(points.map(([x]) => [1, x]));
  const y = matrix(points.map(([, v]) => [v]));
  const Xt = transpose(X);
  const solution = lusolve(multiply(Xt, X) as Matrix, multiply(Xt, y) as Matrix) as Matrix;
  const [a, b] = (solution.toArray() as number[][]).map((r) => r[0] ?? 0);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return undefined;
  return { a, b };
}

/** Sizes a tenant by what the fleet uses at its node count (regression across tenants), plus 20% headroom. */
export function fleetRegressionEstimate(input: DecisionInput): EstimatorResult | undefined {
  const nodes = input.signals.clusterNodes?.value;
  if (nodes === undefined || !input.fleet) return undefined;
  const cpu = input.fleet.cpu?.(nodes);
  const memory = input.fleet.memory?.(nodes);
  if (cpu === undefined && memory === undefined) return undefined;
  return {
    size: {
      cpuRequest: cpu !== undefined && cpu > 0 ? cpu * 1.2 : undefined,
      memoryRequest: memory !== undefined && memory > 0 ? memory * 1.2 : undefined,
    },
    note: `fleet regression at ${nodes} nodes`,
  };
}

const registry = new Map<string, Estimator>([
  ["oom-memory", { name: "oom-memory", estimate: (i) => oomMemory(i) }],
  ["profile", { name: "profile", estimate: profileEstimate }],
  ["cluster-size", { name: "cluster-size", estimate: clusterSizeEstimate }],
  ["fleet-regression", { name: "fleet-regression", estimate: fleetRegressionEstimate }],
]);

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
