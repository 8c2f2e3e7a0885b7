// The decision engine: a pure function of signals, policy, current size, history and clock that returns a plan.
// Up is fast (an OOM acts at once, sustained pressure after a short window); down is slow (only after the
// stabilization window, by at most maxStepPercent, and only when every signal it needs is fresh). Dry-run and live
// mode call the same function; only the actuator differs.
import type { RootCauseCategory, ScalerName } from "../api/index.js";
import {
  estimator,
  fleetRegressionEstimate,
  ladderStep,
  oomMemory,
  sizeByTenant,
  unansweredOoms,
} from "./estimators/index.js";
import { formatCpu, formatMemory } from "./quantity.js";
import type { Evidence } from "../api/index.js";
import type { DecisionInput, Measurement, Plan, Recommendation, Size } from "./types.js";

export interface EngineOptions {
  /** A signal older than this is stale. */
  staleAfterMs: number;
  /** CPU utilisation of the request a scale-up aims for. */
  cpuTargetUtilization: number;
  /** Memory headroom over the working set a scale-up aims for. */
  memoryHeadroom: number;
  /** Relative change below which a scale-down is not worth a rollout. */
  minDownChange: number;
}

export const defaultEngineOptions: EngineOptions = {
  staleAfterMs: 90_000,
  cpuTargetUtilization: 0.6,
  memoryHeadroom: 1.3,
  minDownChange: 0.05,
};

interface UpCandidate {
  scaler: ScalerName;
  category: RootCauseCategory;
  size: Partial<Size>;
  evidence: Evidence[];
  note: string;
  oomIds: string[];
  estimator?: string;
}

// Order of root causes when several scalers fire at once: the most direct evidence names the decision.
const priority: RootCauseCategory[] = [
  "OOMKilled",
  "ProbeFailure",
  "Throttling",
  "CPUSaturation",
  "MemoryPressure",
  "ClusterGrowth",
];

const iso = (ms: number) => new Date(ms).toISOString();

/** How the reason of a scale-down held for missing or stale data begins. */
export const heldForDataReason = "no scale-down without fresh data";

export function freshness(
  m: Measurement | undefined,
  now: number,
  staleAfterMs: number,
): "fresh" | "stale" | "missing" {
  if (!m) return "missing";
  return now - m.observedAt <= staleAfterMs ? "fresh" : "stale";
}

function fresh(m: Measurement | undefined, now: number, o: EngineOptions): Measurement | undefined {
  return freshness(m, now, o.staleAfterMs) === "fresh" ? m : undefined;
}

function ev(signal: string, m: Measurement, value: string, threshold?: string): Evidence {
  return { signal, value, threshold, observedAt: iso(m.observedAt), source: m.source };
}

/** Bounds a size by the policy: minAllowed/maxAllowed on requests and limits, replicas min/max. */
export function clamp(size: Size, input: DecisionInput): Size {
  const { minAllowed, maxAllowed, replicas } = input.policy;
  const bound = (v: number | undefined, min?: number, max?: number) =>
    v === undefined ? undefined : Math.min(max ?? Infinity, Math.max(min ?? 0, v));
  const out: Size = {
    replicas: Math.round(bound(size.replicas, replicas.min, replicas.max) ?? size.replicas),
    cpuRequest: bound(size.cpuRequest, minAllowed.cpu, maxAllowed.cpu),
    cpuLimit: size.cpuLimit,
    memoryRequest: bound(size.memoryRequest, minAllowed.memory, maxAllowed.memory),
    memoryLimit: bound(size.memoryLimit, minAllowed.memory, maxAllowed.memory),
  };
  if (out.cpuLimit !== undefined && out.cpuRequest !== undefined && out.cpuLimit < out.cpuRequest)
    out.cpuLimit = out.cpuRequest;
  // A request above its limit is invalid; raise the limit (a bigger request is what was asked for).
  if (out.memoryLimit !== undefined && out.memoryRequest !== undefined && out.memoryRequest > out.memoryLimit) {
    out.memoryLimit = out.memoryRequest;
  }
  return out;
}

