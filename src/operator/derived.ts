// Settings derived from a component's size. They are flags and environment variables, read once at start-up, so
// unlike CPU and memory (resized in place, src/operator/steps/resize.ts) they change only with a restart.
//
// - GOMEMLIMIT, for every component (all four are Go programs): 90% of the container's memory limit. The Go garbage
//   collector then works harder as the heap nears the limit instead of letting the kernel OOM-kill the container,
//   and the 10% is left to what the Go runtime does not count (thread stacks outside the heap accounting, cgo,
//   the page cache charged to the cgroup). HyperShift couples the two too, but by size class: its
//   ClusterSizingConfiguration gives each t-shirt size an effect `kasGoMemLimit` (written to the HostedCluster as the
//   annotation hypershift.openshift.io/kube-apiserver-gomemlimit, and from there to the kube-apiserver container's
//   GOMEMLIMIT; openshift/hypershift api/scheduling/v1alpha1/clustersizingconfiguration_types.go,
//   control-plane-operator/controllers/hostedcontrolplane/v2/kas/deployment.go), for the apiserver only. metapilot
//   sizes by the limit itself, since a ClusterScaler moves it in steps finer than a size class.
// - --max-requests-inflight and --max-mutating-requests-inflight, for kube-apiserver: with API Priority and
//   Fairness (on by default) their sum is the server's concurrency limit, shared out among the priority levels.
//   HyperShift runs 3000 and 1000 (defaultMaxRequestsInflight, defaultMaxMutatingRequestsInflight in
//   control-plane-operator/controllers/hostedcontrolplane/v2/kas/params.go) and lets a size class override them
//   (effects maximumRequestsInFlight / maximumMutatingRequestsInflight, annotations
//   hypershift.openshift.io/kube-apiserver-max-requests-inflight and ...-max-mutating-requests-inflight;
//   docs/content/how-to/azure/scheduler.md). metapilot scales them with the container's CPU: 400 and 200 per core
//   (kube-apiserver's own defaults, which fit one core), in steps of 100 and 50, from those defaults up to
//   HyperShift's 3000 and 1000. More concurrency than the CPU can serve only queues work inside the server and
//   grows its memory; less makes APF reject (429) what the CPU could have served.
//
// A user's own value wins: an extraArgs entry for either flag, or extraEnv.GOMEMLIMIT, and metapilot derives nothing
// for it. A derived value that changes waits for the next restart the component needs anyway unless
// spec.resourceUpdates.derivedSettings is Immediately (src/operator/steps/resize.ts).
import { parseQuantity, type TenantControlPlane } from "../api/index.js";
import type { ControlPlaneComponent } from "./pki/index.js";

type Resources = NonNullable<TenantControlPlane["spec"]["apiServer"]["resources"]>;

/** The settings metapilot may derive: an environment variable and two kube-apiserver flags. */
export const DERIVED_KEYS = ["GOMEMLIMIT", "max-requests-inflight", "max-mutating-requests-inflight"] as const;
export type DerivedKey = (typeof DERIVED_KEYS)[number];
/** Derived values by key; a key metapilot owns but derives nothing for (no memory limit) is absent. */
export type DerivedSettings = Partial<Record<DerivedKey, string>>;

export const envKeys: readonly DerivedKey[] = ["GOMEMLIMIT"];
export const flagKeys: readonly DerivedKey[] = ["max-requests-inflight", "max-mutating-requests-inflight"];

/** The share of the memory limit given to GOMEMLIMIT. */
export const goMemLimitFraction = 0.9;

const MiB = 2 ** 20;

/** GOMEMLIMIT for a memory limit: 90% of it, rounded down to whole MiB, in the Go runtime's syntax. Pure. */
export function goMemLimitFor(memoryLimit: string): string | undefined {
  const bytes = parseQuantity(memoryLimit);
  if (!(bytes > 0)) return undefined;
  return `${Math.max(1, Math.floor((bytes * goMemLimitFraction) / MiB))}MiB`;
}

