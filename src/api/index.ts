// metapilot.io/v1alpha1: schemas, types, validation and CRDs of every kind. Import from here.
export * from "./common.js";
export * from "./rules.js";
export * from "./object.js";
export * from "./scheduling.js";
export * from "./tenantcontrolplane.js";
export * from "./workloadprofile.js";
export * from "./clusterscaler.js";
export * from "./scalingdecision.js";
export * from "./nodepool.js";
export * from "./nodedrain.js";
export * from "./openapi.js";
export * from "./kinds.js";
export * from "./validate.js";
export * from "./crd.js";
export * from "./examples.js";
