// extraArgs that would switch a tenant control plane's security off. Whoever may write a TenantControlPlane
// chooses its components' flags, and the components run in the meta-cluster with metapilot's PKI mounted, so
// some flags are not the tenant's to choose: they open unauthenticated access, replace the identities and trust
// anchors metapilot wires up, or point the apiserver at another data store. The list below is enforced by the CRD
// (CEL, generated from this list) and, for objects stored before the rule existed, by the operator (the same list
// in TypeScript, through the zod schema).
//
// The escape hatch is spec.allowInsecureExtraArgs: flag names a platform admin allows for one TenantControlPlane.
// A tenant cannot use it alone: the operator honours it only when the controller runs with
// --allow-insecure-extra-args, and the chart, which sets that flag only with tenantSecurity.allowInsecureExtraArgs,
// then also installs a ValidatingAdmissionPolicy that lets only tenantSecurity.platformAdminGroups set or change
// the field, or any extraArgs while it is set.
import { z } from "zod";
import type { ValueRule } from "./rules.js";

export type ExtraArgsComponent = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

/** One denied flag: always, or only for some values. */
export interface DeniedFlag {
  /** The flag name without dashes. */
  flag: string;
  /** Why it is denied, for the error message. */
  reason: string;
  /** The flag is fine only with one of these values (e.g. anonymous-auth only "false"). */
  onlyValues?: readonly string[];
  /** The flag is denied only when its value contains this (e.g. AlwaysAllow in authorization-mode). */
  deniedIfContains?: string;
  /** The flag is denied only when its value does not contain this (e.g. NodeRestriction). */
  deniedUnlessContains?: string;
}

/** Flag-name prefixes denied whatever follows. */
export interface DeniedPrefix {
  prefix: string;
  reason: string;
}

const falseValues = ["false", "False", "FALSE", "0", "f", "F"] as const;
const trueValues = ["true", "True", "TRUE", "1", "t", "T"] as const;

const servingAndClientTrust: DeniedFlag[] = [
  { flag: "client-ca-file", reason: "replaces the CA that authenticates clients" },
  { flag: "tls-cert-file", reason: "replaces the serving certificate" },
  { flag: "tls-private-key-file", reason: "replaces the serving key" },
  { flag: "tls-sni-cert-key", reason: "adds serving certificates" },
  { flag: "insecure-port", reason: "serves without authentication (legacy insecure port)" },
  { flag: "insecure-bind-address", reason: "serves without authentication (legacy insecure port)" },
  { flag: "port", reason: "serves without authentication (legacy insecure port)" },
  { flag: "address", reason: "serves without authentication (legacy insecure port)" },
];

const kubeconfigs: DeniedFlag[] = [
  { flag: "kubeconfig", reason: "changes the credentials it uses (empty falls back to in-cluster credentials)" },
  { flag: "master", reason: "changes the apiserver it talks to" },
  { flag: "authentication-kubeconfig", reason: "changes who authenticates its callers" },
  { flag: "authorization-kubeconfig", reason: "changes who authorizes its callers" },
  { flag: "authorization-always-allow-paths", reason: "serves paths without authorization" },
];

export const deniedFlags: Record<ExtraArgsComponent, readonly DeniedFlag[]> = {
  "kube-apiserver": [
    ...servingAndClientTrust,
    { flag: "anonymous-auth", reason: "only false may be set: anonymous requests", onlyValues: falseValues },
    { flag: "authorization-mode", reason: "AlwaysAllow authorizes every request", deniedIfContains: "AlwaysAllow" },
    {
      flag: "enable-admission-plugins",
      reason: "must keep NodeRestriction",
      deniedUnlessContains: "NodeRestriction",
    },
    {
      flag: "disable-admission-plugins",
      reason: "must not disable NodeRestriction",
      deniedIfContains: "NodeRestriction",
    },
    { flag: "authorization-config", reason: "replaces the authorizers" },
    { flag: "authorization-policy-file", reason: "adds an ABAC policy" },
    { flag: "authorization-webhook-config-file", reason: "adds an authorization webhook" },
    { flag: "authentication-config", reason: "replaces the authenticators" },
    { flag: "authentication-token-webhook-config-file", reason: "adds a token authentication webhook" },
    { flag: "token-auth-file", reason: "adds static bearer tokens" },
    { flag: "basic-auth-file", reason: "adds static passwords" },
    { flag: "service-account-key-file", reason: "trusts other service-account signing keys" },
    { flag: "service-account-signing-key-file", reason: "replaces the service-account signing key" },
    { flag: "etcd-servers", reason: "points the apiserver at another data store" },
    { flag: "etcd-servers-overrides", reason: "points resources at another data store" },
    { flag: "etcd-prefix", reason: "reads and writes another key prefix" },
    { flag: "etcd-cafile", reason: "replaces the etcd trust anchor" },
    { flag: "etcd-certfile", reason: "replaces the etcd client certificate" },
    { flag: "etcd-keyfile", reason: "replaces the etcd client key" },
    { flag: "kubelet-client-certificate", reason: "replaces the apiserver's kubelet client certificate" },
    { flag: "kubelet-client-key", reason: "replaces the apiserver's kubelet client key" },
    { flag: "proxy-client-cert-file", reason: "replaces the front-proxy client certificate" },
    { flag: "proxy-client-key-file", reason: "replaces the front-proxy client key" },
  ],
  "kube-controller-manager": [
    ...servingAndClientTrust,
    ...kubeconfigs,
    { flag: "root-ca-file", reason: "replaces the CA handed to service accounts" },
    { flag: "service-account-private-key-file", reason: "replaces the service-account signing key" },
    {
      flag: "use-service-account-credentials",
      reason: "only true may be set: each controller with its own, narrower identity",
      onlyValues: trueValues,
    },
  ],
  "kube-scheduler": [
    ...servingAndClientTrust,
    ...kubeconfigs,
    { flag: "config", reason: "a configuration file carries its own client connection" },
  ],
};

