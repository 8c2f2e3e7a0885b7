// Decision recording and recovery. A plan is recorded as a ScalingDecision, signed, before the actuator carries it
// out, under a deterministic name, so a crash between the two never loses a decision and a retry never actuates
// twice; its phase is written after. A decision a previous leader recorded and did not finish gets its outcome on
// the workload's next reconcile (finishInterrupted).
import { createHash } from "node:crypto";
import { API_VERSION, mustParse, type BlockedReason } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext } from "../kube/controller.js";
import { ApiError } from "../kube/errors.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { resourcesOf, type Actuator } from "./actuator.js";
import { shortfallKeyPrefix } from "./capacity.js";
import { BoundedSet } from "./bounded-set.js";
import type { FleetBudget } from "./fleet-budget.js";
import { bytes, cores, formatCpu, formatMemory } from "./quantity.js";
import { signDecision, verifyDecision } from "./signature.js";
import { interruptedVerdict } from "./tenancy.js";
import type { ApplyPath, Plan, ResolvedPolicy, Size, WorkloadRef } from "./types.js";
import {
  blockedByAnnotation,
  blockedKeyAnnotation,
  componentLabel,
  heldByBudgetAnnotation,
  directionLabel,
  observedSizeAnnotation,
  oomIdsAnnotation,
  signatureAnnotation,
  tenantLabel,
  workloadAnnotation,
} from "../api/labels.js";
import { blockedByFleetBudget } from "./fleet-budget.js";

export interface DecisionObject extends KubeObject {
  spec?: {
    target?: { name?: string; namespace?: string };
    direction?: "Up" | "Down";
    component?: string;
    dryRun?: boolean;
    decidedAt?: string;
    clusterScaler?: string;
    rootCause?: { category?: string };
    after?: { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
  };
  status?: { phase?: string; reason?: string; message?: string; delivery?: { state?: string } };
}

export type RecordedPhase = "Applied" | "DryRun" | "Blocked" | "Failed";

/** A plan that changes something (or would, but is blocked): what gets recorded. */
export type ActionPlan = Exclude<Plan, { action: "none" }>;

const shortHash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 10);

/**
 * The decision's name: the same plan gets the same name (a retry after a crash finds the decision it recorded), a
 * plan for new OOM kills one per set of kills, any other one per size asked for and minute. A change the budget
 * held back is named apart from the change made once the budget allows it, so that one is not mistaken for the
 * other within the same minute.
 */
export function decisionName(plan: ActionPlan, ref: WorkloadRef, now: number): string {
  const identity = plan.oomIds.length
    ? plan.oomIds.join(",")
    : `${JSON.stringify(plan.after)}/${Math.floor(now / 60_000)}${plan.action === "blocked" ? "/blocked" : ""}`;
  return `${ref.component}-${plan.direction.toLowerCase()}-${shortHash(`${ref.namespace}/${ref.name}/${plan.direction}/${identity}`)}`.slice(
    0,
    63,
  );
}

type SizeBlock = { replicas: number; resources: { requests: Record<string, string>; limits: Record<string, string> } };

/** A size as a decision's before/after block. */
export function sizeBlock(s: Size): SizeBlock {
  return { replicas: s.replicas, resources: resourcesOf(s) };
}

/** A decision's before/after block back into numbers. */
export function sizeOf(
  s:
    | { replicas?: number; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }
    | undefined,
): Size {
  return {
    replicas: s?.replicas ?? 1,
    cpuRequest: cores(s?.resources?.requests?.cpu),
    cpuLimit: cores(s?.resources?.limits?.cpu),
    memoryRequest: bytes(s?.resources?.requests?.memory),
    memoryLimit: bytes(s?.resources?.limits?.memory),
  };
}

