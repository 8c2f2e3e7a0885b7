// The master-operator's reconcile loop: the guards that hold everything back (a spec that does not parse,
// unconsented insecure flags, paused), the finalizer, and status. What it manages is a list of steps in the style
// of Kamaji (src/operator/steps/): each defines its objects, applies them only when their content hash changed,
// and reports its conditions; a step that is not ready holds back the steps behind it only where order matters
// (upgrades roll etcd → apiserver → the rest). Deletion walks the same list in reverse. Status is written once
// at the end, only when it changed, with observedGeneration last.
import { Counter, Gauge, type Registry } from "prom-client";
import { defaultNamespace, parseTenantControlPlane, type TenantControlPlane, type TenantPhase } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey } from "../kube/resources.js";
import { names, type TenantContext } from "./manifests.js";
import { kubeconfigSecretKey, pkiSecretName, type ControlPlaneComponent } from "./pki/index.js";
import { jsonEqual, mergeConditions, type ConditionInput } from "../api/conditions.js";
import type { TenantSecrets } from "./tenant-secrets.js";
import { ownerUidAnnotation, pausedAnnotation, tenantFinalizer } from "../api/labels.js";
import { tenantControlPlaneSteps } from "./steps/index.js";
import { namespaceVerdictFor } from "./steps/namespace.js";
import {
  cond,
  emptyFound,
  type Found,
  type Pod,
  type RawTenantControlPlane,
  type ServiceObject,
  type Step,
  type StepDeps,
  type WorkloadStatus,
} from "./steps/step.js";
import { applySteps, cleanupSteps, describePending } from "./steps/walker.js";

export type { RawTenantControlPlane };

export interface OperatorCaches {
  tenants: Informer<RawTenantControlPlane>;
  namespaces: Informer<KubeObject>;
  deployments: Informer<WorkloadStatus>;
  statefulSets: Informer<WorkloadStatus>;
  services: Informer<ServiceObject>;
  pdbs: Informer<KubeObject>;
  networkPolicies: Informer<KubeObject>;
  resourceQuotas: Informer<KubeObject>;
  replicaSets: Informer<KubeObject>;
  pods: Informer<Pod>;
}

export interface OperatorOptions {
  client: KubeClient;
  caches: OperatorCaches;
  /**
   * The tenant's Secrets, read per namespace (metapilot may not read Secrets cluster-wide; see
   * src/operator/tenant-secrets.ts).
   */
  secrets: TenantSecrets;
  recorder: EventRecorder;
  registry?: Registry;
  now?: () => Date;
  /** Requeue period for Ready tenants, so certificate renewal is never missed (capped by the next expiry). */
  resyncMs?: number;
  /**
   * Honour spec.allowInsecureExtraArgs (--allow-insecure-extra-args). Off, a TenantControlPlane that names any
   * flag there is not deployed: the escape hatch needs the platform admin's consent, not only the tenant's.
   */
  allowInsecureExtraArgs?: boolean;
  /** metapilot's own namespaces (its leader-election namespace): never a tenant's, like default and kube-*. */
  ownNamespaces?: readonly string[];
  /**
   * Namespaces besides the tenant's own from which spec.etcd.external.secretRef may copy a Secret
   * (--external-etcd-secret-namespaces). A TenantControlPlane may otherwise only name its own namespace.
   */
  externalEtcdSecretNamespaces?: readonly string[];
  /** Registry of the component images (--image-registry); spec.imageRegistry overrides it. */
  imageRegistry?: string;
  /** The steps, in order (the default is tenantControlPlaneSteps). */
  steps?: readonly Step[];
}

type StatusPatch = Partial<Omit<NonNullable<TenantControlPlane["status"]>, "conditions">> & {
  conditions?: ConditionInput[];
};

export class TenantControlPlaneReconciler implements Reconciler {
  private readonly unschedulable?: Gauge<"tenant">;
  private readonly deps: StepDeps;
  private readonly steps: readonly Step[];

