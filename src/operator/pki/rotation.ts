// A CA rotation that cuts no client off, as three phases driven by observed rollouts (never by time):
//
//   Trust    new CAs exist; every trust file (leaf ca.crt, kubeconfig certificate-authority-data) is a bundle of
//            old + new CA; leaves are still signed by the old CAs. Components roll so that all trust both.
//   Reissue  every leaf and kubeconfig client certificate is signed by the new CAs; trust stays old + new, so
//            clients still holding old material keep working. Components roll in order: etcd, apiserver, the rest.
//   Drop     trust shrinks to the new CAs; components roll once more; then the rotation is complete.
//
// Pure functions only: the phase logic and the trust bundles. The reconciler does not drive them yet (see
// spec.pki.rotateCA: today a rotation is a hard cut-over).
import { parseKubeconfig, renderKubeconfig } from "../../pki/kubeconfig.js";
import type { ControlPlaneComponent } from "./types.js";

export const rotationPhases = ["Trust", "Reissue", "Drop"] as const;
export type RotationPhase = (typeof rotationPhases)[number];

/** A rotation in flight: the generation it rotates to and where it is. */
export interface CaRotationState {
  generation: number;
  phase: RotationPhase;
}

export interface RotationInput {
  /** spec.pki.rotateCA. */
  requested: number;
  /** The generation whose rotation last completed (or the one the PKI was first issued for). */
  completed: number;
  /** The rotation in flight, if any. */
  state: CaRotationState | undefined;
  /**
   * Components, in roll order, whose pods do not yet all run the material of `state.phase` (empty when every
   * component has rolled out). The caller must have applied that phase's material before observing this.
   */
  pending: readonly ControlPlaneComponent[];
}

export interface RotationCondition {
  status: "True" | "False";
  /** Idle, Trust, Reissue or Drop. */
  reason: "Idle" | RotationPhase;
  message: string;
}

export interface RotationStep {
  /** The rotation in flight after this step; undefined when none is. */
  state: CaRotationState | undefined;
  completed: number;
  /** For a CARotation condition: True while a rotation is in flight, with the phase and what it waits for. */
  condition: RotationCondition;
}

const next: Record<RotationPhase, RotationPhase | undefined> = { Trust: "Reissue", Reissue: "Drop", Drop: undefined };

const waitsFor: Record<RotationPhase, string> = {
  Trust: "to trust the old and the new CAs",
  Reissue: "to run certificates issued by the new CAs",
  Drop: "to trust the new CAs only",
};

function inFlight(state: CaRotationState, pending: readonly ControlPlaneComponent[], note = ""): RotationCondition {
  return {
    status: "True",
    reason: state.phase,
    message: `rotating to CA generation ${state.generation}, phase ${state.phase}: waiting for ${pending.join(", ")} ${waitsFor[state.phase]}${note}`,
  };
}

function validate(input: RotationInput): void {
  for (const [name, g] of [
    ["requested", input.requested],
    ["completed", input.completed],
    ["state.generation", input.state?.generation ?? 0],
  ] as const) {
    if (!Number.isInteger(g) || g < 0) throw new Error(`${name} must be an integer >= 0, got ${g}`);
  }
  if (input.state && !rotationPhases.includes(input.state.phase))
    throw new Error(`unknown rotation phase ${String(input.state.phase)}`);
}

/**
 * One step of the rotation state machine. A phase advances only when no component is pending, i.e. every one has
 * rolled out with that phase's material; a completed Drop ends the rotation and records its generation. A rotation
 * in flight is finished even when rotateCA is raised again meanwhile: the next one starts after it, so trust never
 * skips a generation. A requested generation at or below the completed one starts nothing (the API only lets it
 * go up).
 */
export function nextRotationStep(input: RotationInput): RotationStep {
  validate(input);
  const { requested, completed, state, pending } = input;
  if (!state) {
    if (requested <= completed) {
      return {
        state: undefined,
        completed,
        condition: { status: "False", reason: "Idle", message: `CAs are at generation ${completed}` },
      };
    }
    const started: CaRotationState = { generation: requested, phase: "Trust" };
    return {
      state: started,
      completed,
      condition: inFlight(started, ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]),
    };
  }
  const queued = requested > state.generation ? `; generation ${requested} is rotated to after this one` : "";
  if (pending.length > 0) return { state, completed, condition: inFlight(state, pending, queued) };
  const phase = next[state.phase];
  if (phase) {
    const advanced = { generation: state.generation, phase };
    return {
      state: advanced,
      completed,
      condition: inFlight(advanced, ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"], queued),
    };
  }
  return {
    state: undefined,
    completed: state.generation,
    condition: {
      status: "False",
      reason: "Idle",
      message: `rotation to CA generation ${state.generation} completed: every component trusts and uses only the new CAs${queued}`,
    },
  };
}

/** Which CA set signs the leaves and which ones are trusted, in a phase (undefined: no rotation in flight). */
export function rotationMaterial(phase: RotationPhase | undefined): {
  signer: "old" | "new";
  trust: ReadonlyArray<"old" | "new">;
} {
  switch (phase) {
    case "Trust":
      return { signer: "old", trust: ["old", "new"] };
    case "Reissue":
      return { signer: "new", trust: ["new", "old"] };
    default:
      return { signer: "new", trust: ["new"] };
  }
}

const pemBlock = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * The certificates of `pems` as one PEM bundle, in order, each once. Throws on an input that holds no certificate,
 * so a bundle never silently loses a CA.
 */
export function trustBundle(pems: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of pems) {
    const blocks = pem.match(pemBlock);
    if (!blocks) throw new Error("trustBundle: an input holds no PEM certificate");
    for (const block of blocks) {
      const normalized = block.replace(/\s+/g, "");
      if (seen.has(normalized)) continue;
      seen.add(normalized);
      out.push(block.trim());
    }
  }
  return `${out.join("\n")}\n`;
}

/** The certificates in a PEM bundle, each as its own PEM. */
export function bundleCertificates(bundle: string): string[] {
  return (bundle.match(pemBlock) ?? []).map((b) => `${b.trim()}\n`);
}

/** The same kubeconfig with `caPem` (a CA or a bundle) as its certificate-authority-data. */
export function kubeconfigTrusting(kubeconfig: string, caPem: string): string {
  const parsed = parseKubeconfig(kubeconfig);
  return renderKubeconfig({
    clusterName: parsed.clusterName,
    server: parsed.server,
    caPem,
    userName: parsed.userName,
    ...(parsed.clientCertificatePem ? { clientCertificatePem: parsed.clientCertificatePem } : {}),
    ...(parsed.clientKeyPem ? { clientKeyPem: parsed.clientKeyPem } : {}),
    ...(parsed.token ? { token: parsed.token } : {}),
  });
}