export const deniedPrefixes: Record<ExtraArgsComponent, readonly DeniedPrefix[]> = {
  "kube-apiserver": [{ prefix: "requestheader-", reason: "changes who may assert identities through headers" }],
  "kube-controller-manager": [
    { prefix: "requestheader-", reason: "changes who may assert identities through headers" },
    { prefix: "cluster-signing-", reason: "replaces a certificate-signing CA" },
  ],
  "kube-scheduler": [{ prefix: "requestheader-", reason: "changes who may assert identities through headers" }],
};

/** Every flag name and prefix the deny-list knows, for the escape hatch's allowed values. */
export function deniedFlagNames(): string[] {
  const names = new Set<string>();
  for (const c of Object.keys(deniedFlags) as ExtraArgsComponent[]) {
    for (const d of deniedFlags[c]) names.add(d.flag);
    for (const p of deniedPrefixes[c]) names.add(`${p.prefix}*`);
  }
  return [...names].sort();
}

/**
 * A key must be a plain flag name: no leading dashes, no "=" (which would smuggle a value into the name), and no
 * "_", which the components read as "-" (anonymous_auth is anonymous-auth), so that every flag has one spelling
 * and the deny-list cannot be dodged.
 */
export const FLAG_KEY_PATTERN = "^[A-Za-z0-9][A-Za-z0-9.-]*$";

/** Whether `allowed` (spec.allowInsecureExtraArgs) lets the flag `name` through. */
function hatchAllows(name: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => a === name || (a.endsWith("*") && name.startsWith(a.slice(0, -1))));
}

function valueDenied(d: DeniedFlag, value: string): boolean {
  if (d.onlyValues) return !d.onlyValues.includes(value);
  if (d.deniedIfContains) return value.includes(d.deniedIfContains);
  if (d.deniedUnlessContains) return !value.includes(d.deniedUnlessContains);
  return true;
}

/**
 * The extraArgs of one component that the deny-list refuses and `allowed` does not let through, as
 * "flag (reason)". Empty when every flag is fine.
 */
export function deniedExtraArgs(
  component: ExtraArgsComponent,
  args: Readonly<Record<string, string>> | undefined,
  allowed: readonly string[] = [],
): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(args ?? {})) {
    if (!new RegExp(FLAG_KEY_PATTERN).test(key)) {
      out.push(`${key} (not a flag name: no leading dashes, "=" or "_"; write "-" for "_")`);
      continue;
    }
    if (hatchAllows(key, allowed)) continue;
    const d = deniedFlags[component].find((f) => f.flag === key);
    if (d) {
      if (valueDenied(d, value)) out.push(`${key} (${d.reason})`);
      continue;
    }
    const p = deniedPrefixes[component].find((x) => key.startsWith(x.prefix));
    if (p) out.push(`${key} (${p.reason})`);
  }
  return out;
}

// --- CEL -----------------------------------------------------------------------------------------------------------
// The apiserver estimates each rule's worst-case cost from the schema's bounds (64 keys of up to 317 characters,
// values of up to 4096), so the rules touch the keys in one pass of cheap operations and each value-dependent
// flag with a rule of its own that looks at one value, not every value.

const celString = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const celList = (xs: readonly string[]) => `[${xs.map(celString).join(", ")}]`;

