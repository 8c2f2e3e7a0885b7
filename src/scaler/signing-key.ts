// The key metapilot signs its ScalingDecisions with (src/scaler/signature.ts). Every replica must hold the same
// key, so that a new leader can verify what the last one recorded. It comes from --decision-signing-key-file, or
// else from a Secret in metapilot's own namespace next to its Lease, which the first replica creates with 32
// random bytes. If neither works, a key of this process alone is used: decisions are still signed, but one that a
// crash leaves unfinished cannot be verified, and so is not applied, by the next leader.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import type { Logger } from "../kube/logger.js";
import { Resources, type KubeObject } from "../kube/resources.js";
import { managedByLabel, managedByMetapilot } from "../api/labels.js";

export const signingKeyDataKey = "key";

export interface SigningKeySource {
  /** A file that holds the key (at least 32 bytes). */
  file?: string;
  /** The Secret that holds (or will hold) the key, under data.key. */
  secret?: { namespace: string; name: string };
}

/** Reads the key file; a missing, empty or short file is an error at start, never an unsigned or weak key. */
export function readSigningKeyFile(file: string): Buffer {
  const key = readFileSync(file);
  const trimmed = Buffer.from(key.toString("utf8").trim(), "utf8");
  if (trimmed.length < 32)
    throw new Error(`--decision-signing-key-file ${file} holds ${trimmed.length} bytes; it needs at least 32`);
  return trimmed;
}

/** The key, read once; with a Secret, created on first use when it does not exist yet. */
export function signingKeyLoader(client: KubeClient, source: SigningKeySource, logger: Logger): () => Promise<Buffer> {
  let loading: Promise<Buffer> | undefined;
  const load = async (): Promise<Buffer> => {
    if (source.file) return readSigningKeyFile(source.file);
    const { namespace, name } = source.secret ?? {};
    if (namespace && name) {
      try {
        return await fromSecret(client, namespace, name);
      } catch (err) {
        logger.error(
          { err, secret: `${namespace}/${name}` },
          "cannot read or create the decision signing key Secret: using a key of this process only, so a " +
            "decision a crash leaves unfinished is not applied by the next leader (set --decision-signing-key-file)",
        );
      }
    }
    return randomBytes(32);
  };
  return () => (loading ??= load());
}

type Secret = KubeObject & { data?: Record<string, string> };

async function fromSecret(client: KubeClient, namespace: string, name: string): Promise<Buffer> {
  const read = async () => {
    const s = await client.getOptional<Secret>(Resources.Secret, name, namespace);
    const v = s?.data?.[signingKeyDataKey];
    return v ? Buffer.from(v, "base64") : undefined;
  };
  const existing = await read();
  if (existing && existing.length >= 32) return existing;
  if (existing) throw new Error(`Secret ${namespace}/${name} holds a key shorter than 32 bytes`);
  try {
    const key = randomBytes(32);
    await client.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace, labels: { [managedByLabel]: managedByMetapilot } },
      type: "Opaque",
      data: { [signingKeyDataKey]: key.toString("base64") },
    } as KubeObject);
    return key;
  } catch (err) {
    // Another replica created it first: use that one.
    if (!(err instanceof ApiError && err.isConflict)) throw err;
    const other = await read();
    if (!other || other.length < 32) throw new Error(`Secret ${namespace}/${name} has no usable key`, { cause: err });
    return other;
  }
}