  constructor(private readonly options: OperatorOptions) {
    const registry = options.registry;
    let driftRepairs: Counter<"kind"> | undefined;
    if (registry) {
      this.unschedulable =
        (registry.getSingleMetric("metapilot_tenant_unschedulable_pods") as Gauge<"tenant"> | undefined) ??
        new Gauge({
          name: "metapilot_tenant_unschedulable_pods",
          help: "Control-plane pods of a tenant that the scheduler cannot place (Pending, Unschedulable).",
          labelNames: ["tenant"],
          registers: [registry],
        });
      driftRepairs =
        (registry.getSingleMetric("metapilot_drift_repairs_total") as Counter<"kind"> | undefined) ??
        new Counter({
          name: "metapilot_drift_repairs_total",
          help: "Managed objects re-applied because a field metapilot owns was changed by someone else, by kind.",
          labelNames: ["kind"],
          registers: [registry],
        });
    }
    this.deps = {
      client: options.client,
      caches: options.caches,
      secrets: options.secrets,
      recorder: options.recorder,
      now: options.now ?? (() => new Date()),
      driftRepairs,
      ownNamespaces: options.ownNamespaces ?? [],
      externalEtcdSecretNamespaces: options.externalEtcdSecretNamespaces ?? [],
      resyncMs: options.resyncMs ?? 60 * 60_000,
    };
    this.steps = options.steps ?? tenantControlPlaneSteps;
  }

  async reconcile(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    try {
      return await this.reconcileTenant(key, rc);
    } catch (err) {
      // The error is retried with backoff; meanwhile the status says what is wrong, for this generation.
      const raw = this.options.caches.tenants.get(key.name);
      if (raw?.metadata?.name && !raw.metadata.deletionTimestamp && !rc.signal.aborted) {
        const message = `reconcile failed, retrying: ${(err as Error).message}`.slice(0, 2000);
        await this.writeStatus(
          raw,
          {
            conditions: [{ type: "Ready", status: "False", reason: "ReconcileError", message }],
          },
          true,
        ).catch(() => undefined);
      }
      throw err;
    }
  }

  private async reconcileTenant(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    const raw = this.options.caches.tenants.get(key.name);
    if (!raw?.metadata?.name) {
      this.unschedulable?.remove({ tenant: key.name });
      return;
    }
    if (raw.metadata.deletionTimestamp) return this.finalize(raw, rc);

    const parsed = parseTenantControlPlane(raw);
    if (!parsed.ok) {
      // A bad spec is reported, not retried: the next edit of the object brings it back.
      await this.writeStatus(raw, {
        phase: raw.status?.phase ?? "Provisioning",
        conditions: [
          {
            type: "Ready",
            status: "False",
            reason: "InvalidSpec",
            message: `fix the spec: ${parsed.errors.join("; ")}`,
          },
        ],
      });
      this.options.recorder.record(raw, "Warning", "InvalidSpec", "Validate", parsed.errors.join("; "));
      return;
    }
    const tcp = parsed.value;
    if (tcp.spec.allowInsecureExtraArgs?.length && !this.options.allowInsecureExtraArgs) {
      const message =
        `spec.allowInsecureExtraArgs (${tcp.spec.allowInsecureExtraArgs.join(", ")}) is honoured only when the ` +
        "controller runs with --allow-insecure-extra-args; nothing is deployed until it is removed or allowed";
      await this.writeStatus(raw, {
        phase: raw.status?.phase ?? "Provisioning",
        conditions: [{ type: "Ready", status: "False", reason: "InsecureExtraArgsNotAllowed", message }],
      });
      this.options.recorder.record(raw, "Warning", "InsecureExtraArgsNotAllowed", "Validate", message);
      return;
    }
    if (tcp.spec.paused || raw.metadata.annotations?.[pausedAnnotation] === "true") {
      await this.writeStatus(
        raw,
        {
          conditions: [
            {
              type: "Paused",
              status: "True",
              reason: "Paused",
              message: "spec.paused or the metapilot.io/paused annotation stops all changes",
            },
          ],
        },
        true,
      );
      return;
    }
    await this.ensureFinalizer(raw);

    const ctx: TenantContext = {
      tcp,
      tenant: raw.metadata.name,
      namespace: defaultNamespace({ metadata: raw.metadata, spec: tcp.spec }),
      uid: raw.metadata.uid ?? "",
      imageRegistry: this.options.imageRegistry,
    };
    const found = emptyFound();
    const walked = await applySteps(this.steps, { deps: this.deps, raw, ctx, found, rc });
    if ("stopped" in walked) {
      const { status, event, result } = walked.stopped;
      if (status) await this.writeStatus(raw, status);
      if (event) this.options.recorder.record(raw, event.type, event.reason, event.action, event.note);
      return result;
    }

    // Pending control-plane pods: the node pools grow on this signal.
    this.reportUnschedulable(raw, ctx);
    const { phase, ready } = await this.writeReadyStatus(raw, ctx, found, walked.conditions);
    rc.logger.debug({ phase, ready }, "reconciled tenant control plane");
    // The hourly resync waits behind changes; a certificate renewal sooner than that does not.
    const resyncMs = this.deps.resyncMs;
    const recheckInMs = found.recheckAtMs === undefined ? resyncMs : found.recheckAtMs - this.deps.now().getTime();
    const requeueAfterMs = Math.min(resyncMs, found.pki?.renewInMs ?? resyncMs, recheckInMs);
    return { requeueAfterMs: Math.max(1000, requeueAfterMs), resync: requeueAfterMs >= resyncMs };
  }