export const inflightPerCore = { requests: 400, mutating: 200 } as const;
export const inflightStep = { requests: 100, mutating: 50 } as const;
/** kube-apiserver's own defaults (one core) and HyperShift's values (the ceiling). */
export const inflightBounds = {
  requests: { min: 400, max: 3000 },
  mutating: { min: 200, max: 1000 },
} as const;

/** The two in-flight limits for a CPU quantity (the limit, else the request). Pure. */
export function inflightFor(cpu: string): { requests: number; mutating: number } {
  const cores = parseQuantity(cpu);
  const scaled = (kind: "requests" | "mutating") => {
    const raw = Math.floor((cores * inflightPerCore[kind]) / inflightStep[kind]) * inflightStep[kind];
    return Math.min(inflightBounds[kind].max, Math.max(inflightBounds[kind].min, raw));
  };
  return { requests: scaled("requests"), mutating: scaled("mutating") };
}

export interface UserSettings {
  extraArgs?: Record<string, string>;
  extraEnv?: Partial<Record<string, string>>;
}

/** The keys metapilot derives for a component, less those the user set. Pure. */
export function ownedKeys(component: ControlPlaneComponent, user: UserSettings): DerivedKey[] {
  const keys: DerivedKey[] = component === "kube-apiserver" ? [...DERIVED_KEYS] : ["GOMEMLIMIT"];
  return keys.filter((k) =>
    envKeys.includes(k) ? user.extraEnv?.[k] === undefined : user.extraArgs?.[k] === undefined,
  );
}

/** What metapilot derives for a component of these resources and these user settings. Pure. */
export function deriveSettings(
  component: ControlPlaneComponent,
  resources: Resources | undefined,
  user: UserSettings,
): DerivedSettings {
  const out: DerivedSettings = {};
  const owned = ownedKeys(component, user);
  const memoryLimit = resources?.limits?.memory;
  if (owned.includes("GOMEMLIMIT") && memoryLimit) {
    const v = goMemLimitFor(memoryLimit);
    if (v) out.GOMEMLIMIT = v;
  }
  const cpu = resources?.limits?.cpu ?? resources?.requests?.cpu;
  if (component === "kube-apiserver" && cpu) {
    const { requests, mutating } = inflightFor(cpu);
    if (owned.includes("max-requests-inflight")) out["max-requests-inflight"] = String(requests);
    if (owned.includes("max-mutating-requests-inflight")) out["max-mutating-requests-inflight"] = String(mutating);
  }
  return out;
}

interface ContainerLike {
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

/**
 * The derived settings a pod template carries for the keys metapilot owns: what is in force once its pods run it
 * (or the value a user set before, now owned by metapilot). Pure.
 */
export function settingsInTemplate(
  container: ContainerLike | undefined,
  owned: readonly DerivedKey[],
): DerivedSettings {
  const out: DerivedSettings = {};
  for (const k of owned) {
    if (envKeys.includes(k)) {
      const v = container?.env?.find((e) => e.name === k)?.value;
      if (v !== undefined) out[k] = v;
    } else {
      const prefix = `--${k}=`;
      const arg = container?.args?.findLast((a) => a.startsWith(prefix));
      if (arg !== undefined) out[k] = arg.slice(prefix.length);
    }
  }
  return out;
}

export function sameSettings(a: DerivedSettings, b: DerivedSettings): boolean {
  return DERIVED_KEYS.every((k) => a[k] === b[k]);
}

/** "GOMEMLIMIT=1843MiB, --max-requests-inflight=400", or "none". Pure. */
export function describeSettings(s: DerivedSettings): string {
  const parts = DERIVED_KEYS.filter((k) => s[k] !== undefined).map((k) =>
    envKeys.includes(k) ? `${k}=${s[k]}` : `--${k}=${s[k]}`,
  );
  return parts.length ? parts.join(", ") : "none";
}