function maxSize(a: Size, b: Partial<Size>): Size {
  const m = (x: number | undefined, y: number | undefined) =>
    y === undefined ? x : x === undefined ? y : Math.max(x, y);
  return {
    replicas: m(a.replicas, b.replicas) ?? a.replicas,
    cpuRequest: m(a.cpuRequest, b.cpuRequest),
    cpuLimit: a.cpuLimit !== undefined ? m(a.cpuLimit, b.cpuLimit) : undefined,
    memoryRequest: m(a.memoryRequest, b.memoryRequest),
    memoryLimit: a.memoryLimit !== undefined ? m(a.memoryLimit, b.memoryLimit) : undefined,
  };
}

export function sameSize(a: Size, b: Size): boolean {
  const eq = (x?: number, y?: number) =>
    (x === undefined && y === undefined) || (x !== undefined && y !== undefined && Math.abs(x - y) < 1e-9);
  return (
    a.replicas === b.replicas &&
    eq(a.cpuRequest, b.cpuRequest) &&
    eq(a.cpuLimit, b.cpuLimit) &&
    eq(a.memoryRequest, b.memoryRequest) &&
    eq(a.memoryLimit, b.memoryLimit)
  );
}

export function describeSize(s: Size): string {
  const parts = [`replicas ${s.replicas}`];
  if (s.cpuRequest !== undefined) parts.push(`cpu ${formatCpu(s.cpuRequest)}`);
  if (s.memoryRequest !== undefined) parts.push(`memory ${formatMemory(s.memoryRequest)}`);
  if (s.memoryLimit !== undefined) parts.push(`memory limit ${formatMemory(s.memoryLimit)}`);
  return parts.join(", ");
}

/** Whether a sustained scaler has been over its threshold for its whole window. */
function sustained(input: DecisionInput, scaler: ScalerName): boolean {
  const since = input.history.overThresholdSince[scaler];
  return since !== undefined && input.now - since >= input.policy.scalers[scaler].windowMs;
}

