// The master-operator's reconcile: an ordered pipeline in the style of Kamaji. Each step defines its objects,
// creates or updates them (only when their content hash changed), and reports readiness; a step that is not
// ready holds back the steps behind it only where order matters (upgrades roll etcd → apiserver → the rest).
// Status is written once at the end, only when it changed, with observedGeneration last.
import { Counter, Gauge, type Registry } from "prom-client";
import { parseTenantControlPlane, type TenantControlPlane, type TenantPhase } from "../api/index.js";
import type { KubeClient } from "../kube/client.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../kube/controller.js";
import type { EventRecorder } from "../kube/events.js";
import type { Informer } from "../kube/informer.js";
import { Resources, type KubeObject, type ObjectKey, type ResourceType } from "../kube/resources.js";
import {
  apiServerDeployment,
  apiServerServiceManifest,
  controllerManagerDeployment,
  etcdServiceManifest,
  etcdStatefulSet,
  etcdVersionFor,
  names,
  namespaceManifest,
  networkPolicyManifest,
  pdbManifest,
  resourceQuotaManifest,
  schedulerDeployment,
  type TenantContext,
} from "./manifests.js";
import {
  componentChecksum,
  describePlan,
  issuePki,
  kubeconfigSecretKey,
  pkiFromSecrets,
  pkiSecretName,
  pkiToSecrets,
  planPki,
  type ControlPlaneComponent,
  type SecretObject,
} from "./pki/index.js";
import { describeCertificate } from "../pki/certificates.js";
import { jsonEqual, mergeConditions, type ConditionInput } from "./status.js";
import { claimantOf, namespaceVerdict, type NamespaceVerdict } from "./namespace.js";
import { ApiError } from "../kube/errors.js";
import { driftToRepair } from "./drift.js";
import { podProblem } from "./pod-problems.js";
import type { TenantSecrets } from "./tenant-secrets.js";
import {
  checksumAnnotation,
  componentLabel,
  ownerUidAnnotation,
  pausedAnnotation,
  specHashAnnotation,
  tenantFinalizer,
  tenantLabel,
  versionLabel,
} from "../api/labels.js";

/** The raw object as it sits in the cache: not yet validated or defaulted. */
export interface RawTenantControlPlane extends KubeObject {
  spec?: Record<string, unknown>;
  status?: TenantControlPlane["status"];
}

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

interface WorkloadStatus extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    unavailableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

