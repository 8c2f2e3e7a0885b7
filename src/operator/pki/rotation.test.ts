import { beforeAll, describe, expect, it } from "vitest";
import { parseKubeconfig } from "../../pki/kubeconfig.js";
import { verifyIssuedBy } from "../../pki/inspect.js";
import { generateTenantPki, issuePki } from "./issue.js";
import { planPki } from "./plan.js";
import {
  bundleCertificates,
  kubeconfigTrusting,
  nextRotationStep,
  rotationMaterial,
  trustBundle,
  type CaRotationState,
  type RotationInput,
} from "./rotation.js";
import { componentChecksum, pkiSecretName, pkiToSecrets, type SecretObject } from "./secrets.js";
import type { TenantPkiSpec } from "./spec.js";
import { caParts, controlPlaneComponents, kubeconfigParts, type TenantPki } from "./types.js";

const all = [...controlPlaneComponents];

describe("nextRotationStep", () => {
  const step = (input: Partial<RotationInput>) =>
    nextRotationStep({ requested: 0, completed: 0, state: undefined, pending: [], ...input });

  it("is idle while the requested generation is the completed one", () => {
    const s = step({ requested: 2, completed: 2 });
    expect(s.state).toBeUndefined();
    expect(s.completed).toBe(2);
    expect(s.condition).toMatchObject({ status: "False", reason: "Idle" });
  });

  it("starts in Trust when a higher generation is requested", () => {
    const s = step({ requested: 3, completed: 2 });
    expect(s.state).toEqual({ generation: 3, phase: "Trust" });
    expect(s.completed).toBe(2);
    expect(s.condition).toMatchObject({ status: "True", reason: "Trust" });
  });

  it("waits in each phase while a component has not rolled out, and says which and why", () => {
    for (const phase of ["Trust", "Reissue", "Drop"] as const) {
      const state: CaRotationState = { generation: 1, phase };
      const s = step({ requested: 1, state, pending: ["etcd", "kube-scheduler"] });
      expect(s.state).toEqual(state);
      expect(s.completed).toBe(0);
      expect(s.condition.reason).toBe(phase);
      expect(s.condition.message).toContain("waiting for etcd, kube-scheduler");
    }
  });

  it("advances Trust → Reissue → Drop → done, one phase per completed rollout", () => {
    let state: CaRotationState | undefined;
    let completed = 0;
    const phases: string[] = [];
    // Every step starts a phase or finishes one; the rollouts of each phase are observed as finished.
    for (let i = 0; i < 4; i++) {
      const s = step({ requested: 1, completed, state, pending: [] });
      state = s.state;
      completed = s.completed;
      phases.push(state?.phase ?? `done@${completed}`);
    }
    expect(phases).toEqual(["Trust", "Reissue", "Drop", "done@1"]);
    expect(step({ requested: 1, completed, state }).state).toBeUndefined();
  });

  it("finishes a rotation in flight before the next requested one, then starts it", () => {
    const s = step({ requested: 3, completed: 1, state: { generation: 2, phase: "Drop" }, pending: [] });
    expect(s.state).toBeUndefined();
    expect(s.completed).toBe(2);
    expect(s.condition.message).toContain("generation 3 is rotated to after this one");
    expect(step({ requested: 3, completed: s.completed }).state).toEqual({ generation: 3, phase: "Trust" });
    // Raised in the middle: the phase does not jump.
    expect(step({ requested: 3, completed: 1, state: { generation: 2, phase: "Trust" } }).state).toEqual({
      generation: 2,
      phase: "Reissue",
    });
  });

  it("refuses nonsense", () => {
    expect(() => step({ requested: -1 })).toThrow(/requested/);
    expect(() => step({ state: { generation: 1, phase: "Later" as "Drop" } })).toThrow(/unknown rotation phase/);
  });

  it("names the material of each phase: trust widens before signing changes, narrows after", () => {
    expect(rotationMaterial("Trust")).toEqual({ signer: "old", trust: ["old", "new"] });
    expect(rotationMaterial("Reissue")).toEqual({ signer: "new", trust: ["new", "old"] });
    expect(rotationMaterial("Drop")).toEqual({ signer: "new", trust: ["new"] });
    expect(rotationMaterial(undefined)).toEqual({ signer: "new", trust: ["new"] });
  });
});

const spec: TenantPkiSpec = {
  tenantName: "acme",
  namespace: "tcp-acme",
  serviceName: "kube-apiserver",
  certSANs: [],
  etcdServiceName: "etcd",
  etcdReplicas: 1,
  validityDays: 365,
  caValidityDays: 3650,
  now: new Date("2025-03-01T00:00:00Z"),
};

