import { describe, expect, it } from "vitest";
import { mustParse, type TenantControlPlaneInput } from "../api/index.js";
import type { KubeObject } from "../kube/resources.js";
import {
  apiServerDeployment,
  apiServerShutdownDelaySeconds,
  controllerManagerDeployment,
  etcdStatefulSet,
  schedulerDeployment,
  type TenantContext,
} from "./manifests.js";

type PodSpec = {
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  topologySpreadConstraints?: Array<Record<string, unknown>>;
  securityContext?: { runAsNonRoot?: boolean; fsGroup?: number };
  terminationGracePeriodSeconds?: number;
  containers: Array<{
    image: string;
    args?: string[];
    securityContext?: { runAsUser?: number };
    volumeMounts?: Array<{ name: string; mountPath: string }>;
  }>;
  volumes?: Array<{ name: string; secret?: { defaultMode?: number } }>;
};

function context(spec: Partial<TenantControlPlaneInput["spec"]> = {}, imageRegistry?: string): TenantContext {
  const tcp = mustParse("TenantControlPlane", {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "TenantControlPlane",
    metadata: { name: "team-a" },
    spec: { version: "v1.35.4", ...spec },
  });
  return { tcp, tenant: "team-a", namespace: "tcp-team-a", uid: "uid-1", imageRegistry };
}

const inputs = { version: "v1.35.4", pkiChecksum: "abc", etcdVersion: "3.6.5" };

/** Pod specs of the four components, by component name. */
function podSpecs(ctx: TenantContext): Record<string, PodSpec> {
  const pod = (o: KubeObject | undefined) => (o as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  return {
    "kube-apiserver": pod(apiServerDeployment(ctx, inputs)),
    "kube-controller-manager": pod(controllerManagerDeployment(ctx, inputs)),
    "kube-scheduler": pod(schedulerDeployment(ctx, inputs)),
    etcd: pod(etcdStatefulSet(ctx, inputs)),
  };
}

const ownSelector = (component: string) => ({
  matchLabels: { "metapilot.io/tenant": "team-a", "metapilot.io/component": component },
});

describe("placement of the component pods", () => {
  it("keeps the default spread and anti-affinity, and no node selector or tolerations, without spec.scheduling", () => {
    for (const [component, pod] of Object.entries(podSpecs(context()))) {
      expect(pod.nodeSelector).toBeUndefined();
      expect(pod.tolerations).toBeUndefined();
      expect(pod.topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: ownSelector(component),
        },
        {
          maxSkew: 1,
          topologyKey: "topology.kubernetes.io/zone",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: ownSelector(component),
        },
      ]);
      expect(pod.affinity).toEqual({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: ownSelector(component) },
            },
          ],
        },
      });
    }
  });

  it("applies spec.scheduling to every component and keeps the defaults it does not replace", () => {
    const toleration = {
      key: "metapilot.io/node-kind",
      operator: "Equal",
      value: "real",
      effect: "NoSchedule",
    } as const;
    const pods = podSpecs(
      context({ scheduling: { nodeSelector: { "metapilot.io/node-kind": "real" }, tolerations: [toleration] } }),
    );
    for (const [component, pod] of Object.entries(pods)) {
      expect(pod.nodeSelector).toEqual({ "metapilot.io/node-kind": "real" });
      expect(pod.tolerations).toEqual([toleration]);
      expect(pod.topologySpreadConstraints).toHaveLength(2);
      expect(JSON.stringify(pod.affinity)).toContain(component);
    }
  });

  it("replaces the default affinity and spread when set, and fills a spread selector with the component's own", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In" as const, values: ["control"] }] }],
        },
      },
    };
    const pods = podSpecs(
      context({
        scheduling: {
          affinity,
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" },
            {
              maxSkew: 2,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: { app: "x" } },
            },
          ],
        },
      }),
    );
    for (const [component, pod] of Object.entries(pods)) {
      expect(pod.affinity).toEqual(affinity);
      expect(pod.topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: "topology.kubernetes.io/zone",
          whenUnsatisfiable: "DoNotSchedule",
          labelSelector: ownSelector(component),
        },
        {
          maxSkew: 2,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { app: "x" } },
        },
      ]);
    }
  });

  it("lets a component's scheduling override spec.scheduling field by field", () => {
    const dedicated = { key: "dedicated", operator: "Exists", effect: "NoSchedule" } as const;
    const pods = podSpecs(
      context({
        scheduling: { nodeSelector: { pool: "control" }, tolerations: [dedicated] },
        apiServer: { scheduling: { nodeSelector: { pool: "edge" } } },
        // An empty list clears the top-level value for this component.
        scheduler: { scheduling: { tolerations: [], affinity: {} } },
        etcd: { managed: { scheduling: { nodeSelector: { disk: "ssd" }, topologySpreadConstraints: [] } } },
      }),
    );
    expect(pods["kube-apiserver"]!.nodeSelector).toEqual({ pool: "edge" });
    expect(pods["kube-apiserver"]!.tolerations).toEqual([dedicated]);
    expect(pods["kube-controller-manager"]!.nodeSelector).toEqual({ pool: "control" });
    expect(pods["kube-controller-manager"]!.tolerations).toEqual([dedicated]);
    expect(pods["kube-scheduler"]!.nodeSelector).toEqual({ pool: "control" });
    expect(pods["kube-scheduler"]!.tolerations).toBeUndefined();
    expect(pods["kube-scheduler"]!.affinity).toBeUndefined();
    expect(pods["kube-scheduler"]!.topologySpreadConstraints).toHaveLength(2);
    expect(pods.etcd!.nodeSelector).toEqual({ disk: "ssd" });
    expect(pods.etcd!.tolerations).toEqual([dedicated]);
    expect(pods.etcd!.topologySpreadConstraints).toBeUndefined();
    expect(pods.etcd!.affinity).toBeDefined();
  });
});