/** The ScalingDecision object of a plan, signed. */
export function decisionObject(
  plan: ActionPlan,
  ref: WorkloadRef,
  at: { name: string; now: number },
  how: { clusterScaler: string; dryRun: boolean; observed: Size },
  signingKey: Buffer,
): KubeObject {
  const decision = {
    apiVersion: API_VERSION,
    kind: "ScalingDecision",
    metadata: {
      name: at.name,
      namespace: ref.namespace,
      labels: {
        [tenantLabel]: ref.tenant,
        [componentLabel]: ref.component,
        [directionLabel]: plan.direction,
      },
      annotations: {
        [workloadAnnotation]: `${ref.kind}/${ref.name}`,
        ...(plan.oomIds.length ? { [oomIdsAnnotation]: plan.oomIds.join(",").slice(0, 4000) } : {}),
        ...(how.dryRun ? { [observedSizeAnnotation]: JSON.stringify(how.observed) } : {}),
        ...(plan.heldByFleetBudget ? { [blockedByAnnotation]: blockedByFleetBudget } : {}),
        ...(plan.heldByBudget ? { [heldByBudgetAnnotation]: plan.heldByBudget } : {}),
        ...(plan.action === "blocked" && plan.blockedKey
          ? { [blockedKeyAnnotation]: plan.blockedKey.slice(0, 1000) }
          : {}),
      },
    },
    spec: {
      target: { apiVersion: "apps/v1", kind: ref.kind, name: ref.name, namespace: ref.namespace, tenant: ref.tenant },
      component: ref.component,
      direction: plan.direction,
      dryRun: how.dryRun,
      scaler: plan.scaler,
      ...(plan.estimator ? { estimator: plan.estimator } : {}),
      rootCause: { category: plan.category, summary: plan.summary.slice(0, 1024), evidence: plan.evidence },
      before: sizeBlock(plan.before),
      after: sizeBlock(plan.after),
      clusterScaler: how.clusterScaler,
      ...(plan.disruptionReasons?.length ? { disruptionReasons: plan.disruptionReasons } : {}),
      decidedAt: new Date(at.now).toISOString(),
    },
  };
  (decision.metadata.annotations as Record<string, string>)[signatureAnnotation] = signDecision(signingKey, decision);
  mustParse("ScalingDecision", decision);
  return decision as KubeObject;
}

/**
 * What a decision recorded as Blocked was blocked by, from its annotations (signed; checked by the caller), for one
 * whose phase was never written: the budget that held it back, or the condition its blocked-key names.
 */
export function recordedBlock(d: DecisionObject): { reason: BlockedReason; message: string } | undefined {
  const annotations = d.metadata?.annotations ?? {};
  if (annotations[blockedByAnnotation] === blockedByFleetBudget) {
    const budget = annotations[heldByBudgetAnnotation];
    return {
      reason: "FleetBudget",
      message: `held back by ${budget ? `disruption budget ${budget}` : "a disruption budget"}`,
    };
  }
  const key = annotations[blockedKeyAnnotation];
  if (!key) return undefined;
  return key.startsWith(`${shortfallKeyPrefix}/`)
    ? { reason: "ExceedsNodeCapacity", message: "blocked: no allowed node can hold the size it asked for" }
    : { reason: "MaxAllowed", message: "blocked: already at maxAllowed" };
}

/** A Blocked decision's status.reason and, for ExceedsNodeCapacity, status.capacity. */
export function blockedStatus(plan: ActionPlan): {
  reason?: string;
  capacity?: {
    need: Record<string, string>;
    largestNode?: { name: string; allocatable: Record<string, string> };
    proposedNodePool?: { name: string; nodeShape: Record<string, string> };
  };
} {
  const c = plan.capacity;
  const quantities = (r: { cpu?: number; memory?: number }) => ({
    ...(r.cpu !== undefined ? { cpu: formatCpu(r.cpu) } : {}),
    ...(r.memory !== undefined ? { memory: formatMemory(r.memory) } : {}),
  });
  return {
    ...(plan.blockedReason ? { reason: plan.blockedReason } : {}),
    ...(c
      ? {
          capacity: {
            need: quantities(c.need),
            ...(c.largestNode
              ? { largestNode: { name: c.largestNode.name, allocatable: quantities(c.largestNode) } }
              : {}),
            ...(c.proposedNodePool
              ? { proposedNodePool: { name: c.proposedNodePool.name, nodeShape: quantities(c.proposedNodePool) } }
              : {}),
          },
        }
      : {}),
  };
}

export interface DecisionRecorderOptions {
  client: KubeClient;
  decisions: Informer<DecisionObject>;
  actuator: Actuator;
  recorder: EventRecorder;
  budget: FleetBudget;
  signingKey: () => Promise<Buffer>;
  now: () => number;
  /** An interrupted decision older than this is not applied any more (default 10 minutes). */
  interruptedMaxAgeMs?: number;
}