  /** The status of a walk that reached the end: Ready from every component, the phase, and the endpoint. */
  private async writeReadyStatus(
    raw: RawTenantControlPlane,
    ctx: TenantContext,
    found: Found,
    conditions: ConditionInput[],
  ): Promise<{ phase: TenantPhase; ready: boolean }> {
    const { tcp } = ctx;
    const states = found.components;
    const allReady = Object.values(states).every((s) => s.ready);
    const allAtVersion = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"].every(
      (c) => states[c as ControlPlaneComponent]?.version === tcp.spec.version,
    );
    const ready = allReady && allAtVersion;
    const notReady = Object.entries(states)
      .filter(([, s]) => !s.ready)
      .map(([n, s]) => `${n}: ${s.message}`);
    conditions.push(
      cond(
        "Ready",
        ready,
        ready ? "ControlPlaneReady" : "ComponentsNotReady",
        ready ? "all components are available" : notReady.join("; ") || "rolling out",
      ),
    );

    const previous = raw.status;
    let phase: TenantPhase;
    if (ready) phase = "Ready";
    else if (previous?.version && previous.version !== tcp.spec.version) phase = "Upgrading";
    else if (previous?.phase === "Ready" || previous?.phase === "Degraded") phase = "Degraded";
    else phase = "Provisioning";
    if (ready && previous?.version !== tcp.spec.version) {
      this.options.recorder.record(
        raw,
        "Normal",
        previous?.version ? "Upgraded" : "Provisioned",
        "Reconcile",
        `control plane ready at ${tcp.spec.version}`,
      );
    }
    const port = 6443;
    const externalEndpoint = found.externalEndpoint;
    await this.writeStatus(raw, {
      phase,
      conditions,
      namespace: ctx.namespace,
      endpoint:
        `https://${externalEndpoint ?? `${names.apiserver}.${ctx.namespace}.svc`}:${externalEndpoint?.includes(":") ? "" : port}`.replace(
          /:$/,
          "",
        ),
      kubeconfigSecretRef: {
        name: pkiSecretName(ctx.tenant, "adminKubeconfig"),
        namespace: ctx.namespace,
        key: kubeconfigSecretKey,
      },
      version: ready ? tcp.spec.version : previous?.version,
      components: Object.entries(states).map(([name, s]) => ({
        name: name as ControlPlaneComponent,
        version: s.version,
        replicas: s.replicas,
        readyReplicas: s.readyReplicas,
        updatedReplicas: s.updatedReplicas,
        state: s.ready ? ("Ready" as const) : ("Progressing" as const),
        message: s.message,
        ...(s.resize ? { resize: s.resize } : {}),
        ...(s.derivedSettings ? { derivedSettings: s.derivedSettings } : {}),
      })),
      pki: found.pki?.status,
    });
    return { phase, ready };
  }

  private reportUnschedulable(raw: RawTenantControlPlane, ctx: TenantContext): void {
    const pending = this.options.caches.pods.listNamespace(
      ctx.namespace,
      (p) =>
        p.status?.phase === "Pending" &&
        (p.status.conditions ?? []).some(
          (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
        ),
    );
    this.unschedulable?.set({ tenant: ctx.tenant }, pending.length);
    if (pending.length > 0) {
      this.options.recorder.record(
        raw,
        "Warning",
        "UnschedulablePods",
        "Schedule",
        `${pending.length} control-plane pods cannot be scheduled: ${pending
          .slice(0, 5)
          .map((p) => p.metadata?.name)
          .join(", ")}`,
      );
    }
  }

  // --- finalizer and deletion -----------------------------------------------------------------------------

  private async ensureFinalizer(raw: RawTenantControlPlane): Promise<void> {
    const finalizers = raw.metadata?.finalizers ?? [];
    if (finalizers.includes(tenantFinalizer)) return;
    await this.options.client.patch(
      Resources.TenantControlPlane,
      raw.metadata?.name ?? "",
      undefined,
      [
        { op: "test", path: "/metadata/resourceVersion", value: raw.metadata?.resourceVersion },
        raw.metadata?.finalizers
          ? { op: "add", path: "/metadata/finalizers/-", value: tenantFinalizer }
          : { op: "add", path: "/metadata/finalizers", value: [tenantFinalizer] },
      ],
      "json",
    );
  }

  private async removeFinalizer(raw: RawTenantControlPlane): Promise<void> {
    const finalizers = raw.metadata?.finalizers ?? [];
    if (!finalizers.includes(tenantFinalizer)) return;
    await this.options.client.patch(
      Resources.TenantControlPlane,
      raw.metadata?.name ?? "",
      undefined,
      [
        { op: "test", path: "/metadata/resourceVersion", value: raw.metadata?.resourceVersion },
        { op: "replace", path: "/metadata/finalizers", value: finalizers.filter((f) => f !== tenantFinalizer) },
      ],
      "json",
    );
  }

  private async finalize(raw: RawTenantControlPlane, rc: ReconcileContext): Promise<ReconcileResult | void> {
    if (!(raw.metadata?.finalizers ?? []).includes(tenantFinalizer)) return;
    const tenant = raw.metadata?.name ?? "";
    const spec = raw.spec as { namespace?: string; etcd?: { managed?: { deletionPolicy?: string } } } | undefined;
    const namespace = defaultNamespace({ metadata: raw.metadata, spec });
    const retain = spec?.etcd?.managed !== undefined && spec.etcd.managed.deletionPolicy !== "Delete";
    const ns = this.options.caches.namespaces.get(namespace);
    // Only a namespace metapilot created for this TenantControlPlane is deleted, or emptied of tenant objects.
    const ours =
      !!ns &&
      (ns.metadata?.annotations?.[ownerUidAnnotation] === raw.metadata?.uid ||
        namespaceVerdictFor(this.deps, raw).action === "adopt");
    const pending =
      ns && ours
        ? await cleanupSteps(this.steps, {
            deps: this.deps,
            raw,
            tenant,
            namespace,
            namespaceObject: ns,
            retain,
            signal: rc.signal,
          })
        : [];
    if (pending.length === 0) {
      this.options.secrets.forget(namespace);
      await this.removeFinalizer(raw);
      this.unschedulable?.remove({ tenant });
      rc.logger.info({ tenant, retained: retain }, "tenant control plane deleted");
      return;
    }
    await this.writeStatus(raw, {
      phase: "Deleting",
      deletion: {
        startedAt: raw.status?.deletion?.startedAt ?? this.deps.now().toISOString(),
        message: `waiting for ${describePending(pending)}`,
      },
    });
    // Deletion progress arrives through watches; the requeue is a safety net, never a busy loop.
    return { requeueAfterMs: 10_000 };
  }

  // --- status ---------------------------------------------------------------------------------------------

  private async writeStatus(raw: RawTenantControlPlane, patch: StatusPatch, mergeOnly = false): Promise<void> {
    const previous = raw.status ?? {};
    const generation = raw.metadata?.generation;
    const { conditions: nextConditions, ...rest } = patch;
    let conditions = previous.conditions;
    if (nextConditions) {
      const merged = mergeConditions(previous.conditions, nextConditions, generation, this.deps.now());
      conditions = mergeOnly
        ? [...(previous.conditions ?? []).filter((c) => !nextConditions.some((n) => n.type === c.type)), ...merged]
        : merged;
    }
    const next = { ...previous, ...rest, conditions, observedGeneration: generation };
    if (!mergeOnly && !nextConditions?.some((c) => c.type === "Paused")) {
      next.conditions = (next.conditions ?? []).filter((c) => c.type !== "Paused");
    }
    if (jsonEqual(previous, next)) return;
    await this.options.client.applyStatus(Resources.TenantControlPlane, {
      metadata: { name: raw.metadata?.name },
      status: next,
    } as RawTenantControlPlane);
  }
}