function upCandidates(input: DecisionInput, o: EngineOptions, notes: string[]): UpCandidate[] {
  const { signals, policy, current, workload, now } = input;
  const out: UpCandidate[] = [];
  const s = policy.scalers;

  // OOM: acts at once, on each OOM kill exactly once, sized by the oom-memory estimator when the policy lists it.
  if (s.oom.enabled && policy.estimators.includes("oom-memory")) {
    const newOoms = unansweredOoms(input);
    const rolledPast = signals.oom.filter((e) => !input.history.handledOomIds.has(e.id) && !newOoms.includes(e));
    if (rolledPast.length > 0)
      notes.push(
        `OOM kill(s) of ${rolledPast.map((e) => e.pod).join(", ")} at a smaller limit than the workload now has: answered by its rollout`,
      );
    const est = oomMemory(input);
    if (newOoms.length > 0 && est) {
      out.push({
        scaler: "oom",
        category: "OOMKilled",
        size: est.size,
        note: est.note,
        estimator: "oom-memory",
        oomIds: newOoms.map((e) => e.id),
        evidence: newOoms.slice(0, 8).map((e) => ({
          signal: "container_oom_killed",
          value: `${e.pod}/${e.container}`,
          threshold: e.limitBytes ? `limit ${formatMemory(e.limitBytes)}` : undefined,
          observedAt: iso(e.finishedAt),
          source: "pod-status",
        })),
      });
    }
  }

  const canAddReplica = workload.kind === "Deployment" && current.replicas < (policy.replicas.max ?? current.replicas);
  const cpuBump = (factor: number): Partial<Size> => ({ cpuRequest: (current.cpuRequest ?? 0.1) * factor });

  // Failed black-box probes: more capacity, a replica first.
  const probe = fresh(signals.probeFailures, now, o);
  if (s.probe.enabled && probe && probe.value >= s.probe.threshold) {
    out.push({
      scaler: "probe",
      category: "ProbeFailure",
      size: canAddReplica ? { replicas: current.replicas + 1 } : cpuBump(1.5),
      note: canAddReplica ? "one more replica" : "50% more CPU",
      oomIds: [],
      evidence: [ev("apiserver_readyz_failures", probe, String(probe.value), String(s.probe.threshold))],
    });
  }

  // Throttling: the tenant apiserver answering 429, or the kernel throttling the container's CPU.
  const rate429 = fresh(signals.apiserver429Rate, now, o);
  const cfs = fresh(signals.cpuThrottledRatio, now, o);
  if (s.throttling.enabled && sustained(input, "throttling")) {
    const evidence: Evidence[] = [];
    if (rate429 && rate429.value >= s.throttling.threshold) {
      evidence.push(ev("apiserver_429_rate", rate429, rate429.value.toFixed(2), String(s.throttling.threshold)));
    }
    if (cfs && cfs.value >= 0.25)
      evidence.push(ev("container_cpu_cfs_throttled_ratio", cfs, cfs.value.toFixed(2), "0.25"));
    if (evidence.length) {
      const addReplica = canAddReplica && rate429 !== undefined && rate429.value >= s.throttling.threshold;
      out.push({
        scaler: "throttling",
        category: "Throttling",
        size: addReplica
          ? { replicas: current.replicas + 1 }
          : { ...cpuBump(1.5), cpuLimit: current.cpuLimit !== undefined ? current.cpuLimit * 1.5 : undefined },
        note: addReplica ? "one more apiserver replica" : "50% more CPU",
        oomIds: [],
        evidence,
      });
    }
  }

  // CPU saturation, sustained over the window.
  const cpu = fresh(signals.cpuUsage, now, o);
  if (s.cpu.enabled && cpu && current.cpuRequest && sustained(input, "cpu")) {
    const ratio = cpu.value / current.cpuRequest;
    const wanted = cpu.value / o.cpuTargetUtilization;
    const atMax = policy.maxAllowed.cpu !== undefined && current.cpuRequest >= policy.maxAllowed.cpu - 1e-9;
    out.push({
      scaler: "cpu",
      category: "CPUSaturation",
      size:
        atMax && canAddReplica
          ? { replicas: current.replicas + 1 }
          : { cpuRequest: Math.max(wanted, current.cpuRequest * 1.2) },
      note:
        atMax && canAddReplica
          ? "CPU at maxAllowed: one more replica"
          : `CPU request for ${Math.round(o.cpuTargetUtilization * 100)}% utilisation`,
      oomIds: [],
      evidence: [ev("cpu_usage_ratio", cpu, ratio.toFixed(2), String(s.cpu.threshold))],
    });
  }

  // Memory pressure against the limit (or the request when there is no limit), sustained over the window.
  const mem = fresh(signals.memoryWorkingSet, now, o);
  const memBase = current.memoryLimit ?? current.memoryRequest;
  if (s.memory.enabled && mem && memBase && sustained(input, "memory")) {
    const wanted = mem.value * o.memoryHeadroom;
    const grow = (v?: number) => (v === undefined ? undefined : Math.max(v, v * (wanted / memBase)));
    out.push({
      scaler: "memory",
      category: "MemoryPressure",
      size: { memoryRequest: grow(current.memoryRequest), memoryLimit: grow(current.memoryLimit) },
      note: `memory for ${Math.round((o.memoryHeadroom - 1) * 100)}% headroom over the working set`,
      oomIds: [],
      evidence: [ev("memory_working_set_ratio", mem, (mem.value / memBase).toFixed(2), String(s.memory.threshold))],
    });
  }

  // Tenant size: the listed cluster-size and fleet-regression estimators in list order, the first with an answer.
  const nodes = fresh(signals.clusterNodes, now, o);
  if (s["cluster-size"].enabled && nodes) {
    const { answer: est, misses } = sizeByTenant(input, o);
    if (!est && misses.length) notes.push(`no size for ${nodes.value} tenant nodes: ${misses.join("; ")}`);
    if (est) {
      const grown = maxSize(current, est.size);
      if (!sameSize(clamp(grown, input), clamp(current, input))) {
        const req = est.size.memoryRequest;
        const limit =
          req !== undefined && current.memoryLimit !== undefined && current.memoryRequest
            ? Math.max(current.memoryLimit, req * (current.memoryLimit / current.memoryRequest))
            : undefined;
        out.push({
          scaler: "cluster-size",
          category: "ClusterGrowth",
          size: { ...est.size, memoryLimit: limit },
          note: misses.length ? `${est.note}; tried first: ${misses.join("; ")}` : est.note,
          estimator: est.estimator,
          oomIds: [],
          evidence: [ev("tenant_nodes", nodes, String(nodes.value)), ...(est.evidence ?? [])],
        });
      }
    }
  }
  if (signals.unavailableReason) notes.push(signals.unavailableReason);
  return out;
}

