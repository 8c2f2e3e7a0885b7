// state.json has several writers: a test's copy of the state from the start of its run, a RealTenant that adds a
// real node through its own copy, the demo. A writer changes only what it owns, so no one puts back an older copy
// of what another wrote (seen: the demo's Prometheus restart dropped the real node a RealTenant had added, and
// `down` then left that node running).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stopComponent } from "./metacluster-processes.js";
import { readState, updateState, writeState, type MetaclusterState } from "./metacluster-state.js";
import type { RealNode } from "./realnodes.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function state(): MetaclusterState {
  const dir = mkdtempSync(path.join(tmpdir(), "mc-state-"));
  dirs.push(dir);
  return {
    dir,
    kubeconfig: path.join(dir, "kubeconfig"),
    prometheusUrl: "http://127.0.0.1:1",
    apiserverUrl: "https://127.0.0.1:2",
    auditLog: path.join(dir, "audit.log"),
    nodes: 0,
    scrapeInterval: "5s",
    ports: {} as MetaclusterState["ports"],
    pids: { prometheus: 4_000_000, etcd: 4_000_001 },
    pki: {},
  };
}

const node = { name: "metacluster-real-0", index: 0 } as unknown as RealNode;

describe("state.json writers", () => {
  it("updateState changes only its field, on the file's copy and on the caller's", () => {
    const mine = state();
    writeState(mine);
    const theirs = readState(mine.dir)!;
    theirs.realNodes = [node];
    writeState(theirs);

    updateState(mine, (s) => {
      s.maxRequestsInflight = 50;
    });
    expect(mine.maxRequestsInflight).toBe(50);
    const saved = readState(mine.dir);
    expect(saved?.maxRequestsInflight).toBe(50);
    expect(saved?.realNodes).toEqual([node]);
  });

  it("stopComponent from an older copy keeps the real node another writer added", async () => {
    const old = state();
    writeState(old);
    const theirs = readState(old.dir)!;
    theirs.realNodes = [node];
    writeState(theirs);

    await stopComponent(old, "prometheus");
    const saved = readState(old.dir);
    expect(saved?.pids.prometheus).toBeUndefined();
    expect(saved?.pids.etcd).toBe(4_000_001);
    expect(saved?.realNodes).toEqual([node]);
    expect(old.pids.prometheus).toBeUndefined();
  });

  it("writes the caller's copy when there is no state.json yet", () => {
    const fresh = state();
    updateState(fresh, (s) => {
      s.nodes = 3;
    });
    expect(readState(fresh.dir)?.nodes).toBe(3);
  });
});
