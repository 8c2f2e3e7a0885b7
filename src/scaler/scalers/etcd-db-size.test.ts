import { describe, expect, it } from "vitest";
import { defaultEngineOptions } from "../engine-options.js";
import { MiB } from "../quantity.js";
import { input } from "../testing.js";
import { etcdDbSizeScaler } from "./etcd-db-size.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const db = (mi: number, ageMs = 0) => ({
  etcdDatabaseBytes: { value: mi * MiB, observedAt: now - ageMs, source: "t" },
});
const sustained = { ...input().history, overThresholdSince: { "etcd-db-size": now - 5 * 60_000 } };
const etcd = {
  ...input().workload,
  kind: "StatefulSet" as const,
  name: "etcd",
  component: "etcd" as const,
  container: "etcd",
};

describe("etcd-db-size scaler", () => {
  it("gives etcd a request of twice its database, the limit keeping its ratio", () => {
    // 768Mi of a 1024Mi request is over 0.5: 1536Mi, and the 2048Mi limit × 1.5.
    const c = etcdDbSizeScaler.propose(
      input({ workload: etcd, history: sustained }, db(768)),
      defaultEngineOptions,
      [],
    );
    expect(c?.category).toBe("EtcdDatabaseSize");
    expect(c?.size).toEqual({ memoryRequest: 1536 * MiB, memoryLimit: 3072 * MiB });
    expect(c?.evidence).toMatchObject([
      { signal: "apiserver_storage_size_bytes", value: String(768 * MiB), threshold: String(512 * MiB) },
    ]);
  });

  it("asks nothing below its threshold, on a stale size, before its window, or of another component", () => {
    const ask = (over: Parameters<typeof input>[0], signals: Parameters<typeof input>[1]) =>
      etcdDbSizeScaler.propose(input(over, signals), defaultEngineOptions, []);
    expect(ask({ workload: etcd, history: sustained }, db(500))).toBeUndefined();
    expect(ask({ workload: etcd, history: sustained }, db(900, 10 * 60_000))).toBeUndefined();
    expect(ask({ workload: etcd }, db(900))).toBeUndefined();
    expect(ask({ history: sustained }, db(900))).toBeUndefined();
    expect(etcdDbSizeScaler.overThreshold?.(input({ workload: etcd }, db(512)), defaultEngineOptions)).toBe(true);
  });
});
