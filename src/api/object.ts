// The envelope every kind shares: apiVersion, kind, metadata, spec, status.
import { z } from "zod";
import { API_VERSION } from "./common.js";

const Time = z.union([z.string(), z.date()]);

/**
 * The parts of metav1.ObjectMeta that metapilot reads. Unknown fields are kept, so an object read from the
 * apiserver survives a parse unchanged. The CRD does not carry this schema: the apiserver validates metadata itself.
 */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
  finalizers: z.array(z.string()).optional(),
  deletionTimestamp: Time.optional(),
  deletionGracePeriodSeconds: z.number().optional(),
  creationTimestamp: Time.optional(),
  managedFields: z.array(z.unknown()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** apiVersion and kind default to this kind's, so objects from typed list responses (which omit them) parse too. */
export function kubeObject<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION).default(API_VERSION),
    kind: z.literal(kind).default(kind),
    metadata: ObjectMeta.prefault({}),
    spec,
    status: status.optional(),
  });
}
