// The conditions helpers moved to the shared contract, src/api/conditions.ts. This re-export serves the two modules
// still importing it from here (src/scaler/controller.ts, src/nodes/drain/reconciler.ts); remove it when they import
// ../api/conditions.js.
export { jsonEqual, mergeConditions, type ConditionInput } from "../api/conditions.js";