/** What the workload would need now, for the scale-down stabilization window; undefined if a needed signal is not fresh. */
export function recommendation(
  input: DecisionInput,
  o: EngineOptions = defaultEngineOptions,
): Recommendation | undefined {
  const cpu = fresh(input.signals.cpuUsage, input.now, o);
  const mem = fresh(input.signals.memoryWorkingSet, input.now, o);
  if (!cpu || !mem) return undefined;
  let cpuRec = cpu.value / o.cpuTargetUtilization;
  let memRec = mem.value * o.memoryHeadroom;
  if (input.policy.estimators.includes("profile") && input.profile?.target) {
    cpuRec = Math.max(cpuRec, input.profile.target.cpu ?? 0);
    memRec = Math.max(memRec, input.profile.upperBound?.memory ?? input.profile.target.memory ?? 0);
  }
  if (input.policy.estimators.includes("cluster-size")) {
    const nodes = fresh(input.signals.clusterNodes, input.now, o);
    if (!nodes && input.policy.ladder.length > 0) return undefined;
    const step = nodes ? ladderStep(input.policy.ladder, nodes.value) : undefined;
    cpuRec = Math.max(cpuRec, step?.cpu ?? 0);
    memRec = Math.max(memRec, step?.memory ?? 0);
  }
  if (input.policy.estimators.includes("fleet-regression")) {
    const nodes = fresh(input.signals.clusterNodes, input.now, o);
    const fleet = nodes
      ? fleetRegressionEstimate({ ...input, signals: { ...input.signals, clusterNodes: nodes } }, o)
      : undefined;
    cpuRec = Math.max(cpuRec, fleet?.size.cpuRequest ?? 0);
    memRec = Math.max(memRec, fleet?.size.memoryRequest ?? 0);
  }
  return { at: input.now, cpu: cpuRec, memory: memRec };
}

