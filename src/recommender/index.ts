// What other parts of metapilot read from the recommender. The ClusterScaler finds a workload's profile by name
// (profileNameFor(kind, name) in the workload's namespace, or by spec.targetRef) in its WorkloadProfile cache and
// calls profileRecommendation(): numbers in base units (cores, bytes), and only when the profile has a real
// recommendation for that container (never a guess from NoData / InsufficientData).
import { parseQuantity, type WorkloadProfileStatus } from "../api/index.js";

export { profileNameFor } from "./workloads.js";
export { availableAlgorithms, algorithmByName } from "./logic/index.js";
export { addRecommender, recommenderConfigFromEnv, type RecommenderConfig } from "./controller.js";

export interface ResourceAmounts {
  /** Cores. */
  cpu: number;
  /** Bytes. */
  memory: number;
}

export interface ProfileRecommendation {
  target: ResourceAmounts;
  lowerBound: ResourceAmounts;
  upperBound: ResourceAmounts;
  /** Days of history behind it (VPA's confidence) and the profile's 0–1 confidence. */
  confidenceDays: number;
  confidence: number;
  algorithm?: string;
  lastUpdated?: string;
}

function amounts(r: { cpu?: string; memory?: string } | undefined): ResourceAmounts | undefined {
  if (!r?.cpu || !r.memory) return undefined;
  return { cpu: parseQuantity(r.cpu), memory: parseQuantity(r.memory) };
}

/** The recommendation for `container`, or undefined when the profile has none for it. */
export function profileRecommendation(
  profile: { status?: WorkloadProfileStatus },
  container: string,
): ProfileRecommendation | undefined {
  const s = profile.status;
  const c = s?.containers?.find((x) => x.name === container);
  if (!c || (c.reason !== undefined && c.reason !== "Recommended")) return undefined;
  const target = amounts(c.target);
  const lowerBound = amounts(c.lowerBound);
  const upperBound = amounts(c.upperBound);
  if (!target || !lowerBound || !upperBound) return undefined;
  return {
    target,
    lowerBound,
    upperBound,
    confidenceDays: c.confidenceDays ?? 0,
    confidence: s?.confidence ?? 0,
    algorithm: s?.algorithm,
    lastUpdated: s?.lastUpdated,
  };
}
