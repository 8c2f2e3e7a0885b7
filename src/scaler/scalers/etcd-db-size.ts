// The etcd database against etcd's memory, sustained over the window: bbolt maps the whole database file, so
// etcd's memory request should hold it with room for etcd's own heap. When the database (as the tenant apiserver
// reports it, apiserver_storage_size_bytes) reaches `threshold` of the request, the request grows to
// database / threshold, the limit keeping its ratio. etcd only.
import { evidenceOf, fresh } from "../freshness.js";
import { formatMemory } from "../quantity.js";
import type { Size } from "../types.js";
import { sustained } from "./common.js";
import { ratioBound, type Scaler } from "./types.js";

const memoryOf = (current: Size) => current.memoryRequest ?? current.memoryLimit;

export const etcdDbSizeScaler: Scaler = {
  name: "etcd-db-size",
  quietBelow(input) {
    const memory = memoryOf(input.current);
    return input.workload.component === "etcd" && memory
      ? { below: { etcdDatabaseBytes: ratioBound(input.policy.scalers["etcd-db-size"].threshold, memory) } }
      : { below: {} };
  },
  overThreshold(input, options) {
    const db = fresh(input.signals.etcdDatabaseBytes, input.now, options);
    const memory = memoryOf(input.current);
    return (
      input.workload.component === "etcd" &&
      !!db &&
      !!memory &&
      db.value / memory >= input.policy.scalers["etcd-db-size"].threshold
    );
  },
  propose(input, options) {
    const { current, policy } = input;
    const settings = policy.scalers["etcd-db-size"];
    const db = fresh(input.signals.etcdDatabaseBytes, input.now, options);
    const memory = memoryOf(current);
    if (!settings.enabled || input.workload.component !== "etcd" || !db || !memory || settings.threshold <= 0)
      return undefined;
    if (!sustained(input, "etcd-db-size") || db.value / memory < settings.threshold) return undefined;
    const wanted = db.value / settings.threshold;
    const grow = (v?: number) => (v === undefined ? undefined : Math.max(v, v * (wanted / memory)));
    return {
      scaler: "etcd-db-size",
      category: "EtcdDatabaseSize",
      size: { memoryRequest: grow(current.memoryRequest), memoryLimit: grow(current.memoryLimit) },
      note: `etcd memory for a ${formatMemory(db.value)} database at ${settings.threshold} of the request`,
      oomIds: [],
      evidence: [
        evidenceOf(
          "apiserver_storage_size_bytes",
          db,
          String(Math.round(db.value)),
          String(Math.round(settings.threshold * memory)),
        ),
      ],
    };
  },
};