function downPlan(input: DecisionInput, o: EngineOptions, notes: string[]): Plan {
  const { policy, current, history, now, signals } = input;
  const sd = policy.scaleDown;
  const none = (reason: string): Plan => ({ action: "none", reason, notes });
  const held = (why: string): Plan => ({
    action: "none",
    reason: `${heldForDataReason}: ${why}`,
    heldForData: why,
    notes,
  });
  if (!sd.enabled) return none("scale-down disabled");
  // The moment the source fails, scale-downs stop: values that have not aged out yet are not trusted either.
  if (signals.unavailableReason) return held(signals.unavailableReason);
  const missing: string[] = [];
  for (const [name, m] of [
    ["cpu usage", signals.cpuUsage],
    ["memory working set", signals.memoryWorkingSet],
  ] as const) {
    const f = freshness(m, now, o.staleAfterMs);
    if (f !== "fresh") missing.push(`${name} ${f}${m ? ` (last seen ${iso(m.observedAt)})` : ""}`);
  }
  if (missing.length)
    return held(`${missing.join(", ")}${signals.unavailableReason ? `; ${signals.unavailableReason}` : ""}`);
  if (now - history.observingSince < sd.stabilizationWindowMs)
    return none("no scale-down before a full stabilization window of observation");
  if (
    history.lastChangeAt !== undefined &&
    now - history.lastChangeAt < Math.max(sd.cooldownMs, sd.stabilizationWindowMs)
  ) {
    return none("no scale-down within the stabilization window after a change");
  }
  const windowStart = now - sd.stabilizationWindowMs;
  const inWindow = history.recommendations.filter((r) => r.at >= windowStart);
  const rec = recommendation(input, o);
  if (rec) inWindow.push(rec);
  if (inWindow.length === 0) return none("no recommendations in the stabilization window");
  // HPA's rule: the highest recommendation over the window is the most we may go down to.
  const cpuMax = Math.max(...inWindow.map((r) => r.cpu ?? Infinity));
  const memMax = Math.max(...inWindow.map((r) => r.memory ?? Infinity));
  const step = sd.maxStepPercent / 100;
  const target: Size = { ...current };
  const changes: Evidence[] = [];
  if (current.cpuRequest !== undefined && cpuMax < current.cpuRequest * (1 - o.minDownChange)) {
    target.cpuRequest = Math.max(cpuMax, current.cpuRequest * (1 - step));
    changes.push({
      signal: "cpu_recommendation_max_in_window",
      value: formatCpu(cpuMax),
      threshold: `request ${formatCpu(current.cpuRequest)}`,
      source: "engine",
    });
  }
  const memBase = current.memoryRequest;
  if (memBase !== undefined && memMax < memBase * (1 - o.minDownChange)) {
    const newRequest = Math.max(memMax, memBase * (1 - step));
    target.memoryRequest = newRequest;
    if (current.memoryLimit !== undefined)
      target.memoryLimit = Math.max(newRequest, current.memoryLimit * (newRequest / memBase));
    changes.push({
      signal: "memory_recommendation_max_in_window",
      value: formatMemory(memMax),
      threshold: `request ${formatMemory(memBase)}`,
      source: "engine",
    });
  }
  const after = clamp(target, input);
  // Never let clamping turn a scale-down into an increase.
  for (const k of ["cpuRequest", "memoryRequest", "memoryLimit", "cpuLimit"] as const) {
    const c = current[k];
    const a = after[k];
    if (c !== undefined && a !== undefined && a > c) after[k] = c;
  }
  if (sameSize(after, current)) return none("recommendations within the window do not allow a scale-down");
  const cpu = signals.cpuUsage;
  const mem = signals.memoryWorkingSet;
  const evidence: Evidence[] = [...changes];
  if (cpu) evidence.push(ev("cpu_usage", cpu, formatCpu(cpu.value)));
  if (mem) evidence.push(ev("memory_working_set", mem, formatMemory(mem.value)));
  return {
    action: "change",
    direction: "Down",
    scaler: "cpu",
    category: "Underutilized",
    summary: `${input.workload.component} of ${input.workload.tenant} used less than its size for the whole ${Math.round(sd.stabilizationWindowMs / 60_000)}m window: ${describeSize(current)} → ${describeSize(after)} (at most ${sd.maxStepPercent}% per step)`,
    evidence,
    before: current,
    after,
    oomIds: [],
    notes,
  };
}