describe("pod security", () => {
  it("gives every component's non-root user the group of its PKI files (fsGroup), so it can read them", () => {
    // Secret volumes are mounted 0400 and owned by root. Only a pod fsGroup makes the kubelet hand them to a group
    // (0440), and the containers run as 65532: without it each component fails at start with "permission denied"
    // on its certificate, key or kubeconfig, as seen on a real kubelet.
    for (const [component, pod] of Object.entries(podSpecs(context()))) {
      const user = pod.containers[0]!.securityContext?.runAsUser;
      expect(user, component).toBe(65532);
      expect(pod.securityContext?.runAsNonRoot, component).toBe(true);
      expect(pod.securityContext?.fsGroup, component).toBe(user);
      const secretVolumes = (pod.volumes ?? []).filter((v) => v.secret);
      expect(secretVolumes.length, component).toBeGreaterThan(0);
      for (const v of secretVolumes) expect(v.secret?.defaultMode, `${component} ${v.name}`).toBe(0o400);
    }
  });
});

describe("apiserver shutdown", () => {
  it("keeps serving after SIGTERM until the endpoints have moved on, within a grace period that covers it", () => {
    const pod = podSpecs(context())["kube-apiserver"]!;
    expect(pod.containers[0]!.args).toContain(`--shutdown-delay-duration=${apiServerShutdownDelaySeconds}s`);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(apiServerShutdownDelaySeconds + 30);
    // The other components are not behind a Service that clients connect to: the default grace period.
    expect(podSpecs(context())["kube-scheduler"]!.terminationGracePeriodSeconds).toBeUndefined();
  });
});

describe("component images", () => {
  const images = (ctx: TenantContext) => Object.values(podSpecs(ctx)).map((p) => p.containers[0]!.image);

  it("come from registry.k8s.io by default", () => {
    expect(images(context())).toEqual([
      "registry.k8s.io/kube-apiserver:v1.35.4",
      "registry.k8s.io/kube-controller-manager:v1.35.4",
      "registry.k8s.io/kube-scheduler:v1.35.4",
      "registry.k8s.io/etcd:3.6.5-0",
    ]);
  });

  it("come from the controller's --image-registry", () => {
    expect(images(context({}, "mirror.local:5000/k8s"))).toEqual([
      "mirror.local:5000/k8s/kube-apiserver:v1.35.4",
      "mirror.local:5000/k8s/kube-controller-manager:v1.35.4",
      "mirror.local:5000/k8s/kube-scheduler:v1.35.4",
      "mirror.local:5000/k8s/etcd:3.6.5-0",
    ]);
  });

  it("come from spec.imageRegistry before the controller's registry", () => {
    expect(images(context({ imageRegistry: "registry.example.com/team-a" }, "mirror.local:5000/k8s"))).toEqual([
      "registry.example.com/team-a/kube-apiserver:v1.35.4",
      "registry.example.com/team-a/kube-controller-manager:v1.35.4",
      "registry.example.com/team-a/kube-scheduler:v1.35.4",
      "registry.example.com/team-a/etcd:3.6.5-0",
    ]);
  });

  it("leave the spec hashes of a TenantControlPlane without the new fields as they were", () => {
    // The hashes of the default workloads before spec.scheduling and spec.imageRegistry existed: an upgrade of
    // metapilot must not roll every tenant. The three Deployments changed once since, on purpose: their pods got
    // fsGroup 65532, without which no component could read its PKI files on a real kubelet (pods of the old
    // template never ran there, so rolling them loses nothing). etcd's StatefulSet had fsGroup already. The
    // apiserver's changed once more, on purpose: --shutdown-delay-duration and its grace period, without which a
    // roll refuses requests through the ClusterIP (test/realnodes/upgrade.slow.test.ts); one more roll of each
    // tenant's apiserver, with nothing unavailable, buys every later roll without refused requests. All four changed
    // once more, on purpose: resizePolicy NotRequired for CPU and memory, which lets later size changes reach the
    // pods in place (spec.resourceUpdates); one roll now buys every later resize without a restart. The hash itself
    // became independent of key order at the same time (hashOf): that changes the annotation of every object, not
    // a pod template, so by itself it rolls nothing. The derived settings (GOMEMLIMIT, the apiserver's in-flight
    // limits) came later and change the desired template, but they wait for the next restart
    // (spec.resourceUpdates.derivedSettings WithNextRestart): built with the settings a template carries (none, in
    // one from before), the hashes are the old ones, so the operator applies nothing (src/operator/steps/resize.ts).
    const ctx = context();
    const hashes = [
      apiServerDeployment(ctx, inputs, {}),
      controllerManagerDeployment(ctx, inputs, {}),
      schedulerDeployment(ctx, inputs, {}),
      etcdStatefulSet(ctx, inputs, {}),
    ].map((o) => o?.metadata?.annotations?.["metapilot.io/spec-hash"]);
    expect(hashes).toEqual([
      "9a672efdf56b522ced85",
      "341c7af4438451890cf4",
      "83f413fbb8820e59dc4c",
      "3c0b33505539bd796e79",
    ]);
  });
});