/** What recording a plan came to. */
export type RecordOutcome =
  /** An earlier attempt recorded and finished it: nothing was done again. */
  | { already: true; phase: string }
  /** Recorded now, carried out (or not: dry-run, blocked, failed) and given its phase. */
  | { already: false; phase: RecordedPhase; name: string };

export class DecisionRecorder {
  /** Decisions this process recorded to the end (bounded: the oldest are forgotten). */
  private readonly finished = new BoundedSet(10_000);
  /** Unsigned decisions already reported, so each is reported once. */
  private readonly reportedUnsigned = new BoundedSet(10_000);

  constructor(private readonly options: DecisionRecorderOptions) {}

  /**
   * Records the plan, then has the actuator carry it out unless it is blocked or dry-run, then writes its phase
   * and tells (an Event, a log line). The plan's budget reservation is settled with the outcome, and `onPhase`
   * hears it before the phase is written (the history model learns of the change even if that write fails).
   */
  async record(
    plan: ActionPlan,
    ref: WorkloadRef,
    how: {
      clusterScaler: string;
      dryRun: boolean;
      observed: Size;
      now: number;
      /** How the change reaches the pods, when known as it is made (src/scaler/apply-path.ts). */
      applyPath?: ApplyPath;
    },
    regarding: KubeObject,
    rc: ReconcileContext,
    onPhase: (phase: RecordedPhase) => void,
  ): Promise<RecordOutcome> {
    const { client, budget, decisions, actuator } = this.options;
    const { clusterScaler, dryRun, now } = how;
    const name = decisionName(plan, ref, now);
    const budgetKey = `${ref.namespace}/${name}`;
    const decision = decisionObject(plan, ref, { name, now }, how, await this.options.signingKey());
    let created = true;
    try {
      await client.create(Resources.ScalingDecision, decision);
    } catch (err) {
      if (!(err instanceof ApiError && err.isConflict)) {
        budget.settle(clusterScaler, budgetKey, "Failed"); // never recorded, so never carried out
        throw err;
      }
      created = false; // already recorded by an earlier attempt: carry on to make sure it was carried out
    }
    const existing = created ? undefined : decisions.get(`${ref.namespace}/${name}`);
    if (existing?.status?.phase) {
      budget.settle(clusterScaler, budgetKey, existing.status.phase);
      return { already: true, phase: existing.status.phase };
    }
    let phase: RecordedPhase;
    let message: string;
    if (plan.action === "blocked") {
      phase = "Blocked";
      message = plan.blockedBy ?? "blocked";
    } else if (dryRun) {
      phase = "DryRun";
      message = "dry-run: recorded, workload unchanged";
    } else {
      try {
        await actuator.apply(ref, plan.after);
        phase = "Applied";
        message = ref.ownedByTenantControlPlane
          ? `TenantControlPlane ${ref.tenant} spec updated`
          : `${ref.kind} ${ref.name} updated`;
      } catch (err) {
        phase = "Failed";
        message = `actuation failed: ${(err as Error).message}`.slice(0, 4000);
      }
    }
    budget.settle(clusterScaler, budgetKey, phase);
    onPhase(phase);
    await this.writePhase(
      ref.namespace,
      name,
      phase,
      message,
      phase === "Blocked"
        ? blockedStatus(plan)
        : how.applyPath && (phase === "Applied" || phase === "DryRun")
          ? { applyPath: how.applyPath }
          : {},
    );
    this.options.recorder.record(
      regarding,
      phase === "Failed" || plan.direction === "Up" ? "Warning" : "Normal",
      plan.category,
      `Scale${plan.direction}`,
      `${phase}: ${plan.summary}`,
    );
    rc.logger.info(
      {
        decision: name,
        phase,
        category: plan.category,
        direction: plan.direction,
        workload: `${ref.namespace}/${ref.name}`,
      },
      "scaling decision",
    );
    return { already: false, phase, name };
  }

