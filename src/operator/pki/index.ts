// The master-operator's tenant PKI: describe (spec), plan, issue, and map to and from Secrets.
export * from "./types.js";
export * from "./spec.js";
export * from "./plan.js";
export * from "./issue.js";
export * from "./secrets.js";
export * from "./rbac.js";
export * from "./rotation.js";