export function decide(input: DecisionInput, o: EngineOptions = defaultEngineOptions): Plan {
  const notes: string[] = [];
  if (input.paused)
    return { action: "none", reason: "paused (metapilot.io/paused, or the ClusterScaler's spec.paused)", notes };
  for (const name of input.policy.estimators) estimator(name); // unknown names fail loudly
  const ups = upCandidates(input, o, notes);
  if (ups.length > 0) {
    ups.sort((a, b) => priority.indexOf(a.category) - priority.indexOf(b.category));
    const primary = ups[0] as UpCandidate;
    let grown = input.current;
    for (const c of ups) grown = maxSize(grown, c.size);
    const after = clamp(grown, input);
    // An up never shrinks anything, even if the current size is above maxAllowed (someone else set it).
    for (const k of ["cpuRequest", "memoryRequest", "memoryLimit", "cpuLimit"] as const) {
      const c = input.current[k];
      const a = after[k];
      if (c !== undefined && a !== undefined && a < c) after[k] = c;
    }
    if (after.replicas < input.current.replicas) after.replicas = input.current.replicas;
    const oomIds = ups.flatMap((c) => c.oomIds);
    // An OOM kill is answered only by more memory where the kill happens: the limit, or the request of a container
    // without one. A limit held at maxAllowed while the request still grows (the request follows the limit by its
    // ratio) would answer nothing, so that counts as being at the maximum too.
    const killedAt = input.current.memoryLimit !== undefined ? "memoryLimit" : "memoryRequest";
    const oomUnanswered = oomIds.length > 0 && (after[killedAt] ?? 0) <= (input.current[killedAt] ?? 0);
    const atMax = oomUnanswered || sameSize(after, input.current);
    const where = `${primary.category} on ${input.workload.component} of ${input.workload.tenant}`;
    const base = {
      direction: "Up" as const,
      scaler: primary.scaler,
      category: primary.category,
      summary: atMax
        ? `${where}: already at maxAllowed (${describeSize(input.current)}); nothing left to raise (${primary.note})`
        : `${where}: ${describeSize(input.current)} → ${describeSize(after)} (${primary.note})`,
      evidence: ups.flatMap((c) => c.evidence).slice(0, 32),
      before: input.current,
      after: atMax ? input.current : after,
      oomIds,
      notes,
      ...(primary.estimator ? { estimator: primary.estimator } : {}),
    };
    if (atMax) {
      // An OOM kill that nothing can answer is still recorded (Blocked, and reported), once per kill: a person has
      // to raise maxAllowed or look at the workload. Pressure signals at the maximum are only noted.
      if (oomIds.length > 0)
        return { action: "blocked", ...base, blockedBy: "already at maxAllowed: raise the ClusterScaler's maxAllowed" };
      return {
        action: "none",
        reason: `${primary.category}: already at maxAllowed (${describeSize(input.current)})`,
        notes: [...notes, ...ups.map((u) => u.note)],
      };
    }
    const isOom = primary.category === "OOMKilled";
    // OOM kills are direct evidence and act at once; everything else respects the cooldown. Every change counts
    // against the fleet budget, but an OOM scale-up within the tenant's floor is made even when it is spent.
    if (
      !isOom &&
      input.history.lastScaleUpAt !== undefined &&
      input.now - input.history.lastScaleUpAt < input.policy.scaleUpCooldownMs
    ) {
      return {
        action: "none",
        reason: `scale-up cooldown until ${iso(input.history.lastScaleUpAt + input.policy.scaleUpCooldownMs)}`,
        notes,
      };
    }
    if (input.fleetBudgetRemaining <= 0 && !(isOom && input.oomFloorRemaining > 0)) {
      return {
        action: "blocked",
        ...base,
        heldByFleetBudget: true,
        blockedBy: isOom
          ? "fleet budget exhausted for this interval, and this tenant's OOM scale-ups that the budget never " +
            "holds back (fleetBudget.oomFloorPerTenant) are used"
          : "fleet budget exhausted for this interval",
      };
    }
    return { action: "change", ...base };
  }
  const down = downPlan(input, o, notes);
  if (down.action === "change" && input.fleetBudgetRemaining <= 0) {
    return {
      ...down,
      action: "blocked",
      heldByFleetBudget: true,
      blockedBy: "fleet budget exhausted for this interval",
    };
  }
  return down;
}