  /**
   * Decisions a previous leader recorded but did not finish (it died between creating the decision and writing its
   * phase). Each gets its outcome now, so no decision is left without one: dry-run ones are DryRun; a live one is
   * Applied if the workload already has its size, re-applied (the same absolute size, so never a second bump) if
   * it is the workload's latest decision, still fresh, within the current policy and the target is not paused,
   * and Failed otherwise. A decision metapilot did not sign is a stranger's object: it is never applied and never
   * given a phase (which would make it look like metapilot's), only reported in an Event. Returns when to look
   * again, while a young unfinished decision may still be finished by the process that recorded it.
   */
  async finishInterrupted(
    ref: WorkloadRef,
    observed: Size,
    now: number,
    policy: ResolvedPolicy,
    paused: boolean,
  ): Promise<number | undefined> {
    const age = (d: DecisionObject) => now - (Date.parse(String(d.metadata?.creationTimestamp ?? "")) || now);
    const mine = this.options.decisions.listNamespace(ref.namespace, (d) => d.spec?.target?.name === ref.name);
    // Decisions this process finished itself are skipped (the cache may not show their phase yet); others get a
    // short grace period, and the workload is looked at again when it ends.
    const open = mine.filter(
      (d) =>
        !d.status?.phase &&
        !this.finished.has(`${ref.namespace}/${d.metadata?.name}`) &&
        !this.reportedUnsigned.has(`${d.metadata?.uid}`),
    );
    const graceMs = 3_000;
    const unfinished = open.filter((d) => age(d) >= graceMs);
    const young = open.filter((d) => age(d) < graceMs);
    const retryInMs = young.length ? Math.max(100, graceMs - Math.min(...young.map(age))) : undefined;
    if (unfinished.length === 0) return retryInMs;
    const key = await this.options.signingKey();
    const signed = mine.filter((d) => verifyDecision(key, d));
    const latest = signed.length
      ? signed.reduce((a, b) => ((a.spec?.decidedAt ?? "") >= (b.spec?.decidedAt ?? "") ? a : b))
      : undefined;
    for (const d of unfinished) {
      const after = sizeOf(d.spec?.after);
      const block = recordedBlock(d);
      const verdict = interruptedVerdict({
        signed: signed.includes(d),
        ...(block ? { blocked: { reason: block.message } } : {}),
        dryRun: d.spec?.dryRun === true,
        decidedAt: Date.parse(d.spec?.decidedAt ?? ""),
        after,
        observed,
        latest: d === latest,
        paused,
        policy,
        now,
        maxAgeMs: this.options.interruptedMaxAgeMs ?? 10 * 60_000,
      });
      if (verdict.action === "ignore") {
        this.reportedUnsigned.add(`${d.metadata?.uid}`);
        this.options.recorder.record(
          { ...d, apiVersion: API_VERSION, kind: "ScalingDecision" },
          "Warning",
          "UnverifiedDecision",
          "FinishInterrupted",
          `${verdict.reason}; ${ref.kind} ${ref.name} left as it is`,
        );
        continue;
      }
      let phase: "Applied" | "DryRun" | "Failed" | "Blocked";
      let message: string;
      if (verdict.action === "finish") {
        ({ phase, message } = verdict);
      } else {
        try {
          await this.options.actuator.apply(ref, after);
          phase = "Applied";
          message = "applied after a controller restart interrupted it";
        } catch (err) {
          phase = "Failed";
          message = `actuation failed after a restart: ${(err as Error).message}`.slice(0, 4000);
        }
      }
      await this.writePhase(
        ref.namespace,
        d.metadata?.name,
        phase,
        message,
        phase === "Blocked" && block ? { reason: block.reason } : {},
      );
    }
    return retryInMs;
  }

  private async writePhase(
    namespace: string,
    name: string | undefined,
    phase: RecordedPhase,
    message: string,
    extra: ReturnType<typeof blockedStatus> | { applyPath?: ApplyPath } = {},
  ): Promise<void> {
    await this.options.client.applyStatus(Resources.ScalingDecision, {
      metadata: { name, namespace },
      status: {
        phase,
        ...extra,
        message,
        ...(phase === "Applied" ? { appliedAt: new Date(this.options.now()).toISOString() } : {}),
        delivery: { state: "Pending", attempts: 0 },
      },
    } as KubeObject & { status: unknown });
    this.finished.add(`${namespace}/${name}`);
  }
}
