// One valid object of every kind, as a user would write it (defaults left out). Used by the tests, and handy for
// documentation and `metapilot` subcommands that print a starting point.
import type { ClusterScalerInput } from "./clusterscaler.js";
import type { KindName } from "./kinds.js";
import type { NodeDrainInput } from "./nodedrain.js";
import type { NodePoolInput } from "./nodepool.js";
import type { ScalingDecisionInput } from "./scalingdecision.js";
import type { TenantControlPlaneInput } from "./tenantcontrolplane.js";
import type { WorkloadProfileInput } from "./workloadprofile.js";

export interface ExampleInputs {
  TenantControlPlane: TenantControlPlaneInput;
  WorkloadProfile: WorkloadProfileInput;
  ClusterScaler: ClusterScalerInput;
  ScalingDecision: ScalingDecisionInput;
  NodePool: NodePoolInput;
  NodeDrain: NodeDrainInput;
}

/** Fresh copies every call, so callers may change them. */
export function examples(): { [K in KindName]: ExampleInputs[K] } {
  return {
    TenantControlPlane: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "TenantControlPlane",
      metadata: { name: "team-a", labels: { tier: "gold" } },
      spec: {
        version: "v1.35.4",
        apiServer: {
          replicas: 3,
          resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
          extraArgs: { "max-requests-inflight": "800" },
        },
        controllerManager: { resources: { requests: { cpu: "100m", memory: "256Mi" } } },
        etcd: { managed: { replicas: 3, storage: { size: "20Gi" } } },
        service: { type: "ClusterIP", externalEndpoint: "team-a.example.com:6443" },
        certSANs: ["team-a.example.com"],
        resourceQuota: { "requests.cpu": "16", "requests.memory": "64Gi" },
      },
    },
    WorkloadProfile: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "WorkloadProfile",
      metadata: { name: "kube-apiserver", namespace: "tcp-team-a" },
      spec: {
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "kube-apiserver" },
        parameters: { targetPercentile: 0.9, lowerBoundPercentile: 0.5, upperBoundPercentile: 0.95 },
      },
    },
    ClusterScaler: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ClusterScaler",
      metadata: { name: "default" },
      spec: {
        tenantSelector: { matchLabels: { tier: "gold" } },
        priority: 10,
        components: [
          {
            name: "kube-apiserver",
            scalers: [
              { name: "oom" },
              { name: "cpu", threshold: 0.8, window: "2m" },
              { name: "throttling", threshold: 5, window: "1m" },
            ],
            estimators: ["oom-memory", "profile", "cluster-size"],
            minAllowed: { cpu: "250m", memory: "512Mi" },
            maxAllowed: { cpu: "8", memory: "32Gi" },
            replicas: { min: 2, max: 10 },
            clusterSizeLadder: [
              { nodes: 0, cpu: "500m", memory: "1Gi", replicas: 2 },
              { nodes: 100, cpu: "2", memory: "4Gi", replicas: 3 },
            ],
          },
          { name: "etcd", scalers: [{ name: "oom" }, { name: "memory", threshold: 0.9 }] },
        ],
        scaleDown: { stabilizationWindow: "6h", maxStepPercent: 10 },
        fleetBudget: { maxChangesPerInterval: 5, interval: "1m" },
        overrides: [
          {
            tenantSelector: { matchLabels: { canary: "true" } },
            component: "kube-apiserver",
            thresholds: { cpu: 0.6 },
          },
        ],
      },
    },
    ScalingDecision: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "ScalingDecision",
      metadata: { name: "team-a-kube-apiserver-1", namespace: "tcp-team-a" },
      spec: {
        target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-team-a", tenant: "team-a" },
        component: "kube-apiserver",
        direction: "Up",
        scaler: "oom",
        rootCause: {
          category: "OOMKilled",
          summary: "kube-apiserver was OOM-killed twice in 5 minutes at its 2Gi limit.",
          evidence: [
            {
              signal: "container_oom_kills",
              value: "2",
              threshold: "1",
              observedAt: "2025-01-31T12:00:00Z",
              source: "pod-status",
            },
          ],
        },
        before: { replicas: 3, resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } } },
        after: { replicas: 3, resources: { requests: { memory: "1536Mi" }, limits: { memory: "3Gi" } } },
        clusterScaler: "default",
        decidedAt: "2025-01-31T12:00:05Z",
      },
    },
    NodePool: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodePool",
      metadata: { name: "general" },
      spec: {
        provider: "kwok",
        minNodes: 3,
        maxNodes: 50,
        shape: { cpu: "16", memory: "64Gi" },
        labels: { "metapilot.io/pool": "general" },
        taints: [{ key: "metapilot.io/control-plane", value: "true", effect: "NoSchedule" }],
        scaleDown: { strategy: "underutilized", utilizationThreshold: 0.4, maxNodesPerHour: 5 },
      },
    },
    NodeDrain: {
      apiVersion: "metapilot.io/v1alpha1",
      kind: "NodeDrain",
      metadata: { name: "drain-node-7" },
      spec: {
        nodeNames: ["metacluster-node-7"],
        dryRun: true,
        rateLimit: { nodesPerInterval: 1, interval: "30s" },
        timeout: "15m",
        disruptionBudget: { maxUnavailable: 1 },
      },
    },
  };
}