/** CEL: the escape hatch lets the flag `name` (an expression) through. */
const celHatch = (name: string) =>
  `(has(self.allowInsecureExtraArgs) && self.allowInsecureExtraArgs.exists(a, a == ${name} || ` +
  `(a.endsWith('*') && ${name}.startsWith(a.substring(0, size(a) - 1)))))`;

interface SpecShape {
  apiServer?: { extraArgs?: Record<string, string> };
  controllerManager?: { extraArgs?: Record<string, string> };
  scheduler?: { extraArgs?: Record<string, string> };
  allowInsecureExtraArgs?: string[];
}

type Field = "apiServer" | "controllerManager" | "scheduler";

const componentFields: Array<[ExtraArgsComponent, Field]> = [
  ["kube-apiserver", "apiServer"],
  ["kube-controller-manager", "controllerManager"],
  ["kube-scheduler", "scheduler"],
];

const hatchHint = "; a platform admin can allow a flag in spec.allowInsecureExtraArgs";

function componentRules(component: ExtraArgsComponent, field: Field): Array<ValueRule<SpecShape>> {
  const map = `self.${field}.extraArgs`;
  const guard = `!has(self.${field}) || !has(${map}) || `;
  const args = (v: SpecShape | undefined) => v?.[field]?.extraArgs;
  const allowed = (v: SpecShape | undefined) => v?.allowInsecureExtraArgs ?? [];
  const common = { fieldPath: `.${field}.extraArgs`, reason: "FieldValueForbidden" as const };
  const keyRule: ValueRule<SpecShape> = {
    ...common,
    rule: `${guard}${map}.all(k, k.matches(${celString(FLAG_KEY_PATTERN)}))`,
    message: `${component} extraArgs keys must be flag names: no leading dashes, "=" or "_" (write "-" for "_")`,
    check: (v) => Object.keys(args(v) ?? {}).every((k) => new RegExp(FLAG_KEY_PATTERN).test(k)),
  };
  // One rule per denied flag, each looking at that one entry: its message names the flag, and its cost does not
  // grow with the map (a rule that lists the offenders costs more than the apiserver allows).
  const flagRules = deniedFlags[component].map((d): ValueRule<SpecShape> => {
    const v = `${map}[${celString(d.flag)}]`;
    const ok = d.onlyValues
      ? `${v} in ${celList(d.onlyValues)}`
      : d.deniedIfContains
        ? `!${v}.contains(${celString(d.deniedIfContains)})`
        : d.deniedUnlessContains
          ? `${v}.contains(${celString(d.deniedUnlessContains)})`
          : "false";
    return {
      ...common,
      rule: `${guard}!(${celString(d.flag)} in ${map}) || ${ok === "false" ? "" : `${ok} || `}${celHatch(celString(d.flag))}`,
      message: `${component} extraArgs would switch security off: ${d.flag} (${d.reason})${hatchHint}`,
      check: (x) => {
        const value = args(x)?.[d.flag];
        return value === undefined || !valueDenied(d, value) || hatchAllows(d.flag, allowed(x));
      },
    };
  });
  const prefixRules = deniedPrefixes[component].map((p): ValueRule<SpecShape> => ({
    ...common,
    rule: `${guard}${map}.all(k, !k.startsWith(${celString(p.prefix)}) || ${celHatch("k")})`,
    message: `${component} extraArgs would switch security off: ${p.prefix}* (${p.reason})${hatchHint}`,
    check: (v) => Object.keys(args(v) ?? {}).every((k) => !k.startsWith(p.prefix) || hatchAllows(k, allowed(v))),
  }));
  return [keyRule, ...flagRules, ...prefixRules];
}

/** The rules on the spec: each component's extraArgs may not switch security off, unless the hatch allows it. */
export const extraArgsRules: ReadonlyArray<ValueRule<SpecShape>> = componentFields.flatMap(([component, field]) =>
  componentRules(component, field),
);

export const AllowInsecureExtraArgs = z
  .array(
    z
      .string()
      .max(64)
      .regex(/^[a-z0-9][a-z0-9-]*\*?$/, { error: "must be a flag name without dashes, or a prefix ending in *" })
      .describe("A flag name (e.g. anonymous-auth) or a prefix ending in * (e.g. requestheader-*)."),
  )
  .max(32)
  .meta({ "x-kubernetes-list-type": "set" })
  .describe(
    "Escape hatch for platform admins: flags of the extraArgs deny-list that this TenantControlPlane may set " +
      `anyway (${deniedFlagNames().join(", ")}). It is honoured only when the controller runs with ` +
      "--allow-insecure-extra-args; the chart then installs a ValidatingAdmissionPolicy that lets only its " +
      "platformAdminGroups set this field, or change extraArgs while it is set.",
  );
