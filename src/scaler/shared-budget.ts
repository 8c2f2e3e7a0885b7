// One set of disruption budgets per process. The scaler and the drain controller spend the same budgets
// (src/scaler/fleet-budget.ts): a budget that lists ScaleDown and Drain is spent by a scale-down and by an
// eviction alike. So every controller of a process counts from one FleetBudget, fed by the shared informers: what
// one of them has just planned or reserved, before its record is written, the other sees at once, and a change
// planned by one and an eviction reserved by the other in the same instant cannot both pass a budget that allows
// only one.
//
// And one catch-up per leadership term, which both wait for: on becoming leader, the recorded ScalingDecisions and
// NodeDrains are read with a LIST from the apiserver and fed to the budget before any decision or eviction of the
// term. The caches of a standby may lag behind the last records of the leader it replaces (their watch events are
// still on their way), and a budget counted from them would spend again what was just spent.
import { tenantLabel } from "../api/labels.js";
import type { ControllerConfig } from "../controllers.js";
import { sleep } from "../kube/backoff.js";
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import { Resources, type ResourceType } from "../kube/resources.js";
import { FleetBudget, type BudgetDecision, type BudgetDrain, type RecordCache } from "./fleet-budget.js";

/** Reads every recorded decision and drain from the apiserver into a budget, once per leadership term. */
export class BudgetCatchUp {
  private current: Promise<void> = Promise.resolve();
  private readonly drainListeners: Array<(drains: readonly BudgetDrain[]) => void> = [];

  constructor(
    private readonly options: {
      client: Pick<KubeClient, "listAll">;
      budget: FleetBudget;
      /** The decisions' scope: that of the decision cache the budget counts from otherwise. */
      decisions?: { namespace?: string; labelSelector?: string };
      retryMs?: number;
    },
  ) {}

  /** The catch-up of the current term: every decision and eviction waits for it. */
  get caughtUp(): Promise<void> {
    return this.current;
  }

  /** Told the NodeDrains each catch-up listed, before it resolves (the drain controller reads them as the newest). */
  onDrains(listener: (drains: readonly BudgetDrain[]) => void): void {
    this.drainListeners.push(listener);
  }

  /**
   * Starts the catch-up of a term. Call it synchronously when leadership starts, before any reconcile runs; it
   * retries until both LISTs succeed or leadership ends.
   */
  run(signal: AbortSignal): Promise<void> {
    const run = async () => {
      for (;;) {
        try {
          const [decisions, drains] = await Promise.all([
            this.options.client.listAll<BudgetDecision>(Resources.ScalingDecision, {
              ...this.options.decisions,
              signal,
            }),
            this.options.client.listAll<BudgetDrain>(Resources.NodeDrain, { signal }),
          ]);
          for (const d of decisions.items) this.options.budget.observe(d);
          for (const d of drains.items) this.options.budget.observeDrain(d);
          for (const listener of this.drainListeners) listener(drains.items);
          return;
        } catch (err) {
          if (signal.aborted) return;
          if (!(err instanceof ApiError)) throw err;
          await sleep(this.options.retryMs ?? 1000, signal).catch(() => undefined);
        }
      }
    };
    this.current = run();
    return this.current;
  }
}

/** The process's budget and its catch-up. */
export interface SharedBudget {
  budget: FleetBudget;
  catchUp: BudgetCatchUp;
  /** The settings it was made with: every controller of a process must ask for the same. */
  readonly key: string;
}

/** The parts of a Manager a shared budget needs (a Manager, or a stand-in in unit tests). */
export interface BudgetManager {
  client: Pick<KubeClient, "listAll">;
  onLeading(hook: (signal: AbortSignal) => Promise<void>): unknown;
  informer(opts: { resource: ResourceType; namespace?: string; labelSelector?: string }): RecordCache;
}

const shared = new WeakMap<object, SharedBudget>();

/**
 * The budget of the process `manager` runs, made on the first call: fed by the manager's shared informers of
 * ScalingDecisions (the scaler's scope) and NodeDrains, and caught up at the start of each leadership term.
 */
export function sharedFleetBudget(
  manager: BudgetManager,
  config: Pick<ControllerConfig, "namespace" | "defaultDisruptionBudgets">,
): SharedBudget {
  const key = JSON.stringify([config.namespace ?? null, config.defaultDisruptionBudgets ?? null]);
  const existing = shared.get(manager);
  if (existing) {
    if (existing.key !== key)
      throw new Error(
        "the controllers of one process must share one namespace and one set of default disruption budgets",
      );
    return existing;
  }
  const scope = { namespace: config.namespace, labelSelector: tenantLabel };
  const decisions = manager.informer({ resource: Resources.ScalingDecision, ...scope });
  const drains = manager.informer({ resource: Resources.NodeDrain });
  const budget = FleetBudget.fromCaches(decisions, config.defaultDisruptionBudgets, drains);
  const catchUp = new BudgetCatchUp({ client: manager.client, budget, decisions: scope });
  manager.onLeading((signal) => catchUp.run(signal));
  const made = { budget, catchUp, key };
  shared.set(manager, made);
  return made;
}