interface Pod extends KubeObject {
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ image?: string; state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

interface ServiceObject extends KubeObject {
  spec?: { clusterIP?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export interface OperatorCaches {
  tenants: Informer<RawTenantControlPlane>;
  namespaces: Informer<KubeObject>;
  deployments: Informer<WorkloadStatus>;
  statefulSets: Informer<WorkloadStatus>;
  services: Informer<ServiceObject>;
  pdbs: Informer<KubeObject>;
  networkPolicies: Informer<KubeObject>;
  resourceQuotas: Informer<KubeObject>;
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
}

type ComponentState = {
  ready: boolean;
  /** The condition's reason when not ready, where a generic one would hide what to fix. */
  reason?: string;
  version?: string;
  message: string;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
};

const day = 86_400_000;

export class TenantControlPlaneReconciler implements Reconciler {
  private readonly unschedulable?: Gauge<"tenant">;
  private readonly driftRepairs?: Counter<"kind">;
  private readonly now: () => Date;

  constructor(private readonly o: OperatorOptions) {
    this.now = o.now ?? (() => new Date());
    if (o.registry) {
      this.unschedulable =
        (o.registry.getSingleMetric("metapilot_tenant_unschedulable_pods") as Gauge<"tenant"> | undefined) ??
        new Gauge({
          name: "metapilot_tenant_unschedulable_pods",
          help: "Control-plane pods of a tenant that the scheduler cannot place (Pending, Unschedulable).",
          labelNames: ["tenant"],
          registers: [o.registry],
        });
      this.driftRepairs =
        (o.registry.getSingleMetric("metapilot_drift_repairs_total") as Counter<"kind"> | undefined) ??
        new Counter({
          name: "metapilot_drift_repairs_total",
          help: "Managed objects re-applied because a field metapilot owns was changed by someone else, by kind.",
          labelNames: ["kind"],
          registers: [o.registry],
        });
    }
  }

  async reconcile(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    try {
      return await this.reconcilePipeline(key, rc);
    } catch (err) {
      // The error is retried with backoff; meanwhile the status says what is wrong, for this generation.
      const raw = this.o.caches.tenants.get(key.name);
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

  private async reconcilePipeline(key: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> {
    const raw = this.o.caches.tenants.get(key.name);
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
      this.o.recorder.record(raw, "Warning", "InvalidSpec", "Validate", parsed.errors.join("; "));
      return;
    }
    const tcp = parsed.value;
    if (tcp.spec.allowInsecureExtraArgs?.length && !this.o.allowInsecureExtraArgs) {
      const message =
        `spec.allowInsecureExtraArgs (${tcp.spec.allowInsecureExtraArgs.join(", ")}) is honoured only when the ` +
        "controller runs with --allow-insecure-extra-args; nothing is deployed until it is removed or allowed";
      await this.writeStatus(raw, {
        phase: raw.status?.phase ?? "Provisioning",
        conditions: [{ type: "Ready", status: "False", reason: "InsecureExtraArgsNotAllowed", message }],
      });
      this.o.recorder.record(raw, "Warning", "InsecureExtraArgsNotAllowed", "Validate", message);
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
      namespace: tcp.spec.namespace ?? `tcp-${raw.metadata.name}`,
      uid: raw.metadata.uid ?? "",
      imageRegistry: this.o.imageRegistry,
    };
    const conditions: ConditionInput[] = [];
    const resyncMs = this.o.resyncMs ?? 60 * 60_000;
    let requeueAfterMs = resyncMs;

    // 1. Namespace (only one metapilot created for this TenantControlPlane), isolation and quota.
    const verdict = this.namespaceVerdict(raw);
    if (verdict.action === "refuse") {
      // Nothing is written to the namespace; the TenantControlPlane says why and what to change. A change of the
      // namespace (deleted, annotated) or of another TenantControlPlane brings it back (see controller.ts).
      await this.writeStatus(raw, {
        phase: raw.status?.phase ?? "Provisioning",
        conditions: [
          { type: "NamespaceReady", status: "False", reason: verdict.reason, message: verdict.message },
          { type: "Ready", status: "False", reason: verdict.reason, message: verdict.message },
        ],
      });
      this.o.recorder.record(raw, "Warning", verdict.reason, "ClaimNamespace", verdict.message);
      return { requeueAfterMs: resyncMs, resync: true };
    }
    const namespaceObject = namespaceManifest(ctx);
    let namespaceUid = this.o.caches.namespaces.get(ctx.namespace)?.metadata?.uid ?? "";
    if (verdict.action === "create") {
      try {
        namespaceUid = (await this.o.client.create(Resources.Namespace, namespaceObject)).metadata?.uid ?? "";
      } catch (err) {
        // Created meanwhile by someone else: the next attempt sees it in the cache and decides again.
        if (err instanceof ApiError && err.isConflict)
          throw new Error(`namespace ${ctx.namespace} appeared while metapilot was creating it; checking it again`);
        throw err;
      }
    } else {
      if (verdict.action === "adopt")
        this.o.recorder.record(
          raw,
          "Normal",
          "NamespaceAdopted",
          "ClaimNamespace",
          `namespace ${ctx.namespace}: ${verdict.because}; marked with this TenantControlPlane's uid`,
        );
      // The uid is a precondition: a namespace deleted and created again by someone else since the cache saw it
      // is not written to.
      const uid = this.o.caches.namespaces.get(ctx.namespace)?.metadata?.uid;
      await this.ensure(
        Resources.Namespace,
        { ...namespaceObject, metadata: { ...namespaceObject.metadata, uid } },
        this.o.caches.namespaces,
      );
    }
    // Secrets only in the namespaces metapilot created: it binds its tenant-secrets ClusterRole to itself here.
    if (!(await this.o.secrets.ensureAccess(ctx.namespace, namespaceUid, ctx.tenant, rc.signal))) {
      rc.logger.debug({ namespace: ctx.namespace }, "the Secret RoleBinding is not in effect yet; trying again");
      return { requeueAfterMs: 500 };
    }
    conditions.push(
      cond(
        "NamespaceReady",
        true,
        "NamespaceOwned",
        `namespace ${ctx.namespace} was created by metapilot for this TenantControlPlane`,
      ),
    );
    await this.ensure(Resources.NetworkPolicy, networkPolicyManifest(ctx), this.o.caches.networkPolicies);
    const quota = resourceQuotaManifest(ctx);
    if (quota) await this.ensure(Resources.ResourceQuota, quota, this.o.caches.resourceQuotas);
    else if (this.o.caches.resourceQuotas.get(`${ctx.namespace}/${names.resourceQuota}`)) {
      await this.o.client.delete(Resources.ResourceQuota, names.resourceQuota, ctx.namespace);
    }

    // 2. The apiserver Service first: its ClusterIP goes into the serving certificate.
    const service = (await this.ensure(
      Resources.Service,
      apiServerServiceManifest(ctx),
      this.o.caches.services,
    )) as ServiceObject;
    const clusterIP = service.spec?.clusterIP && service.spec.clusterIP !== "None" ? service.spec.clusterIP : undefined;
    const lbIngress = service.status?.loadBalancer?.ingress?.[0];
    const externalEndpoint = tcp.spec.service.externalEndpoint ?? lbIngress?.ip ?? lbIngress?.hostname;

    // 3. PKI.
    const pki = await this.reconcilePki(raw, ctx, clusterIP, externalEndpoint, rc.signal);
    requeueAfterMs = Math.min(requeueAfterMs, pki.renewInMs);

    // 4. etcd.
    const etcd = this.withUnschedulable(ctx, "etcd", await this.reconcileEtcd(raw, ctx, pki.checksums.etcd));
    conditions.push(
      cond("EtcdReady", etcd.ready, etcd.ready ? "EtcdAvailable" : (etcd.reason ?? "EtcdNotReady"), etcd.message),
    );

    // 5. kube-apiserver: moves to a new version only once etcd is ready.
    const apiserverName = names.apiserver;
    const currentApiVersion = this.runningVersion(ctx, apiserverName);
    const apiVersion = !currentApiVersion || etcd.ready ? tcp.spec.version : currentApiVersion;
    await this.ensure(
      Resources.Deployment,
      apiServerDeployment(ctx, { version: apiVersion, pkiChecksum: pki.checksums["kube-apiserver"] }),
      this.o.caches.deployments,
      raw,
    );
    await this.ensure(Resources.PodDisruptionBudget, pdbManifest(ctx, "kube-apiserver"), this.o.caches.pdbs);
    const apiserver = this.withUnschedulable(
      ctx,
      "kube-apiserver",
      this.deploymentState(ctx, apiserverName, apiVersion),
    );
    const apiserverDone = apiserver.ready && apiVersion === tcp.spec.version;
    conditions.push(
      cond(
        "APIServerReady",
        apiserver.ready,
        apiserver.ready ? "DeploymentAvailable" : (apiserver.reason ?? "RollingOut"),
        apiserver.message,
      ),
    );

    // 6. controller-manager and scheduler: new version only after the apiserver runs it everywhere.
    const rest: Array<[ControlPlaneComponent, string, typeof controllerManagerDeployment]> = [
      ["kube-controller-manager", "ControllerManagerReady", controllerManagerDeployment],
      ["kube-scheduler", "SchedulerReady", schedulerDeployment],
    ];
    const states: Record<string, ComponentState> = { etcd, "kube-apiserver": apiserver };
    for (const [component, conditionType, manifest] of rest) {
      const current = this.runningVersion(ctx, component);
      const version = !current || apiserverDone ? tcp.spec.version : current;
      await this.ensure(
        Resources.Deployment,
        manifest(ctx, { version, pkiChecksum: pki.checksums[component] }),
        this.o.caches.deployments,
        raw,
      );
      await this.ensure(Resources.PodDisruptionBudget, pdbManifest(ctx, component), this.o.caches.pdbs);
      const state = this.withUnschedulable(ctx, component, this.deploymentState(ctx, component, version));
      states[component] = state;
      conditions.push(
        cond(
          conditionType,
          state.ready,
          state.ready ? "DeploymentAvailable" : (state.reason ?? "RollingOut"),
          state.message,
        ),
      );
    }

    // 7. Pending control-plane pods: the node pools grow on this signal.
    this.reportUnschedulable(raw, ctx);

    const allReady = Object.values(states).every((s) => s.ready);
    const allAtVersion = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"].every(
      (c) => states[c]?.version === tcp.spec.version,
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
      this.o.recorder.record(
        raw,
        "Normal",
        previous?.version ? "Upgraded" : "Provisioned",
        "Reconcile",
        `control plane ready at ${tcp.spec.version}`,
      );
    }
    const port = 6443;
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
      })),
      pki: pki.status,
    });
    rc.logger.debug({ phase, ready }, "reconciled tenant control plane");
    // The hourly resync waits behind changes; a certificate renewal sooner than that does not.
    return { requeueAfterMs: Math.max(1000, requeueAfterMs), resync: requeueAfterMs >= resyncMs };
  }

  // --- steps ----------------------------------------------------------------------------------------------

  /**
   * Server-side applies `desired` unless the cached object already carries the same content hash. A workload
   * (`owner` given) with the same hash is still compared field by field with the cache, and re-applied when a
   * field metapilot owns was edited by hand: drift is repaired on the edit's own watch event or the next resync.
   */
  private async ensure(
    t: ResourceType,
    desired: KubeObject,
    cache: { get(key: string): KubeObject | undefined },
    owner?: RawTenantControlPlane,
  ): Promise<KubeObject> {
    const key = desired.metadata?.namespace
      ? `${desired.metadata.namespace}/${desired.metadata.name}`
      : (desired.metadata?.name ?? "");
    const cached = cache.get(key);
    if (
      cached &&
      cached.metadata?.annotations?.[specHashAnnotation] === desired.metadata?.annotations?.[specHashAnnotation]
    ) {
      const drifted = owner ? driftToRepair(desired, cached) : [];
      if (drifted.length === 0) return cached;
      const applied = await this.o.client.apply(t, desired);
      this.driftRepairs?.inc({ kind: desired.kind ?? t.kind });
      this.o.recorder.record(
        owner!,
        "Warning",
        "DriftRepaired",
        "Repair",
        `${desired.kind} ${key} was changed outside metapilot; re-applied ${drifted.join(", ")}`,
      );
      return applied;
    }
    return this.o.client.apply(t, desired);
  }

  private async reconcilePki(
    raw: RawTenantControlPlane,
    ctx: TenantContext,
    clusterIP: string | undefined,
    externalEndpoint: string | undefined,
    signal: AbortSignal,
  ): Promise<{
    checksums: Record<ControlPlaneComponent, string>;
    renewInMs: number;
    status: NonNullable<TenantControlPlane["status"]>["pki"];
  }> {
    const { tcp } = ctx;
    const secrets: Secret[] = await this.o.secrets.list(ctx.namespace, ctx.tenant, { signal });
    const existing = pkiFromSecrets(ctx.tenant, secrets);
    const now = this.now();
    const spec = {
      tenantName: ctx.tenant,
      namespace: ctx.namespace,
      serviceName: names.apiserver,
      clusterIP,
      externalEndpoint,
      certSANs: tcp.spec.certSANs ?? [],
      etcdServiceName: names.etcd,
      etcdStatefulSetName: names.etcd,
      etcdReplicas: tcp.spec.etcd.managed?.replicas ?? 1,
      validityDays: tcp.spec.pki.certificateValidityDays,
      caValidityDays: tcp.spec.pki.caValidityDays,
      now,
    };
    const plan = planPki(existing.pki, spec, {
      renewBeforeDays: tcp.spec.pki.renewBeforeDays,
      rotateCAGeneration: tcp.spec.pki.rotateCA,
    });
    let desiredSecrets: SecretObject[];
    if (plan.issue.length > 0) {
      const issued = await issuePki(plan, existing.pki);
      desiredSecrets = pkiToSecrets(issued, { tenantName: ctx.tenant, namespace: ctx.namespace });
      const cachedByName = new Map(secrets.map((s) => [s.metadata?.name, s]));
      for (const secret of desiredSecrets) {
        const cached = cachedByName.get(secret.metadata.name);
        if (cached?.metadata?.annotations?.[checksumAnnotation] === secret.metadata.annotations[checksumAnnotation])
          continue;
        this.o.secrets.remember(await this.o.client.apply(Resources.Secret, secret as unknown as KubeObject));
      }
      this.o.recorder.record(
        raw,
        "Normal",
        "CertificatesIssued",
        "IssuePKI",
        describePlan(plan).join("; ").slice(0, 1000),
      );
    } else {
      desiredSecrets = secrets.map((s) => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: s.metadata?.name ?? "", namespace: ctx.namespace, labels: {}, annotations: {} },
        type: "Opaque",
        data: s.data ?? {},
      })) as SecretObject[];
    }
    const checksums = {} as Record<ControlPlaneComponent, string>;
    for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) {
      checksums[c] = componentChecksum(c, ctx.tenant, desiredSecrets);
    }
    // Next renewal: the earliest leaf expiry minus renewBeforeDays.
    let earliest = Infinity;
    let caNotAfter: string | undefined;
    for (const s of desiredSecrets) {
      const crt = s.data["tls.crt"];
      if (!crt) continue;
      const notAfter = describeCertificate(Buffer.from(crt, "base64").toString()).notAfter;
      if (s.metadata.name === pkiSecretName(ctx.tenant, "ca")) caNotAfter = notAfter.toISOString();
      else earliest = Math.min(earliest, notAfter.getTime());
    }
    const renewAt = earliest - tcp.spec.pki.renewBeforeDays * day;
    return {
      checksums,
      renewInMs: Number.isFinite(renewAt) ? Math.max(1000, renewAt - now.getTime()) : 60_000,
      status: {
        caNotAfter,
        certificatesNotAfter: Number.isFinite(earliest) ? new Date(earliest).toISOString() : undefined,
        caGeneration: tcp.spec.pki.rotateCA,
      },
    };
  }

  private async reconcileEtcd(
    raw: RawTenantControlPlane,
    ctx: TenantContext,
    pkiChecksum: string,
  ): Promise<ComponentState> {
    const external = ctx.tcp.spec.etcd.external;
    if (external) {
      const ns = external.secretRef.namespace ?? ctx.namespace;
      const refusal = externalSecretRefusal(ns, ctx.namespace, this.o.externalEtcdSecretNamespaces ?? []);
      if (refusal) {
        // Not even read: a TenantControlPlane must not be a way to copy another namespace's Secret.
        this.o.recorder.record(raw, "Warning", "SecretNamespaceNotAllowed", "ReadExternalEtcdSecret", refusal);
        return { ready: false, reason: "SecretNamespaceNotAllowed", message: refusal };
      }
      const source = await this.o.client.getOptional<Secret>(Resources.Secret, external.secretRef.name, ns);
      if (!source?.data)
        return {
          ready: false,
          message: `external etcd Secret ${ns}/${external.secretRef.name} not found: create it with ca.crt, tls.crt and tls.key`,
        };
      const missing = ["ca.crt", "tls.crt", "tls.key"].filter((k) => !source.data?.[k]);
      if (missing.length)
        return {
          ready: false,
          message: `external etcd Secret ${ns}/${external.secretRef.name} lacks ${missing.join(", ")}`,
        };
      const copy = await this.ensure(
        Resources.Secret,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: names.externalEtcdSecret,
            namespace: ctx.namespace,
            labels: { [tenantLabel]: ctx.tenant, [componentLabel]: "etcd" },
            annotations: { [specHashAnnotation]: `${source.metadata?.resourceVersion}` },
          },
          data: {
            "ca.crt": source.data["ca.crt"] ?? "",
            "tls.crt": source.data["tls.crt"] ?? "",
            "tls.key": source.data["tls.key"] ?? "",
          },
        } as KubeObject,
        this.o.secrets,
      );
      this.o.secrets.remember(copy);
      return { ready: true, message: `external etcd at ${external.endpoints.join(", ")}` };
    }
    const etcdVersion = etcdVersionFor(ctx.tcp, ctx.tcp.spec.version);
    await this.ensure(Resources.Service, etcdServiceManifest(ctx), this.o.caches.services);
    const sts = etcdStatefulSet(ctx, { version: ctx.tcp.spec.version, etcdVersion, pkiChecksum });
    if (sts) await this.ensure(Resources.StatefulSet, sts, this.o.caches.statefulSets, raw);
    await this.ensure(Resources.PodDisruptionBudget, pdbManifest(ctx, "etcd"), this.o.caches.pdbs);
    const cached = this.o.caches.statefulSets.get(`${ctx.namespace}/${names.etcd}`);
    const want = ctx.tcp.spec.etcd.managed?.replicas ?? 1;
    const s = cached?.status ?? {};
    const rolledOut =
      !!cached &&
      cached.metadata?.annotations?.[specHashAnnotation] === sts?.metadata?.annotations?.[specHashAnnotation] &&
      (s.observedGeneration ?? 0) >= (cached.metadata?.generation ?? 1) &&
      (s.readyReplicas ?? 0) >= want &&
      (s.updatedReplicas ?? 0) >= want &&
      (!s.updateRevision || s.currentRevision === s.updateRevision);
    return {
      ready: rolledOut,
      version: cached?.metadata?.labels?.[versionLabel],
      replicas: s.replicas,
      readyReplicas: s.readyReplicas,
      updatedReplicas: s.updatedReplicas,
      message: rolledOut
        ? `${want}/${want} members ready`
        : `${s.readyReplicas ?? 0}/${want} members ready, ${s.updatedReplicas ?? 0} updated`,
    };
  }

  /** The version a component's Deployment runs now (its label), if it exists. */
  private runningVersion(ctx: TenantContext, component: string): string | undefined {
    return this.o.caches.deployments.get(`${ctx.namespace}/${component}`)?.metadata?.labels?.[versionLabel];
  }

  private deploymentState(ctx: TenantContext, component: string, version: string): ComponentState {
    const d = this.o.caches.deployments.get(`${ctx.namespace}/${component}`);
    const want = d?.spec?.replicas ?? 1;
    const s = d?.status ?? {};
    const current = d?.metadata?.labels?.[versionLabel] === version;
    const ready =
      !!d &&
      current &&
      (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
      (s.updatedReplicas ?? 0) >= want &&
      (s.availableReplicas ?? 0) >= want &&
      (s.replicas ?? 0) === want &&
      !s.unavailableReplicas;
    return {
      ready,
      version: d?.metadata?.labels?.[versionLabel],
      replicas: s.replicas,
      readyReplicas: s.readyReplicas,
      updatedReplicas: s.updatedReplicas,
      message: !d
        ? "Deployment not created yet"
        : ready
          ? `${want}/${want} available at ${version}`
          : `${s.availableReplicas ?? 0}/${want} available, ${s.updatedReplicas ?? 0} updated to ${version}`,
    };
  }

  /**
   * A component that is not ready because of its pods says why. The scheduler cannot place them (spec.scheduling
   * that matches no node, too little room): reason Unschedulable and the scheduler's own message, e.g. "0/20 nodes
   * are available: 20 node(s) didn't match Pod's node affinity/selector". The kubelet cannot get an image (absent
   * from the registry or the node, a wrong spec.imageRegistry): reason ImagePullFailed, naming the image and the
   * fields that choose it (src/operator/pod-problems.ts).
   */
  private withUnschedulable(
    ctx: TenantContext,
    component: ControlPlaneComponent,
    state: ComponentState,
  ): ComponentState {
    if (state.ready) return state;
    const pods = this.o.caches.pods.listNamespace(
      ctx.namespace,
      (p) => p.metadata?.labels?.[componentLabel] === component && p.status?.phase === "Pending",
    );
    const problem = podProblem(component, pods);
    if (!problem) return state;
    return { ...state, reason: problem.reason, message: `${state.message}; ${problem.message}`.slice(0, 1024) };
  }

  private reportUnschedulable(raw: RawTenantControlPlane, ctx: TenantContext): void {
    const pending = this.o.caches.pods.listNamespace(
      ctx.namespace,
      (p) =>
        p.status?.phase === "Pending" &&
        (p.status.conditions ?? []).some(
          (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
        ),
    );
    this.unschedulable?.set({ tenant: ctx.tenant }, pending.length);
    if (pending.length > 0) {
      this.o.recorder.record(
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

  /** May this TenantControlPlane use (and delete) its namespace? See src/operator/namespace.ts. */
  private namespaceVerdict(raw: RawTenantControlPlane): NamespaceVerdict {
    const tenant = claimantOf(raw);
    return namespaceVerdict({
      tenant,
      existing: this.o.caches.namespaces.get(tenant.namespace),
      others: () =>
        this.o.caches.tenants
          .list()
          .filter((t) => t.metadata?.uid !== tenant.uid)
          .map(claimantOf),
      ownNamespaces: this.o.ownNamespaces ?? [],
    });
  }

  // --- finalizer and deletion -----------------------------------------------------------------------------

  private async ensureFinalizer(raw: RawTenantControlPlane): Promise<void> {
    const finalizers = raw.metadata?.finalizers ?? [];
    if (finalizers.includes(tenantFinalizer)) return;
    await this.o.client.patch(
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
    await this.o.client.patch(
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
    const namespace = spec?.namespace ?? `tcp-${tenant}`;
    const retain = spec?.etcd?.managed !== undefined && spec.etcd.managed.deletionPolicy !== "Delete";
    const ns = this.o.caches.namespaces.get(namespace);
    // Only a namespace metapilot created for this TenantControlPlane is deleted, or emptied of tenant objects.
    const verdict = this.namespaceVerdict(raw);
    const ours =
      !!ns && (ns.metadata?.annotations?.[ownerUidAnnotation] === raw.metadata?.uid || verdict.action === "adopt");
    let waitingFor: string[] = [];
    if (ns && ours && !retain) {
      if (!ns.metadata?.deletionTimestamp)
        await this.o.client.delete(Resources.Namespace, namespace, undefined, { uid: ns.metadata?.uid });
      const left = this.o.caches.pods.listNamespace(namespace).length;
      waitingFor = [`namespace ${namespace} to terminate (${left} pods left)`];
    } else if (ns && ours) {
      // Retain: remove everything but the namespace and etcd's PersistentVolumeClaims.
      const inNs = <T extends KubeObject>(inf: Informer<T>) =>
        inf.listNamespace(namespace, (o) => o.metadata?.labels?.[tenantLabel] === tenant);
      const groups: Array<[ResourceType, KubeObject[]]> = [
        [Resources.Deployment, inNs(this.o.caches.deployments)],
        [Resources.StatefulSet, inNs(this.o.caches.statefulSets)],
        [Resources.Service, inNs(this.o.caches.services)],
        [Resources.PodDisruptionBudget, inNs(this.o.caches.pdbs)],
        [Resources.NetworkPolicy, inNs(this.o.caches.networkPolicies)],
        [Resources.ResourceQuota, inNs(this.o.caches.resourceQuotas)],
        [Resources.Secret, await this.retainedSecrets(namespace, tenant, rc.signal)],
      ];
      for (const [t, objs] of groups) {
        for (const obj of objs) {
          if (!obj.metadata?.deletionTimestamp) await this.o.client.delete(t, obj.metadata?.name ?? "", namespace);
        }
        if (objs.length) waitingFor.push(`${objs.length} ${t.plural}`);
      }
    }
    if (waitingFor.length === 0 && ns && ours && retain && !this.o.secrets.isUnbound(namespace)) {
      // Last, once its Secrets are gone: the binding that let metapilot read them in the retained namespace.
      await this.o.secrets.unbind(namespace);
    }
    if (waitingFor.length === 0) {
      this.o.secrets.forget(namespace);
      await this.removeFinalizer(raw);
      this.unschedulable?.remove({ tenant });
      rc.logger.info({ tenant, retained: retain }, "tenant control plane deleted");
      return;
    }
    await this.writeStatus(raw, {
      phase: "Deleting",
      deletion: {
        startedAt: raw.status?.deletion?.startedAt ?? this.now().toISOString(),
        message: `waiting for ${waitingFor.join(", ")}`,
      },
    });
    // Deletion progress arrives through watches; the requeue is a safety net, never a busy loop.
    return { requeueAfterMs: 10_000 };
  }

  /**
   * The tenant's Secrets left in a namespace retained at deletion. Refused means the RoleBinding is gone, which
   * metapilot deletes only after the last of them: none are left.
   */
  private async retainedSecrets(namespace: string, tenant: string, signal: AbortSignal): Promise<KubeObject[]> {
    if (this.o.secrets.isUnbound(namespace)) return [];
    try {
      return await this.o.secrets.list(namespace, tenant, { fresh: true, signal });
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 403 && this.o.secrets.access) return [];
      throw err;
    }
  }

  // --- status ---------------------------------------------------------------------------------------------

  private async writeStatus(
    raw: RawTenantControlPlane,
    patch: Partial<Omit<NonNullable<TenantControlPlane["status"]>, "conditions">> & { conditions?: ConditionInput[] },
    mergeOnly = false,
  ): Promise<void> {
    const previous = raw.status ?? {};
    const generation = raw.metadata?.generation;
    const { conditions: nextConditions, ...rest } = patch;
    let conditions = previous.conditions;
    if (nextConditions) {
      const merged = mergeConditions(previous.conditions, nextConditions, generation, this.now());
      conditions = mergeOnly
        ? [...(previous.conditions ?? []).filter((c) => !nextConditions.some((n) => n.type === c.type)), ...merged]
        : merged;
    }
    const next = { ...previous, ...rest, conditions, observedGeneration: generation };
    if (!mergeOnly && !nextConditions?.some((c) => c.type === "Paused")) {
      next.conditions = (next.conditions ?? []).filter((c) => c.type !== "Paused");
    }
    if (jsonEqual(previous, next)) return;
    await this.o.client.applyStatus(Resources.TenantControlPlane, {
      metadata: { name: raw.metadata?.name },
      status: next,
    } as RawTenantControlPlane);
  }
}

/**
 * Why spec.etcd.external.secretRef may not name `secretNamespace`, or undefined when it may: the tenant's own
 * namespace always, another only when the controller's --external-etcd-secret-namespaces lists it.
 */
export function externalSecretRefusal(
  secretNamespace: string,
  tenantNamespace: string,
  allowed: readonly string[],
): string | undefined {
  if (secretNamespace === tenantNamespace || allowed.includes(secretNamespace)) return undefined;
  return (
    `spec.etcd.external.secretRef.namespace ${secretNamespace} is not allowed: the Secret must be in the tenant ` +
    `namespace ${tenantNamespace}${allowed.length ? ` or one of ${allowed.join(", ")}` : ""}. Copy it there, or ask ` +
    "the platform admin to list its namespace in the controller's --external-etcd-secret-namespaces " +
    "(chart value externalEtcdSecretNamespaces); it was not read"
  );
}

function cond(type: string, ok: boolean, reason: string, message: string): ConditionInput {
  return { type, status: ok ? "True" : "False", reason, message };
}