describe("trust bundles", () => {
  let old: TenantPki;
  let fresh: TenantPki;
  beforeAll(async () => {
    old = await generateTenantPki(spec);
    fresh = await issuePki(planPki(old, spec, { renewBeforeDays: 30, rotateCAGeneration: 1 }), old);
  });
  const decode = (list: SecretObject[], part: Parameters<typeof pkiSecretName>[1], key: string) =>
    Buffer.from(
      list.find((s) => s.metadata.name === pkiSecretName("acme", part))?.data[key] ?? "",
      "base64",
    ).toString();
  const newCAs = () => Object.fromEntries(caParts.map((p) => [p, [fresh[p].certificatePem]]));
  const oldCAs = () => Object.fromEntries(caParts.map((p) => [p, [old[p].certificatePem]]));

  it("joins certificates in order, once each, and refuses input without a certificate", () => {
    const a = old.ca.certificatePem;
    const b = fresh.ca.certificatePem;
    const bundle = trustBundle([a, b, a.replace(/\n/g, "\r\n")]);
    expect(bundleCertificates(bundle)).toEqual([a, b]);
    expect(() => trustBundle([a, "not a certificate"])).toThrow(/no PEM certificate/);
  });

  it("Trust: leaves stay signed by the old CAs, every ca.crt and kubeconfig trusts old then new", () => {
    const secrets = pkiToSecrets(old, spec, newCAs());
    const leaves = [
      ["apiserver", "ca"],
      ["apiserverKubeletClient", "ca"],
      ["metricsClient", "ca"],
      ["frontProxyClient", "frontProxyCA"],
      ["etcdServer", "etcdCA"],
      ["etcdPeer", "etcdCA"],
      ["apiserverEtcdClient", "etcdCA"],
    ] as const;
    for (const [leaf, signer] of leaves) {
      expect(decode(secrets, leaf, "ca.crt"), leaf).toBe(
        `${old[signer].certificatePem.trim()}\n${fresh[signer].certificatePem.trim()}\n`,
      );
      expect(verifyIssuedBy(decode(secrets, leaf, "tls.crt"), old[signer].certificatePem), leaf).toBe(true);
    }
    for (const part of kubeconfigParts) {
      const parsed = parseKubeconfig(decode(secrets, part, "kubeconfig"));
      expect(bundleCertificates(parsed.caPem ?? ""), part).toEqual([old.ca.certificatePem, fresh.ca.certificatePem]);
      expect(parsed.clientCertificatePem, part).toBe(parseKubeconfig(old[part]).clientCertificatePem);
    }
    // The CA Secrets themselves hold one CA each (the signer, with its key).
    expect(decode(secrets, "ca", "tls.crt")).toBe(old.ca.certificatePem);
  });

  it("Reissue: leaves signed by the new CAs, trust new then old; Drop: the new CAs alone", () => {
    const reissue = pkiToSecrets(fresh, spec, oldCAs());
    const drop = pkiToSecrets(fresh, spec);
    expect(bundleCertificates(decode(reissue, "etcdPeer", "ca.crt"))).toEqual([
      fresh.etcdCA.certificatePem,
      old.etcdCA.certificatePem,
    ]);
    expect(verifyIssuedBy(decode(reissue, "etcdPeer", "tls.crt"), fresh.etcdCA.certificatePem)).toBe(true);
    expect(decode(drop, "etcdPeer", "ca.crt")).toBe(fresh.etcdCA.certificatePem);
    expect(parseKubeconfig(decode(drop, "adminKubeconfig", "kubeconfig")).caPem).toBe(fresh.ca.certificatePem);
  });

  it("every component's checksum changes at each phase, so each phase rolls every component", () => {
    const phases = [pkiToSecrets(old, spec), pkiToSecrets(old, spec, newCAs())];
    phases.push(pkiToSecrets(fresh, spec, oldCAs()), pkiToSecrets(fresh, spec));
    for (const c of all) {
      const sums = phases.map((s) => componentChecksum(c, "acme", s));
      expect(new Set(sums).size, c).toBe(4);
    }
  });

  it("without extra CAs the Secrets are byte for byte what they were", () => {
    expect(pkiToSecrets(old, spec, {})).toEqual(pkiToSecrets(old, spec));
    expect(pkiToSecrets(old, spec, { ca: [] })).toEqual(pkiToSecrets(old, spec));
  });

  it("kubeconfigTrusting swaps only the CA data", () => {
    const swapped = parseKubeconfig(kubeconfigTrusting(old.adminKubeconfig, fresh.ca.certificatePem));
    const before = parseKubeconfig(old.adminKubeconfig);
    expect(swapped).toEqual({ ...before, caPem: fresh.ca.certificatePem });
  });
});
