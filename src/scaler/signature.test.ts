// The decision signature: v2 (written now) covers the root-cause category and the metapilot.io/* annotations that
// later passes read back; v1 signatures of decisions stored before v2 still verify over v1's content.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  blockedByAnnotation,
  blockedKeyAnnotation,
  observedSizeAnnotation,
  oomIdsAnnotation,
  signatureAnnotation,
  workloadAnnotation,
} from "../api/labels.js";
import { signatureVersion, signDecision, signDecisionAs, verifyDecision, type SignedDecision } from "./signature.js";

const key = randomBytes(32);

function decision(): SignedDecision & {
  metadata: { annotations: Record<string, string> };
  spec: { rootCause: { category: string } };
} {
  return {
    metadata: {
      name: "kube-apiserver-up-1",
      namespace: "tcp-a",
      annotations: {
        [workloadAnnotation]: "Deployment/kube-apiserver",
        [oomIdsAnnotation]: "p1/kube-apiserver/1",
        [blockedKeyAnnotation]: "memory=8Gi/maxAllowed=8Gi",
        "example.com/note": "not metapilot's",
      },
    },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: "tcp-a", tenant: "a" },
      component: "kube-apiserver",
      direction: "Up",
      dryRun: false,
      after: { replicas: 2, resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } } },
      decidedAt: "2026-12-05T10:00:00.000Z",
      clusterScaler: "gold",
      rootCause: { category: "OOMKilled" },
    },
  };
}

function signedAs(version: "v1" | "v2") {
  const d = decision();
  d.metadata.annotations[signatureAnnotation] = signDecisionAs(key, version, d);
  return d;
}

type Edit = (d: ReturnType<typeof decision>) => void;
const annotationEdits: Array<[string, Edit]> = [
  ["a forged root-cause category", (d) => (d.spec.rootCause.category = "Underutilized")],
  ["added disruption reasons", (d) => ((d.spec as { disruptionReasons?: string[] }).disruptionReasons = ["ScaleUp"])],
  ["an edited blocked-key", (d) => (d.metadata.annotations[blockedKeyAnnotation] = "memory=1Gi/maxAllowed=1Gi")],
  ["a removed blocked-key", (d) => delete d.metadata.annotations[blockedKeyAnnotation]],
  ["an added blocked-by", (d) => (d.metadata.annotations[blockedByAnnotation] = "fleet-budget")],
  ["other OOM ids", (d) => (d.metadata.annotations[oomIdsAnnotation] = "p2/kube-apiserver/7")],
  ["an added observed size", (d) => (d.metadata.annotations[observedSizeAnnotation] = "{}")],
  ["another workload annotation", (d) => (d.metadata.annotations[workloadAnnotation] = "Deployment/other")],
];

describe("decision signature", () => {
  it("writes the current version, v2", () => {
    expect(signatureVersion).toBe("v2");
    expect(signDecision(key, decision())).toMatch(/^v2:[0-9a-f]{64}$/);
    expect(signDecision(key, decision())).toBe(signDecisionAs(key, "v2", decision()));
  });

  it.each(["v1", "v2"] as const)("verifies an unchanged %s decision", (version) => {
    expect(verifyDecision(key, signedAs(version))).toBe(true);
  });

  it("v2 ignores annotations that are not metapilot's signed ones", () => {
    const d = signedAs("v2");
    d.metadata.annotations["example.com/note"] = "edited";
    d.metadata.annotations["metapilot.io/something-later"] = "x";
    expect(verifyDecision(key, d)).toBe(true);
  });

  it.each(annotationEdits)("v2 refuses %s", (_, edit) => {
    const d = signedAs("v2");
    edit(d);
    expect(verifyDecision(key, d)).toBe(false);
  });

  // v1 never covered these: a decision stored before v2 keeps verifying (it keeps counting in the fleet budget and
  // the history), and such an edit of it is not seen. That is the price of not invalidating every stored decision.
  it.each(annotationEdits)("v1 (stored before v2) still verifies with %s", (_, edit) => {
    const d = signedAs("v1");
    edit(d);
    expect(verifyDecision(key, d)).toBe(true);
  });

  it.each([
    ["a bigger size", (d: SignedDecision) => ((d.spec!.after as { replicas: number }).replicas = 50)],
    ["another namespace", (d: SignedDecision) => (d.metadata!.namespace = "tcp-b")],
    ["live instead of dry-run", (d: SignedDecision) => (d.spec!.dryRun = true)],
  ])("v1 still refuses %s", (_, edit) => {
    const d = signedAs("v1");
    edit(d);
    expect(verifyDecision(key, d)).toBe(false);
  });

  it.each([
    ["an unknown version", () => `v9:${"0".repeat(64)}`],
    ["no version", () => "0".repeat(64)],
    ["a v1 label on a v2 MAC", (d: ReturnType<typeof decision>) => `v1:${signDecisionAs(key, "v2", d).slice(3)}`],
    ["a v2 label on a v1 MAC", (d: ReturnType<typeof decision>) => `v2:${signDecisionAs(key, "v1", d).slice(3)}`],
    ["another key", (d: ReturnType<typeof decision>) => signDecision(randomBytes(32), d)],
  ])("refuses %s", (_, signature) => {
    const d = decision();
    d.metadata.annotations[signatureAnnotation] = signature(d);
    expect(verifyDecision(key, d)).toBe(false);
  });
});
