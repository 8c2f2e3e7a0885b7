// The backtest benchmark's synthetic fleet: N tenants, each with the four control-plane components (kube-apiserver
// with two replicas, controller-manager and scheduler with one, etcd as a StatefulSet of one), and their usage as
// functions of time in five shapes (idle, diurnal, growing, OOM storm, growing cluster), so that every path of the
// engine is taken: scale-downs after the stabilization window, sustained CPU and memory scale-ups, OOM answers and
// cluster-size growth. The same functions give the raw series written into Prometheus (bench/backtest.ts) and the
// history fetchHistory would rebuild from them (`syntheticHistory`, for the baseline and for profiling).
import type { BacktestWorkload } from "./inventory.js";
import { historyMetrics, stepsOf, type SignalHistory } from "./signals.js";
import { MiB } from "../scaler/quantity.js";
import type { ComponentName } from "../scaler/types.js";

const dayMs = 86_400_000;

/** A deterministic number in [0, 1) for a tuple of integers, so every run writes the same history. */
export function unitHash(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const x of parts) {
    h = Math.imul(h ^ (x | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) / 2 ** 32;
}

export const shapes = ["idle", "diurnal", "growing", "oom-storm", "cluster-growth"] as const;
export type Shape = (typeof shapes)[number];

export interface FleetComponent {
  component: ComponentName;
  kind: "Deployment" | "StatefulSet";
  replicas: number;
  cpuRequest: number;
  memoryRequest: number;
  memoryLimit: number;
}

export const fleetComponents: readonly FleetComponent[] = [
  {
    component: "kube-apiserver",
    kind: "Deployment",
    replicas: 2,
    cpuRequest: 1,
    memoryRequest: 2048 * MiB,
    memoryLimit: 4096 * MiB,
  },
  {
    component: "kube-controller-manager",
    kind: "Deployment",
    replicas: 1,
    cpuRequest: 0.5,
    memoryRequest: 512 * MiB,
    memoryLimit: 1024 * MiB,
  },
  {
    component: "kube-scheduler",
    kind: "Deployment",
    replicas: 1,
    cpuRequest: 0.25,
    memoryRequest: 256 * MiB,
    memoryLimit: 512 * MiB,
  },
  {
    component: "etcd",
    kind: "StatefulSet",
    replicas: 1,
    cpuRequest: 0.5,
    memoryRequest: 1024 * MiB,
    memoryLimit: 2048 * MiB,
  },
];

export interface FleetPod {
  tenant: number;
  namespace: string;
  pod: string;
  container: string;
  component: FleetComponent;
  replica: number;
  shape: Shape;
}

export const tenantName = (t: number) => `t${String(t).padStart(4, "0")}`;
export const namespaceOf = (t: number) => `tcp-${tenantName(t)}`;
export const shapeOf = (t: number): Shape => shapes[t % shapes.length] as Shape;

export function fleetPods(tenants: number): FleetPod[] {
  const out: FleetPod[] = [];
  for (let t = 0; t < tenants; t++) {
    for (const c of fleetComponents) {
      for (let r = 0; r < c.replicas; r++) {
        const pod = c.kind === "StatefulSet" ? `${c.component}-${r}` : `${c.component}-7f9c${t % 10}d-p${r}x${t % 7}z`;
        out.push({
          tenant: t,
          namespace: namespaceOf(t),
          pod,
          container: c.component,
          component: c,
          replica: r,
          shape: shapeOf(t),
        });
      }
    }
  }
  return out;
}

/**
 * The ClusterScaler the fleet's benchmark and tests replay: every component between the same bounds, the
 * kube-apiserver up to 5 replicas, a 5-minute scale-up cooldown, and scale-down after `window` by at most 20%.
 */
export function fleetPolicy(name: string, window: string): unknown {
  return {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ClusterScaler",
    metadata: { name },
    spec: {
      components: fleetComponents.map((c) => ({
        name: c.component,
        minAllowed: { cpu: "100m", memory: "128Mi" },
        maxAllowed: { cpu: "8", memory: "16Gi" },
        replicas: { min: c.replicas, max: c.component === "kube-apiserver" ? 5 : c.replicas },
      })),
      scaleUp: { cooldown: "5m" },
      scaleDown: { enabled: true, stabilizationWindow: window, maxStepPercent: 20 },
    },
  };
}

export function fleetWorkloads(tenants: number): BacktestWorkload[] {
  const out: BacktestWorkload[] = [];
  for (let t = 0; t < tenants; t++) {
    for (const c of fleetComponents) {
      out.push({
        ref: {
          kind: c.kind,
          name: c.component,
          namespace: namespaceOf(t),
          tenant: tenantName(t),
          component: c.component,
          container: c.component,
          ownedByTenantControlPlane: false,
        },
        tenantLabels: { "metapilot.io/tenant": tenantName(t) },
        start: {
          replicas: c.replicas,
          cpuRequest: c.cpuRequest,
          memoryRequest: c.memoryRequest,
          memoryLimit: c.memoryLimit,
        },
        inPlaceResize: false,
      });
    }
  }
  return out;
}

/** The tenants file `metapilot backtest --tenants-file` reads for this fleet: a List of Deployments and StatefulSets. */
export function tenantsFile(tenants: number): unknown {
  const items = [];
  for (let t = 0; t < tenants; t++) {
    for (const c of fleetComponents) {
      items.push({
        apiVersion: "apps/v1",
        kind: c.kind,
        metadata: {
          name: c.component,
          namespace: namespaceOf(t),
          labels: { "metapilot.io/tenant": tenantName(t), "metapilot.io/component": c.component },
        },
        spec: {
          replicas: c.replicas,
          template: {
            spec: {
              containers: [
                {
                  name: c.component,
                  resources: {
                    requests: { cpu: `${Math.round(c.cpuRequest * 1000)}m`, memory: `${c.memoryRequest / MiB}Mi` },
                    limits: { memory: `${c.memoryLimit / MiB}Mi` },
                  },
                },
              ],
            },
          },
        },
      });
    }
  }
  return { apiVersion: "v1", kind: "List", items };
}

/** Noise that changes every 10 minutes on the epoch's grid, in [-1, 1). */
const noise = (p: FleetPod, t: number, salt: number) =>
  2 * unitHash(p.tenant, p.component.replicas * 10 + p.replica, salt, Math.floor(t / 600_000)) - 1;

/** Cores the pod uses at time t (ms). */
export function podCpu(p: FleetPod, t: number, from: number): number {
  const c = p.component;
  const day = (2 * Math.PI * (t % dayMs)) / dayMs;
  const base = c.cpuRequest * (0.1 + 0.2 * unitHash(p.tenant, 1));
  switch (p.shape) {
    case "idle":
      return base * (1 + 0.1 * noise(p, t, 1));
    case "diurnal":
      return base * (2 + 1.6 * Math.sin(day)) * (1 + 0.15 * noise(p, t, 1));
    case "growing":
      // From a tenth of the request to twice it over the range.
      return c.cpuRequest * (0.1 + (1.9 * (t - from)) / (14 * dayMs)) * (1 + 0.1 * noise(p, t, 1));
    case "oom-storm":
    case "cluster-growth":
      return base * (1.5 + 0.5 * Math.sin(day)) * (1 + 0.1 * noise(p, t, 1));
  }
}

/** Working-set bytes at time t (ms). */
export function podMemory(p: FleetPod, t: number, from: number): number {
  const c = p.component;
  const day = (2 * Math.PI * (t % dayMs)) / dayMs;
  const base = c.memoryRequest * (0.2 + 0.2 * unitHash(p.tenant, 2));
  switch (p.shape) {
    case "idle":
      return base * (1 + 0.05 * noise(p, t, 2));
    case "diurnal":
      return base * (1.8 + 0.6 * Math.sin(day)) * (1 + 0.05 * noise(p, t, 2));
    case "growing":
      return c.memoryRequest * (0.2 + (1.2 * (t - from)) / (14 * dayMs)) * (1 + 0.05 * noise(p, t, 2));
    case "oom-storm":
    case "cluster-growth":
      return base * (1.5 + 0.3 * Math.sin(day)) * (1 + 0.05 * noise(p, t, 2));
  }
}

/**
 * The restart count of a pod of an OOM-storm tenant's kube-apiserver: one OOM kill every 2 days (a burst of 3, 10
 * minutes apart), counted from `from`; undefined for the others (no kill).
 */
export function podOomRestarts(p: FleetPod, t: number, from: number): number | undefined {
  if (p.shape !== "oom-storm" || p.component.component !== "kube-apiserver") return undefined;
  const period = 2 * dayMs;
  const elapsed = t - from - (p.tenant % 48) * 1_800_000;
  if (elapsed < 0) return undefined;
  const cycles = Math.floor(elapsed / period);
  const inCycle = elapsed - cycles * period;
  const burst = Math.min(3, Math.floor(inCycle / 600_000) + 1);
  const kills = cycles * 3 + burst;
  return kills > 0 ? kills : undefined;
}

/** The tenant's node count at time t: 3, 10 or 30, and the growing-cluster tenants from 3 to 200. */
export function tenantNodes(tenant: number, t: number, from: number): number {
  if (shapeOf(tenant) === "cluster-growth") return Math.round(3 + (197 * Math.max(0, t - from)) / (14 * dayMs));
  return [3, 10, 30][tenant % 3] as number;
}

export const tenantObjects = (tenant: number, t: number, from: number) => 500 + 40 * tenantNodes(tenant, t, from);

/** 429s per second of the tenant's apiserver: bursts in the busy hour of the diurnal tenants. */
export function tenant429(tenant: number, t: number): number {
  if (shapeOf(tenant) !== "diurnal") return 0;
  const hour = Math.floor((t % dayMs) / 3_600_000);
  return hour === 14 ? 5 * (1 + unitHash(tenant, Math.floor(t / 600_000))) : 0;
}

/**
 * The history fetchHistory would have rebuilt from the series bench/backtest.ts writes (as values at each step,
 * computed from the same functions, not read from Prometheus): for the baseline measured without Prometheus and
 * for profiling the replay.
 */
export function syntheticHistory(tenants: number, from: number, to: number, stepMs: number): SignalHistory {
  const steps = stepsOf(from, to, stepMs);
  const n = steps.length;
  const h: SignalHistory = {
    steps,
    stepMs,
    series: Object.fromEntries(historyMetrics.map((m) => [m, new Map()])) as SignalHistory["series"],
    failedAt: Object.fromEntries(historyMetrics.map((m) => [m, new Array(n)])) as SignalHistory["failedAt"],
    failures: [],
    queries: 0,
    rejectedSteps: 0,
  };
  const fill = (f: (t: number) => number | undefined) => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = f(steps[i] as number) ?? Number.NaN;
    return a;
  };
  for (const p of fleetPods(tenants)) {
    const key = `${p.namespace}/${p.pod}/${p.container}`;
    const c = p.component;
    h.series.cpu.set(
      key,
      fill((t) => podCpu(p, t, from)),
    );
    h.series.memory.set(
      key,
      fill((t) => podMemory(p, t, from)),
    );
    h.series.throttledRatio.set(
      key,
      fill(() => 0),
    );
    if (p.shape === "oom-storm" && c.component === "kube-apiserver")
      h.series.oomKills.set(
        key,
        fill((t) => podOomRestarts(p, t, from)),
      );
    h.series.cpuRequest.set(
      key,
      fill(() => c.cpuRequest),
    );
    h.series.memoryRequest.set(
      key,
      fill(() => c.memoryRequest),
    );
    h.series.memoryLimit.set(
      key,
      fill(() => c.memoryLimit),
    );
  }
  for (let t = 0; t < tenants; t++) {
    const ns = namespaceOf(t);
    h.series.apiserver429.set(
      ns,
      fill((at) => tenant429(t, at)),
    );
    h.series.nodes.set(
      ns,
      fill((at) => tenantNodes(t, at, from)),
    );
    h.series.objects.set(
      ns,
      fill((at) => tenantObjects(t, at, from)),
    );
    h.series.kubeStateMetrics.set(
      ns,
      fill(() => 5),
    );
  }
  return h;
}
