// The tenant's PKI: CAs, serving and client certificates and the kubeconfigs, as Secrets in its namespace. A
// certificate is issued again only when the plan says so (missing, expiring, a new SAN, a CA rotation); the
// checksums of what each component mounts roll its pods when that changes.
import { ApiError } from "../../kube/errors.js";
import { Resources, type KubeObject } from "../../kube/resources.js";
import { checksumAnnotation } from "../../api/labels.js";
import { describeCertificate } from "../../pki/certificates.js";
import { names, type TenantContext } from "../manifests.js";
import {
  componentChecksum,
  describePlan,
  issuePki,
  pkiFromSecrets,
  pkiSecretName,
  pkiToSecrets,
  planPki,
  type ControlPlaneComponent,
  type SecretObject as PkiSecret,
} from "../pki/index.js";
import type { SecretObject } from "../tenant-secrets.js";
import { deleteTenantObjects } from "./apply.js";
import type { FinalizeContext, PkiOutcome, Step, StepContext } from "./step.js";

const day = 86_400_000;

/** What planPki needs to know of the tenant: its names, the apiserver's addresses, validity. */
export function pkiSpec(
  ctx: TenantContext,
  clusterIP: string | undefined,
  externalEndpoint: string | undefined,
  now: Date,
) {
  const { tcp } = ctx;
  return {
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
}

/** Secrets as they are, when nothing is issued: what the checksums and the expiry are computed from. */
function asFound(ctx: TenantContext, secrets: readonly SecretObject[]): PkiSecret[] {
  return secrets.map((s) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: s.metadata?.name ?? "", namespace: ctx.namespace, labels: {}, annotations: {} },
    type: "Opaque",
    data: s.data ?? {},
  })) as PkiSecret[];
}

/** The checksums per component, the next renewal and status.pki, from the Secrets the components mount. */
export function pkiOutcome(ctx: TenantContext, secrets: PkiSecret[], now: Date): PkiOutcome {
  const checksums = {} as Record<ControlPlaneComponent, string>;
  for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) {
    checksums[c] = componentChecksum(c, ctx.tenant, secrets);
  }
  // Next renewal: the earliest leaf expiry minus renewBeforeDays.
  let earliest = Infinity;
  let caNotAfter: string | undefined;
  for (const s of secrets) {
    const crt = s.data["tls.crt"];
    if (!crt) continue;
    const notAfter = describeCertificate(Buffer.from(crt, "base64").toString()).notAfter;
    if (s.metadata.name === pkiSecretName(ctx.tenant, "ca")) caNotAfter = notAfter.toISOString();
    else earliest = Math.min(earliest, notAfter.getTime());
  }
  const renewAt = earliest - ctx.tcp.spec.pki.renewBeforeDays * day;
  return {
    secrets,
    checksums,
    renewInMs: Number.isFinite(renewAt) ? Math.max(1000, renewAt - now.getTime()) : 60_000,
    status: {
      caNotAfter,
      certificatesNotAfter: Number.isFinite(earliest) ? new Date(earliest).toISOString() : undefined,
      caGeneration: ctx.tcp.spec.pki.rotateCA,
    },
  };
}

async function applyPki({ deps, raw, ctx, found, rc }: StepContext): Promise<void> {
  const { tcp } = ctx;
  const secrets = await deps.secrets.list(ctx.namespace, ctx.tenant, { signal: rc.signal });
  const existing = pkiFromSecrets(ctx.tenant, secrets);
  const now = deps.now();
  const plan = planPki(existing.pki, pkiSpec(ctx, found.clusterIP, found.externalEndpoint, now), {
    renewBeforeDays: tcp.spec.pki.renewBeforeDays,
    rotateCAGeneration: tcp.spec.pki.rotateCA,
  });
  if (plan.issue.length === 0) {
    found.pki = pkiOutcome(ctx, asFound(ctx, secrets), now);
    return;
  }
  const issued = pkiToSecrets(await issuePki(plan, existing.pki), { tenantName: ctx.tenant, namespace: ctx.namespace });
  found.pki = pkiOutcome(ctx, issued, now);
  const cachedByName = new Map(secrets.map((s) => [s.metadata?.name, s]));
  for (const secret of pkiStep.define(ctx, found)) {
    const cached = cachedByName.get(secret.metadata?.name);
    if (cached?.metadata?.annotations?.[checksumAnnotation] === secret.metadata?.annotations?.[checksumAnnotation])
      continue;
    deps.secrets.remember(await deps.client.apply(Resources.Secret, secret));
  }
  deps.recorder.record(raw, "Normal", "CertificatesIssued", "IssuePKI", describePlan(plan).join("; ").slice(0, 1000));
}

/**
 * The tenant's Secrets left in a namespace retained at deletion. Refused means the RoleBinding is gone, which
 * metapilot deletes only after the last of them: none are left.
 */
async function retainedSecrets(fc: FinalizeContext): Promise<KubeObject[]> {
  const { secrets } = fc.deps;
  if (secrets.isUnbound(fc.namespace)) return [];
  try {
    return await secrets.list(fc.namespace, fc.tenant, { fresh: true, signal: fc.signal });
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 403 && secrets.access) return [];
    throw err;
  }
}

export const pkiStep: Step = {
  name: "pki",
  // Keys and certificates are issued in apply (neither pure nor cheap); define gives the Secrets it settled on.
  define: (_ctx, found) => (found.pki?.secrets ?? []) as unknown as KubeObject[],
  apply: applyPki,
  // status.pki, not a condition: the reconciler writes it from found.pki.
  status: () => [],
  // Every Secret of the tenant: its PKI and the copy of an external etcd's client certificate.
  async cleanup(fc) {
    if (!fc.retain) return [];
    return deleteTenantObjects(fc, Resources.Secret, await retainedSecrets(fc), "all");
  },
};
